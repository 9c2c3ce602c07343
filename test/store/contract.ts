// The ReferralStore contract: one suite, run against every backend (sqlite.test.ts,
// postgres.test.ts). Every method of StoreTransaction is exercised here.

import { LEGACY_FRAUD_DEFAULTS } from '../../lib/referrals/model';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Participant, Reward, RewardRules } from '../../lib/referrals/model';
import { emailIdentity } from '../../lib/referrals/email';
import {
	closeAllStores,
	openStore,
	StoreClosedError,
	StoreOpenError,
	TransactionStateError,
	type CampaignInsert,
	type ParticipantInsert,
	type ReferralStore,
	type RewardInsert,
	type StoreConfig,
	type StoreTransaction,
} from '../../lib/store';
import { NO_REWARD_RULES } from './fixtures';

export interface ContractFactory {
	backend: 'sqlite' | 'postgres';
	/** The configuration of a new, empty store (a new file, a new schema). */
	freshConfig(): StoreConfig;
	/**
	 * Opens the store behind `config` directly with the backend's own migrations plus `extra`
	 * (which must use versions above the shipped ones), bypassing the openStore cache.
	 */
	openWithMigrations(config: StoreConfig, extra: Array<{ version: number; name: string; statements: string[] }>): Promise<ReferralStore>;
	/** Names of the tables that exist in the store behind `config`. */
	tableNames(config: StoreConfig): Promise<string[]>;
	/** Opens the store behind `config` with the shipped migrations up to `version` only (no cache). */
	openAtVersion(config: StoreConfig, version: number): Promise<ReferralStore>;
	/** Runs `sql` directly on the database behind `config` (unqualified names reach its tables). */
	execute(config: StoreConfig, sql: string): Promise<void>;
}

const NOW = '2024-05-01T10:00:00.000Z';
const LATER = '2024-05-02T11:30:00.000Z';

let seq = 0;
const uid = () => `${Date.now().toString(36)}${(++seq).toString(36)}`;

function campaignRow(overrides: Partial<CampaignInsert> = {}): CampaignInsert {
	return {
		slug: `camp-${uid()}`,
		name: 'Spring referrals',
		status: 'active',
		linkTemplate: 'https://n8n.example.com/form/join?ref={{code}}',
		codeSettings: { length: 8, prefix: 'ACME-' },
		fraudSettings: { blockedEmailDomains: ['spam.test'], maxReferralsPerReferrerPerDay: 5, ...LEGACY_FRAUD_DEFAULTS },
		rewardRules: NO_REWARD_RULES,
		...overrides,
	};
}

function rewardRow(campaignId: number, beneficiaryId: number, overrides: Partial<RewardInsert> = {}): RewardInsert {
	return {
		campaignId,
		beneficiaryId,
		beneficiaryRole: 'referrer',
		rule: 'per_referral',
		ordinal: 1,
		referralId: null,
		kind: 'amount',
		amount: 25,
		currency: 'EUR',
		payload: {},
		status: 'due',
		dueAt: NOW,
		...overrides,
	};
}

/** A campaign row as written before migration 4 (no reward_rules column yet). */
const LEGACY_CAMPAIGN_SQL = `INSERT INTO campaigns (slug, name, status, link_template, code_settings, fraud_settings, created_at, updated_at)
VALUES ('legacy', 'Legacy', 'active', 'https://x.test/?ref={{code}}', '{"length":8,"prefix":""}',
	'{"blockedEmailDomains":[],"maxReferralsPerReferrerPerDay":0}', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z')`;

/** `2024-05-01T<hour>:00:00.000Z` */
const at = (hour: number) => `2024-05-01T${String(hour).padStart(2, '0')}:00:00.000Z`;

function personRow(campaignId: number, email: string, overrides: Partial<ParticipantInsert> = {}): ParticipantInsert {
	const code = overrides.code ?? `C${uid().toUpperCase()}`;
	return {
		campaignId,
		email,
		emailIdentity: emailIdentity(email),
		firstName: 'Ada',
		lastName: 'Lovelace',
		source: 'direct',
		code,
		link: `https://n8n.example.com/form/join?ref=${code}`,
		referredBy: null,
		referralStatus: 'none',
		metadata: { utm: 'newsletter' },
		...overrides,
	};
}

