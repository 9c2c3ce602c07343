// The store contract: coupon pools (upload, hand out once per reward, under concurrency).

import { setTimeout as sleep } from 'node:timers/promises';
import { openStore, type ReferralStore } from '../../../lib/store';
import { REWARDS_SCRIPT, runChildScripts } from './child-processes';
import { LATER, NOW, rewardRow, type ContractContext } from './shared';

/** Coupons: pools per campaign, one coupon per reward, each coupon handed out once. */
export function couponTests(ctx: ContractContext): void {
	const { tx, read, newCampaign, rewardSetup } = ctx;

	it('adds coupons once per campaign, trimmed and without blanks, and counts the pool', async () => {
		const { c } = await rewardSetup();
		const other = await newCampaign();
		expect(await read((t) => t.couponPool(c.id))).toEqual({ total: 0, available: 0 });
		expect(await tx((t) => t.addCoupons(c.id, [' SAVE-1 ', 'SAVE-2', '', '   ', 'SAVE-1', 'SAVE-3'], NOW))).toBe(3);
		expect(await tx((t) => t.addCoupons(c.id, ['SAVE-3', 'SAVE-4\n'], NOW))).toBe(1);
		expect(await tx((t) => t.addCoupons(c.id, [], NOW))).toBe(0);
		expect(await tx((t) => t.addCoupons(other.id, ['SAVE-1'], NOW))).toBe(1); // pools are per campaign
		expect(await read((t) => t.couponPool(c.id))).toEqual({ total: 4, available: 4 });
		expect(await read((t) => t.couponPool(other.id))).toEqual({ total: 1, available: 1 });
		// a rolled-back upload adds nothing
		await expect(
			tx(async (t) => {
				await t.addCoupons(c.id, ['SAVE-5'], NOW);
				throw new Error('boom');
			}),
		).rejects.toThrow('boom');
		expect(await read((t) => t.couponPool(c.id))).toEqual({ total: 4, available: 4 });
	});

	it('hands each coupon out once, in upload order; a reward keeps its coupon; an empty pool gives null', async () => {
		const { c, referrer } = await rewardSetup();
		const other = await newCampaign();
		await tx((t) => t.addCoupons(c.id, ['C-1', 'C-2', 'C-3'], NOW));
		await tx((t) => t.addCoupons(other.id, ['OTHER-1'], NOW));
		const rewards = await tx((t) =>
			t.insertRewards([1, 2, 3, 4].map((n) => rewardRow(c.id, referrer.id, { ordinal: n, kind: 'coupon', amount: null, currency: null })), NOW),
		);
		const [r1, r2, r3, r4] = [1, 2, 3, 4].map((n) => rewards.find((r) => r.ordinal === n)!);
		expect(await tx((t) => t.takeCoupon(c.id, r1.id, LATER))).toBe('C-1');
		expect(await read((t) => t.getReward(r1.id))).toEqual({ ...r1, couponCode: 'C-1', updatedAt: LATER });
		// asking again for the same reward returns its coupon, and takes no other
		expect(await tx((t) => t.takeCoupon(c.id, r1.id, LATER))).toBe('C-1');
		expect(await read((t) => t.couponPool(c.id))).toEqual({ total: 3, available: 2 });
		// a rolled-back take leaves the coupon in the pool
		await expect(
			tx(async (t) => {
				expect(await t.takeCoupon(c.id, r2.id, LATER)).toBe('C-2');
				throw new Error('boom');
			}),
		).rejects.toThrow('boom');
		expect((await read((t) => t.getReward(r2.id)))!.couponCode).toBeNull();
		expect(await tx((t) => t.takeCoupon(c.id, r2.id, LATER))).toBe('C-2');
		expect(await tx((t) => t.takeCoupon(c.id, r3.id, LATER))).toBe('C-3');
		expect(await read((t) => t.couponPool(c.id))).toEqual({ total: 3, available: 0 });
		// the pool is empty: null, and the reward is left as it was
		expect(await tx((t) => t.takeCoupon(c.id, r4.id, LATER))).toBeNull();
		expect(await read((t) => t.getReward(r4.id))).toEqual(r4);
		expect(await read((t) => t.couponPool(other.id))).toEqual({ total: 1, available: 1 });
		// new codes refill the pool
		expect(await tx((t) => t.addCoupons(c.id, ['C-1', 'C-4'], NOW))).toBe(1);
		expect(await tx((t) => t.takeCoupon(c.id, r4.id, LATER))).toBe('C-4');
		const empty = await newCampaign();
		expect(await tx((t) => t.takeCoupon(empty.id, r1.id, LATER))).toBe('C-1'); // it already has one
		const [r5] = await tx((t) => t.insertRewards([rewardRow(c.id, referrer.id, { ordinal: 5 })], NOW));
		expect(await tx((t) => t.takeCoupon(empty.id, r5.id, LATER))).toBeNull();
		await expect(tx((t) => t.takeCoupon(c.id, 987654, LATER))).rejects.toThrow(/no reward 987654/);
	});

	it('concurrent transactions taking coupons for the same rewards hand out each coupon once, one per reward', async () => {
		const { c, referrer } = await rewardSetup();
		const rewards = await tx((t) =>
			t.insertRewards(Array.from({ length: 100 }, (_, i) => rewardRow(c.id, referrer.id, { ordinal: i + 1, kind: 'coupon' })), NOW),
		);
		await tx((t) => t.addCoupons(c.id, Array.from({ length: 100 }, (_, i) => `CONC-${i}`), NOW));
		const ids = rewards.map((r) => r.id).sort((a, b) => a - b);
		const batches = Array.from({ length: 10 }, (_, k) => ids.slice(k * 10, k * 10 + 10));
		// every worker goes over every reward, each starting at another batch
		const results = await Promise.all(
			Array.from({ length: 8 }, async (_, w) => {
				const pairs: Array<[number, string | null]> = [];
				for (let k = 0; k < batches.length; k++) {
					const batch = batches[(w + k) % batches.length];
					pairs.push(
						...(await ctx.store.transaction(async (t) => {
							const out: Array<[number, string | null]> = [];
							for (const id of batch) out.push([id, await t.takeCoupon(c.id, id, NOW)]);
							await sleep(1);
							return out;
						})),
					);
				}
				return pairs;
			}),
		);
		await expectOneCouponPerReward(ctx.store, c.id, ids, results.flat());
	});

	it('8 processes taking 500 coupons for 500 rewards, each reward asked for by two or more, hand out every coupon exactly once, one per reward', async () => {
		const config = ctx.factory.freshConfig();
		const own = await openStore(config);
		const { c, referrer } = await rewardSetup(own);
		const rewards = await own.transaction((t) =>
			t.insertRewards(Array.from({ length: 500 }, (_, i) => rewardRow(c.id, referrer.id, { ordinal: i + 1, kind: 'coupon' })), NOW),
		);
		await own.transaction((t) => t.addCoupons(c.id, Array.from({ length: 500 }, (_, i) => `PROC-${i}`), NOW));
		const results = await runChildScripts<{ taken: Array<[number, string | null]> }>(
			REWARDS_SCRIPT,
			// 20 batches of 25; each child takes 5 batches in a row, so every batch is asked for twice or more
			(child) => [JSON.stringify(config), 'coupons', String(c.id), '25', String(child), '8', '5'],
			8,
		);
		expect(results.map((r) => r.taken.length)).toEqual(Array(8).fill(125));
		await expectOneCouponPerReward(
			own,
			c.id,
			rewards.map((r) => r.id),
			results.flatMap((r) => r.taken),
		);
		await own.close();
	});
}

/**
 * Checks the outcome of concurrent coupon takers: every reward got a coupon, every answer for a
 * reward named the same code, no code went to two rewards, the pool is used up, and each reward's
 * couponCode is its coupon.
 */
async function expectOneCouponPerReward(
	store: ReferralStore,
	campaignId: number,
	rewardIds: number[],
	taken: Array<[number, string | null]>,
): Promise<void> {
	const codeOf = new Map<number, string>();
	for (const [rewardId, code] of taken) {
		expect(code).not.toBeNull();
		if (!codeOf.has(rewardId)) codeOf.set(rewardId, code!);
		expect(code).toBe(codeOf.get(rewardId));
	}
	expect([...codeOf.keys()].sort((a, b) => a - b)).toEqual([...rewardIds].sort((a, b) => a - b));
	expect(new Set(codeOf.values()).size).toBe(rewardIds.length);
	expect(await store.read((t) => t.couponPool(campaignId))).toEqual({ total: rewardIds.length, available: 0 });
	const stored = await store.read((t) => t.listRewards({ campaignId }, { limit: rewardIds.length + 1 }));
	expect(stored).toHaveLength(rewardIds.length);
	for (const r of stored) expect(r.couponCode).toBe(codeOf.get(r.id));
}
