// Coordination between executions and workers: idempotency keys, leases and per-campaign sync state.

import { toIso, type Prepare } from './rows';

/** The first string after every string that starts with `prefix` (SQLite compares keys bytewise). */
function prefixEnd(prefix: string): string {
	return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

export function claimIdempotencyKey(prepare: Prepare, key: string, participantId: number, now: string): boolean {
	const r = prepare(
		'INSERT INTO idempotency_keys (key, participant_id, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING key',
	).get(key, participantId, toIso(now));
	return r !== undefined;
}

export function acquireLease(prepare: Prepare, key: string, holder: string, until: string, now: string): boolean {
	const r = prepare(
		`INSERT INTO leases (key, holder, lease_until) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
			WHERE leases.lease_until <= ? RETURNING key`,
	).get(key, holder, toIso(until), toIso(now));
	return r !== undefined;
}

export function releaseLease(prepare: Prepare, key: string, holder: string): void {
	prepare('DELETE FROM leases WHERE key = ? AND holder = ?').run(key, holder);
}

export function deleteExpiredLeases(prepare: Prepare, prefix: string, now: string, limit: number): number {
	// A key range, not LIKE: the primary key's index finds the prefix.
	return Number(prepare(
		'DELETE FROM leases WHERE key IN (SELECT key FROM leases WHERE key >= ? AND key < ? AND lease_until <= ? LIMIT ?)',
	).run(prefix, prefixEnd(prefix), toIso(now), limit).changes);
}

export function getSyncState(prepare: Prepare, campaignId: number, key: string): Record<string, unknown> | null {
	const r = prepare('SELECT state FROM sync_state WHERE campaign_id = ? AND key = ?').get(campaignId, key);
	return r === undefined ? null : JSON.parse(r.state as string);
}

export function setSyncState(prepare: Prepare, campaignId: number, key: string, state: Record<string, unknown>, now: string): void {
	prepare(
		'INSERT INTO sync_state (campaign_id, key, state, updated_at) VALUES (?, ?, ?, ?) ' +
			'ON CONFLICT (campaign_id, key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at',
	).run(campaignId, key, JSON.stringify(state), toIso(now));
}
