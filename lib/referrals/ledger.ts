import type { EventInsert, StoreTransaction } from '../store/types';
import type { Campaign, Participant, Reward, RewardStatus } from './model';
import { identityOf, impliedRewards, registrationReward, type QualifiedReferral } from './rewards';

// The reward side of a referral's changes, run inside the transaction that makes the change, so
// a qualification and the rewards it earns are written together or not at all.

/** Rewards that may still be withdrawn without anyone having been paid. */
const WITHDRAWABLE: RewardStatus[] = ['pending_approval', 'pending_hold', 'due', 'failed'];
/** Rewards that went out, or may be going out right now: withdrawing them needs a person. */
const PAID_OR_PAYING: RewardStatus[] = ['issuing', 'issued'];
const PAGE = 500;

export interface LedgerChange {
	created: Reward[];
	cancelled: Reward[];
	reversalNeeded: Reward[];
}

/**
 * Creates every reward a referrer's qualified referrals imply that does not exist yet (or was
 * cancelled), within the campaign's maximum per referrer. Idempotent: rewards have identities.
 * Rewards of referred people are considered for `referralIds` only (a qualification concerns its
 * own referral; a back-fill passes them all).
 */
export async function grantImpliedRewards(
	tx: StoreTransaction,
	campaign: Campaign,
	referrerId: number,
	referralIds: number[],
	now: string,
): Promise<Reward[]> {
	const rules = campaign.rewardRules;
	if (!rules.perReferral && rules.milestones.length === 0 && !rules.commission && rules.referred?.on !== 'qualification') {
		return [];
	}
	const qualified = await qualifiedReferralsOf(tx, campaign.id, referrerId);
	const concerned = new Set(referralIds);
	const implied = impliedRewards(campaign.rewardRules, campaign.id, referrerId, qualified, now).filter(
		(row) => row.beneficiaryRole === 'referrer' || concerned.has(row.beneficiaryId),
	);
	if (implied.length === 0) return [];
	const existing = new Map<string, Reward>();
	for (const reward of await rewardsOf(tx, { campaignId: campaign.id, beneficiaryId: referrerId })) {
		existing.set(identityOf(reward), reward);
	}
	for (const id of concerned) {
		for (const reward of await rewardsOf(tx, { campaignId: campaign.id, beneficiaryId: id })) {
			existing.set(identityOf(reward), reward);
		}
	}
	const active = (identity: string) => {
		const reward = existing.get(identity);
		return reward !== undefined && reward.status !== 'cancelled';
	};
	const missing = implied.filter((row) => !active(identityOf(row)));
	const max = campaign.rewardRules.maxPerReferrer;
	let room = max === null ? Infinity : max - [...existing.values()].filter((r) => r.beneficiaryRole === 'referrer' && r.status !== 'cancelled').length;
	const allowed = missing.filter((row) => row.beneficiaryRole === 'referred' || room-- > 0);
	return allowed.length === 0 ? [] : await tx.insertRewards(allowed, now);
}

/** The referred person's reward on registration, when the campaign gives one. */
export async function grantRegistrationReward(
	tx: StoreTransaction,
	campaign: Campaign,
	referral: Participant,
	now: string,
): Promise<Reward[]> {
	const row = registrationReward(campaign.rewardRules, campaign.id, referral, now);
	return row ? await tx.insertRewards([row], now) : [];
}

/**
 * After a referral is un-qualified: the referrer's count-based rewards beyond the new count and
 * the referral's own rewards are cancelled if nobody was paid yet; paid ones are reported.
 */
export async function withdrawRewards(
	tx: StoreTransaction,
	campaign: Campaign,
	referral: Participant,
	now: string,
): Promise<LedgerChange> {
	const change: LedgerChange = { created: [], cancelled: [], reversalNeeded: [] };
	if (referral.referredBy === null) return change;
	const count = (await qualifiedReferralsOf(tx, campaign.id, referral.referredBy)).length;
	const every = campaign.rewardRules.perReferral?.every ?? 1;
	const referrerRewards = await rewardsOf(tx, { campaignId: campaign.id, beneficiaryId: referral.referredBy });
	const ownRewards = await rewardsOf(tx, { campaignId: campaign.id, referralId: referral.id });
	const withdrawn = [...referrerRewards, ...ownRewards].filter((reward, index, all) => {
		if (all.findIndex((other) => other.id === reward.id) !== index) return false;
		if (reward.rule === 'per_referral') return reward.ordinal > Math.floor(count / every);
		if (reward.rule === 'milestone') return reward.ordinal > count;
		// Commission and the referred person's reward belong to this referral; a registration
		// reward was earned by registering and stays.
		return reward.referralId === referral.id && !(reward.rule === 'referred' && campaign.rewardRules.referred?.on === 'registration');
	});
	for (const reward of withdrawn) {
		if (WITHDRAWABLE.includes(reward.status)) {
			const cancelled = await tx.updateReward(reward.id, { status: 'cancelled', leaseUntil: null }, WITHDRAWABLE, now);
			if (cancelled) change.cancelled.push(cancelled);
		} else if (PAID_OR_PAYING.includes(reward.status)) {
			change.reversalNeeded.push(reward);
		}
	}
	return change;
}

/** The event-log entries for a ledger change (rewards that became due, cancelled, to reverse). */
export function ledgerEvents(change: LedgerChange, reason: string): EventInsert[] {
	return [
		...change.created.filter((reward) => reward.status === 'due').map((reward) => rewardEvent('reward.due', reward, reason)),
		...change.cancelled.map((reward) => rewardEvent('reward.cancelled', reward, reason)),
		...change.reversalNeeded.map((reward) => rewardEvent('reward.reversal_needed', reward, reason)),
	];
}

/** A reward's event: ids and amounts only, never personal data. */
export function rewardEvent(type: EventInsert['type'], reward: Reward, reason: string | null): EventInsert {
	return {
		type,
		campaignId: reward.campaignId,
		participantId: reward.beneficiaryId,
		referrerId: null,
		payload: {
			rewardId: reward.id,
			rule: reward.rule,
			kind: reward.kind,
			amount: reward.amount,
			currency: reward.currency,
			referralId: reward.referralId,
			reason,
		},
	};
}

async function qualifiedReferralsOf(tx: StoreTransaction, campaignId: number, referrerId: number): Promise<QualifiedReferral[]> {
	const out: QualifiedReferral[] = [];
	let afterId: number | undefined;
	for (;;) {
		const page = await tx.listParticipants(
			campaignId,
			{ referredBy: referrerId, referralStatus: ['qualified'], includeErased: true },
			{ limit: PAGE, afterId },
		);
		for (const p of page) out.push({ id: p.id, qualifiedAt: p.qualifiedAt, saleValue: p.saleValue, saleCurrency: p.saleCurrency });
		if (page.length < PAGE) return out;
		afterId = page[page.length - 1].id;
	}
}

async function rewardsOf(
	tx: StoreTransaction,
	filter: { campaignId: number; beneficiaryId?: number; referralId?: number },
): Promise<Reward[]> {
	const out: Reward[] = [];
	let afterId: number | undefined;
	for (;;) {
		const page = await tx.listRewards(filter, { limit: PAGE, afterId });
		out.push(...page);
		if (page.length < PAGE) return out;
		afterId = page[page.length - 1].id;
	}
}
