import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Campaign, Participant, RewardRules } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { EMPTY_REWARD_RULES, impliedRewards, parseRewardRules } from '../../lib/referrals/rewards';
import { closeAllStores, openStore } from '../../lib/store';
import type { ReferralStore, StoreConfig } from '../../lib/store/types';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';

const EUR10 = { kind: 'amount', amount: 10, currency: 'EUR' } as const;

describe('reward rules', () => {
	it('parse from JSON text with defaults for what is not given', () => {
		expect(parseRewardRules('{"perReferral":{"reward":{"kind":"amount","amount":10,"currency":"eur"}}}')).toEqual({
			...EMPTY_REWARD_RULES,
			perReferral: { every: 1, reward: EUR10 },
		});
		expect(parseRewardRules(undefined)).toEqual(EMPTY_REWARD_RULES);
	});

	it.each([
		['{not json', 'rewardRules', 'not valid JSON'],
		['{"bonus":1}', 'rewardRules', 'Unknown reward rule "bonus"'],
		['{"perReferral":{"every":0,"reward":{"kind":"coupon"}}}', 'rewardRules.perReferral.every', 'whole number from 1'],
		['{"milestones":[{"at":5,"reward":{"kind":"gift"}}]}', 'rewardRules.milestones[0].reward.kind', "kind is amount, coupon, custom"],
		['{"milestones":[{"at":5,"reward":{"kind":"coupon"}},{"at":5,"reward":{"kind":"coupon"}}]}', 'rewardRules.milestones', 'same threshold'],
		['{"commission":{"percent":150,"currency":"EUR"}}', 'rewardRules.commission.percent', 'up to 100'],
		['{"commission":{"percent":10,"currency":"euro"}}', 'rewardRules.commission.currency', 'three-letter'],
		['{"referred":{"on":"signup","reward":{"kind":"coupon"}}}', 'rewardRules.referred.on', '"registration" or "qualification"'],
		['{"holdDays":-1}', 'rewardRules.holdDays', 'whole number from 0'],
	])('refuse %s naming the field', (json, field, message) => {
		expect(() => parseRewardRules(json)).toThrow(message);
		try {
			parseRewardRules(json);
		} catch (error) {
			expect((error as { field: string }).field).toBe(field);
		}
	});

	it('imply a reward every N qualified referrals, milestones, capped commission and the referred person’s reward', () => {
		const rules: RewardRules = {
			...EMPTY_REWARD_RULES,
			perReferral: { every: 2, reward: EUR10 },
			milestones: [
				{ at: 1, reward: { kind: 'coupon' } },
				{ at: 5, reward: { kind: 'custom', payload: { gift: 'hoodie' } } },
			],
			commission: { percent: 10, cap: 50, currency: 'EUR' },
			referred: { on: 'qualification', reward: { kind: 'coupon' } },
		};
		const qualified = [
			{ id: 11, qualifiedAt: '2026-01-03T00:00:00.000Z', saleValue: 1000, saleCurrency: 'USD' },
			{ id: 12, qualifiedAt: '2026-01-01T00:00:00.000Z', saleValue: 120, saleCurrency: null },
			{ id: 13, qualifiedAt: '2026-01-02T00:00:00.000Z', saleValue: null, saleCurrency: null },
		];
		const rewards = impliedRewards(rules, 1, 7, qualified, '2026-02-01T00:00:00.000Z');
		const summary = rewards.map((r) => [r.beneficiaryId, r.rule, r.ordinal, r.referralId, r.kind, r.amount, r.currency]);
		expect(summary).toEqual([
			[7, 'per_referral', 1, 13, 'amount', 10, 'EUR'],
			[7, 'milestone', 1, 12, 'coupon', null, null],
			[7, 'commission', 12, 12, 'amount', 12, 'EUR'],
			[7, 'commission', 11, 11, 'amount', 50, 'USD'],
			[12, 'referred', 12, 12, 'coupon', null, null],
			[13, 'referred', 13, 13, 'coupon', null, null],
			[11, 'referred', 11, 11, 'coupon', null, null],
		]);
		expect(rewards.every((r) => r.status === 'due' && r.dueAt === '2026-02-01T00:00:00.000Z')).toBe(true);
	});
});

