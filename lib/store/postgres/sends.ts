// Pipedrive send records (the queue of sends that could not go out at once), PostgreSQL side.

import type { PipedriveSend, PipedriveSendFilter, PipedriveSendRow, PipedriveSendState } from '../types';

type Query = (sql: string, params: Array<string | number | null | number[]>) => Promise<Array<Record<string, unknown>>>;

const iso = (value: unknown) => (value === null || value === undefined ? null : new Date(value as string | Date).toISOString());

function rowToSend(r: Record<string, unknown>): PipedriveSend {
	return {
		participantId: Number(r.participant_id),
		campaignId: Number(r.campaign_id),
		state: r.state as PipedriveSendState,
		attempts: Number(r.attempts),
		nextAttemptAt: iso(r.next_attempt_at),
		lastError: (r.last_error as string | null) ?? null,
		request: r.request as Record<string, unknown>,
		updatedAt: iso(r.updated_at)!,
	};
}

export async function savePipedriveSend(q: Query, row: PipedriveSendRow, now: string): Promise<void> {
	await q(
		`INSERT INTO pipedrive_sends (participant_id, campaign_id, state, attempts, next_attempt_at, last_error, request, updated_at)
		VALUES ($1, $2, $3, $4, $5::timestamptz, $6, $7::jsonb, $8::timestamptz)
		ON CONFLICT (participant_id) DO UPDATE SET campaign_id = excluded.campaign_id, state = excluded.state,
			attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error,
			request = excluded.request, updated_at = excluded.updated_at`,
		[row.participantId, row.campaignId, row.state, row.attempts, iso(row.nextAttemptAt), row.lastError, JSON.stringify(row.request), now],
	);
}

export async function latestQueuedSendAt(q: Query): Promise<string | null> {
	const rows = await q("SELECT max(updated_at) AS at FROM pipedrive_sends WHERE state = 'queued'", []);
	return iso(rows[0]?.at ?? null);
}

export async function deletePipedriveSend(q: Query, participantId: number): Promise<void> {
	await q('DELETE FROM pipedrive_sends WHERE participant_id = $1', [participantId]);
}

export async function getPipedriveSends(q: Query, participantIds: number[]): Promise<PipedriveSend[]> {
	if (participantIds.length === 0) return [];
	return (await q('SELECT * FROM pipedrive_sends WHERE participant_id = ANY($1::bigint[])', [participantIds])).map(rowToSend);
}

export async function claimDueSends(q: Query, now: string, leaseUntil: string, limit: number): Promise<PipedriveSend[]> {
	const rows = await q(
		`UPDATE pipedrive_sends SET next_attempt_at = $1::timestamptz
		WHERE participant_id IN (SELECT participant_id FROM pipedrive_sends
			WHERE state = 'queued' AND next_attempt_at <= $2::timestamptz
			ORDER BY next_attempt_at, participant_id LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING *`,
		[leaseUntil, now, limit],
	);
	return rows.map(rowToSend).sort((a, b) => a.participantId - b.participantId);
}

export async function listPipedriveSends(
	q: Query,
	filter: PipedriveSendFilter,
	limit: number,
): Promise<PipedriveSend[]> {
	const rows = await q(
		`SELECT * FROM pipedrive_sends WHERE state = $1
		AND ($2::bigint IS NULL OR campaign_id = $2::bigint)
		AND ($3::bigint[] IS NULL OR participant_id = ANY($3::bigint[]))
		ORDER BY participant_id LIMIT $4`,
		[filter.state, filter.campaignId ?? null, filter.participantIds ?? null, limit],
	);
	return rows.map(rowToSend);
}
