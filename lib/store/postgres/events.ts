// The event log: appended in the writing transaction, read in id order by pollers.

import type { ReferralEvent } from '../../referrals/model';
import type { EventFilter, EventInsert } from '../types';
import { EVENT_COLUMNS, rowToEvent, toLimit, type Param, type Query } from './rows';

/** First half of the two-part advisory lock key; the second half is hashtext(schema). */
const EVENTS_LOCK_CLASS = 0x52465232; // 'RFR2'

const INSERT_EVENTS_SQL = `INSERT INTO events (type, campaign_id, participant_id, referrer_id, payload, created_at)
SELECT t.type, t.campaign_id, t.participant_id, t.referrer_id, t.payload, $6::timestamptz
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::jsonb[])
	WITH ORDINALITY AS t(type, campaign_id, participant_id, referrer_id, payload, ord)
ORDER BY t.ord`;

/**
 * Event writers commit one after the other: this lock is held until COMMIT, and ids are drawn only
 * after taking it, so a smaller id is always visible before a larger one and a reader polling with
 * `afterId` never skips an event. Append events late in a transaction: the lock serialises every
 * event-writing transaction from here on.
 */
export async function lockEventLog(q: Query, schema: string): Promise<void> {
	await q('SELECT pg_advisory_xact_lock($1, hashtext($2))', [EVENTS_LOCK_CLASS, schema]);
}

export async function appendEvents(q: Query, events: EventInsert[], ts: string): Promise<void> {
	await q(INSERT_EVENTS_SQL, [
		events.map((e) => e.type),
		events.map((e) => e.campaignId),
		events.map((e) => e.participantId ?? null),
		events.map((e) => e.referrerId ?? null),
		events.map((e) => JSON.stringify(e.payload ?? {})),
		ts,
	]);
}

export async function listEvents(q: Query, filter: EventFilter, limit: number, order: 'asc' | 'desc'): Promise<ReferralEvent[]> {
	const where: string[] = [];
	const params: Param[] = [];
	if (filter.afterId !== undefined) {
		params.push(filter.afterId);
		where.push(`id > $${params.length}`);
	}
	if (filter.types?.length) {
		params.push(filter.types);
		where.push(`type = ANY($${params.length}::text[])`);
	}
	if (filter.campaignId !== undefined) {
		params.push(filter.campaignId);
		where.push(`campaign_id = $${params.length}`);
	}
	params.push(toLimit(limit));
	const rows = await q(
		`SELECT ${EVENT_COLUMNS} FROM events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
			`ORDER BY id ${order === 'desc' ? 'DESC' : 'ASC'} LIMIT $${params.length}`,
		params,
	);
	return rows.map(rowToEvent);
}