function describeRewards(name: string, config: () => StoreConfig) {
	describe(name, () => {
		let store: ReferralStore;
		let program: ReferralProgram;
		let campaign: Campaign;
		let referrer: Participant;
		let clock: Date;

		beforeEach(async () => {
			clock = new Date('2026-03-01T10:00:00.000Z');
			store = await openStore(config());
			program = new ReferralProgram(store, () => clock);
			campaign = await program.createCampaign({ name: `Rewards ${Math.random()}` }, 'https://x.example/r?ref={{code}}');
			const [ann] = await program.enrol(campaign.id, [{ email: 'ann@example.com', firstName: 'Ann' }], { stopOnError: true });
			if (!ann.ok) throw ann.error;
			referrer = ann.value.participant;
		});

		afterEach(async () => {
			await closeAllStores();
		});

		async function setRules(rules: object) {
			campaign = await program.updateCampaign(campaign.id, { rewardRules: rules });
		}

		async function refer(...emails: string[]): Promise<Participant[]> {
			const outcomes = await program.registerReferred(campaign.id, emails.map((email) => ({ code: referrer.code, email })), { stopOnError: true });
			return outcomes.map((o) => {
				if (!o.ok) throw o.error;
				return o.value.participant;
			});
		}

		const rewardsOf = async (status?: string[]) =>
			(await program.rewards.list({ campaignId: campaign.id, status: status as never }, { limit: 1000 })).map((v) => v.reward);
		const events = async (type: string) => (await store.read((tx) => tx.listEvents({ types: [type as never], campaignId: campaign.id }, 1000, 'asc')));

		it('worked example 1: a flat reward per qualified referral, once each, whatever is delivered twice', async () => {
			await setRules({ perReferral: { every: 1, reward: { kind: 'amount', amount: 25, currency: 'EUR' } } });
			const [bo, cy] = await refer('bo@example.com', 'cy@example.com');
			await Promise.all(Array.from({ length: 20 }, () => program.qualify({ code: bo.code }, { action: 'qualify' })));
			await program.qualify({ code: cy.code }, { action: 'qualify' });
			await program.qualify({ code: cy.code }, { action: 'qualify' });
			const rewards = await rewardsOf();
			expect(rewards.map((r) => [r.beneficiaryId, r.rule, r.ordinal, r.amount, r.currency, r.status])).toEqual([
				[referrer.id, 'per_referral', 1, 25, 'EUR', 'due'],
				[referrer.id, 'per_referral', 2, 25, 'EUR', 'due'],
			]);
			expect(await events('reward.due')).toHaveLength(2);
		});

		it('worked example 2: milestones plus a double-sided coupon on registration', async () => {
			await setRules({
				milestones: [
					{ at: 1, reward: { kind: 'amount', amount: 10, currency: 'EUR' } },
					{ at: 3, reward: { kind: 'custom', payload: { gift: 'hoodie' } } },
				],
				referred: { on: 'registration', reward: { kind: 'coupon' } },
			});
			const friends = await refer('r1@example.com', 'r2@example.com', 'r3@example.com');
			expect((await rewardsOf()).filter((r) => r.rule === 'referred')).toHaveLength(3);
			for (const friend of friends.slice(0, 2)) await program.qualify({ code: friend.code }, { action: 'qualify' });
			expect((await rewardsOf()).filter((r) => r.rule === 'milestone').map((r) => r.ordinal)).toEqual([1]);
			await program.qualify({ code: friends[2].code }, { action: 'qualify' });
			const milestones = (await rewardsOf()).filter((r) => r.rule === 'milestone');
			expect(milestones.map((r) => [r.ordinal, r.kind, r.payload])).toEqual([
				[1, 'amount', {}],
				[3, 'custom', { gift: 'hoodie' }],
			]);
			await program.rewards.addCoupons(campaign.id, 'WELCOME-1\nWELCOME-2\nWELCOME-2');
			const claim = await program.rewards.claim({ campaignId: campaign.id, limit: 10, leaseSeconds: 600 });
			const coupons = claim.claimed.filter((v) => v.reward.kind === 'coupon');
			expect(coupons.map((v) => v.reward.couponCode).sort()).toEqual(['WELCOME-1', 'WELCOME-2']);
			expect(claim.waitingForCoupons).toHaveLength(1);
			expect(claim.waitingForCoupons[0].status).toBe('due');
		});

		it('commission is a capped percentage of the sale value', async () => {
			await setRules({ commission: { percent: 10, cap: 50, currency: 'EUR' } });
			const [bo, cy] = await refer('bo@example.com', 'cy@example.com');
			await program.qualify({ code: bo.code }, { action: 'qualify', saleValue: 1000, currency: 'USD' });
			await program.qualify({ code: cy.code }, { action: 'qualify', saleValue: 199.99 });
			expect((await rewardsOf()).map((r) => [r.amount, r.currency])).toEqual([
				[50, 'USD'],
				[20, 'EUR'],
			]);
		});

		it('stops at the maximum rewards per referrer', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR10 }, maxPerReferrer: 2 });
			for (const friend of await refer('a@example.com', 'b@example.com', 'c@example.com')) {
				await program.qualify({ code: friend.code }, { action: 'qualify' });
			}
			expect(await rewardsOf()).toHaveLength(2);
		});

		it('holds rewards for the hold period, then they are due', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR10 }, holdDays: 14 });
			const [bo] = await refer('bo@example.com');
			await program.qualify({ code: bo.code }, { action: 'qualify' });
			expect((await rewardsOf()).map((r) => r.status)).toEqual(['pending_hold']);
			expect((await program.rewards.claim({ limit: 10, leaseSeconds: 60 })).claimed).toEqual([]);
			clock = new Date(clock.getTime() + 15 * 24 * 3600 * 1000);
			const claim = await program.rewards.claim({ limit: 10, leaseSeconds: 60 });
			expect(claim.claimed.map((v) => v.reward.status)).toEqual(['issuing']);
			expect(await events('reward.due')).toHaveLength(1);
		});

		it('waits for approval when the campaign asks for it', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR10 }, approval: true });
			const [bo] = await refer('bo@example.com');
			await program.qualify({ code: bo.code }, { action: 'qualify' });
			const [reward] = await rewardsOf();
			expect(reward.status).toBe('pending_approval');
			expect((await program.rewards.claim({ limit: 10, leaseSeconds: 60 })).claimed).toEqual([]);
			expect((await program.rewards.approve(reward.id)).reward.status).toBe('due');
			expect((await program.rewards.claim({ limit: 10, leaseSeconds: 60 })).claimed).toHaveLength(1);
		});

		it('un-qualifying cancels rewards not issued yet, and asks for a reversal of issued ones', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR10 } });
			const [bo, cy] = await refer('bo@example.com', 'cy@example.com');
			await program.qualify({ code: bo.code }, { action: 'qualify' });
			const { claimed } = await program.rewards.claim({ limit: 1, leaseSeconds: 60 });
			await program.rewards.confirm(claimed[0].reward.id, 'stripe:tr_1');
			await program.qualify({ code: cy.code }, { action: 'qualify' });
			// cy refunds: the referrer is back to 1 qualified referral, reward #2 (not issued) goes.
			await program.qualify({ code: cy.code }, { action: 'unqualify' });
			expect((await rewardsOf()).map((r) => [r.ordinal, r.status])).toEqual([
				[1, 'issued'],
				[2, 'cancelled'],
			]);
			// bo refunds too: reward #1 was paid, so it stays issued and the team is told.
			await program.qualify({ code: bo.code }, { action: 'unqualify' });
			expect((await rewardsOf()).map((r) => r.status)).toEqual(['issued', 'cancelled']);
			expect((await events('reward.reversal_needed')).map((e) => e.payload.rewardId)).toEqual([claimed[0].reward.id]);
			// cy converts again later: reward #1 is already paid, #2 comes back.
			await program.qualify({ code: cy.code }, { action: 'qualify' });
			expect((await rewardsOf()).map((r) => [r.ordinal, r.status])).toEqual([
				[1, 'issued'],
				[2, 'cancelled'],
			]);
		});

		it('a rule change affects later qualifications; Evaluate back-fills earlier ones, once', async () => {
			const [bo, cy] = await refer('bo@example.com', 'cy@example.com');
			await program.qualify({ code: bo.code }, { action: 'qualify' });
			await setRules({ perReferral: { every: 1, reward: EUR10 } });
			expect(await rewardsOf()).toEqual([]);
			await program.qualify({ code: cy.code }, { action: 'qualify' });
			expect(await rewardsOf()).toHaveLength(2);
			await setRules({ perReferral: { every: 1, reward: EUR10 }, milestones: [{ at: 2, reward: { kind: 'coupon' } }] });
			expect(await program.evaluateRewards(campaign.id)).toEqual({ referrers: 1, created: 1 });
			expect(await program.evaluateRewards(campaign.id)).toEqual({ referrers: 1, created: 0 });
			expect((await rewardsOf()).map((r) => r.rule)).toEqual(['per_referral', 'per_referral', 'milestone']);
		});

		it('claims under a lease, confirms once, retries failures up to the limit, releases expired claims', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR10 } });
			const [bo, cy] = await refer('bo@example.com', 'cy@example.com');
			await program.qualify({ code: bo.code }, { action: 'qualify' });
			await program.qualify({ code: cy.code }, { action: 'qualify' });
			const { claimed } = await program.rewards.claim({ campaignId: campaign.id, limit: 10, leaseSeconds: 60 });
			expect(claimed).toHaveLength(2);
			expect(claimed[0].beneficiary).toMatchObject({ id: referrer.id, email: 'ann@example.com' });
			expect(claimed[0].referral).toMatchObject({ email: 'bo@example.com' });
			expect((await program.rewards.claim({ limit: 10, leaseSeconds: 60 })).claimed).toEqual([]);

			const [first, second] = claimed.map((v) => v.reward.id);
			expect((await program.rewards.confirm(first, 'order-1')).reward).toMatchObject({ status: 'issued', externalRef: 'order-1' });
			expect((await program.rewards.confirm(first)).changed).toBe(false);
			await expect(program.rewards.cancel(first)).rejects.toThrow(`Reward ${first} is issued`);

			expect((await program.rewards.fail(second, 'SMTP down', 2)).reward).toMatchObject({ status: 'due', attempts: 1 });
			await program.rewards.claim({ limit: 10, leaseSeconds: 60 });
			expect((await program.rewards.fail(second, 'SMTP down again', 2)).reward).toMatchObject({ status: 'failed', attempts: 2, failureReason: 'SMTP down again' });
			expect(await events('reward.failed')).toHaveLength(1);
			expect(await events('reward.issued')).toHaveLength(1);

			const [dee] = await refer('dee@example.com');
			await program.qualify({ code: dee.code }, { action: 'qualify' });
			await program.rewards.claim({ limit: 10, leaseSeconds: 30 });
			clock = new Date(clock.getTime() + 60_000);
			expect((await program.rewards.releaseExpiredClaims()).map((r) => r.status)).toEqual(['due']);
			expect((await program.rewards.claim({ limit: 10, leaseSeconds: 30 })).claimed).toHaveLength(1);
		});

		it('forty of one referrer’s referrals qualifying at the same moment earn forty rewards', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR10 }, milestones: [{ at: 10, reward: { kind: 'coupon' } }] });
			const friends = await refer(...Array.from({ length: 40 }, (_, i) => `f${i}@example.com`));
			await Promise.all(friends.map((friend) => program.qualify({ code: friend.code }, { action: 'qualify' })));
			const rewards = await rewardsOf();
			expect(rewards.filter((r) => r.rule === 'per_referral').map((r) => r.ordinal).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
			expect(rewards.filter((r) => r.rule === 'milestone')).toHaveLength(1);
		});

		it('200 concurrent duplicate qualifications create each reward once', async () => {
			await setRules({
				perReferral: { every: 1, reward: EUR10 },
				milestones: [{ at: 1, reward: { kind: 'coupon' } }],
				referred: { on: 'qualification', reward: { kind: 'coupon' } },
			});
			const [bo] = await refer('bo@example.com');
			await Promise.all(Array.from({ length: 200 }, () => program.qualify({ code: bo.code }, { action: 'qualify' })));
			expect((await rewardsOf()).map((r) => r.rule).sort()).toEqual(['milestone', 'per_referral', 'referred']);
		});
	});
}

const folder = mkdtempSync(join(tmpdir(), 'rewards-'));
let files = 0;
describeRewards('rewards on SQLite', () => ({ backend: 'sqlite', path: join(folder, `r${++files}.sqlite`) }));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describePostgres('rewards on PostgreSQL', () => {
	let database: TestDatabase;
	beforeAll(async () => {
		database = await createTestDatabase('rewards');
	});
	afterAll(async () => {
		await closeAllStores();
		await database?.drop();
	});
	describeRewards('store', () => database.config(database.freshSchema()));
});
