// The review queue: referrals a fraud rule held (status `flagged`) wait here until someone
// approves them (they go on as if they had just arrived: pending, rewarded, sent to Pipedrive)
// or rejects them with a reason. Each decision is taken once: the referral's row is locked and
// re-read first, so a second or concurrent decision finds it already decided and changes nothing.

import type { Page } from '../store/types';
import type { ProgramContext } from './context';
import { ReferralError, invalidInput } from './errors';
import { grantRegistrationReward, ledgerEvents } from './ledger';
import { findParticipantIn, requireCampaign, requireParticipant, type ParticipantRef } from './lookups';
import type { Participant, ReferralReview } from './model';

export interface ReviewResult {
	participant: Participant;
	review: ReferralReview | null;
	/** False when the referral was already decided that way: nothing changed. */
	changed: boolean;
}

export interface HeldReferral {
	participant: Participant;
	review: ReferralReview;
}

const MAX_REASON_LENGTH = 500;

/** Approves a held referral; approving one already approved changes nothing. */
export async function approveReferral(ctx: ProgramContext, campaignId: number, ref: ParticipantRef): Promise<ReviewResult> {
	return await decide(ctx, campaignId, ref, 'approved', null);
}

/** Rejects a held referral with a reason; rejecting one already rejected changes nothing. */
export async function rejectReferral(ctx: ProgramContext, campaignId: number, ref: ParticipantRef, reason: unknown): Promise<ReviewResult> {
	const text = typeof reason === 'string' ? reason.trim() : '';
	if (text === '') throw invalidInput('reason', 'Give the reason for the rejection, as text');
	if (text.length > MAX_REASON_LENGTH) throw invalidInput('reason', `The reason is longer than ${MAX_REASON_LENGTH} characters`);
	return await decide(ctx, campaignId, ref, 'rejected', text.replace(/[\u0000-\u001f\u007f]/g, ' '));
}

/** Referrals of a campaign held for review, oldest first, with why they were held. */
export async function listHeldReferrals(ctx: ProgramContext, campaignId: number, page: Page): Promise<HeldReferral[]> {
	return await ctx.store.read(async (tx) => {
		requireCampaign(await tx.getCampaign({ id: campaignId }), { id: campaignId });
		const held = await tx.listParticipants(campaignId, { referralStatus: ['flagged'] }, page);
		const reviews = await tx.getReferralReviews(held.map((participant) => participant.id));
		return held.map((participant) => ({ participant, review: reviews.get(participant.id)! }));
	});
}

async function decide(
	ctx: ProgramContext,
	campaignId: number,
	ref: ParticipantRef,
	decision: 'approved' | 'rejected',
	reason: string | null,
): Promise<ReviewResult> {
	return await ctx.store.transaction(async (tx) => {
		const found = requireParticipant(await findParticipantIn(tx, campaignId, ref), ref);
		await tx.lockParticipants([found.id]);
		const current = (await tx.getParticipant(found.id))!;
		const reviews = await tx.getReferralReviews([current.id]);
		const review = reviews.get(current.id) ?? null;
		if (!review) {
			throw new ReferralError('conflict', `Participant ${current.code} is not a referral held for review`, 'participant');
		}
		if (review.decision === decision) return { participant: current, review, changed: false };
		if (review.decision !== null) {
			throw new ReferralError('conflict', `The referral ${current.code} was already ${review.decision}`, 'participant');
		}
		const now = ctx.now();
		const participant = (await tx.updateParticipant(current.id, { referralStatus: decision === 'approved' ? 'pending' : 'rejected' }, now))!;
		await tx.decideReferralReview(current.id, decision, reason, now);
		const campaign = requireCampaign(await tx.getCampaign({ id: campaignId }), { id: campaignId });
		const rewards = decision === 'approved' ? await grantRegistrationReward(tx, campaign, participant, now) : [];
		await tx.appendEvents(
			[
				{
					type: decision === 'approved' ? 'referral.approved' : 'referral.rejected',
					campaignId,
					participantId: participant.id,
					referrerId: participant.referredBy,
					payload: { code: participant.code, reasons: review.reasons },
				},
				...ledgerEvents({ created: rewards, cancelled: [], reversalNeeded: [] }, 'registration'),
			],
			now,
		);
		return { participant, review: (await tx.getReferralReviews([current.id])).get(current.id)!, changed: true };
	});
}
