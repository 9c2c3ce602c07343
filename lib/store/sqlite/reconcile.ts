// What reconciling with Pipedrive reads and writes besides participants: the idempotency keys
// applied before (read-only check) and the time of a referral's latest applied Pipedrive change.

import type { StatementSync } from 'node:sqlite';

type Statement = (sql: string) => StatementSync;

export function findIdempotencyKeys(stmt: Statement, keys: string[]): string[] {
	if (keys.length === 0) return [];
	return stmt('SELECT key FROM idempotency_keys WHERE key IN (SELECT value FROM json_each(?))')
		.all(JSON.stringify(keys))
		.map((r) => r.key as string);
}

export function getReferralEventTime(stmt: Statement, participantId: number): string | null {
	const r = stmt('SELECT occurred_at FROM referral_event_times WHERE participant_id = ?').get(participantId);
	return r === undefined ? null : (r.occurred_at as string);
}

export function setReferralEventTime(stmt: Statement, participantId: number, occurredAt: string): void {
	stmt(
		`INSERT INTO referral_event_times (participant_id, occurred_at) VALUES (?, ?)
		ON CONFLICT (participant_id) DO UPDATE SET occurred_at = max(occurred_at, excluded.occurred_at)`,
	).run(participantId, occurredAt);
}
