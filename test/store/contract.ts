// The ReferralStore contract: one suite, run against every backend (sqlite.test.ts,
// postgres.test.ts). Every method of StoreTransaction is exercised here.

import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Participant } from '../../lib/referrals/model';
import {
	closeAllStores,
	openStore,
	StoreClosedError,
	StoreOpenError,
	TransactionStateError,
	type CampaignInsert,
	type ParticipantInsert,
	type ReferralStore,
	type StoreConfig,
	type StoreTransaction,
} from '../../lib/store';

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
		fraudSettings: { blockedEmailDomains: ['spam.test'], maxReferralsPerReferrerPerDay: 5 },
		...overrides,
	};
}

function personRow(campaignId: number, email: string, overrides: Partial<ParticipantInsert> = {}): ParticipantInsert {
	const code = overrides.code ?? `C${uid().toUpperCase()}`;
	return {
		campaignId,
		email,
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
				fraudSettings: { blockedEmailDomains: ['spam.test'], maxReferralsPerReferrerPerDay: 5 },
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
						fraudSettings: { blockedEmailDomains: [], maxReferralsPerReferrerPerDay: 0 },
					},
					'2024-06-01T00:00:00.000Z',
				),
			);
			expect(renamed).toEqual({
				...updated,
				name: 'Renamed',
				linkTemplate: 'https://x.test/{{code}}',
				fraudSettings: { blockedEmailDomains: [], maxReferralsPerReferrerPerDay: 0 },
				updatedAt: '2024-06-01T00:00:00.000Z',
			});
			expect(await tx((t) => t.updateCampaign(987654, { name: 'x' }, LATER))).toBeNull();
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
			const byEmail = await read((t) => t.findParticipantsByEmail(c.id, ['find-a@example.com', 'find-b@example.com', 'none@example.com']));
			expect(byEmail.sort((x, y) => x.id - y.id)).toEqual([a, b]);
			expect(await read((t) => t.findParticipantsByEmail(other.id, ['find-a@example.com']))).toEqual([o]);
			expect(await read((t) => t.findParticipantsByEmail(c.id, []))).toEqual([]);
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
			expect(await read((t) => t.findParticipantsByEmail(c.id, ['erase-ref@example.com']))).toEqual([]);
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
					expect(await t.findParticipantsByEmail(c.id, ['rb@example.com'])).toHaveLength(1);
					throw boom;
				}),
			).rejects.toBe(boom);
			expect(await read((t) => t.getCampaign({ slug }))).toBeNull();
			expect(await read((t) => t.findParticipantsByEmail(campaignId, ['rb@example.com']))).toEqual([]);
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

const REPO_ROOT = resolve(__dirname, '../..');
const CHILD_SCRIPT = resolve(__dirname, 'concurrent-insert.script.ts');

/**
 * Starts `children` processes that open the store behind `config` at the same moment (each
 * loads, says "ready", and waits for "go") and each insert the same `emails` emails (random
 * codes) in transactions. Resolves with each child's inserted count; rejects with a child's
 * stderr when one fails.
 */
export async function runChildInserters(config: StoreConfig, children = 8, emails = 500): Promise<number[]> {
	const node = resolve(REPO_ROOT, 'node_modules/.bin/node');
	let ready = 0;
	const procs: ChildProcess[] = [];
	const goWhenAllReady = () => {
		if (++ready === children) for (const p of procs) p.stdin!.end('go\n');
	};
	return Promise.all(
		Array.from(
			{ length: children },
			() =>
				new Promise<number>((done, fail) => {
					const child = spawn(node, ['--import', 'tsx', CHILD_SCRIPT, JSON.stringify(config), String(emails)], {
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
						if (code === 0) done((JSON.parse(last) as { inserted: number }).inserted);
						else fail(new Error(`child exited with ${code}: ${err}`));
					});
				}),
		),
	);
}
