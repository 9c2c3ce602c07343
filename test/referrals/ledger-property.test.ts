// Property: the incremental ledger (a qualification looks only at what its referral adds) gives
// exactly the rewards of the full recomputation (every qualified referral and every reward read
// again at each change, as before referrer tallies existed), over random histories: qualify,
// un-qualify, re-qualify, duplicate deliveries, rule changes, rewards paid or cancelled by hand,
// Evaluate Rewards, with every rule kind. After each step the store's rewards and the referrer's
// tally are compared with an in-memory model of the full recomputation.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Campaign, Participant, Reward, RewardRules, RewardSpec } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { identityOf, impliedRewards, parseRewardRules, registrationReward } from '../../lib/referrals/rewards';
import { closeAllStores, openStore } from '../../lib/store';
import type { RewardInsert, StoreConfig } from '../../lib/store/types';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';

const WITHDRAWABLE = ['pending_approval', 'pending_hold', 'due', 'failed'];

/** A small, seedable generator (mulberry32): a failing history can be replayed from its seed. */
function generator(seed: number) {
	let state = seed >>> 0;
	const next = () => {
		state = (state + 0x6d2b79f5) >>> 0;
		let t = state;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
	const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
	const chance = (p: number) => next() < p;
	const pick = <T>(list: T[]): T => list[int(0, list.length - 1)];
	return { int, chance, pick };
}
type Random = ReturnType<typeof generator>;

function randomSpec(random: Random): RewardSpec {
	const kind = random.pick(['amount', 'amount', 'coupon', 'custom'] as const);
	if (kind === 'amount') return { kind, amount: random.int(1, 50), currency: 'EUR' };
	return kind === 'custom' ? { kind, payload: { gift: random.int(1, 3) } } : { kind };
}

/** Any rule set the parser accepts, every rule kind included. */
function randomRules(random: Random): RewardRules {
	const thresholds = [...new Set(Array.from({ length: random.int(0, 2) }, () => random.int(1, 6)))];
	return parseRewardRules({
		perReferral: random.chance(0.6) ? { every: random.int(1, 3), reward: randomSpec(random) } : null,
		milestones: thresholds.map((at) => ({ at, reward: randomSpec(random) })),
		commission: random.chance(0.4) ? { percent: random.int(5, 20), cap: random.chance(0.5) ? 30 : null, currency: 'EUR' } : null,
		maxPerReferrer: random.chance(0.45) ? random.int(1, 4) : null,
		referred: random.chance(0.4) ? { on: random.pick(['registration', 'qualification']), reward: randomSpec(random) } : null,
		holdDays: random.chance(0.2) ? 3 : 0,
		approval: random.chance(0.1),
	});
}

interface ModelReward {
	row: RewardInsert;
	status: Reward['status'];
}

interface ModelReferral {
	id: number;
	referrerId: number;
	status: Participant['referralStatus'];
	qualifiedAt: string | null;
	saleValue: number | null;
	saleCurrency: string | null;
}

/** The full recomputation, on plain objects: the ledger's rules as they were before referrer tallies. */
class FullRecomputation {
	readonly rewards = new Map<string, ModelReward>();
	readonly referrals = new Map<number, ModelReferral>();
	private readonly keys = new Set<string>();

	constructor(
		private readonly campaignId: number,
		public rules: RewardRules,
	) {}

	register(referral: ModelReferral, now: string): void {
		this.referrals.set(referral.id, referral);
		this.registrationReward(referral.id, now);
	}

	qualify(id: number, action: 'qualify' | 'unqualify', sale: number | null, key: string | null, now: string): void {
		if (key !== null) {
			if (this.keys.has(key)) return;
			this.keys.add(key);
		}
		const referral = this.referrals.get(id)!;
		const status = action === 'qualify' ? 'qualified' : 'unqualified';
		if (referral.status === status) return;
		referral.status = status;
		if (status === 'qualified') {
			referral.qualifiedAt = now;
			if (sale !== null) Object.assign(referral, { saleValue: sale, saleCurrency: null });
			this.grant(referral.referrerId, [id], now);
		} else {
			this.withdraw(referral);
		}
	}

	evaluate(now: string): void {
		const referrers = new Map<number, number[]>();
		for (const referral of this.referrals.values()) {
			referrers.set(referral.referrerId, [...(referrers.get(referral.referrerId) ?? []), referral.id]);
		}
		for (const [referrerId, ids] of referrers) {
			this.grant(referrerId, ids, now);
			for (const id of ids) this.registrationReward(id, now);
		}
	}

	qualifiedCount(referrerId: number): number {
		return [...this.referrals.values()].filter((r) => r.referrerId === referrerId && r.status === 'qualified').length;
	}

	liveRewardsOf(referrerId: number): number {
		return [...this.rewards.values()].filter(
			(r) => r.row.beneficiaryId === referrerId && r.row.beneficiaryRole === 'referrer' && r.status !== 'cancelled',
		).length;
	}

	private grant(referrerId: number, concernedIds: number[], now: string): void {
		const concerned = new Set(concernedIds);
		const qualified = [...this.referrals.values()].filter((r) => r.referrerId === referrerId && r.status === 'qualified');
		const implied = impliedRewards(this.rules, this.campaignId, referrerId, qualified, now).filter(
			(row) => row.beneficiaryRole === 'referrer' || concerned.has(row.beneficiaryId),
		);
		const missing = implied.filter((row) => !this.isLive(identityOf(row)));
		const max = this.rules.maxPerReferrer;
		let room = max === null ? Infinity : max - this.liveRewardsOf(referrerId);
		for (const row of missing.filter((r) => r.beneficiaryRole === 'referred' || room-- > 0)) this.put(row);
	}

	private withdraw(referral: ModelReferral): void {
		const count = this.qualifiedCount(referral.referrerId);
		const every = this.rules.perReferral?.every ?? 1;
		for (const reward of this.rewards.values()) {
			const { row } = reward;
			const concerned = row.beneficiaryId === referral.referrerId || row.referralId === referral.id;
			if (!concerned) continue;
			let withdrawn: boolean;
			if (row.rule === 'per_referral') withdrawn = row.ordinal > Math.floor(count / every);
			else if (row.rule === 'milestone') withdrawn = row.ordinal > count;
			else withdrawn = row.referralId === referral.id && !(row.rule === 'referred' && this.rules.referred?.on === 'registration');
			if (withdrawn && WITHDRAWABLE.includes(reward.status)) reward.status = 'cancelled';
		}
	}

	private registrationReward(id: number, now: string): void {
		const referral = this.referrals.get(id)!;
		const row = registrationReward(this.rules, this.campaignId, { id: referral.id } as Participant, now);
		if (row && !this.isLive(identityOf(row))) this.put(row);
	}

	private isLive(identity: string): boolean {
		const reward = this.rewards.get(identity);
		return reward !== undefined && reward.status !== 'cancelled';
	}

	/** Inserted, or a cancelled identity revived with the new content (as insertRewards does). */
	private put(row: RewardInsert): void {
		this.rewards.set(identityOf(row), { row, status: row.status });
	}
}

/** What is compared: every reward by identity, with its content and status. */
function summary(rewards: Array<{ row: RewardInsert; status: string }>): string[] {
	return rewards
		.map(({ row, status }) =>
			[identityOf(row), row.beneficiaryRole, row.referralId, row.kind, row.amount, row.currency, JSON.stringify(row.payload), status].join(' '),
		)
		.sort();
}

function describeProperty(name: string, histories: number, config: () => StoreConfig) {
	it(`${name}: ${histories} random histories give the rewards of the full recomputation`, async () => {
		const store = await openStore(config());
		let clock = Date.parse('2026-01-01T00:00:00.000Z');
		// Strictly later at every change, so "the order referrals qualified in" has no ties.
		const tick = () => new Date((clock += 1000));
		const program = new ReferralProgram(store, () => new Date(clock));
		const rewardsOf = async (campaign: Campaign) =>
			(await program.rewards.list({ campaignId: campaign.id }, { limit: 10_000 })).map((v) => v.reward);

		for (let history = 0; history < histories; history++) {
			const seed = 1000 + history;
			const random = generator(seed);
			const trail: string[] = [];
			try {
				let campaign = await program.createCampaign({ name: `Property ${seed} ${Math.random()}`, rewardRules: randomRules(random) }, 'https://x.example/r?ref={{code}}');
				const model = new FullRecomputation(campaign.id, campaign.rewardRules);
				const enrolled = await program.enrol(campaign.id, [{ email: `a${seed}@example.com` }, { email: `b${seed}@example.com` }], { stopOnError: true });
				const referrers = enrolled.map((o) => (o.ok ? o.value.participant : null)!);
				const referrals: Participant[] = [];
				for (let i = 0, n = random.int(2, 7); i < n; i++) {
					const referrer = random.chance(0.8) ? referrers[0] : referrers[1];
					tick();
					const [registered] = await program.registerReferred(campaign.id, [{ code: referrer.code, email: `f${i}-${seed}@example.org` }], { stopOnError: true });
					if (!registered.ok) throw registered.error;
					const p = registered.value.participant;
					referrals.push(p);
					model.register({ id: p.id, referrerId: referrer.id, status: 'pending', qualifiedAt: null, saleValue: null, saleCurrency: null }, new Date(clock).toISOString());
				}

				const steps = random.int(8, 28);
				for (let step = 0; step < steps; step++) {
					const now = tick().toISOString();
					const move = random.int(0, 99);
					if (move < 78) {
						const referral = random.pick(referrals);
						const action = random.chance(0.65) ? 'qualify' : 'unqualify';
						const sale = random.chance(0.5) ? random.int(0, 400) : null;
						// A small pool of keys per history: a key seen before is a duplicate delivery.
						const key = random.chance(0.3) ? `h${seed}-k${random.int(1, 4)}` : null;
						trail.push(`${action} ${referral.id} sale=${sale} key=${key}`);
						await program.qualify({ id: referral.id }, { action, saleValue: sale ?? undefined, idempotencyKey: key ?? undefined });
						model.qualify(referral.id, action, sale, key, now);
					} else if (move < 81) {
						campaign = await program.updateCampaign(campaign.id, { rewardRules: randomRules(random) });
						model.rules = campaign.rewardRules;
						trail.push(`rules ${JSON.stringify(campaign.rewardRules)}`);
					} else if (move < 91) {
						const { claimed } = await program.rewards.claim({ campaignId: campaign.id, limit: 1, leaseSeconds: 3600 });
						for (const { reward } of claimed) {
							const paid = random.chance(0.6);
							if (paid) await program.rewards.confirm(reward.id, 'paid');
							model.rewards.get(identityOf(reward))!.status = paid ? 'issued' : 'issuing';
							trail.push(`${paid ? 'pay' : 'claim'} ${identityOf(reward)}`);
						}
					} else if (move < 96) {
						const cancellable = (await rewardsOf(campaign)).filter((r) => WITHDRAWABLE.includes(r.status));
						if (cancellable.length > 0) {
							const reward = random.pick(cancellable);
							await program.rewards.cancel(reward.id);
							model.rewards.get(identityOf(reward))!.status = 'cancelled';
							trail.push(`cancel ${identityOf(reward)}`);
						}
					} else {
						await program.evaluateRewards(campaign.id);
						model.evaluate(now);
						trail.push('evaluate');
					}

					const stored = (await rewardsOf(campaign)).map((reward) => ({ row: reward as RewardInsert, status: reward.status }));
					expect(summary(stored)).toEqual(summary([...model.rewards.values()]));
					for (const referrer of referrers) {
						const tally = await store.read((tx) => tx.referrerTally(referrer.id));
						expect([tally.qualified, tally.liveRewards]).toEqual([model.qualifiedCount(referrer.id), model.liveRewardsOf(referrer.id)]);
					}
				}
				// Evaluate Rewards at the end of every history: what the back-fill adds, the model adds too.
				await program.evaluateRewards(campaign.id);
				model.evaluate(tick().toISOString());
				const stored = (await rewardsOf(campaign)).map((reward) => ({ row: reward as RewardInsert, status: reward.status }));
				expect(summary(stored)).toEqual(summary([...model.rewards.values()]));
			} catch (error) {
				(error as Error).message = `history seed ${seed}:\n${trail.join('\n')}\n${(error as Error).message}`;
				throw error;
			}
		}
	}, 600_000); // 20 to 40 s alone; npm test runs it beside 38 other suites on 2 shared cores
}

describe('incremental rewards agree with the full recomputation', () => {
	const folder = mkdtempSync(join(tmpdir(), 'ledger-property-'));
	afterAll(async () => {
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});
	describeProperty('SQLite', 1000, () => ({ backend: 'sqlite', path: join(folder, 'property.sqlite') }));

	describePostgres('PostgreSQL', () => {
		let database: TestDatabase;
		beforeAll(async () => {
			database = await createTestDatabase('ledger_property');
		});
		afterAll(async () => {
			await closeAllStores();
			await database?.drop();
		});
		describeProperty('PostgreSQL', 50, () => database.config(database.freshSchema()));
	});
});
