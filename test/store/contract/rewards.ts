// The store contract: rewards (insert by identity, list, update by status, claim, hold and lease).

import { setTimeout as sleep } from 'node:timers/promises';
import type { Reward } from '../../../lib/referrals/model';
import { openStore, type StoreTransaction } from '../../../lib/store';
import { REWARDS_SCRIPT, runChildScripts } from './child-processes';
import { at, LATER, NOW, personRow, rewardRow, uid, type ContractContext } from './shared';

/** Rewards: idempotent inserts and revival, listing, guarded updates, claims by one holder at a time. */
export function rewardTests(ctx: ContractContext): void {
	const { tx, read, newCampaign, insert, isolated, rewardSetup } = ctx;

	const ordinals = (list: Reward[]) => list.map((r) => r.ordinal);

	it('inserts rewards by identity: returns new rows, skips existing ones and revives only cancelled ones', async () => {
		const { c, referrer, referred } = await rewardSetup();
		const rows = [
			rewardRow(c.id, referrer.id, { ordinal: 1, referralId: referred.id, payload: { note: 'x"y\\z', nested: { a: [1, null] } } }),
			rewardRow(c.id, referrer.id, {
				rule: 'milestone',
				ordinal: 5,
				kind: 'coupon',
				amount: null,
				currency: null,
				status: 'pending_hold',
				dueAt: '2024-05-15T10:00:00Z',
			}),
			rewardRow(c.id, referrer.id, { rule: 'commission', ordinal: referred.id, referralId: referred.id, amount: 12.34, status: 'pending_approval' }),
			rewardRow(c.id, referred.id, {
				beneficiaryRole: 'referred',
				rule: 'referred',
				ordinal: referred.id,
				referralId: referred.id,
				kind: 'custom',
				amount: null,
				currency: null,
				payload: { sku: 'TSHIRT' },
			}),
		];
		const inserted = await tx((t) => t.insertRewards(rows, NOW));
		expect(inserted).toHaveLength(4);
		const byRule = (list: Reward[], rule: Reward['rule']) => list.find((r) => r.rule === rule)!;
		expect(byRule(inserted, 'per_referral')).toEqual({
			id: expect.any(Number),
			campaignId: c.id,
			beneficiaryId: referrer.id,
			beneficiaryRole: 'referrer',
			rule: 'per_referral',
			ordinal: 1,
			referralId: referred.id,
			kind: 'amount',
			amount: 25,
			currency: 'EUR',
			couponCode: null,
			payload: { note: 'x"y\\z', nested: { a: [1, null] } },
			status: 'due',
			dueAt: NOW,
			leaseUntil: null,
			attempts: 0,
			externalRef: null,
			failureReason: null,
			issuedAt: null,
			createdAt: NOW,
			updatedAt: NOW,
		});
		expect(byRule(inserted, 'milestone')).toMatchObject({
			kind: 'coupon',
			amount: null,
			currency: null,
			status: 'pending_hold',
			dueAt: '2024-05-15T10:00:00.000Z',
		});
		expect(byRule(inserted, 'commission')).toMatchObject({ amount: 12.34, ordinal: referred.id, status: 'pending_approval' });
		expect(byRule(inserted, 'referred')).toMatchObject({ beneficiaryId: referred.id, beneficiaryRole: 'referred', kind: 'custom', payload: { sku: 'TSHIRT' } });
		expect(new Set(inserted.map((r) => r.id)).size).toBe(4);
		for (const r of inserted) expect(await read((t) => t.getReward(r.id))).toEqual(r);
		expect(await read((t) => t.getReward(987654))).toBeNull();

		// the same identities again, with other content: nothing inserted, nothing changed
		expect(await tx((t) => t.insertRewards(rows.map((r) => ({ ...r, amount: 99, status: 'due' as const })), LATER))).toEqual([]);
		for (const r of inserted) expect(await read((t) => t.getReward(r.id))).toEqual(r);

		// a cancelled reward is revived with the new content and status; attempts, failure and lease reset
		const commission = byRule(inserted, 'commission');
		await tx((t) =>
			t.updateReward(commission.id, { status: 'issuing', leaseUntil: LATER, attempts: 2, failureReason: 'timeout' }, ['pending_approval'], NOW),
		);
		expect(await tx((t) => t.updateReward(commission.id, { status: 'cancelled' }, ['issuing'], NOW))).toMatchObject({ status: 'cancelled', attempts: 2 });
		const revival = rewardRow(c.id, referrer.id, {
			rule: 'commission',
			ordinal: referred.id,
			referralId: referred.id,
			amount: 40,
			currency: 'USD',
			payload: { v: 2 },
			status: 'pending_hold',
			dueAt: '2024-06-01T00:00:00Z',
		});
		const second = await tx((t) =>
			t.insertRewards(
				[
					rows[0], // exists and is not cancelled
					revival,
					rewardRow(c.id, referrer.id, { ordinal: 2 }), // new
					rewardRow(c.id, referrer.id, { ordinal: 2, amount: 1 }), // twice in one batch: the first wins
				],
				LATER,
			),
		);
		expect(second).toHaveLength(2);
		const revived = second.find((r) => r.id === commission.id)!;
		expect(revived).toEqual({
			...commission,
			amount: 40,
			currency: 'USD',
			payload: { v: 2 },
			status: 'pending_hold',
			dueAt: '2024-06-01T00:00:00.000Z',
			leaseUntil: null,
			attempts: 0,
			failureReason: null,
			updatedAt: LATER,
		});
		expect(await read((t) => t.getReward(commission.id))).toEqual(revived);
		expect(second.find((r) => r.id !== commission.id)).toMatchObject({ rule: 'per_referral', ordinal: 2, amount: 25, createdAt: LATER });
		// revived, it is not cancelled any more, so it is left alone again
		expect(await tx((t) => t.insertRewards([revival], LATER))).toEqual([]);
		expect(await tx((t) => t.insertRewards([], NOW))).toEqual([]);
		// the same ordinal under another rule, beneficiary or campaign is another reward
		const other = await newCampaign();
		const [o] = await insert([personRow(other.id, `rw-o-${uid()}@example.com`)]);
		const distinct = await tx((t) =>
			t.insertRewards(
				[
					rewardRow(c.id, referrer.id, { rule: 'milestone', ordinal: 1 }),
					rewardRow(c.id, referred.id, { ordinal: 1 }),
					rewardRow(other.id, o.id, { ordinal: 1 }),
				],
				NOW,
			),
		);
		expect(distinct).toHaveLength(3);
		await expect(tx((t) => t.insertRewards([rewardRow(c.id, 987654)], NOW))).rejects.toThrow(/foreign key/i);
	});

	it('creates each reward once when concurrent transactions insert the same identities in different orders', async () => {
		const { c, referrer, referred } = await rewardSetup();
		const rows = Array.from({ length: 30 }, (_, i) =>
			rewardRow(c.id, i % 2 ? referrer.id : referred.id, { ordinal: i, rule: i % 3 ? 'per_referral' : 'milestone' }),
		);
		const orders = [rows, [...rows].reverse(), [...rows.filter((_, i) => i % 2), ...rows.filter((_, i) => i % 2 === 0)]];
		const inserted = await Promise.all(
			Array.from({ length: 6 }, (_, k) =>
				tx(async (t) => {
					const made = await t.insertRewards(orders[k % orders.length], NOW);
					await sleep(1);
					return made;
				}),
			),
		);
		expect(inserted.flat()).toHaveLength(30);
		const all = await read((t) => t.listRewards({ campaignId: c.id }, { limit: 100 }));
		expect(all).toHaveLength(30);
		// a cancelled one is revived once
		const target = all[7];
		await tx((t) => t.updateReward(target.id, { status: 'cancelled' }, ['due'], NOW));
		const again = rows.find((r) => r.beneficiaryId === target.beneficiaryId && r.rule === target.rule && r.ordinal === target.ordinal)!;
		const revived = await Promise.all(
			Array.from({ length: 6 }, () =>
				tx(async (t) => {
					const made = await t.insertRewards([again], LATER);
					await sleep(1);
					return made;
				}),
			),
		);
		expect(revived.flat().map((r) => r.id)).toEqual([target.id]);
		expect((await read((t) => t.getReward(target.id)))!.status).toBe('due');
	});

	it('lists rewards by campaign, beneficiary, referral and status, in id order, with keyset paging', async () => {
		const { c, referrer, referred } = await rewardSetup();
		const made = await tx((t) =>
			t.insertRewards(
				[
					rewardRow(c.id, referrer.id, { ordinal: 1, referralId: referred.id }),
					rewardRow(c.id, referrer.id, { ordinal: 2, status: 'issued' }),
					rewardRow(c.id, referred.id, {
						beneficiaryRole: 'referred',
						rule: 'referred',
						ordinal: referred.id,
						referralId: referred.id,
						status: 'pending_hold',
					}),
				],
				NOW,
			),
		);
		const other = await rewardSetup();
		await tx((t) => t.insertRewards([rewardRow(other.c.id, other.referrer.id, { referralId: referred.id })], NOW));
		const [a, b, d] = [1, 2, referred.id].map((n) => made.find((r) => r.ordinal === n)!);
		const sorted = (...list: Reward[]) => list.map((r) => r.id).sort((x, y) => x - y);
		const list = async (filter: Parameters<StoreTransaction['listRewards']>[0], limit = 100, afterId?: number) =>
			(await read((t) => t.listRewards(filter, { limit, afterId }))).map((r) => r.id);
		expect(await list({ campaignId: c.id })).toEqual(sorted(a, b, d));
		expect(await list({ beneficiaryId: referrer.id })).toEqual(sorted(a, b));
		expect(await list({ campaignId: c.id, referralId: referred.id })).toEqual(sorted(a, d));
		expect(await list({ campaignId: c.id, status: ['due', 'pending_hold'] })).toEqual(sorted(a, d));
		expect(await list({ campaignId: c.id, status: ['issued'] })).toEqual(sorted(b));
		expect(await list({ beneficiaryId: referrer.id, status: ['cancelled'] })).toEqual([]);
		expect((await read((t) => t.listRewards({ campaignId: c.id }, { limit: 100 })))[0]).toEqual(made.find((r) => r.id === sorted(a, b, d)[0]));
		const [first, ...rest] = sorted(a, b, d);
		expect(await list({ campaignId: c.id }, 1)).toEqual([first]);
		expect(await list({ campaignId: c.id }, 5, first)).toEqual(rest);
		expect(await list({ campaignId: c.id }, 0)).toEqual([]);
	});

	it('updates a reward only from the given statuses, and bumps updatedAt', async () => {
		const { c, referrer } = await rewardSetup();
		const [r] = await tx((t) => t.insertRewards([rewardRow(c.id, referrer.id, { status: 'pending_approval' })], NOW));
		// a status that does not match, no status at all, or no such reward: nothing is written
		expect(await tx((t) => t.updateReward(r.id, { status: 'due' }, ['due', 'pending_hold'], LATER))).toBeNull();
		expect(await tx((t) => t.updateReward(r.id, { status: 'due' }, [], LATER))).toBeNull();
		expect(await tx((t) => t.updateReward(987654, { status: 'due' }, ['pending_approval'], LATER))).toBeNull();
		expect(await read((t) => t.getReward(r.id))).toEqual(r);

		const due = await tx((t) => t.updateReward(r.id, { status: 'due', dueAt: '2024-05-03T00:00:00Z' }, ['pending_approval'], LATER));
		expect(due).toEqual({ ...r, status: 'due', dueAt: '2024-05-03T00:00:00.000Z', updatedAt: LATER });
		const issued = await tx((t) =>
			t.updateReward(
				r.id,
				{
					status: 'issued',
					leaseUntil: '2024-05-03T00:05:00Z',
					attempts: 1,
					externalRef: 'PAY-1',
					failureReason: 'first try timed out',
					couponCode: 'WELCOME-1',
					issuedAt: '2024-05-03T00:01:00Z',
				},
				['due', 'issuing'],
				'2024-05-03T00:01:00.000Z',
			),
		);
		expect(issued).toEqual({
			...due,
			status: 'issued',
			leaseUntil: '2024-05-03T00:05:00.000Z',
			attempts: 1,
			externalRef: 'PAY-1',
			failureReason: 'first try timed out',
			couponCode: 'WELCOME-1',
			issuedAt: '2024-05-03T00:01:00.000Z',
			updatedAt: '2024-05-03T00:01:00.000Z',
		});
		expect(await read((t) => t.getReward(r.id))).toEqual(issued);
		// issued once: the same transition again finds nothing to do
		expect(await tx((t) => t.updateReward(r.id, { status: 'issued', externalRef: 'PAY-2' }, ['due', 'issuing'], LATER))).toBeNull();
		const cleared = await tx((t) =>
			t.updateReward(r.id, { leaseUntil: null, failureReason: null, externalRef: null }, ['issued'], '2024-05-04T00:00:00.000Z'),
		);
		expect(cleared).toEqual({ ...issued, leaseUntil: null, failureReason: null, externalRef: null, updatedAt: '2024-05-04T00:00:00.000Z' });
		expect(await tx((t) => t.updateReward(r.id, {}, ['issued'], '2024-05-05T00:00:00.000Z'))).toEqual({
			...cleared,
			updatedAt: '2024-05-05T00:00:00.000Z',
		});

		// concurrent transitions out of the same status: exactly one of them happens
		const [r2] = await tx((t) => t.insertRewards([rewardRow(c.id, referrer.id, { ordinal: 2 })], NOW));
		const wins = await Promise.all(
			Array.from({ length: 6 }, (_, i) =>
				tx(async (t) => {
					const won = await t.updateReward(r2.id, { status: 'issued', externalRef: `T${i}` }, ['due'], LATER);
					await sleep(1);
					return won;
				}),
			),
		);
		expect(wins.filter(Boolean)).toHaveLength(1);
		expect((await read((t) => t.getReward(r2.id)))!.externalRef).toBe(wins.find(Boolean)!.externalRef);
	});

	it('claims due rewards and held ones past their time, oldest first, with filters and a lease', async () => {
		const own = await isolated();
		const { c, referrer: ann, referred: bo } = await rewardSetup(own);
		const other = await rewardSetup(own);
		// the ordinal labels each reward
		await own.transaction((t) =>
			t.insertRewards(
				[
					rewardRow(c.id, ann.id, { ordinal: 1, dueAt: at(9) }),
					rewardRow(c.id, ann.id, { ordinal: 2, dueAt: at(3) }),
					rewardRow(c.id, ann.id, { ordinal: 3, status: 'pending_hold', dueAt: at(6) }), // held, time has come
					rewardRow(c.id, ann.id, { ordinal: 4, status: 'pending_hold', dueAt: at(12) }), // held until exactly now
					rewardRow(c.id, ann.id, { ordinal: 5, status: 'pending_hold', dueAt: at(18) }), // still held
					rewardRow(c.id, ann.id, { ordinal: 6, status: 'pending_approval', dueAt: at(1) }),
					rewardRow(c.id, ann.id, { ordinal: 7, status: 'issued', dueAt: at(1) }),
					rewardRow(c.id, ann.id, { ordinal: 8, status: 'failed', dueAt: at(1) }),
					rewardRow(c.id, ann.id, { ordinal: 9, status: 'cancelled', dueAt: at(1) }),
					rewardRow(c.id, ann.id, { ordinal: 10, status: 'issuing', dueAt: at(1) }),
					rewardRow(c.id, ann.id, { ordinal: 11, dueAt: at(20) }), // due is due, whatever its dueAt
					rewardRow(c.id, ann.id, { ordinal: 12, dueAt: at(9) }), // same time as 1: id order
					rewardRow(c.id, bo.id, { beneficiaryRole: 'referred', rule: 'referred', ordinal: 21, dueAt: at(5) }),
					rewardRow(other.c.id, other.referrer.id, { ordinal: 31, dueAt: at(1) }),
				],
				NOW,
			),
		);
		const claim = (request: Omit<Parameters<StoreTransaction['claimRewards']>[0], 'leaseUntil'>) =>
			own.transaction((t) => t.claimRewards({ ...request, leaseUntil: at(13) }, at(12)));
		expect(await claim({ limit: 0 })).toEqual([]);

		const first = await claim({ campaignId: c.id, beneficiaryId: ann.id, limit: 2 });
		expect(ordinals(first)).toEqual([2, 3]);
		for (const r of first) {
			expect(r).toMatchObject({ status: 'issuing', leaseUntil: at(13), updatedAt: at(12), attempts: 0 });
			expect(await own.read((t) => t.getReward(r.id))).toEqual(r);
		}
		expect(ordinals(await claim({ campaignId: c.id, limit: 3 }))).toEqual([21, 1, 12]);
		expect(ordinals(await claim({ beneficiaryId: bo.id, limit: 10 }))).toEqual([]);
		expect(ordinals(await claim({ limit: 10 }))).toEqual([31, 4, 11]);
		expect(await claim({ limit: 10 })).toEqual([]);
		const left = await own.read((t) => t.listRewards({ campaignId: c.id, status: ['pending_hold', 'pending_approval', 'issued', 'failed', 'cancelled'] }, { limit: 100 }));
		expect(ordinals(left).sort((x, y) => x - y)).toEqual([5, 6, 7, 8, 9]);
		for (const r of left) expect(r.updatedAt).toBe(NOW);
		await own.close();
	});

	it('promotes held rewards whose time has come and releases claims whose lease ran out', async () => {
		const own = await isolated();
		const { c, referrer } = await rewardSetup(own);
		const made = await own.transaction((t) =>
			t.insertRewards(
				[
					rewardRow(c.id, referrer.id, { ordinal: 1, status: 'pending_hold', dueAt: at(6) }),
					rewardRow(c.id, referrer.id, { ordinal: 2, status: 'pending_hold', dueAt: at(12) }),
					rewardRow(c.id, referrer.id, { ordinal: 3, status: 'pending_hold', dueAt: at(18) }),
					rewardRow(c.id, referrer.id, { ordinal: 4, status: 'pending_approval', dueAt: at(1) }),
					rewardRow(c.id, referrer.id, { ordinal: 5, dueAt: at(1) }),
					rewardRow(c.id, referrer.id, { ordinal: 6, dueAt: at(2) }),
					rewardRow(c.id, referrer.id, { ordinal: 7, dueAt: at(3) }),
				],
				NOW,
			),
		);
		const id = (ordinal: number) => made.find((r) => r.ordinal === ordinal)!.id;
		const promoted = await own.transaction((t) => t.promoteHeldRewards(at(12)));
		expect(ordinals(promoted)).toEqual([1, 2]);
		for (const r of promoted) expect(r).toMatchObject({ status: 'due', updatedAt: at(12) });
		expect(await own.transaction((t) => t.promoteHeldRewards(at(12)))).toEqual([]);
		expect((await own.read((t) => t.getReward(id(3))))!.status).toBe('pending_hold');

		// three claims, with leases running out at 11:00, 12:00 and 13:00
		for (const [ordinal, lease] of [[5, 11], [6, 12], [7, 13]]) {
			await own.transaction((t) => t.updateReward(id(ordinal), { status: 'issuing', leaseUntil: at(lease) }, ['due'], at(10)));
		}
		const released = await own.transaction((t) => t.releaseExpiredClaims(at(12)));
		expect(ordinals(released)).toEqual([5, 6]);
		for (const r of released) expect(r).toMatchObject({ status: 'due', leaseUntil: null, updatedAt: at(12) });
		expect(await own.transaction((t) => t.releaseExpiredClaims(at(12)))).toEqual([]);
		expect(await own.read((t) => t.getReward(id(7)))).toMatchObject({ status: 'issuing', leaseUntil: at(13) });
		// released rewards can be claimed again
		expect(ordinals(await own.transaction((t) => t.claimRewards({ limit: 10, leaseUntil: at(14) }, at(12))))).toEqual([5, 6, 1, 2]);
		expect(ordinals(await own.transaction((t) => t.releaseExpiredClaims(at(13))))).toEqual([7]);
		await own.close();
	});

	it('concurrent claimers never get the same reward', async () => {
		const { c, referrer } = await rewardSetup();
		await tx((t) =>
			t.insertRewards(
				Array.from({ length: 200 }, (_, i) => rewardRow(c.id, referrer.id, { ordinal: i + 1, dueAt: at(i % 24) })),
				NOW,
			),
		);
		const claimed = await Promise.all(
			Array.from({ length: 8 }, async () => {
				const mine: number[] = [];
				for (;;) {
					const batch = await ctx.store.transaction(async (t) => {
						const rewards = await t.claimRewards({ campaignId: c.id, limit: 10, leaseUntil: LATER }, NOW);
						await sleep(2); // hold the claimed rows while the others claim
						return rewards;
					});
					if (batch.length === 0) return mine;
					mine.push(...batch.map((r) => r.id));
				}
			}),
		);
		const all = claimed.flat();
		expect(all).toHaveLength(200);
		expect(new Set(all).size).toBe(200);
		expect(await read((t) => t.listRewards({ campaignId: c.id, status: ['issuing'] }, { limit: 1000 }))).toHaveLength(200);
	});

	it('8 processes claiming from the same 1,000 due rewards in batches of 25 claim each exactly once', async () => {
		const config = ctx.factory.freshConfig();
		const own = await openStore(config);
		const { c, referrer, referred } = await rewardSetup(own);
		await own.transaction((t) =>
			t.insertRewards(
				Array.from({ length: 1000 }, (_, i) =>
					rewardRow(c.id, i % 2 ? referrer.id : referred.id, { ordinal: i, dueAt: at(i % 24), status: i % 3 ? 'due' : 'pending_hold' }),
				),
				NOW,
			),
		);
		const results = await runChildScripts<{ claimed: number[] }>(
			REWARDS_SCRIPT,
			() => [JSON.stringify(config), 'claim', String(c.id), '25'],
			8,
		);
		const all = results.flatMap((r) => r.claimed);
		expect(all).toHaveLength(1000);
		expect(new Set(all).size).toBe(1000);
		expect(await own.read((t) => t.listRewards({ campaignId: c.id, status: ['issuing'] }, { limit: 2000 }))).toHaveLength(1000);
		await own.close();
	});
}
