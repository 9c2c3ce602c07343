// The event log: appended in the writing transaction, read in id order by pollers.

import type { ReferralEvent } from '../../referrals/model';
import type { EventFilter, EventInsert } from '../types';
import { rowToEvent, toIso, toLimit, type Prepare } from './rows';

export function appendEvents(prepare: Prepare, events: EventInsert[], now: string): void {
	if (events.length === 0) return;
	const ts = toIso(now);
	const insert = prepare(
		'INSERT INTO events (type, campaign_id, participant_id, referrer_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)',
	);
	for (const e of events) {
		insert.run(
			e.type,
			e.campaignId,
			e.participantId ?? null,
			e.referrerId ?? null,
			JSON.stringify(e.payload ?? {}),
			ts,
		);
	}
}

export function listEvents(prepare: Prepare, filter: EventFilter, limit: number, order: 'asc' | 'desc'): ReferralEvent[] {
	const where: string[] = [];
	const params: Array<string | number> = [];
	if (filter.afterId !== undefined) {
		where.push('id > ?');
		params.push(filter.afterId);
	}
	if (filter.types?.length) {
		where.push('type IN (SELECT value FROM json_each(?))');
		params.push(JSON.stringify(filter.types));
	}
	if (filter.campaignId !== undefined) {
		where.push('campaign_id = ?');
		params.push(filter.campaignId);
	}
	params.push(toLimit(limit));
	const sql =
		`SELECT * FROM events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
		`ORDER BY id ${order === 'desc' ? 'DESC' : 'ASC'} LIMIT ?`;
	return prepare(sql).all(...params).map(rowToEvent);
}
