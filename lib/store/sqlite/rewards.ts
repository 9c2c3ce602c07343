// Rewards (inserted per identity, claimed for issuing under a lease, patched as they move on) and
// the coupon codes handed out to them.

import type { Reward, RewardStatus } from '../../referrals/model';
import { StoreError } from '../errors';
import type { ClaimRequest, Page, RewardFilter, RewardIdentity, RewardInsert, RewardPatch } from '../types';
import { assignments, REWARD_COLUMNS, REWARD_PATCH_COLUMNS, rowToReward, toIso, toLimit, type Prepare } from './rows';

// A reward's identity exists: left alone, unless it was cancelled, then revived with the new
// content and status. DO UPDATE ... WHERE false returns nothing, so only inserted and revived rows
// come back.
const INSERT_REWARD_SQL = `INSERT INTO rewards (campaign_id, beneficiary_id, beneficiary_role, rule, ordinal, referral_id,
	kind, amount, currency, payload, status, due_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (campaign_id, beneficiary_id, rule, ordinal) DO UPDATE SET
	beneficiary_role = excluded.beneficiary_role, referral_id = excluded.referral_id, kind = excluded.kind,
	amount = excluded.amount, currency = excluded.currency, payload = excluded.payload, status = excluded.status,
	due_at = excluded.due_at, attempts = 0, failure_reason = NULL, lease_until = NULL, updated_at = excluded.updated_at
WHERE rewards.status = 'cancelled'
RETURNING ${REWARD_COLUMNS}`;

/** Oldest first: by dueAt (ISO text compares in time order), then id. */
function byDueAtThenId(a: Reward, b: Reward): number {
	if (a.dueAt !== b.dueAt) return a.dueAt < b.dueAt ? -1 : 1;
	return a.id - b.id;
}

export function insertRewards(prepare: Prepare, rows: RewardInsert[], now: string): Reward[] {
	const ts = toIso(now);
	const insert = prepare(INSERT_REWARD_SQL);
	const seen = new Set<string>();
	const out: Reward[] = [];
	for (let i = 0; i < rows.length; i++) {
		const r = rows[i];
		// The first of two equal identities in one batch wins, as on PostgreSQL.
		const identity = `${r.campaignId}:${r.beneficiaryId}:${r.rule}:${r.ordinal}`;
		if (seen.has(identity)) continue;
		seen.add(identity);
		const res = insert.get(
			r.campaignId,
			r.beneficiaryId,
			r.beneficiaryRole,
			r.rule,
			r.ordinal,
			r.referralId ?? null,
			r.kind,
			r.amount ?? null,
			r.currency ?? null,
			JSON.stringify(r.payload ?? {}),
			r.status,
			toIso(r.dueAt),
			ts,
			ts,
		);
		if (res !== undefined) out.push(rowToReward(res));
	}
	return out;
}

export function getReward(prepare: Prepare, id: number): Reward | null {
	const r = prepare(`SELECT ${REWARD_COLUMNS} FROM rewards WHERE id = ?`).get(id);
	return r === undefined ? null : rowToReward(r);
}

export function findRewards(prepare: Prepare, identities: RewardIdentity[]): Reward[] {
	const find = prepare(
		`SELECT ${REWARD_COLUMNS} FROM rewards WHERE campaign_id = ? AND beneficiary_id = ? AND rule = ? AND ordinal = ?`,
	);
	const out: Reward[] = [];
	for (const identity of identities) {
		const r = find.get(identity.campaignId, identity.beneficiaryId, identity.rule, identity.ordinal);
		if (r !== undefined) out.push(rowToReward(r));
	}
	return out;
}

export function liveRewardsAbove(prepare: Prepare, campaignId: number, beneficiaryId: number, rule: Reward['rule'], ordinal: number): Reward[] {
	return prepare(
		`SELECT ${REWARD_COLUMNS} FROM rewards WHERE campaign_id = ? AND beneficiary_id = ? AND rule = ? AND ordinal > ? ` +
			"AND status <> 'cancelled' ORDER BY ordinal",
	)
		.all(campaignId, beneficiaryId, rule, ordinal)
		.map(rowToReward);
}

export function listRewards(prepare: Prepare, filter: RewardFilter, page: Page): Reward[] {
	const where: string[] = [];
	const params: Array<string | number> = [];
	if (filter.campaignId !== undefined) {
		// As in listParticipants: a beneficiary's or a referral's rewards come from their own index.
		const narrower = filter.beneficiaryId !== undefined || filter.referralId !== undefined;
		where.push(narrower ? '+campaign_id = ?' : 'campaign_id = ?');
		params.push(filter.campaignId);
	}
	if (filter.beneficiaryId !== undefined) {
		where.push('beneficiary_id = ?');
		params.push(filter.beneficiaryId);
	}
	if (filter.referralId !== undefined) {
		where.push('referral_id = ?');
		params.push(filter.referralId);
	}
	if (filter.status?.length) {
		where.push('status IN (SELECT value FROM json_each(?))');
		params.push(JSON.stringify(filter.status));
	}
	if (page.afterId !== undefined) {
		where.push('id > ?');
		params.push(page.afterId);
	}
	params.push(toLimit(page.limit));
	return prepare(
		`SELECT ${REWARD_COLUMNS} FROM rewards${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`,
	)
		.all(...params)
		.map(rowToReward);
}