export function describeStoreContract(getFactory: () => ContractFactory): void {
	let factory: ContractFactory;
	let store: ReferralStore;
	const tx = <T>(fn: (t: StoreTransaction) => Promise<T>) => store.transaction(fn);
	const read = <T>(fn: (t: StoreTransaction) => Promise<T>) => store.read(fn);

	async function newCampaign(overrides: Partial<CampaignInsert> = {}) {
		const c = await tx((t) => t.insertCampaign(campaignRow(overrides), NOW));
		if (!c) throw new Error('campaign not inserted');
		return c;
	}

	async function insert(rows: ParticipantInsert[], now = NOW): Promise<Participant[]> {
		return tx((t) => t.insertParticipants(rows, now));
	}

	/** A store of its own, for tests that look at store-wide data (campaign lists, the event log). */
	async function isolated(): Promise<ReferralStore> {
		return openStore(factory.freshConfig());
	}

	beforeAll(async () => {
		factory = getFactory();
		store = await openStore(factory.freshConfig());
	});

	afterAll(async () => {
		await closeAllStores();
	});

	describe('campaigns', () => {
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
			const config = factory.freshConfig();
			await (await factory.openAtVersion(config, 3)).close();
			await factory.execute(config, LEGACY_CAMPAIGN_SQL);
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
	});

	describe('people and links written before schema version 6', () => {
		const legacyParticipant = (email: string, code: string, link = `https://x.test/?ref=${code}`) =>
			`INSERT INTO participants (campaign_id, email, source, code, link, referral_status, metadata, created_at, updated_at)
			VALUES ((SELECT id FROM campaigns WHERE slug = 'legacy'), '${email}', 'direct', '${code}', '${link}', 'none', '{}',
				'2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z')`;

		it('get their identity (the same rule as emailIdentity); later spellings of one person keep their own address', async () => {
			const config = factory.freshConfig();
			await (await factory.openAtVersion(config, 5)).close();
			await factory.execute(config, LEGACY_CAMPAIGN_SQL);
			const emails = [
				'dee@x.com',
				'dee+promo@x.com',
				'a.b+c@gmail.com',
				'ab@googlemail.com',
				'+tag@x.com',
				'ann.lee@x.com',
				'o\'neil+1@x.com',
			];
			for (const [i, email] of emails.entries()) await factory.execute(config, legacyParticipant(email.replace("'", "''"), `LEG${i}`));
			const upgraded = await openStore(config);
			try {
				const [c] = await upgraded.read((t) => t.listCampaigns({}, { limit: 1 }));
				const byIdentity = async (identity: string) =>
					(await upgraded.read((t) => t.findParticipantsByEmail(c.id, [], [identity]))).map((p) => p.email);
				const byEmail = async (email: string) =>
					(await upgraded.read((t) => t.findParticipantsByEmail(c.id, [email], []))).map((p) => p.email);
				// The oldest participant of each identity holds it; identities are what emailIdentity() says.
				expect(await byIdentity(emailIdentity('dee@x.com'))).toEqual(['dee@x.com']);
				expect(await byIdentity(emailIdentity('a.b+c@gmail.com'))).toEqual(['a.b+c@gmail.com']);
				expect(emailIdentity('ab@googlemail.com')).toBe(emailIdentity('a.b+c@gmail.com'));
				expect(await byIdentity(emailIdentity('+tag@x.com'))).toEqual(['+tag@x.com']);
				expect(await byIdentity(emailIdentity('ann.lee@x.com'))).toEqual(['ann.lee@x.com']);
				expect(await byIdentity(emailIdentity("o'neil+1@x.com"))).toEqual(["o'neil+1@x.com"]);
				// The later spellings are kept as they were, found by their own address.
				expect(await byEmail('dee+promo@x.com')).toEqual(['dee+promo@x.com']);
				expect(await byEmail('ab@googlemail.com')).toEqual(['ab@googlemail.com']);
				// From now on a second spelling of a person is refused by the database.
				const again = await upgraded.transaction((t) =>
					t.insertParticipants([personRow(c.id, 'dee+new@x.com', { emailIdentity: emailIdentity('dee+new@x.com') })], LATER),
				);
				expect(again).toEqual([]);
			} finally {
				await upgraded.close();
			}
		});

		it('made from an unconfigured n8n URL (localhost) get the {{n8nUrl}} placeholder; other links stay', async () => {
			const config = factory.freshConfig();
			await (await factory.openAtVersion(config, 6)).close();
			await factory.execute(config, LEGACY_CAMPAIGN_SQL.replace('https://x.test/?ref={{code}}', 'http://localhost:5678/form/refer?ref={{code}}'));
			await factory.execute(config, legacyParticipant('ann@x.com', 'LOC1', 'http://localhost:5678/form/refer?ref=LOC1'));
			const others = [
				'http://127.0.0.1/form/refer?ref={{code}}',
				'https://n8n.acme.com/form/refer?ref={{code}}',
				'http://localhost:5678/shop/form/refer?ref={{code}}',
				'http://localhost:5678/form/refer?ref={{code}}&utm=x',
			];
			for (const [i, template] of others.entries()) {
				await factory.execute(config, LEGACY_CAMPAIGN_SQL.replace("'legacy', 'Legacy'", `'legacy${i}', 'Legacy ${i}'`).replace('https://x.test/?ref={{code}}', template));
			}
			const upgraded = await openStore(config);
			try {
				const campaigns = await upgraded.read((t) => t.listCampaigns({}, { limit: 10 }));
				expect(campaigns.map((c) => c.linkTemplate)).toEqual([
					'{{n8nUrl}}/form/refer?ref={{code}}',
					'{{n8nUrl}}/form/refer?ref={{code}}',
					'https://n8n.acme.com/form/refer?ref={{code}}',
					'http://localhost:5678/shop/form/refer?ref={{code}}',
					'http://localhost:5678/form/refer?ref={{code}}&utm=x',
				]);
				const [ann] = await upgraded.read((t) => t.findParticipantsByCode(['LOC1']));
				expect(ann.link).toBe('{{n8nUrl}}/form/refer?ref=LOC1');
			} finally {
				await upgraded.close();
			}
		});
	});

	describe('participants', () => {
		it('inserts participants and returns them exactly as they are read back', async () => {
			const c = await newCampaign();
			const referrer = personRow(c.id, `ref-${uid()}@example.com`, { metadata: { nested: { a: [1, 'x"y\\z', null] }, emoji: '🎉' } });
			const [r] = await insert([referrer]);
			expect(r).toEqual({
				id: expect.any(Number),
				campaignId: c.id,
				email: referrer.email,
				firstName: 'Ada',
				lastName: 'Lovelace',
				source: 'direct',
				code: referrer.code,
				link: referrer.link,
				referredBy: null,
				referralStatus: 'none',
				qualifiedAt: null,
				saleValue: null,
				saleCurrency: null,
				pipedrivePersonId: null,
				pipedriveLeadId: null,
				pipedriveDealId: null,
				metadata: { nested: { a: [1, 'x"y\\z', null] }, emoji: '🎉' },
				createdAt: NOW,
				updatedAt: NOW,
				erasedAt: null,
			});
			const referred = await insert([
				personRow(c.id, `a-${uid()}@example.com`, {
					source: 'referred',
					referredBy: r.id,
					referralStatus: 'pending',
					firstName: null,
					lastName: null,
					metadata: {},
				}),
			]);
			expect(referred).toHaveLength(1);
			expect(referred[0]).toMatchObject({ referredBy: r.id, referralStatus: 'pending', firstName: null, source: 'referred' });
			expect(await read((t) => t.getParticipant(r.id))).toEqual(r);
			expect(await read((t) => t.getParticipant(referred[0].id))).toEqual(referred[0]);
			expect(await read((t) => t.getParticipant(987654))).toBeNull();
			expect(await insert([])).toEqual([]);
		});

		it('skips rows that break the (campaign, email) or code uniqueness and returns only inserted rows', async () => {
			const c = await newCampaign();
			const other = await newCampaign();
			const taken = await insert([personRow(c.id, 'taken@example.com', { code: `TAKEN${uid()}` })]);
			expect(taken).toHaveLength(1);
			const batch = [
				personRow(c.id, 'new1@example.com'),
				personRow(c.id, 'taken@example.com'), // email taken in this campaign
				personRow(c.id, 'new2@example.com', { code: taken[0].code }), // code taken (store-wide)
				personRow(other.id, 'new3@example.com', { code: taken[0].code }), // code taken, other campaign
				personRow(other.id, 'taken@example.com'), // same email, other campaign: fine
				personRow(c.id, 'twice@example.com', { firstName: 'First' }),
				personRow(c.id, 'twice@example.com', { firstName: 'Second' }), // duplicate within the batch
			];
			const inserted = await insert(batch);
			const key = (p: { campaignId: number; email: string | null }) => `${p.campaignId}:${p.email}`;
			expect(inserted.map(key).sort()).toEqual(
				[`${c.id}:new1@example.com`, `${other.id}:taken@example.com`, `${c.id}:twice@example.com`].sort(),
			);
			expect(inserted.find((p) => p.email === 'twice@example.com')!.firstName).toBe('First');
			for (const p of inserted) expect(await read((t) => t.getParticipant(p.id))).toEqual(p);
			const all = await read((t) => t.listParticipants(c.id, {}, { limit: 100 }));
			expect(all.map((p) => p.email).sort()).toEqual(['new1@example.com', 'taken@example.com', 'twice@example.com']);
			// the existing row is untouched
			expect(await read((t) => t.getParticipant(taken[0].id))).toEqual(taken[0]);
			// a batch made only of conflicts inserts nothing
			expect(await insert([personRow(c.id, 'new1@example.com'), personRow(c.id, 'x@example.com', { code: taken[0].code })])).toEqual([]);
		});

		it('inserts 1,000 rows in one call', async () => {
			const c = await newCampaign();
			const rows = Array.from({ length: 1000 }, (_, i) => personRow(c.id, `bulk${i}@example.com`));
			const inserted = await insert(rows);
			expect(inserted).toHaveLength(1000);
			expect(new Set(inserted.map((p) => p.id)).size).toBe(1000);
			const again = await insert([...rows.slice(0, 500).map((r) => ({ ...r, code: `${r.code}X` })), personRow(c.id, 'bulk-extra@example.com')]);
			expect(again.map((p) => p.email)).toEqual(['bulk-extra@example.com']);
		});

		it('finds participants by email within a campaign and by code across campaigns', async () => {
			const c = await newCampaign();
			const other = await newCampaign();
			const [a, b] = await insert([personRow(c.id, 'find-a@example.com'), personRow(c.id, 'find-b@example.com')]);
			const [o] = await insert([personRow(other.id, 'find-a@example.com')]);
			const byEmail = await read((t) => t.findParticipantsByEmail(c.id, ['find-a@example.com', 'find-b@example.com', 'none@example.com'], []));
			expect(byEmail.sort((x, y) => x.id - y.id)).toEqual([a, b]);
			expect(await read((t) => t.findParticipantsByEmail(other.id, ['find-a@example.com'], []))).toEqual([o]);
			expect(await read((t) => t.findParticipantsByEmail(c.id, [], []))).toEqual([]);
			const byCode = await read((t) => t.findParticipantsByCode([a.code, o.code, 'NO-SUCH-CODE']));
			expect(byCode.sort((x, y) => x.id - y.id)).toEqual([a, o]);
			expect(await read((t) => t.findParticipantsByCode([]))).toEqual([]);
		});

		it('lists participants with filters, in ascending id order, with keyset paging', async () => {
			const c = await newCampaign();
			const other = await newCampaign();
			const [ref] = await insert([personRow(c.id, 'lp-ref@example.com')], '2024-01-01T00:00:00.000Z');
			const [r1, r2, r3] = await insert(
				[
					personRow(c.id, 'lp-1@example.com', { source: 'referred', referredBy: ref.id, referralStatus: 'pending' }),
					personRow(c.id, 'lp-2@example.com', { source: 'referred', referredBy: ref.id, referralStatus: 'qualified' }),
					personRow(c.id, 'lp-3@example.com', { source: 'api', referralStatus: 'none' }),
				],
				'2024-02-01T00:00:00.000Z',
			);
			const [synced] = await insert([personRow(c.id, 'lp-4@example.com', { source: 'synced' })], '2024-03-01T00:00:00.000Z');
			await insert([personRow(other.id, 'lp-1@example.com')]);
			const erased = (await insert([personRow(c.id, 'lp-5@example.com', { source: 'synced' })], '2024-03-01T00:00:00.000Z'))[0];
			await tx((t) => t.eraseParticipant(erased.id, '2024-04-01T00:00:00.000Z'));
			const list = async (filter: Parameters<StoreTransaction['listParticipants']>[1], limit = 100, afterId?: number) =>
				(await read((t) => t.listParticipants(c.id, filter, { limit, afterId }))).map((p) => p.id);

			expect(await list({})).toEqual([ref.id, r1.id, r2.id, r3.id, synced.id]);
			expect(await list({ includeErased: true })).toEqual([ref.id, r1.id, r2.id, r3.id, synced.id, erased.id]);
			expect(await list({ referralStatus: ['pending', 'qualified'] })).toEqual([r1.id, r2.id]);
			expect(await list({ referralStatus: ['none'] })).toEqual([ref.id, r3.id, synced.id]);
			expect(await list({ source: ['synced'] })).toEqual([synced.id]);
			expect(await list({ source: ['synced'], includeErased: true })).toEqual([synced.id, erased.id]);
			expect(await list({ source: ['api', 'referred'] })).toEqual([r1.id, r2.id, r3.id]);
			expect(await list({ referredBy: ref.id })).toEqual([r1.id, r2.id]);
			expect(await list({ referredBy: ref.id, referralStatus: ['qualified'] })).toEqual([r2.id]);
			expect(await list({ updatedSince: '2024-02-01T00:00:00.000Z' })).toEqual([r1.id, r2.id, r3.id, synced.id]);
			expect(await list({ updatedSince: '2024-02-15T00:00:00Z' })).toEqual([synced.id]);
			expect(await list({ updatedSince: '2024-02-15T00:00:00Z', includeErased: true })).toEqual([synced.id, erased.id]);
			// paging: limit and afterId walk the list without gaps or repeats
			const seen: number[] = [];
			let after: number | undefined;
			for (;;) {
				const page = await list({ includeErased: true }, 2, after);
				if (page.length === 0) break;
				expect(page.length).toBeLessThanOrEqual(2);
				seen.push(...page);
				after = page[page.length - 1];
			}
			expect(seen).toEqual([ref.id, r1.id, r2.id, r3.id, synced.id, erased.id]);
			expect(await list({}, 0)).toEqual([]);
		});

		it('updates only the given fields and bumps updatedAt', async () => {
			const c = await newCampaign();
			const [p] = await insert([personRow(c.id, `up-${uid()}@example.com`)]);
			const u1 = await tx((t) =>
				t.updateParticipant(
					p.id,
					{
						referralStatus: 'qualified',
						qualifiedAt: '2024-05-03T08:00:00Z',
						saleValue: 1234.56,
						saleCurrency: 'EUR',
						pipedrivePersonId: 901,
						pipedriveLeadId: 'adf21080-0e10-11eb-879b-05d71fb426ec',
						pipedriveDealId: 4242,
					},
					LATER,
				),
			);
			expect(u1).toEqual({
				...p,
				referralStatus: 'qualified',
				qualifiedAt: '2024-05-03T08:00:00.000Z',
				saleValue: 1234.56,
				saleCurrency: 'EUR',
				pipedrivePersonId: 901,
				pipedriveLeadId: 'adf21080-0e10-11eb-879b-05d71fb426ec',
				pipedriveDealId: 4242,
				updatedAt: LATER,
			});
			expect(typeof u1!.pipedriveDealId).toBe('number');
			expect(await read((t) => t.getParticipant(p.id))).toEqual(u1);
			const u2 = await tx((t) =>
				t.updateParticipant(p.id, { firstName: null, lastName: 'Byron', link: 'https://x.test/l', metadata: { b: 2 } }, '2024-05-04T00:00:00.000Z'),
			);
			expect(u2).toEqual({ ...u1, firstName: null, lastName: 'Byron', link: 'https://x.test/l', metadata: { b: 2 }, updatedAt: '2024-05-04T00:00:00.000Z' });
			// setting fields back to null
			const u3 = await tx((t) => t.updateParticipant(p.id, { qualifiedAt: null, saleValue: null, pipedriveDealId: null }, '2024-05-05T00:00:00.000Z'));
			expect(u3).toEqual({ ...u2, qualifiedAt: null, saleValue: null, pipedriveDealId: null, updatedAt: '2024-05-05T00:00:00.000Z' });
			// an empty patch only bumps updatedAt
			const u4 = await tx((t) => t.updateParticipant(p.id, {}, '2024-05-06T00:00:00.000Z'));
			expect(u4).toEqual({ ...u3, updatedAt: '2024-05-06T00:00:00.000Z' });
			expect(await tx((t) => t.updateParticipant(987654, { firstName: 'x' }, LATER))).toBeNull();
		});

		it('erases personal data, keeps counts and links, and lets the email be used again', async () => {
			const c = await newCampaign();
			const [ref] = await insert([personRow(c.id, 'erase-ref@example.com', { metadata: { phone: '+331234' } })]);
			const [child] = await insert([
				personRow(c.id, 'erase-child@example.com', { source: 'referred', referredBy: ref.id, referralStatus: 'pending' }),
			]);
			await tx((t) => t.updateParticipant(ref.id, { pipedrivePersonId: 77, referralStatus: 'qualified', saleValue: 10 }, NOW));
			const before = await read((t) => t.campaignStats(c.id, 5));
			const unerased = (await read((t) => t.getParticipant(ref.id)))!;

			const erased = await tx((t) => t.eraseParticipant(ref.id, LATER));
			expect(erased).toEqual({
				...unerased,
				email: null,
				firstName: null,
				lastName: null,
				metadata: {},
				erasedAt: LATER,
				updatedAt: LATER,
			});
			expect(erased).toMatchObject({
				id: ref.id,
				code: ref.code,
				source: 'direct',
				referralStatus: 'qualified',
				pipedrivePersonId: 77,
				saleValue: 10,
				link: ref.link,
				erasedAt: LATER,
				updatedAt: LATER,
			});
			expect(await read((t) => t.getParticipant(ref.id))).toEqual(erased);
			expect(await read((t) => t.findParticipantsByEmail(c.id, ['erase-ref@example.com'], ['erase-ref@example.com']))).toEqual([]);
			expect((await read((t) => t.getParticipant(child.id)))!.referredBy).toBe(ref.id);

			const after = await read((t) => t.campaignStats(c.id, 5));
			expect(after.participants).toBe(before.participants);
			expect(after.participantsBySource).toEqual(before.participantsBySource);
			expect(after.referrals).toEqual(before.referrals);
			expect(after.topReferrers).toEqual([{ ...before.topReferrers[0], email: null, firstName: null, lastName: null }]);

			// the email is free again; a second erased participant does not collide on NULL
			const [again] = await insert([personRow(c.id, 'erase-ref@example.com')]);
			expect(again.id).not.toBe(ref.id);
			await tx((t) => t.eraseParticipant(again.id, LATER));
			const [third] = await insert([personRow(c.id, 'erase-ref@example.com')]);
			expect(third.email).toBe('erase-ref@example.com');
			// erasing twice keeps the first erasure time
			const twice = await tx((t) => t.eraseParticipant(ref.id, '2025-01-01T00:00:00.000Z'));
			expect(twice!.erasedAt).toBe(LATER);
			expect(await tx((t) => t.eraseParticipant(987654, LATER))).toBeNull();
		});

		it('counts referrals registered since a time, per referrer', async () => {
			const c = await newCampaign();
			const [r1, r2, r3] = await insert([
				personRow(c.id, 'cr-1@example.com'),
				personRow(c.id, 'cr-2@example.com'),
				personRow(c.id, 'cr-3@example.com'),
			]);
			const referred = (referrer: number, i: number) =>
				personRow(c.id, `cr-${referrer}-${i}@example.com`, { source: 'referred', referredBy: referrer, referralStatus: 'pending' });
			await insert([referred(r1.id, 1), referred(r2.id, 1)], '2024-05-01T00:00:00.000Z');
			await insert([referred(r1.id, 2), referred(r1.id, 3), referred(r2.id, 2)], '2024-05-02T12:00:00.000Z');
			const counts = await read((t) => t.countReferralsSince([r1.id, r2.id, r3.id], '2024-05-02T00:00:00.000Z'));
			expect([...counts.entries()].sort((a, b) => a[0] - b[0])).toEqual([
				[r1.id, 2],
				[r2.id, 1],
			]);
			const all = await read((t) => t.countReferralsSince([r1.id], '2024-05-01T00:00:00Z'));
			expect([...all.entries()]).toEqual([[r1.id, 3]]);
			expect((await read((t) => t.countReferralsSince([], NOW))).size).toBe(0);
			expect((await read((t) => t.countReferralsSince([r1.id], '2024-06-01T00:00:00.000Z'))).size).toBe(0);
		});

		it('keeps sign-up devices out of the participant, reads them by id, and forgets one on erasure', async () => {
			const c = await newCampaign();
			const [withDevice, without] = await insert([personRow(c.id, `dev-1-${uid()}@example.com`), personRow(c.id, `dev-2-${uid()}@example.com`)]);
			const device = 'a'.repeat(64);
			await tx((t) => t.setSignupDevices(new Map([[withDevice.id, device]])));
			await tx((t) => t.setSignupDevices(new Map()));
			expect(await read((t) => t.getParticipant(withDevice.id))).toEqual(withDevice);
			const devices = await read((t) => t.signupDevices([withDevice.id, without.id, 987654]));
			expect([...devices.entries()]).toEqual([[withDevice.id, device]]);
			expect((await read((t) => t.signupDevices([]))).size).toBe(0);
			await tx((t) => t.eraseParticipant(withDevice.id, LATER));
			expect((await read((t) => t.signupDevices([withDevice.id]))).size).toBe(0);
		});

		it('lockParticipants serialises concurrent read-modify-write transactions', async () => {
			const c = await newCampaign();
			const [p] = await insert([personRow(c.id, `lock-${uid()}@example.com`, { metadata: { n: 0 } })]);
			await tx((t) => t.lockParticipants([]));
			const bump = () =>
				store.transaction(async (t) => {
					await t.lockParticipants([p.id]);
					const current = (await t.getParticipant(p.id))!;
					await sleep(2);
					await t.updateParticipant(p.id, { metadata: { n: (current.metadata.n as number) + 1 } }, LATER);
				});
			await Promise.all(Array.from({ length: 8 }, bump));
			expect((await read((t) => t.getParticipant(p.id)))!.metadata).toEqual({ n: 8 });
		});
	});

	describe('Pipedrive links and sync state', () => {
		it('stores a Pipedrive person id given on insert and finds participants by Pipedrive ids', async () => {
			const c = await newCampaign();
			const other = await newCampaign();
			const [ann] = await tx((t) => t.insertParticipants([personRow(c.id, 'ann@example.com', { pipedrivePersonId: 101 })], NOW));
			expect(ann.pipedrivePersonId).toBe(101);
			const [bo] = await tx((t) => t.insertParticipants([personRow(c.id, 'bo@example.com')], NOW));
			await tx((t) => t.updateParticipant(bo.id, { pipedriveDealId: 7, pipedriveLeadId: 'a1b2c3d4-0000-4000-8000-000000000001' }, NOW));
			const [elsewhere] = await tx((t) => t.insertParticipants([personRow(other.id, 'ann@example.com', { pipedrivePersonId: 101 })], NOW));

			const byPerson = await read((t) => t.findParticipantsByPipedrive({ personIds: [101] }));
			expect(byPerson.map((p) => p.id)).toEqual([ann.id, elsewhere.id]);
			expect((await read((t) => t.findParticipantsByPipedrive({ personIds: [101] }, c.id))).map((p) => p.id)).toEqual([ann.id]);
			expect((await read((t) => t.findParticipantsByPipedrive({ dealIds: [7] }))).map((p) => p.id)).toEqual([bo.id]);
			expect(
				(await read((t) => t.findParticipantsByPipedrive({ leadIds: ['a1b2c3d4-0000-4000-8000-000000000001'], personIds: [101] }, c.id))).map((p) => p.id),
			).toEqual([ann.id, bo.id]);
			expect(await read((t) => t.findParticipantsByPipedrive({ dealIds: [], personIds: [] }))).toEqual([]);
			expect(await read((t) => t.findParticipantsByPipedrive({ dealIds: [999] }))).toEqual([]);
		});

		it('gets participants by ids in one call, skipping ids that do not exist', async () => {
			const c = await newCampaign();
			const [a, b] = await tx((t) => t.insertParticipants([personRow(c.id, 'ids-a@example.com'), personRow(c.id, 'ids-b@example.com')], NOW));
			const found = await read((t) => t.getParticipants([b.id, 999_999, a.id]));
			expect(found.map((p) => p.id)).toEqual([a.id, b.id].sort((x, y) => x - y));
			expect(found[0]).toEqual(await read((t) => t.getParticipant(found[0].id)));
			expect(await read((t) => t.getParticipants([]))).toEqual([]);
		});

		it('counts referrals and qualified referrals per referrer', async () => {
			const c = await newCampaign();
			const [ann, bo] = await tx((t) => t.insertParticipants([personRow(c.id, 'ann@example.com'), personRow(c.id, 'bo@example.com')], NOW));
			await tx((t) =>
				t.insertParticipants(
					[
						personRow(c.id, 'r1@example.com', { referredBy: ann.id, referralStatus: 'qualified', source: 'referred' }),
						personRow(c.id, 'r2@example.com', { referredBy: ann.id, referralStatus: 'pending', source: 'referred' }),
						personRow(c.id, 'r3@example.com', { referredBy: ann.id, referralStatus: 'unqualified', source: 'referred' }),
					],
					NOW,
				),
			);
			const counts = await read((t) => t.referralCounts([ann.id, bo.id]));
			expect(counts.get(ann.id)).toEqual({ referrals: 3, qualified: 1 });
			expect(counts.has(bo.id)).toBe(false);
			expect((await read((t) => t.referralCounts([]))).size).toBe(0);
		});

		it('claims an idempotency key once, also against concurrent transactions', async () => {
			const c = await newCampaign();
			const [p] = await insert([personRow(c.id, 'key@example.com')]);
			const claims = await Promise.all(
				Array.from({ length: 6 }, () => tx((t) => t.claimIdempotencyKey('pipedrive:event:42', p.id, NOW))),
			);
			expect(claims.filter(Boolean)).toHaveLength(1);
			expect(await tx((t) => t.claimIdempotencyKey('pipedrive:event:43', p.id, NOW))).toBe(true);
			const rolledBack = tx(async (t) => {
				await t.claimIdempotencyKey('pipedrive:event:44', p.id, NOW);
				throw new Error('boom');
			});
			await expect(rolledBack).rejects.toThrow('boom');
			expect(await tx((t) => t.claimIdempotencyKey('pipedrive:event:44', p.id, NOW))).toBe(true);
		});

		it('gives a lease to one holder at a time, until it is released or runs out', async () => {
			const until = '2024-05-01T10:05:00.000Z';
			const takers = await Promise.all(
				['a', 'b', 'c', 'd'].map((holder) => tx((t) => t.acquireLease('pipedrive-send:bo@example.com', holder, until, NOW))),
			);
			expect(takers.filter(Boolean)).toHaveLength(1);
			const holder = ['a', 'b', 'c', 'd'][takers.indexOf(true)];
			const other = holder === 'a' ? 'b' : 'a';
			expect(await tx((t) => t.acquireLease('pipedrive-send:ann@example.com', other, until, NOW))).toBe(true);
			// Someone else releasing does nothing; the holder releasing frees it.
			await tx((t) => t.releaseLease('pipedrive-send:bo@example.com', other));
			expect(await tx((t) => t.acquireLease('pipedrive-send:bo@example.com', other, until, NOW))).toBe(false);
			await tx((t) => t.releaseLease('pipedrive-send:bo@example.com', holder));
			expect(await tx((t) => t.acquireLease('pipedrive-send:bo@example.com', other, until, NOW))).toBe(true);
			// A lease that ran out (its holder died) goes to the next taker.
			expect(await tx((t) => t.acquireLease('pipedrive-send:bo@example.com', holder, LATER, '2024-05-01T10:04:59.000Z'))).toBe(false);
			expect(await tx((t) => t.acquireLease('pipedrive-send:bo@example.com', holder, LATER, until))).toBe(true);
		});

		it('deletes only expired leases under a prefix, at most the limit', async () => {
			const expired = '2024-05-01T09:00:00.000Z';
			const live = '2024-05-01T11:00:00.000Z';
			for (const key of ['form-stamp:a', 'form-stamp:b', 'form-stamp:c']) await tx((t) => t.acquireLease(key, 'form', expired, expired));
			await tx((t) => t.acquireLease('form-stamp:live', 'form', live, NOW));
			// Neighbours of the prefix, bytewise and in a locale's order, stay.
			await tx((t) => t.acquireLease('form-stamp', 'other', expired, expired));
			await tx((t) => t.acquireLease('form-stamp;x', 'other', expired, expired));
			await tx((t) => t.acquireLease('formstamp:x', 'other', expired, expired));
			expect(await tx((t) => t.deleteExpiredLeases('form-stamp:', NOW, 2))).toBe(2);
			expect(await tx((t) => t.deleteExpiredLeases('form-stamp:', NOW, 50))).toBe(1);
			expect(await tx((t) => t.deleteExpiredLeases('form-stamp:', NOW, 50))).toBe(0);
			// Deleted ones can be taken again; the live one and the neighbours cannot.
			expect(await tx((t) => t.acquireLease('form-stamp:a', 'form', live, NOW))).toBe(true);
			expect(await tx((t) => t.acquireLease('form-stamp:live', 'form', live, NOW))).toBe(false);
			for (const key of ['form-stamp', 'form-stamp;x', 'formstamp:x']) {
				expect(await tx((t) => t.acquireLease(key, 'form', live, '2024-05-01T08:00:00.000Z'))).toBe(false);
			}
		});

		it('keeps Pipedrive send records: queued ones are claimed once when due, listed by state, deleted on erasure', async () => {
			const c = await newCampaign();
			const people = await insert(['q1', 'q2', 'q3'].map((name) => personRow(c.id, `${name}@example.com`)));
			const due = '2024-05-01T10:00:00.000Z';
			const later = '2024-05-01T11:00:00.000Z';
			const row = (p: Participant, nextAttemptAt: string) => ({
				participantId: p.id,
				campaignId: c.id,
				state: 'queued' as const,
				attempts: 1,
				nextAttemptAt,
				lastError: '503',
				request: { settings: { target: 'deal' }, item: { campaignId: c.id } },
			});
			await tx(async (t) => {
				await t.savePipedriveSend(row(people[0], due), NOW);
				await t.savePipedriveSend(row(people[1], due), NOW);
				await t.savePipedriveSend(row(people[2], later), NOW);
			});
			const [a, b] = await Promise.all([
				tx((t) => t.claimDueSends(NOW, LATER, 10)),
				tx((t) => t.claimDueSends(NOW, LATER, 10)),
			]);
			expect([...a, ...b].map((send) => send.participantId).sort()).toEqual([people[0].id, people[1].id].sort());
			expect([...a, ...b][0]).toMatchObject({ state: 'queued', attempts: 1, lastError: '503', request: { settings: { target: 'deal' } }, nextAttemptAt: new Date(LATER).toISOString() });
			await tx((t) => t.savePipedriveSend({ ...row(people[0], due), state: 'failed', nextAttemptAt: null, attempts: 9 }, NOW));
			expect((await read((t) => t.listPipedriveSends({ state: 'failed', campaignId: c.id }, 10))).map((send) => send.participantId)).toEqual([people[0].id]);
			expect(await read((t) => t.listPipedriveSends({ state: 'queued', participantIds: [people[2].id] }, 10))).toHaveLength(1);
			expect(await read((t) => t.latestQueuedSendAt())).toBe(new Date(NOW).toISOString());
			await tx((t) => t.deletePipedriveSend(people[2].id));
			expect(await read((t) => t.getPipedriveSends(people.map((p) => p.id)))).toHaveLength(2);
		});

		it('finds applied idempotency keys without writing, and keeps the latest event time of a referral', async () => {
			const c = await newCampaign();
			const [p] = await insert([personRow(c.id, 'times@example.com')]);
			await tx((t) => t.claimIdempotencyKey('pipedrive:deal:1:won:x', p.id, NOW));
			expect(await read((t) => t.findIdempotencyKeys(['pipedrive:deal:1:won:x', 'pipedrive:deal:1:lost:y']))).toEqual(['pipedrive:deal:1:won:x']);
			expect(await read((t) => t.getReferralEventTime(p.id))).toBeNull();
			await tx((t) => t.setReferralEventTime(p.id, LATER));
			await tx((t) => t.setReferralEventTime(p.id, NOW));
			expect(await read((t) => t.getReferralEventTime(p.id))).toBe(new Date(LATER).toISOString());
		});

		it('keeps sync state per campaign and key, replaced on save', async () => {
			const c = await newCampaign();
			const other = await newCampaign();
			expect(await read((t) => t.getSyncState(c.id, 'contacts:all'))).toBeNull();
			await tx((t) => t.setSyncState(c.id, 'contacts:all', { cursor: 'abc', since: NOW }, NOW));
			await tx((t) => t.setSyncState(other.id, 'contacts:all', { cursor: 'zzz' }, NOW));
			await tx((t) => t.setSyncState(c.id, 'contacts:all', { cursor: 'def' }, LATER));
			expect(await read((t) => t.getSyncState(c.id, 'contacts:all'))).toEqual({ cursor: 'def' });
			expect(await read((t) => t.getSyncState(other.id, 'contacts:all'))).toEqual({ cursor: 'zzz' });
			expect(await read((t) => t.getSyncState(c.id, 'contacts:filter:4'))).toBeNull();
		});
	});

	describe('campaignStats', () => {
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
	});

	describe('events', () => {
		it('appends events in order and lists them with afterId, types, campaignId, order and limit', async () => {
			const own = await isolated();
			const [c1, c2] = await own.transaction(async (t) => [
				(await t.insertCampaign(campaignRow(), NOW))!,
				(await t.insertCampaign(campaignRow(), NOW))!,
			]);
			await own.transaction((t) =>
				t.appendEvents(
					[
						{ type: 'participant.enrolled', campaignId: c1.id, participantId: 1, referrerId: null, payload: { code: 'A' } },
						{ type: 'referral.registered', campaignId: c1.id, participantId: 2, referrerId: 1, payload: { code: 'B' } },
						{ type: 'participant.enrolled', campaignId: c2.id, participantId: 3, referrerId: null, payload: {} },
					],
					NOW,
				),
			);
			await own.transaction(async (t) => {
				await t.appendEvents([], LATER);
				await t.appendEvents(
					[{ type: 'referral.qualified', campaignId: c1.id, participantId: 2, referrerId: 1, payload: { amount: 12.5, nested: { ok: true } } }],
					LATER,
				);
				await t.appendEvents([{ type: 'reward.due', campaignId: c1.id, participantId: 1, referrerId: null, payload: {} }], LATER);
			});
			const all = await own.read((t) => t.listEvents({}, 100, 'asc'));
			expect(all.map((e) => e.type)).toEqual([
				'participant.enrolled',
				'referral.registered',
				'participant.enrolled',
				'referral.qualified',
				'reward.due',
			]);
			for (let i = 1; i < all.length; i++) expect(all[i].id).toBeGreaterThan(all[i - 1].id);
			expect(all[1]).toEqual({
				id: all[1].id,
				type: 'referral.registered',
				campaignId: c1.id,
				participantId: 2,
				referrerId: 1,
				payload: { code: 'B' },
				createdAt: NOW,
			});
			expect(all[3].payload).toEqual({ amount: 12.5, nested: { ok: true } });
			expect(all[3].createdAt).toBe(LATER);
			const ids = (list: { id: number }[]) => list.map((e) => e.id);
			expect(ids(await own.read((t) => t.listEvents({}, 100, 'desc')))).toEqual(ids(all).reverse());
			expect(ids(await own.read((t) => t.listEvents({ afterId: all[1].id }, 100, 'asc')))).toEqual(ids(all.slice(2)));
			expect(ids(await own.read((t) => t.listEvents({ afterId: all[1].id }, 2, 'asc')))).toEqual(ids(all.slice(2, 4)));
			expect(ids(await own.read((t) => t.listEvents({}, 2, 'desc')))).toEqual([all[4].id, all[3].id]);
			expect(ids(await own.read((t) => t.listEvents({ types: ['participant.enrolled'] }, 100, 'asc')))).toEqual([all[0].id, all[2].id]);
			expect(ids(await own.read((t) => t.listEvents({ campaignId: c2.id }, 100, 'asc')))).toEqual([all[2].id]);
			expect(
				ids(await own.read((t) => t.listEvents({ campaignId: c1.id, types: ['referral.qualified', 'reward.due'], afterId: all[0].id }, 100, 'desc'))),
			).toEqual([all[4].id, all[3].id]);
			expect(await own.read((t) => t.listEvents({ afterId: all[4].id }, 100, 'asc'))).toEqual([]);
			await own.close();
		});
	});

	describe('rewards and coupons', () => {
		/** A campaign with a referrer and the person they referred. */
		async function rewardSetup(s: ReferralStore = store) {
			return s.transaction(async (t) => {
				const c = (await t.insertCampaign(campaignRow(), NOW))!;
				const [referrer] = await t.insertParticipants([personRow(c.id, `rw-ref-${uid()}@example.com`)], NOW);
				const [referred] = await t.insertParticipants(
					[personRow(c.id, `rw-new-${uid()}@example.com`, { source: 'referred', referredBy: referrer.id, referralStatus: 'qualified' })],
					NOW,
				);
				return { c, referrer, referred };
			});
		}
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
						const batch = await store.transaction(async (t) => {
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
			const config = factory.freshConfig();
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
							...(await store.transaction(async (t) => {
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
			await expectOneCouponPerReward(store, c.id, ids, results.flat());
		});

		it('8 processes taking 500 coupons for 500 rewards, each reward asked for by two or more, hand out every coupon exactly once, one per reward', async () => {
			const config = factory.freshConfig();
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
	});

	describe('referrer tallies', () => {
		/** A campaign, a referrer, and `n` people they referred (pending). */
		async function referrerWith(n: number, s: ReferralStore = store) {
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
		const tallyOf = (id: number, s: ReferralStore = store) => s.read((t) => t.referrerTally(id));
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
			const config = factory.freshConfig();
			const old = await factory.openAtVersion(config, 7);
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
	});

	describe('transactions', () => {
		it('rolls back everything written when the function throws, and rethrows the error', async () => {
			const slug = `rollback-${uid()}`;
			const boom = new Error('boom');
			let campaignId = 0;
			await expect(
				store.transaction(async (t) => {
					const c = (await t.insertCampaign(campaignRow({ slug }), NOW))!;
					campaignId = c.id;
					await t.insertParticipants([personRow(c.id, 'rb@example.com')], NOW);
					await t.appendEvents([{ type: 'participant.enrolled', campaignId: c.id, participantId: null, referrerId: null, payload: {} }], NOW);
					// visible inside the transaction
					expect(await t.findParticipantsByEmail(c.id, ['rb@example.com'], [])).toHaveLength(1);
					throw boom;
				}),
			).rejects.toBe(boom);
			expect(await read((t) => t.getCampaign({ slug }))).toBeNull();
			expect(await read((t) => t.findParticipantsByEmail(campaignId, ['rb@example.com'], []))).toEqual([]);
			expect(await read((t) => t.listEvents({ campaignId }, 10, 'asc'))).toEqual([]);
		});

		it('rolls back a failed transaction without touching concurrent ones', async () => {
			const c = await newCampaign();
			const results = await Promise.allSettled(
				Array.from({ length: 6 }, (_, i) =>
					store.transaction(async (t) => {
						await t.insertParticipants([personRow(c.id, `conc-${i}@example.com`)], NOW);
						await sleep(1);
						await t.insertParticipants([personRow(c.id, `conc-${i}-b@example.com`)], NOW);
						if (i % 2 === 1) throw new Error(`fail ${i}`);
						return i;
					}),
				),
			);
			expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected']);
			const emails = (await read((t) => t.listParticipants(c.id, {}, { limit: 100 }))).map((p) => p.email).sort();
			expect(emails).toEqual(
				['conc-0', 'conc-0-b', 'conc-2', 'conc-2-b', 'conc-4', 'conc-4-b'].map((e) => `${e}@example.com`).sort(),
			);
		});

		it('returns the value of the function', async () => {
			expect(await store.transaction(async () => 42)).toBe(42);
			expect(await store.read(async (t) => (await t.getCampaign({ id: 987654 })) ?? 'none')).toBe('none');
		});

		it('refuses writes in read()', async () => {
			const slug = `ro-${uid()}`;
			await expect(store.read((t) => t.insertCampaign(campaignRow({ slug }), NOW))).rejects.toThrow();
			expect(await read((t) => t.getCampaign({ slug }))).toBeNull();
			// and the store still works afterwards
			expect(await tx((t) => t.insertCampaign(campaignRow({ slug }), NOW))).not.toBeNull();
		});

		it('refuses a transaction object used after its transaction ended, nested transactions and close() inside one', async () => {
			let leaked: StoreTransaction | undefined;
			await store.transaction(async (t) => {
				leaked = t;
			});
			await expect(leaked!.getCampaign({ id: 1 })).rejects.toBeInstanceOf(TransactionStateError);
			await expect(store.transaction(async () => store.transaction(async () => 1))).rejects.toBeInstanceOf(
				TransactionStateError,
			);
			await expect(store.transaction(async () => store.read(async () => 1))).rejects.toBeInstanceOf(TransactionStateError);
			await expect(store.transaction(async () => store.close())).rejects.toBeInstanceOf(TransactionStateError);
			expect(await store.read(async () => 'still open')).toBe('still open');
		});

		it('rejects an invalid timestamp', async () => {
			await expect(tx((t) => t.insertCampaign(campaignRow(), 'not a date'))).rejects.toThrow(/timestamp/);
		});
	});

	describe('opening, migrations and closing', () => {
		it('shares one store per configuration, including concurrent first opens', async () => {
			const config = factory.freshConfig();
			const [a, b] = await Promise.all([openStore(config), openStore({ ...config })]);
			expect(a).toBe(b);
			expect(await openStore(config)).toBe(a);
			expect(a.backend).toBe(factory.backend);
			await a.close();
			const c = await openStore(config);
			expect(c).not.toBe(a);
			await expect(a.read(async () => 1)).rejects.toBeInstanceOf(StoreClosedError);
			await c.close();
		});

		it('runs migrations once: data survives reopening, and a new version is applied exactly once', async () => {
			const config = factory.freshConfig();
			const first = await openStore(config);
			const c = (await first.transaction((t) => t.insertCampaign(campaignRow(), NOW)))!;
			await first.close();
			const second = await openStore(config);
			expect(await second.read((t) => t.getCampaign({ id: c.id }))).toEqual(c);
			await second.close();

			// A version far above the shipped ones, so the probe keeps working as migrations are added.
			const probe = [{ version: 1000, name: 'test table', statements: ['CREATE TABLE contract_v2_probe (id integer PRIMARY KEY)'] }];
			const withProbe = await factory.openWithMigrations(config, probe);
			await withProbe.close();
			// re-running the probe version would fail with "table already exists"
			const again = await factory.openWithMigrations(config, probe);
			expect(await again.read((t) => t.getCampaign({ id: c.id }))).toEqual(c);
			await again.close();
			expect(await factory.tableNames(config)).toEqual(
				expect.arrayContaining(['campaigns', 'participants', 'events', 'schema_migrations', 'contract_v2_probe']),
			);
		});

		it('fails with StoreOpenError for an unknown backend', async () => {
			await expect(openStore({ backend: 'mysql' } as unknown as StoreConfig)).rejects.toBeInstanceOf(StoreOpenError);
		});
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

const REPO_ROOT = resolve(__dirname, '../..');
const CHILD_SCRIPT = resolve(__dirname, 'concurrent-insert.script.ts');
const REWARDS_SCRIPT = resolve(__dirname, 'concurrent-rewards.script.ts');

/**
 * Starts `children` processes that open the store behind `config` at the same moment (each
 * loads, says "ready", and waits for "go") and each insert the same `emails` emails (random
 * codes) in transactions. Resolves with each child's inserted count; rejects with a child's
 * stderr when one fails.
 */
export async function runChildInserters(config: StoreConfig, children = 8, emails = 500): Promise<number[]> {
	const results = await runChildScripts<{ inserted: number }>(CHILD_SCRIPT, () => [JSON.stringify(config), String(emails)], children);
	return results.map((r) => r.inserted);
}

/**
 * Starts `children` processes of `script` (run with tsx) with the arguments `args(child)`; each
 * loads, says "ready" and waits for "go", which all get once every one is ready. Resolves with the
 * JSON each printed on its last line; rejects with a child's stderr when one fails.
 */
export async function runChildScripts<T>(script: string, args: (child: number) => string[], children: number): Promise<T[]> {
	const node = resolve(REPO_ROOT, 'node_modules/.bin/node');
	let ready = 0;
	const procs: ChildProcess[] = [];
	const goWhenAllReady = () => {
		if (++ready === children) for (const p of procs) p.stdin!.end('go\n');
	};
	return Promise.all(
		Array.from(
			{ length: children },
			(_, i) =>
				new Promise<T>((done, fail) => {
					const child = spawn(node, ['--import', 'tsx', script, ...args(i)], {
						cwd: REPO_ROOT,
						stdio: ['pipe', 'pipe', 'pipe'],
					});
					procs.push(child);
					child.stdin!.on('error', () => undefined); // a child that already died
					let out = '';
					let err = '';
					let saidReady = false;
					child.stdout!.on('data', (chunk) => {
						out += chunk;
						if (!saidReady && out.includes('ready\n')) {
							saidReady = true;
							goWhenAllReady();
						}
					});
					child.stderr!.on('data', (chunk) => (err += chunk));
					child.on('error', fail);
					child.on('close', (code) => {
						if (!saidReady) goWhenAllReady(); // let the others go; this one failed
						const last = out.trim().split('\n').pop() ?? '';
						if (code === 0) done(JSON.parse(last) as T);
						else fail(new Error(`child exited with ${code}: ${err}`));
					});
				}),
		),
	);
}
