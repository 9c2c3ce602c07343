// Participants: inserting and finding them (by id, email, code, Pipedrive ids), locking, patching
// and erasing them, their referral counts, and the device each signed up from.

import type { Participant } from '../../referrals/model';
import type { Page, ParticipantFilter, ParticipantInsert, ParticipantPatch, PipedriveIds, ReferralCounts } from '../types';
import { assignments, PARTICIPANT_COLUMNS, PARTICIPANT_PATCH_COLUMNS, rowToParticipant, toIso, toLimit, type Param, type Query } from './rows';

// One statement whatever the batch size. Rows go in sorted by (campaign, identity) so concurrent
// batches with overlapping people take their unique-index locks in the same order (no deadlock);
// the ordinal keeps the first of two equal identities in one batch the one that wins.
const INSERT_PARTICIPANTS_SQL = `INSERT INTO participants (campaign_id, email, email_identity, first_name, last_name, source,
	code, link, referred_by, referral_status, metadata, pipedrive_person_id, created_at, updated_at)
SELECT t.campaign_id, t.email, t.email_identity, t.first_name, t.last_name, t.source, t.code, t.link,
	t.referred_by, t.referral_status, t.metadata, t.pipedrive_person_id, $11::timestamptz, $11::timestamptz
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
	$8::bigint[], $9::text[], $10::jsonb[], $12::bigint[], $13::text[])
	WITH ORDINALITY AS t(campaign_id, email, first_name, last_name, source, code, link,
		referred_by, referral_status, metadata, pipedrive_person_id, email_identity, ord)
ORDER BY t.campaign_id, t.email_identity, t.ord
ON CONFLICT DO NOTHING
RETURNING ${PARTICIPANT_COLUMNS}`;

export async function insertParticipants(q: Query, rows: ParticipantInsert[], now: string): Promise<Participant[]> {
	const ts = toIso(now);
	if (rows.length === 0) return [];
	const n = rows.length;
	const campaignIds = new Array<number>(n);
	const emails = new Array<string>(n);
	const firstNames = new Array<string | null>(n);
	const lastNames = new Array<string | null>(n);
	const sources = new Array<string>(n);
	const codes = new Array<string>(n);
	const links = new Array<string>(n);
	const referredBy = new Array<number | null>(n);
	const statuses = new Array<string>(n);
	const metadata = new Array<string>(n);
	const personIds = new Array<number | null>(n);
	const identities = new Array<string>(n);
	for (let i = 0; i < n; i++) {
		const r = rows[i];
		campaignIds[i] = r.campaignId;
		emails[i] = r.email;
		identities[i] = r.emailIdentity;
		firstNames[i] = r.firstName ?? null;
		lastNames[i] = r.lastName ?? null;
		sources[i] = r.source;
		codes[i] = r.code;
		links[i] = r.link;
		referredBy[i] = r.referredBy ?? null;
		statuses[i] = r.referralStatus;
		metadata[i] = JSON.stringify(r.metadata ?? {});
		personIds[i] = r.pipedrivePersonId ?? null;
	}
	const inserted = await q(INSERT_PARTICIPANTS_SQL, [
		campaignIds,
		emails,
		firstNames,
		lastNames,
		sources,
		codes,
		links,
		referredBy,
		statuses,
		metadata,
		ts,
		personIds,
		identities,
	]);
	return inserted.map(rowToParticipant);
}

export async function getParticipant(q: Query, id: number): Promise<Participant | null> {
	const rows = await q(`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE id = $1`, [id]);
	return rows.length === 0 ? null : rowToParticipant(rows[0]);
}

export async function getParticipants(q: Query, ids: number[]): Promise<Participant[]> {
	if (ids.length === 0) return [];
	const rows = await q(`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE id = ANY($1::bigint[]) ORDER BY id`, [ids]);
	return rows.map(rowToParticipant);
}

export async function findParticipantsByEmail(q: Query, campaignId: number, emails: string[], identities: string[]): Promise<Participant[]> {
	if (emails.length === 0 && identities.length === 0) return [];
	// Two lookups, each through its own (campaign, column) unique index.
	const rows = await q(
		`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE campaign_id = $1 AND email = ANY($2::text[]) UNION ` +
			`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE campaign_id = $1 AND email_identity = ANY($3::text[]) ORDER BY id`,
		[campaignId, emails, identities],
	);
	return rows.map(rowToParticipant);
}

export async function findParticipantsByCode(q: Query, codes: string[]): Promise<Participant[]> {
	if (codes.length === 0) return [];
	const rows = await q(
		`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE code = ANY($1::text[]) ORDER BY id`,
		[codes],
	);
	return rows.map(rowToParticipant);
}

