// Pipedrive send records (the queue of sends that could not go out at once), SQLite side.

import type { StatementSync } from 'node:sqlite';

import type { PipedriveSend, PipedriveSendFilter, PipedriveSendRow, PipedriveSendState } from '../types';

type Statement = (sql: string) => StatementSync;

function rowToSend(r: Record<string, unknown>): PipedriveSend {
	return {
		participantId: Number(r.participant_id),
		campaignId: Number(r.campaign_id),
		state: r.state as PipedriveSendState,
		attempts: Number(r.attempts),
		nextAttemptAt: (r.next_attempt_at as string | null) ?? null,
		lastError: (r.last_error as string | null) ?? null,
		request: JSON.parse(r.request as string) as Record<string, unknown>,
		updatedAt: r.updated_at as string,
	};
}

export function savePipedriveSend(stmt: Statement, row: PipedriveSendRow, now: string): void {
	stmt(
		`INSERT INTO pipedrive_sends (participant_id, campaign_id, state, attempts, next_attempt_at, last_error, request, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (participant_id) DO UPDATE SET campaign_id = excluded.campaign_id, state = excluded.state,
			attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error,
			request = excluded.request, updated_at = excluded.updated_at`,
	).run(
		row.participantId,
		row.campaignId,
		row.state,
		row.attempts,
		row.nextAttemptAt === null ? null : new Date(row.nextAttemptAt).toISOString(),
		row.lastError,
		JSON.stringify(row.request),
		now,
	);
}

export function latestQueuedSendAt(stmt: Statement): string | null {
	const r = stmt("SELECT max(updated_at) AS at FROM pipedrive_sends WHERE state = 'queued'").get();
	return (r?.at as string | null | undefined) ?? null;
}

export function deletePipedriveSend(stmt: Statement, participantId: number): void {
	stmt('DELETE FROM pipedrive_sends WHERE participant_id = ?').run(participantId);
}

export function getPipedriveSends(stmt: Statement, participantIds: number[]): PipedriveSend[] {
	if (participantIds.length === 0) return [];
	return stmt('SELECT * FROM pipedrive_sends WHERE participant_id IN (SELECT value FROM json_each(?))')
		.all(JSON.stringify(participantIds))
		.map(rowToSend);
}

export function claimDueSends(stmt: Statement, now: string, leaseUntil: string, limit: number): PipedriveSend[] {
	// Write transactions are serial here, so the UPDATE ... RETURNING is the claim.
	return stmt(
		`UPDATE pipedrive_sends SET next_attempt_at = ?
		WHERE participant_id IN (SELECT participant_id FROM pipedrive_sends
			WHERE state = 'queued' AND next_attempt_at <= ? ORDER BY next_attempt_at, participant_id LIMIT ?)
		RETURNING *`,
	)
		.all(leaseUntil, now, limit)
		.map(rowToSend)
		.sort((a, b) => a.participantId - b.participantId);
}

export function listPipedriveSends(
	stmt: Statement,
	filter: PipedriveSendFilter,
	limit: number,
): PipedriveSend[] {
	return stmt(
		`SELECT * FROM pipedrive_sends WHERE state = ?
		AND (? IS NULL OR campaign_id = ?)
		AND (? IS NULL OR participant_id IN (SELECT value FROM json_each(?)))
		ORDER BY participant_id LIMIT ?`,
	)
		.all(
			filter.state,
			filter.campaignId ?? null,
			filter.campaignId ?? null,
			filter.participantIds ? 1 : null,
			JSON.stringify(filter.participantIds ?? []),
			limit,
		)
		.map(rowToSend);
}
