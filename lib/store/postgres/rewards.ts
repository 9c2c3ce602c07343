// Rewards (inserted per identity, claimed for issuing under a lease, patched as they move on) and
// the coupon codes handed out to them.

import type { Reward, RewardStatus } from '../../referrals/model';
import { StoreError } from '../errors';
import type { ClaimRequest, Page, RewardFilter, RewardIdentity, RewardInsert, RewardPatch } from '../types';
import { assignments, REWARD_COLUMNS, REWARD_PATCH_COLUMNS, rowToReward, toIso, toLimit, type Param, type Query } from './rows';

// One statement whatever the batch size. DISTINCT ON keeps the first of two equal identities in one
// batch (a second one would make DO UPDATE touch the same row twice, an error); the sort makes
// concurrent batches take their unique-index locks in the same order. An existing identity is
// left alone unless it was cancelled, then revived; DO UPDATE ... WHERE false returns nothing, so
// only inserted and revived rows come back.
const INSERT_REWARDS_SQL = `INSERT INTO rewards (campaign_id, beneficiary_id, beneficiary_role, rule, ordinal, referral_id,
	kind, amount, currency, payload, status, due_at, created_at, updated_at)
SELECT DISTINCT ON (t.campaign_id, t.beneficiary_id, t.rule, t.ordinal)
	t.campaign_id, t.beneficiary_id, t.beneficiary_role, t.rule, t.ordinal, t.referral_id,
	t.kind, t.amount, t.currency, t.payload, t.status, t.due_at, $13::timestamptz, $13::timestamptz
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],
	$8::numeric[], $9::text[], $10::jsonb[], $11::text[], $12::timestamptz[])
	WITH ORDINALITY AS t(campaign_id, beneficiary_id, beneficiary_role, rule, ordinal, referral_id,
		kind, amount, currency, payload, status, due_at, ord)
ORDER BY t.campaign_id, t.beneficiary_id, t.rule, t.ordinal, t.ord
ON CONFLICT (campaign_id, beneficiary_id, rule, ordinal) DO UPDATE SET
	beneficiary_role = excluded.beneficiary_role, referral_id = excluded.referral_id, kind = excluded.kind,
	amount = excluded.amount, currency = excluded.currency, payload = excluded.payload, status = excluded.status,
	due_at = excluded.due_at, attempts = 0, failure_reason = NULL, lease_until = NULL, updated_at = excluded.updated_at
WHERE rewards.status = 'cancelled'
RETURNING ${REWARD_COLUMNS}`;

// Codes keep their upload order (coupons are handed out by ascending id).
const INSERT_COUPONS_SQL = `INSERT INTO coupons (campaign_id, code, added_at)
SELECT $1::bigint, t.code, $3::timestamptz
FROM unnest($2::text[]) WITH ORDINALITY AS t(code, ord)
ORDER BY t.ord
ON CONFLICT (campaign_id, code) DO NOTHING
RETURNING id`;

// The campaign's next free coupon, skipping ones other transactions are taking (each coupon goes
// to one reward, also under concurrency), and its code written onto the reward, in one statement.
const TAKE_COUPON_SQL = `WITH taken AS (
	UPDATE coupons SET reward_id = $2::bigint, taken_at = $3::timestamptz
	WHERE id = (SELECT id FROM coupons WHERE campaign_id = $1 AND reward_id IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING code
)
UPDATE rewards SET coupon_code = taken.code, updated_at = $3::timestamptz FROM taken
WHERE rewards.id = $2::bigint
RETURNING taken.code`;

/** Oldest first: by dueAt (ISO text compares in time order), then id. */
function byDueAtThenId(a: Reward, b: Reward): number {
	if (a.dueAt !== b.dueAt) return a.dueAt < b.dueAt ? -1 : 1;
	return a.id - b.id;
}