export async function listParticipants(q: Query, campaignId: number, filter: ParticipantFilter, page: Page): Promise<Participant[]> {
	const where = ['campaign_id = $1'];
	const params: Param[] = [campaignId];
	if (filter.referralStatus?.length) {
		params.push(filter.referralStatus);
		where.push(`referral_status = ANY($${params.length}::text[])`);
	}
	if (filter.source?.length) {
		params.push(filter.source);
		where.push(`source = ANY($${params.length}::text[])`);
	}
	if (filter.referredBy !== undefined) {
		params.push(filter.referredBy);
		where.push(`referred_by = $${params.length}`);
	}
	if (filter.updatedSince !== undefined) {
		params.push(toIso(filter.updatedSince));
		where.push(`updated_at >= $${params.length}::timestamptz`);
	}
	if (!filter.includeErased) where.push('erased_at IS NULL');
	if (page.afterId !== undefined) {
		params.push(page.afterId);
		where.push(`id > $${params.length}`);
	}
	params.push(toLimit(page.limit));
	const rows = await q(
		`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${params.length}`,
		params,
	);
	return rows.map(rowToParticipant);
}

export async function updateParticipant(q: Query, id: number, patch: ParticipantPatch, now: string): Promise<Participant | null> {
	const params: Param[] = [id, toIso(now)];
	const sets = [...assignments(PARTICIPANT_PATCH_COLUMNS, patch, params), 'updated_at = $2'];
	const rows = await q(
		`UPDATE participants SET ${sets.join(', ')} WHERE id = $1 RETURNING ${PARTICIPANT_COLUMNS}`,
		params,
	);
	return rows.length === 0 ? null : rowToParticipant(rows[0]);
}

export async function findParticipantsByPipedrive(q: Query, ids: PipedriveIds, campaignId?: number): Promise<Participant[]> {
	const any: string[] = [];
	const params: Param[] = [];
	for (const [column, values, cast] of [
		['pipedrive_person_id', ids.personIds, '::bigint[]'],
		['pipedrive_deal_id', ids.dealIds, '::bigint[]'],
		['pipedrive_lead_id', ids.leadIds, '::text[]'],
	] as const) {
		if (!values?.length) continue;
		params.push(values as Param);
		any.push(`${column} = ANY($${params.length}${cast})`);
	}
	if (any.length === 0) return [];
	let sql = `SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE (${any.join(' OR ')})`;
	if (campaignId !== undefined) {
		params.push(campaignId);
		sql += ` AND campaign_id = $${params.length}`;
	}
	return (await q(`${sql} ORDER BY id`, params)).map(rowToParticipant);
}

export async function referralCounts(q: Query, referrerIds: number[]): Promise<Map<number, ReferralCounts>> {
	const counts = new Map<number, ReferralCounts>();
	if (referrerIds.length === 0) return counts;
	const rows = await q(
		"SELECT referred_by AS referrer, count(*) AS referrals, count(*) FILTER (WHERE referral_status = 'qualified') AS qualified " +
			'FROM participants WHERE referred_by = ANY($1::bigint[]) GROUP BY referred_by',
		[referrerIds],
	);
	for (const r of rows) {
		counts.set(Number(r.referrer), { referrals: Number(r.referrals), qualified: Number(r.qualified) });
	}
	return counts;
}

export async function setSignupDevices(q: Query, devices: Map<number, string>): Promise<void> {
	if (devices.size === 0) return;
	await q(
		'UPDATE participants AS p SET signup_device = t.device FROM unnest($1::bigint[], $2::text[]) AS t(id, device) WHERE p.id = t.id',
		[[...devices.keys()], [...devices.values()]],
	);
}

export async function signupDevices(q: Query, ids: number[]): Promise<Map<number, string>> {
	const devices = new Map<number, string>();
	if (ids.length === 0) return devices;
	const rows = await q(
		'SELECT id, signup_device FROM participants WHERE id = ANY($1::bigint[]) AND signup_device IS NOT NULL',
		[ids],
	);
	for (const r of rows) devices.set(r.id as number, r.signup_device as string);
	return devices;
}

export async function eraseParticipant(q: Query, id: number, now: string): Promise<Participant | null> {
	const rows = await q(
		"UPDATE participants SET email = NULL, email_identity = NULL, first_name = NULL, last_name = NULL, metadata = '{}'::jsonb, signup_device = NULL, " +
			'erased_at = coalesce(erased_at, $2::timestamptz), updated_at = $2::timestamptz ' +
			`WHERE id = $1 RETURNING ${PARTICIPANT_COLUMNS}`,
		[id, toIso(now)],
	);
	return rows.length === 0 ? null : rowToParticipant(rows[0]);
}

/** Row locks, taken in id order so two transactions locking overlapping sets cannot deadlock. */
export async function lockParticipants(q: Query, ids: number[]): Promise<void> {
	await q('SELECT id FROM participants WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [ids]);
}
