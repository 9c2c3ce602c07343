// The store contract: campaigns (insert, read, list, update, reward rules) and their figures.

import { LEGACY_FRAUD_DEFAULTS, type RewardRules } from '../../../lib/referrals/model';
import { openStore, type CampaignInsert, type ParticipantInsert } from '../../../lib/store';
import { NO_REWARD_RULES } from '../fixtures';
import { campaignRow, LATER, LEGACY_CAMPAIGN_SQL, NOW, personRow, type ContractContext } from './shared';

/** Campaigns: written, read back by id and slug, listed, patched; reward rules across migration 4. */
export function campaignTests(ctx: ContractContext): void {
	const { tx, read, newCampaign, isolated } = ctx;

	it('inserts a campaign and reads it back by id and by slug', async () => {
		const row = campaignRow({ name: 'Summer' });
		const c = await tx((t) => t.insertCampaign(row, '2024-05-01T10:00:00Z'));
		expect(c).toEqual({
			id: expect.any(Number),
			slug: row.slug,
			name: 'Summer',
			status: 'active',
			linkTemplate: row.linkTemplate,
			codeSettings: { length: 8, prefix: 'ACME-' },
			fraudSettings: { blockedEmailDomains: ['spam.test'], maxReferralsPerReferrerPerDay: 5, ...LEGACY_FRAUD_DEFAULTS },
			rewardRules: NO_REWARD_RULES,
			// stamped with the given time, returned in toISOString() form
			createdAt: NOW,
			updatedAt: NOW,
		});
		expect(await read((t) => t.getCampaign({ id: c!.id }))).toEqual(c);
		expect(await read((t) => t.getCampaign({ slug: row.slug }))).toEqual(c);
		expect(await read((t) => t.getCampaign({ id: 987654 }))).toBeNull();
		expect(await read((t) => t.getCampaign({ slug: 'no-such-slug' }))).toBeNull();
	});

	it('returns null when the slug is taken and leaves the first campaign alone', async () => {
		const first = await newCampaign({ name: 'First' });
		const second = await tx((t) => t.insertCampaign(campaignRow({ slug: first.slug, name: 'Second' }), LATER));
		expect(second).toBeNull();
		expect(await read((t) => t.getCampaign({ slug: first.slug }))).toEqual(first);
	});

	it('lists campaigns by status and case-insensitive search, in id order, with keyset paging', async () => {
		const own = await isolated();
		const add = (slug: string, name: string, status: CampaignInsert['status']) =>
			own.transaction((t) => t.insertCampaign(campaignRow({ slug, name, status }), NOW));
		const a = (await add('alpha', 'Alpha Partners', 'active'))!;
		const b = (await add('beta-100', 'Beta: 100% bonus', 'paused'))!;
		const c = (await add('gamma', 'Ünïcode Gamma', 'archived'))!;
		const d = (await add('delta', 'Delta PARTNERS', 'active'))!;
		const ids = (list: { id: number }[]) => list.map((x) => x.id);
		expect(ids(await own.read((t) => t.listCampaigns({}, { limit: 10 })))).toEqual([a.id, b.id, c.id, d.id]);
		expect(ids(await own.read((t) => t.listCampaigns({ status: ['active'] }, { limit: 10 })))).toEqual([a.id, d.id]);
		expect(ids(await own.read((t) => t.listCampaigns({ status: ['paused', 'archived'] }, { limit: 10 })))).toEqual([
			b.id,
			c.id,
		]);
		expect(ids(await own.read((t) => t.listCampaigns({ search: 'partners' }, { limit: 10 })))).toEqual([a.id, d.id]);
		// matches the slug too; % is literal, not a wildcard
		expect(ids(await own.read((t) => t.listCampaigns({ search: 'BETA-1' }, { limit: 10 })))).toEqual([b.id]);
		expect(ids(await own.read((t) => t.listCampaigns({ search: '100%' }, { limit: 10 })))).toEqual([b.id]);
		expect(ids(await own.read((t) => t.listCampaigns({ search: '%' }, { limit: 10 })))).toEqual([b.id]);
		expect(ids(await own.read((t) => t.listCampaigns({ search: 'ÜNÏCODE' }, { limit: 10 })))).toEqual([c.id]);
		expect(ids(await own.read((t) => t.listCampaigns({ search: 'partners', status: ['paused'] }, { limit: 10 })))).toEqual([]);
		expect(ids(await own.read((t) => t.listCampaigns({}, { limit: 2 })))).toEqual([a.id, b.id]);
		expect(ids(await own.read((t) => t.listCampaigns({}, { limit: 2, afterId: b.id })))).toEqual([c.id, d.id]);
		expect(ids(await own.read((t) => t.listCampaigns({}, { limit: 2, afterId: d.id })))).toEqual([]);
		await own.close();
	});

	it('updates only the given fields and bumps updatedAt', async () => {
		const c = await newCampaign();
		const updated = await tx((t) =>
			t.updateCampaign(c.id, { status: 'paused', codeSettings: { length: 10, prefix: '' } }, LATER),
		);
		expect(updated).toEqual({ ...c, status: 'paused', codeSettings: { length: 10, prefix: '' }, updatedAt: LATER });
		expect(await read((t) => t.getCampaign({ id: c.id }))).toEqual(updated);
		const renamed = await tx((t) =>
			t.updateCampaign(
				c.id,
				{
					name: 'Renamed',
					linkTemplate: 'https://x.test/{{code}}',
					fraudSettings: { blockedEmailDomains: [], maxReferralsPerReferrerPerDay: 0, ...LEGACY_FRAUD_DEFAULTS },
				},
				'2024-06-01T00:00:00.000Z',
			),
		);
		expect(renamed).toEqual({
			...updated,
			name: 'Renamed',
			linkTemplate: 'https://x.test/{{code}}',
			fraudSettings: { blockedEmailDomains: [], maxReferralsPerReferrerPerDay: 0, ...LEGACY_FRAUD_DEFAULTS },
			updatedAt: '2024-06-01T00:00:00.000Z',
		});
		expect(await tx((t) => t.updateCampaign(987654, { name: 'x' }, LATER))).toBeNull();
	});

	it('stores reward rules: written on insert and patch, the empty rule set on campaigns from before migration 4', async () => {
		const rules: RewardRules = {
			perReferral: { every: 2, reward: { kind: 'amount', amount: 25, currency: 'EUR' } },
			milestones: [
				{ at: 5, reward: { kind: 'coupon' } },
				{ at: 10, reward: { kind: 'custom', payload: { tier: 'gold', tags: ['a', 'b"c'] } } },
			],
			commission: { percent: 12.5, cap: 100, currency: 'EUR' },
			maxPerReferrer: 10,
			referred: { on: 'registration', reward: { kind: 'coupon' } },
			holdDays: 14,
			approval: true,
		};
		const c = await newCampaign({ rewardRules: rules });
		expect(c.rewardRules).toEqual(rules);
		expect(await read((t) => t.getCampaign({ id: c.id }))).toEqual(c);
		const patched = await tx((t) => t.updateCampaign(c.id, { rewardRules: NO_REWARD_RULES }, LATER));
		expect(patched).toEqual({ ...c, rewardRules: NO_REWARD_RULES, updatedAt: LATER });
		expect(await read((t) => t.getCampaign({ id: c.id }))).toEqual(patched);
		// other patches leave the rules alone
		expect((await tx((t) => t.updateCampaign(c.id, { name: 'Renamed' }, LATER)))!.rewardRules).toEqual(NO_REWARD_RULES);

		// a campaign written at schema version 3 reads back with the empty rule set after migrating
		const config = ctx.factory.freshConfig();
		await (await ctx.factory.openAtVersion(config, 3)).close();
		await ctx.factory.execute(config, LEGACY_CAMPAIGN_SQL);
		const upgraded = await openStore(config);
		const [legacy] = await upgraded.read((t) => t.listCampaigns({}, { limit: 10 }));
		expect(legacy).toEqual({
			id: expect.any(Number),
			slug: 'legacy',
			name: 'Legacy',
			status: 'active',
			linkTemplate: 'https://x.test/?ref={{code}}',
			codeSettings: { length: 8, prefix: '' },
			fraudSettings: { blockedEmailDomains: [], maxReferralsPerReferrerPerDay: 0, ...LEGACY_FRAUD_DEFAULTS },
			rewardRules: NO_REWARD_RULES,
			createdAt: '2024-01-01T00:00:00.000Z',
			updatedAt: '2024-01-01T00:00:00.000Z',
		});
		const withRules = await upgraded.transaction((t) => t.updateCampaign(legacy.id, { rewardRules: rules }, LATER));
		expect(withRules).toEqual({ ...legacy, rewardRules: rules, updatedAt: LATER });
		await upgraded.close();
	});
}

