import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { changedSettings, changesToMatch } from '../../lib/referrals/campaign-sync';
import { ReferralProgram, type CampaignInput } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { StoreConfig } from '../../lib/store/types';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';

const DEFINITION: CampaignInput = {
	name: 'Referral Program',
	slug: 'referral-program',
	codePrefix: 'ref-',
	blockedEmailDomains: ['tempmail.io', 'mailinator.com'],
	maxReferralsPerReferrerPerDay: 5,
	rewardRules: {
		perReferral: { every: 1, reward: { kind: 'amount', amount: 25, currency: 'EUR' } },
		milestones: [{ at: 5, reward: { kind: 'custom', payload: { gift: 'hoodie', size: 'M' } } }],
		referred: { on: 'registration', reward: { kind: 'coupon' } },
		holdDays: 14,
	},
};

function describeSync(name: string, config: () => StoreConfig) {
	describe(name, () => {
		let program: ReferralProgram;
		beforeEach(async () => {
			program = new ReferralProgram(await openStore(config()));
		});

		it('finds nothing to change in a campaign read back from the store (key order and number forms aside)', async () => {
			const created = await program.createCampaign(DEFINITION);
			const stored = await program.getCampaign({ id: created.id });
			expect(changesToMatch(stored, DEFINITION)).toEqual({ update: {}, changed: [] });
		});

		it('changes only the settings that differ, and the update makes them match', async () => {
			const { id } = await program.createCampaign(DEFINITION);
			const edited: CampaignInput = {
				...DEFINITION,
				name: 'Referral Program 2027',
				rewardRules: { perReferral: { every: 1, reward: { kind: 'amount', amount: 40, currency: 'EUR' } } },
			};
			const before = await program.getCampaign({ id });
			const { update, changed } = changesToMatch(before, edited);
			expect(changed).toEqual(['name', 'rewardRules']);
			expect(Object.keys(update).sort()).toEqual(['name', 'rewardRules']);
			const after = await program.updateCampaign(id, update);
			expect(changedSettings(before, after)).toEqual(['name', 'rewardRules']);
			expect(changesToMatch(await program.getCampaign({ id }), edited).changed).toEqual([]);
		});

		it('brings a setting left off the node back to its default, and leaves the status alone unless given', async () => {
			const { id } = await program.createCampaign(DEFINITION);
			await program.updateCampaign(id, { status: 'paused' });
			const { update, changed } = changesToMatch(await program.getCampaign({ id }), { name: 'Referral Program', slug: 'referral-program' });
			expect(changed).toEqual(['codeSettings', 'fraudSettings', 'rewardRules']);
			const after = await program.updateCampaign(id, update);
			expect(after).toMatchObject({ status: 'paused', codeSettings: { prefix: '' }, fraudSettings: { blockedEmailDomains: [], maxReferralsPerReferrerPerDay: 0 } });
			expect(changesToMatch(after, { name: 'Referral Program', status: 'active' }).changed).toEqual(['status']);
		});
	});
}

describe('a campaign brought in line with its definition ("Update It to These Settings")', () => {
	const folder = mkdtempSync(join(tmpdir(), 'campaign-sync-'));
	let n = 0;
	afterAll(async () => {
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});
	describeSync('SQLite', () => ({ backend: 'sqlite', path: join(folder, `store-${n++}.sqlite`) }));
});

describePostgres('a campaign brought in line with its definition, on PostgreSQL (jsonb reorders keys)', () => {
	let database: TestDatabase;
	beforeAll(async () => {
		database = await createTestDatabase('campaign_sync');
	});
	afterAll(async () => {
		await closeAllStores();
		await database?.drop();
	});
	describeSync('PostgreSQL', () => database.config(database.freshSchema()));
});
