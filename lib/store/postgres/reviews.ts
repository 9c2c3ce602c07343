// Referrals held for review (migration 9): why each was held and what the review decided.
import type { FlagReason, ReferralReview } from '../../referrals/model';
import type { ReviewInsert } from '../types';

type Query = (sql: string, params: unknown[]) => Promise<Array<Record<string, unknown>>>;

export async function insertReferralReviews(q: Query, rows: ReviewInsert[], now: string): Promise<void> {
	if (rows.length === 0) return;
	await q(
		'INSERT INTO referral_reviews (participant_id, campaign_id, reasons, flagged_at) ' +
			'SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::jsonb[], $4::text[])',
		[rows.map((r) => r.participantId), rows.map((r) => r.campaignId), rows.map((r) => JSON.stringify(r.reasons)), rows.map(() => now)],
	);
}

export async function getReferralReviews(q: Query, participantIds: number[]): Promise<Map<number, ReferralReview>> {
	const reviews = new Map<number, ReferralReview>();
	if (participantIds.length === 0) return reviews;
	const rows = await q('SELECT * FROM referral_reviews WHERE participant_id = ANY($1::bigint[]) ORDER BY participant_id', [participantIds]);
	for (const r of rows) {
		const participantId = Number(r.participant_id);
		reviews.set(participantId, {
			participantId,
			campaignId: Number(r.campaign_id),
			reasons: r.reasons as FlagReason[],
			decision: r.decision as ReferralReview['decision'],
			decisionReason: r.decision_reason as string | null,
			decidedAt: r.decided_at as string | null,
			flaggedAt: r.flagged_at as string,
		});
	}
	return reviews;
}

export async function decideReferralReview(
	q: Query,
	participantId: number,
	decision: 'approved' | 'rejected',
	reason: string | null,
	now: string,
): Promise<void> {
	await q('UPDATE referral_reviews SET decision = $1, decision_reason = $2, decided_at = $3 WHERE participant_id = $4', [
		decision,
		reason,
		now,
		participantId,
	]);
}
