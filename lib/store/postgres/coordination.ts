// Coordination between executions and workers: idempotency keys, leases and per-campaign sync state.

import { toIso, type Query } from './rows';

export async function claimIdempotencyKey(q: Query, key: string, participantId: number, now: string): Promise<boolean> {
	const rows = await q(
		'INSERT INTO idempotency_keys (key, participant_id, created_at) VALUES ($1, $2, $3::timestamptz) ON CONFLICT (key) DO NOTHING RETURNING key',
		[key, participantId, toIso(now)],
	);
	return rows.length === 1;
}

export async function acquireLease(q: Query, key: string, holder: string, until: string, now: string): Promise<boolean> {
	const rows = await q(
		`INSERT INTO leases (key, holder, lease_until) VALUES ($1, $2, $3::timestamptz)
			ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
			WHERE leases.lease_until <= $4::timestamptz RETURNING key`,
		[key, holder, toIso(until), toIso(now)],
	);
	return rows.length === 1;
}

export async function releaseLease(q: Query, key: string, holder: string): Promise<void> {
	await q('DELETE FROM leases WHERE key = $1 AND holder = $2', [key, holder]);
}

export async function deleteExpiredLeases(q: Query, prefix: string, now: string, limit: number): Promise<number> {
	// starts_with, not a key range: a database's collation may order punctuation its own way.
	const rows = await q(
		`DELETE FROM leases WHERE key IN (SELECT key FROM leases WHERE starts_with(key, $1) AND lease_until <= $2::timestamptz LIMIT $3)
			RETURNING key`,
		[prefix, toIso(now), limit],
	);
	return rows.length;
}

export async function getSyncState(q: Query, campaignId: number, key: string): Promise<Record<string, unknown> | null> {
	const rows = await q('SELECT state FROM sync_state WHERE campaign_id = $1 AND key = $2', [campaignId, key]);
	return rows.length === 0 ? null : (rows[0].state as Record<string, unknown>);
}

export async function setSyncState(q: Query, campaignId: number, key: string, state: Record<string, unknown>, now: string): Promise<void> {
	await q(
		'INSERT INTO sync_state (campaign_id, key, state, updated_at) VALUES ($1, $2, $3::jsonb, $4::timestamptz) ' +
			'ON CONFLICT (campaign_id, key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at',
		[campaignId, key, JSON.stringify(state), toIso(now)],
	);
}
