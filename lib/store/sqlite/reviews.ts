// Referrals held for review (migration 9): why each was held and what the review decided.
import type { StatementSync } from 'node:sqlite';
import type { FlagReason, ReferralReview } from '../../referrals/model';
import type { ReviewInsert } from '../types';

type Prepare = (sql: string) => StatementSync;

export function insertReferralReviews(prepare: Prepare, rows: ReviewInsert[], now: string): void {
	const insert = prepare('INSERT INTO referral_reviews (participant_id, campaign_id, reasons, flagged_at) VALUES (?, ?, ?, ?)');
	for (const row of rows) insert.run(row.participantId, row.campaignId, JSON.stringify(row.reasons), now);
}

export function getReferralReviews(prepare: Prepare, participantIds: number[]): Map<number, ReferralReview> {
	const reviews = new Map<number, ReferralReview>();
	if (participantIds.length === 0) return reviews;
	const rows = prepare(
		'SELECT * FROM referral_reviews WHERE participant_id IN (SELECT value FROM json_each(?)) ORDER BY participant_id',
	).all(JSON.stringify(participantIds));
	for (const r of rows) {
		reviews.set(r.participant_id as number, {
			participantId: r.participant_id as number,
			campaignId: r.campaign_id as number,
			reasons: JSON.parse(r.reasons as string) as FlagReason[],
			decision: r.decision as ReferralReview['decision'],
			decisionReason: r.decision_reason as string | null,
			decidedAt: r.decided_at as string | null,
			flaggedAt: r.flagged_at as string,
		});
	}
	return reviews;
}

export function decideReferralReview(
	prepare: Prepare,
	participantId: number,
	decision: 'approved' | 'rejected',
	reason: string | null,
	now: string,
): void {
	prepare('UPDATE referral_reviews SET decision = ?, decision_reason = ?, decided_at = ? WHERE participant_id = ?').run(
		decision,
		reason,
		now,
		participantId,
	);
}