export async function insertRewards(q: Query, rows: RewardInsert[], ts: string): Promise<Reward[]> {
	const n = rows.length;
	const campaignIds = new Array<number>(n);
	const beneficiaryIds = new Array<number>(n);
	const roles = new Array<string>(n);
	const rules = new Array<string>(n);
	const ordinals = new Array<number>(n);
	const referralIds = new Array<number | null>(n);
	const kinds = new Array<string>(n);
	const amounts = new Array<number | null>(n);
	const currencies = new Array<string | null>(n);
	const payloads = new Array<string>(n);
	const statuses = new Array<string>(n);
	const dueAts = new Array<string>(n);
	for (let i = 0; i < n; i++) {
		const r = rows[i];
		campaignIds[i] = r.campaignId;
		beneficiaryIds[i] = r.beneficiaryId;
		roles[i] = r.beneficiaryRole;
		rules[i] = r.rule;
		ordinals[i] = r.ordinal;
		referralIds[i] = r.referralId ?? null;
		kinds[i] = r.kind;
		amounts[i] = r.amount ?? null;
		currencies[i] = r.currency ?? null;
		payloads[i] = JSON.stringify(r.payload ?? {});
		statuses[i] = r.status;
		dueAts[i] = toIso(r.dueAt);
	}
	const inserted = await q(INSERT_REWARDS_SQL, [
		campaignIds,
		beneficiaryIds,
		roles,
		rules,
		ordinals,
		referralIds,
		kinds,
		amounts,
		currencies,
		payloads,
		statuses,
		dueAts,
		ts,
	]);
	return inserted.map(rowToReward);
}

export async function findRewards(q: Query, identities: RewardIdentity[]): Promise<Reward[]> {
	const rows = await q(
		`SELECT ${REWARD_COLUMNS} FROM rewards WHERE (campaign_id, beneficiary_id, rule, ordinal) IN ` +
			'(SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]))',
		[
			identities.map((i) => i.campaignId),
			identities.map((i) => i.beneficiaryId),
			identities.map((i) => i.rule),
			identities.map((i) => i.ordinal),
		],
	);
	return rows.map(rowToReward);
}

export async function getReward(q: Query, id: number): Promise<Reward | null> {
	const rows = await q(`SELECT ${REWARD_COLUMNS} FROM rewards WHERE id = $1`, [id]);
	return rows.length === 0 ? null : rowToReward(rows[0]);
}

export async function liveRewardsAbove(q: Query, campaignId: number, beneficiaryId: number, rule: Reward['rule'], ordinal: number): Promise<Reward[]> {
	const rows = await q(
		`SELECT ${REWARD_COLUMNS} FROM rewards WHERE campaign_id = $1 AND beneficiary_id = $2 AND rule = $3 AND ordinal > $4 ` +
			"AND status <> 'cancelled' ORDER BY ordinal",
		[campaignId, beneficiaryId, rule, ordinal],
	);
	return rows.map(rowToReward);
}