export function updateReward(prepare: Prepare, id: number, patch: RewardPatch, fromStatus: RewardStatus[], now: string): Reward | null {
	const params: Array<string | number | null> = [];
	const sets = [...assignments(REWARD_PATCH_COLUMNS, patch, params), 'updated_at = ?'];
	params.push(toIso(now), id, JSON.stringify(fromStatus));
	const r = prepare(
		`UPDATE rewards SET ${sets.join(', ')} WHERE id = ? AND status IN (SELECT value FROM json_each(?)) ` +
			`RETURNING ${REWARD_COLUMNS}`,
	).get(...params);
	return r === undefined ? null : rowToReward(r);
}

export function claimRewards(prepare: Prepare, request: ClaimRequest, now: string): Reward[] {
	const ts = toIso(now);
	const where = ["(status = 'due' OR (status = 'pending_hold' AND due_at <= ?))"];
	const params: Array<string | number> = [toIso(request.leaseUntil), ts, ts];
	if (request.campaignId !== undefined) {
		where.push('campaign_id = ?');
		params.push(request.campaignId);
	}
	if (request.beneficiaryId !== undefined) {
		where.push('beneficiary_id = ?');
		params.push(request.beneficiaryId);
	}
	params.push(toLimit(request.limit));
	// Write transactions are serial (BEGIN IMMEDIATE + the mutex): no two claimers see the same row.
	return prepare(
		"UPDATE rewards SET status = 'issuing', lease_until = ?, updated_at = ? " +
			`WHERE id IN (SELECT id FROM rewards WHERE ${where.join(' AND ')} ORDER BY due_at, id LIMIT ?) ` +
			`RETURNING ${REWARD_COLUMNS}`,
	)
		.all(...params)
		.map(rowToReward)
		.sort(byDueAtThenId);
}

export function promoteHeldRewards(prepare: Prepare, now: string): Reward[] {
	const ts = toIso(now);
	return prepare(
		"UPDATE rewards SET status = 'due', updated_at = ? WHERE status = 'pending_hold' AND due_at <= ? " +
			`RETURNING ${REWARD_COLUMNS}`,
	)
		.all(ts, ts)
		.map(rowToReward)
		.sort(byDueAtThenId);
}

export function releaseExpiredClaims(prepare: Prepare, now: string): Reward[] {
	const ts = toIso(now);
	return prepare(
		"UPDATE rewards SET status = 'due', lease_until = NULL, updated_at = ? WHERE status = 'issuing' AND lease_until <= ? " +
			`RETURNING ${REWARD_COLUMNS}`,
	)
		.all(ts, ts)
		.map(rowToReward)
		.sort(byDueAtThenId);
}

export function addCoupons(prepare: Prepare, campaignId: number, codes: string[], now: string): number {
	const ts = toIso(now);
	const insert = prepare(
		'INSERT INTO coupons (campaign_id, code, added_at) VALUES (?, ?, ?) ON CONFLICT (campaign_id, code) DO NOTHING',
	);
	let added = 0;
	for (const raw of codes) {
		const code = typeof raw === 'string' ? raw.trim() : '';
		if (code === '') continue;
		added += Number(insert.run(campaignId, code, ts).changes);
	}
	return added;
}

export function takeCoupon(prepare: Prepare, campaignId: number, rewardId: number, now: string): string | null {
	const ts = toIso(now);
	const current = prepare(
		'SELECT r.id, c.code FROM rewards AS r LEFT JOIN coupons AS c ON c.reward_id = r.id WHERE r.id = ?',
	).get(rewardId);
	if (current === undefined) throw new StoreError(`there is no reward ${rewardId}`);
	// A reward gets one coupon: asking again returns the same code.
	if (current.code !== null) return current.code as string;
	// Write transactions are serial, so the next free coupon cannot be taken by anyone else meanwhile.
	const taken = prepare(
		'UPDATE coupons SET reward_id = ?, taken_at = ? WHERE id = ' +
			'(SELECT id FROM coupons WHERE campaign_id = ? AND reward_id IS NULL ORDER BY id LIMIT 1) RETURNING code',
	).get(rewardId, ts, campaignId);
	if (taken === undefined) return null;
	prepare('UPDATE rewards SET coupon_code = ?, updated_at = ? WHERE id = ?').run(taken.code as string, ts, rewardId);
	return taken.code as string;
}

export function couponPool(prepare: Prepare, campaignId: number): { total: number; available: number } {
	const r = prepare(
		'SELECT count(*) AS total, count(*) - count(reward_id) AS available FROM coupons WHERE campaign_id = ?',
	).get(campaignId)!;
	return { total: r.total as number, available: r.available as number };
}