/** A campaign's figures: participants by source, referrals by status, conversion, top referrers. */
export function campaignStatsTests(ctx: ContractContext): void {
	const { read, newCampaign, insert } = ctx;

	it('computes every figure on a hand-built campaign', async () => {
		const c = await newCampaign();
		const noise = await newCampaign();
		const [alice, bob, carol] = await insert([
			personRow(c.id, 'alice@example.com', { firstName: 'Alice', lastName: 'A' }),
			personRow(c.id, 'bob@example.com', { firstName: 'Bob', lastName: 'B', source: 'manual' }),
			personRow(c.id, 'carol@example.com', { firstName: 'Carol', lastName: 'C', source: 'synced' }),
		]);
		const ref = (email: string, by: number, status: ParticipantInsert['referralStatus']) =>
			personRow(c.id, email, { source: 'referred', referredBy: by, referralStatus: status });
		await insert([
			// alice: 3 referrals, 1 qualified
			ref('a1@example.com', alice.id, 'qualified'),
			ref('a2@example.com', alice.id, 'pending'),
			ref('a3@example.com', alice.id, 'unqualified'),
			// bob: 2 referrals, 1 qualified (fewer referrals than alice at equal qualified)
			ref('b1@example.com', bob.id, 'qualified'),
			ref('b2@example.com', bob.id, 'pending'),
			// carol: 2 referrals, 2 qualified (tops the list); one referral status none
			ref('c1@example.com', carol.id, 'qualified'),
			ref('c2@example.com', carol.id, 'qualified'),
			ref('c3@example.com', carol.id, 'none'),
			// an api participant nobody referred
			personRow(c.id, 'api@example.com', { source: 'api' }),
		]);
		// noise in another campaign must not count
		const [n1] = await insert([personRow(noise.id, 'alice@example.com')]);
		await insert([personRow(noise.id, 'nx@example.com', { source: 'referred', referredBy: n1.id, referralStatus: 'qualified' })]);

		const stats = await read((t) => t.campaignStats(c.id, 10));
		expect(stats).toEqual({
			campaignId: c.id,
			participants: 12,
			participantsBySource: { direct: 1, referred: 8, synced: 1, manual: 1, api: 1 },
			referrals: { total: 8, pending: 2, qualified: 4, unqualified: 1 },
			conversionRate: 0.5,
			topReferrers: [
				{ participantId: carol.id, email: 'carol@example.com', firstName: 'Carol', lastName: 'C', code: carol.code, referrals: 3, qualified: 2 },
				{ participantId: alice.id, email: 'alice@example.com', firstName: 'Alice', lastName: 'A', code: alice.code, referrals: 3, qualified: 1 },
				{ participantId: bob.id, email: 'bob@example.com', firstName: 'Bob', lastName: 'B', code: bob.code, referrals: 2, qualified: 1 },
			],
		});
		const top1 = await read((t) => t.campaignStats(c.id, 1));
		expect(top1.topReferrers.map((r) => r.participantId)).toEqual([carol.id]);
		expect((await read((t) => t.campaignStats(c.id, 0))).topReferrers).toEqual([]);
	});

	it('orders equal referrers by id and reports zeros for an empty campaign', async () => {
		const c = await newCampaign();
		expect(await read((t) => t.campaignStats(c.id, 5))).toEqual({
			campaignId: c.id,
			participants: 0,
			participantsBySource: { direct: 0, referred: 0, synced: 0, manual: 0, api: 0 },
			referrals: { total: 0, pending: 0, qualified: 0, unqualified: 0 },
			conversionRate: 0,
			topReferrers: [],
		});
		const [x, y] = await insert([personRow(c.id, 'x@example.com'), personRow(c.id, 'y@example.com')]);
		await insert([
			personRow(c.id, 'y1@example.com', { source: 'referred', referredBy: y.id, referralStatus: 'pending' }),
			personRow(c.id, 'x1@example.com', { source: 'referred', referredBy: x.id, referralStatus: 'pending' }),
		]);
		const stats = await read((t) => t.campaignStats(c.id, 5));
		expect(stats.topReferrers.map((r) => [r.participantId, r.referrals, r.qualified])).toEqual([
			[x.id, 1, 0],
			[y.id, 1, 0],
		]);
		expect(stats.conversionRate).toBe(0);
	});
}
