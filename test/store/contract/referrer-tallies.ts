// The store contract: a referrer's tally (qualified referrals, live rewards, settled rules).

import type { Reward } from '../../../lib/referrals/model';
import { openStore, type ReferralStore } from '../../../lib/store';
import { campaignRow, LATER, NOW, personRow, rewardRow, uid, type ContractContext } from './shared';

/** Referrer tallies: kept in step with referrals and rewards, inside the transaction; back-filled by migration 8. */
export function referrerTallyTests(ctx: ContractContext): void {
	const { tx, read, insert } = ctx;

	/** A campaign, a referrer, and `n` people they referred (pending). */
	async function referrerWith(n: number, s: ReferralStore = ctx.store) {
		return s.transaction(async (t) => {
			const c = (await t.insertCampaign(campaignRow(), NOW))!;
			const [referrer] = await t.insertParticipants([personRow(c.id, `tally-${uid()}@example.com`)], NOW);
			const referred = await t.insertParticipants(
				Array.from({ length: n }, (_, i) => personRow(c.id, `tally-${i}-${uid()}@example.com`, { source: 'referred', referredBy: referrer.id, referralStatus: 'pending' })),
				NOW,
			);
			return { c, referrer, referred: referred.sort((a, b) => a.id - b.id) };
		});
	}
	const tallyOf = (id: number, s: ReferralStore = ctx.store) => s.read((t) => t.referrerTally(id));
	const ordinals = (list: Reward[]) => list.map((r) => r.ordinal);

	it('is zero, and not settled, for a referrer with nothing yet', async () => {
		const { referrer } = await referrerWith(0);
		expect(await tallyOf(referrer.id)).toEqual({ qualified: 0, liveRewards: 0, settledRules: null });
	});

	it('counts qualified referrals as their status changes, inserted qualified ones included', async () => {
		const { c, referrer, referred } = await referrerWith(2);
		await insert([personRow(c.id, `tally-q-${uid()}@example.com`, { source: 'referred', referredBy: referrer.id, referralStatus: 'qualified' })]);
		expect((await tallyOf(referrer.id)).qualified).toBe(1);
		await tx((t) => t.updateParticipant(referred[0].id, { referralStatus: 'qualified' }, LATER));
		await tx((t) => t.updateParticipant(referred[1].id, { referralStatus: 'qualified' }, LATER));
		expect((await tallyOf(referrer.id)).qualified).toBe(3);
		await tx((t) => t.updateParticipant(referred[0].id, { referralStatus: 'unqualified' }, LATER));
		// Other changes leave the count alone: a name, erasure, the same status again.
		await tx((t) => t.updateParticipant(referred[1].id, { firstName: 'Bo', referralStatus: 'qualified' }, LATER));
		await tx((t) => t.eraseParticipant(referred[1].id, LATER));
		expect((await tallyOf(referrer.id)).qualified).toBe(2);
		await tx((t) => t.updateParticipant(referred[0].id, { referralStatus: 'qualified' }, LATER));
		expect((await tallyOf(referrer.id)).qualified).toBe(3);
	});

	it('counts the referrer’s rewards that are not cancelled: inserted, cancelled, revived; others’ rewards do not count', async () => {
		const { c, referrer, referred } = await referrerWith(1);
		const inserted = await tx((t) =>
			t.insertRewards(
				[
					rewardRow(c.id, referrer.id, { ordinal: 1 }),
					rewardRow(c.id, referrer.id, { rule: 'milestone', ordinal: 3, status: 'pending_hold', dueAt: LATER }),
					rewardRow(c.id, referrer.id, { ordinal: 2, status: 'cancelled' }),
					rewardRow(c.id, referred[0].id, { beneficiaryRole: 'referred', rule: 'referred', ordinal: referred[0].id }),
				],
				NOW,
			),
		);
		const first = inserted.find((r) => r.rule === 'per_referral')!;
		const second = inserted.find((r) => r.rule === 'milestone')!;
		expect((await tallyOf(referrer.id)).liveRewards).toBe(2);
		expect((await tallyOf(referred[0].id)).liveRewards).toBe(0);
		// Claiming, issuing and failing keep a reward live.
		await tx((t) => t.claimRewards({ campaignId: c.id, limit: 10, leaseUntil: LATER }, NOW));
		await tx((t) => t.updateReward(first.id, { status: 'issued' }, ['issuing'], NOW));
		expect((await tallyOf(referrer.id)).liveRewards).toBe(2);
		await tx((t) => t.updateReward(second.id, { status: 'cancelled' }, ['pending_hold'], NOW));
		expect((await tallyOf(referrer.id)).liveRewards).toBe(1);
		// Revived by identity (the cancelled ordinal 2 and the milestone), once each.
		const revived = await tx((t) =>
			t.insertRewards([rewardRow(c.id, referrer.id, { ordinal: 2 }), rewardRow(c.id, referrer.id, { rule: 'milestone', ordinal: 3 }), rewardRow(c.id, referrer.id, { ordinal: 1 })], LATER),
		);
		expect(revived).toHaveLength(2);
		expect((await tallyOf(referrer.id)).liveRewards).toBe(3);
	});

	it('changes with its transaction: a rollback leaves it as it was', async () => {
		const { c, referrer, referred } = await referrerWith(1);
		await expect(
			tx(async (t) => {
				await t.updateParticipant(referred[0].id, { referralStatus: 'qualified' }, LATER);
				await t.insertRewards([rewardRow(c.id, referrer.id)], LATER);
				await t.settleReferrerTally(referrer.id, 'rules-a');
				expect(await t.referrerTally(referrer.id)).toEqual({ qualified: 1, liveRewards: 1, settledRules: 'rules-a' });
				throw new Error('boom');
			}),
		).rejects.toThrow('boom');
		expect(await tallyOf(referrer.id)).toEqual({ qualified: 0, liveRewards: 0, settledRules: null });
	});

	it('settles under a rules fingerprint and forgets it, keeping the counts', async () => {
		const { referrer, referred } = await referrerWith(1);
		await tx((t) => t.settleReferrerTally(referrer.id, 'rules-a'));
		await tx((t) => t.updateParticipant(referred[0].id, { referralStatus: 'qualified' }, LATER));
		expect(await tallyOf(referrer.id)).toEqual({ qualified: 1, liveRewards: 0, settledRules: 'rules-a' });
		await tx((t) => t.settleReferrerTally(referrer.id, null));
		expect(await tallyOf(referrer.id)).toEqual({ qualified: 1, liveRewards: 0, settledRules: null });
	});

	it('finds rewards by identity, whatever their status, and lists the live ones above an ordinal', async () => {
		const { c, referrer } = await referrerWith(0);
		await tx((t) => t.insertRewards([1, 2, 3, 4, 5].map((ordinal) => rewardRow(c.id, referrer.id, { ordinal, status: ordinal === 4 ? 'cancelled' : 'due' })), NOW));
		await tx((t) => t.insertRewards([rewardRow(c.id, referrer.id, { rule: 'milestone', ordinal: 5 })], NOW));
		const identity = (rule: Reward['rule'], ordinal: number) => ({ campaignId: c.id, beneficiaryId: referrer.id, rule, ordinal });
		const found = await read((t) => t.findRewards([identity('per_referral', 4), identity('milestone', 5), identity('commission', 5)]));
		expect(found.map((r) => [r.rule, r.ordinal, r.status]).sort()).toEqual([
			['milestone', 5, 'due'],
			['per_referral', 4, 'cancelled'],
		]);
		expect(await read((t) => t.findRewards([]))).toEqual([]);
		expect(ordinals(await read((t) => t.liveRewardsAbove(c.id, referrer.id, 'per_referral', 2)))).toEqual([3, 5]);
		expect(ordinals(await read((t) => t.liveRewardsAbove(c.id, referrer.id, 'milestone', 5)))).toEqual([]);
		expect(ordinals(await read((t) => t.liveRewardsAbove(c.id, referrer.id + 1, 'per_referral', 0)))).toEqual([]);
	});

	it('are back-filled from the rows already there when the store is upgraded (migration 8)', async () => {
		const config = ctx.factory.freshConfig();
		const old = await ctx.factory.openAtVersion(config, 7);
		const { c, referrer, referred } = await referrerWith(3, old);
		await old.transaction(async (t) => {
			await t.updateParticipant(referred[0].id, { referralStatus: 'qualified' }, LATER);
			await t.updateParticipant(referred[1].id, { referralStatus: 'qualified' }, LATER);
			await t.insertRewards(
				[
					rewardRow(c.id, referrer.id, { ordinal: 1 }),
					rewardRow(c.id, referrer.id, { ordinal: 2 }),
					rewardRow(c.id, referrer.id, { ordinal: 3, status: 'cancelled' }),
					rewardRow(c.id, referred[0].id, { beneficiaryRole: 'referred', rule: 'referred', ordinal: referred[0].id }),
				],
				LATER,
			);
		});
		await old.close();
		const upgraded = await openStore(config);
		expect(await tallyOf(referrer.id, upgraded)).toEqual({ qualified: 2, liveRewards: 2, settledRules: null });
		expect(await tallyOf(referred[0].id, upgraded)).toEqual({ qualified: 0, liveRewards: 0, settledRules: null });
	});
}
