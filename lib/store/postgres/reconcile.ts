// What reconciling with Pipedrive reads and writes besides participants: the idempotency keys
// applied before (read-only check) and the time of a referral's latest applied Pipedrive change.

type Query = (sql: string, params: Array<string | number | null | string[]>) => Promise<Array<Record<string, unknown>>>;

export async function findIdempotencyKeys(q: Query, keys: string[]): Promise<string[]> {
	if (keys.length === 0) return [];
	return (await q('SELECT key FROM idempotency_keys WHERE key = ANY($1::text[])', [keys])).map((r) => r.key as string);
}

export async function getReferralEventTime(q: Query, participantId: number): Promise<string | null> {
	const rows = await q('SELECT occurred_at FROM referral_event_times WHERE participant_id = $1', [participantId]);
	return rows.length === 0 ? null : new Date(rows[0].occurred_at as string | Date).toISOString();
}

export async function setReferralEventTime(q: Query, participantId: number, occurredAt: string): Promise<void> {
	await q(
		`INSERT INTO referral_event_times (participant_id, occurred_at) VALUES ($1, $2::timestamptz)
		ON CONFLICT (participant_id) DO UPDATE SET occurred_at = greatest(referral_event_times.occurred_at, excluded.occurred_at)`,
		[participantId, occurredAt],
	);
}