export async function listRewards(q: Query, filter: RewardFilter, page: Page): Promise<Reward[]> {
	const where: string[] = [];
	const params: Param[] = [];
	if (filter.campaignId !== undefined) {
		params.push(filter.campaignId);
		where.push(`campaign_id = $${params.length}`);
	}
	if (filter.beneficiaryId !== undefined) {
		params.push(filter.beneficiaryId);
		where.push(`beneficiary_id = $${params.length}`);
	}
	if (filter.referralId !== undefined) {
		params.push(filter.referralId);
		where.push(`referral_id = $${params.length}`);
	}
	if (filter.status?.length) {
		params.push(filter.status);
		where.push(`status = ANY($${params.length}::text[])`);
	}
	if (page.afterId !== undefined) {
		params.push(page.afterId);
		where.push(`id > $${params.length}`);
	}
	params.push(toLimit(page.limit));
	const rows = await q(
		`SELECT ${REWARD_COLUMNS} FROM rewards${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
			`ORDER BY id LIMIT $${params.length}`,
		params,
	);
	return rows.map(rowToReward);
}

export async function updateReward(q: Query, id: number, patch: RewardPatch, fromStatus: RewardStatus[], now: string): Promise<Reward | null> {
	const params: Param[] = [id, toIso(now), fromStatus];
	const sets = [...assignments(REWARD_PATCH_COLUMNS, patch, params), 'updated_at = $2'];
	const rows = await q(
		`UPDATE rewards SET ${sets.join(', ')} WHERE id = $1 AND status = ANY($3::text[]) RETURNING ${REWARD_COLUMNS}`,
		params,
	);
	return rows.length === 0 ? null : rowToReward(rows[0]);
}

export async function claimRewards(q: Query, request: ClaimRequest, now: string): Promise<Reward[]> {
	const params: Param[] = [toIso(request.leaseUntil), toIso(now)];
	const where = ["(status = 'due' OR (status = 'pending_hold' AND due_at <= $2::timestamptz))"];
	if (request.campaignId !== undefined) {
		params.push(request.campaignId);
		where.push(`campaign_id = $${params.length}`);
	}
	if (request.beneficiaryId !== undefined) {
		params.push(request.beneficiaryId);
		where.push(`beneficiary_id = $${params.length}`);
	}
	params.push(toLimit(request.limit));
	// SKIP LOCKED: a concurrent claimer passes over the rows this one is taking; a row claimed
	// and committed meanwhile fails the re-checked status condition and is passed over too.
	const rows = await q(
		"UPDATE rewards SET status = 'issuing', lease_until = $1::timestamptz, updated_at = $2::timestamptz " +
			`WHERE id IN (SELECT id FROM rewards WHERE ${where.join(' AND ')} ORDER BY due_at, id LIMIT $${params.length} ` +
			`FOR UPDATE SKIP LOCKED) RETURNING ${REWARD_COLUMNS}`,
		params,
	);
	return rows.map(rowToReward).sort(byDueAtThenId);
}

export async function promoteHeldRewards(q: Query, now: string): Promise<Reward[]> {
	const rows = await q(
		"UPDATE rewards SET status = 'due', updated_at = $1::timestamptz " +
			`WHERE status = 'pending_hold' AND due_at <= $1::timestamptz RETURNING ${REWARD_COLUMNS}`,
		[toIso(now)],
	);
	return rows.map(rowToReward).sort(byDueAtThenId);
}

export async function releaseExpiredClaims(q: Query, now: string): Promise<Reward[]> {
	const rows = await q(
		"UPDATE rewards SET status = 'due', lease_until = NULL, updated_at = $1::timestamptz " +
			`WHERE status = 'issuing' AND lease_until <= $1::timestamptz RETURNING ${REWARD_COLUMNS}`,
		[toIso(now)],
	);
	return rows.map(rowToReward).sort(byDueAtThenId);
}

/** The codes worth adding: trimmed, empty ones dropped. */
export function couponCodes(codes: string[]): string[] {
	const clean: string[] = [];
	for (const raw of codes) {
		const code = typeof raw === 'string' ? raw.trim() : '';
		if (code !== '') clean.push(code);
	}
	return clean;
}

/** Adds couponCodes() of an upload; returns how many were new. */
export async function addCoupons(q: Query, campaignId: number, codes: string[], ts: string): Promise<number> {
	return (await q(INSERT_COUPONS_SQL, [campaignId, codes, ts])).length;
}

export async function takeCoupon(q: Query, campaignId: number, rewardId: number, now: string): Promise<string | null> {
	const ts = toIso(now);
	// The reward's row lock serialises takers for the same reward; the next statement then sees
	// a coupon a concurrent taker committed for it.
	const reward = await q('SELECT id FROM rewards WHERE id = $1 FOR NO KEY UPDATE', [rewardId]);
	if (reward.length === 0) throw new StoreError(`there is no reward ${rewardId}`);
	// A reward gets one coupon: asking again returns the same code.
	const held = await q('SELECT code FROM coupons WHERE reward_id = $1', [rewardId]);
	if (held.length > 0) return held[0].code as string;
	const taken = await q(TAKE_COUPON_SQL, [campaignId, rewardId, ts]);
	return taken.length === 0 ? null : (taken[0].code as string);
}

export async function couponPool(q: Query, campaignId: number): Promise<{ total: number; available: number }> {
	const rows = await q(
		'SELECT count(*) AS total, count(*) - count(reward_id) AS available FROM coupons WHERE campaign_id = $1',
		[campaignId],
	);
	return { total: rows[0].total as number, available: rows[0].available as number };
}
