import { LEGACY_FRAUD_DEFAULTS } from '../../lib/referrals/model';
import { setTimeout as sleep } from 'node:timers/promises';

import pg from 'pg';

import {
	closeAllStores,
	openStore,
	StoreOpenError,
	type ParticipantInsert,
	type PostgresStoreConfig,
	type ReferralStore,
} from '../../lib/store';
import { openPostgresStore } from '../../lib/store/postgres';
import { POSTGRES_MIGRATIONS } from '../../lib/store/postgres/migrations';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';
import { describeStoreContract, runChildInserters } from './contract';
import { NO_REWARD_RULES } from './fixtures';

const NOW = '2024-05-01T10:00:00.000Z';

const campaignRow = (slug: string) => ({
	slug,
	name: slug,
	status: 'active' as const,
	linkTemplate: 'https://x.test/?ref={{code}}',
	codeSettings: { length: 8, prefix: '' },
	fraudSettings: { blockedEmailDomains: [], maxReferralsPerReferrerPerDay: 0, ...LEGACY_FRAUD_DEFAULTS },
	rewardRules: NO_REWARD_RULES,
});

const person = (campaignId: number, email: string, code: string): ParticipantInsert => ({
	campaignId,
	email,
	emailIdentity: email,
	firstName: null,
	lastName: null,
	source: 'direct',
	code,
	link: `https://x.test/?ref=${code}`,
	referredBy: null,
	referralStatus: 'none',
	metadata: {},
});

describePostgres('PostgreSQL store', () => {
	let db: TestDatabase;

	beforeAll(async () => {
		db = await createTestDatabase('store');
	});

	afterAll(async () => {
		await closeAllStores();
		await db?.drop();
	});

	describe('contract', () => {
		describeStoreContract(() => ({
			backend: 'postgres',
			freshConfig: () => db.config(db.freshSchema()),
			openWithMigrations: (config, extra) =>
				openPostgresStore(config as PostgresStoreConfig, { migrations: [...POSTGRES_MIGRATIONS, ...extra] }),
			tableNames: async (config) =>
				(
					await db.query<{ table_name: string }>(
						'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
						[(config as PostgresStoreConfig).schema],
					)
				).map((r) => r.table_name),
			openAtVersion: (config, version) =>
				openPostgresStore(config as PostgresStoreConfig, {
					migrations: POSTGRES_MIGRATIONS.filter((m) => m.version <= version),
				}),
			execute: async (config, sql) => {
				const { host, port, database, user, password, schema } = config as PostgresStoreConfig;
				const client = new pg.Client({ host, port, database, user, password, options: `-c search_path=${schema}` });
				await client.connect();
				try {
					await client.query(sql);
				} finally {
					await client.end();
				}
			},
		}));
	});

	describe('specifics', () => {
		let store: ReferralStore;
		let schema: string;
		let campaignId: number;

		beforeAll(async () => {
			schema = db.freshSchema();
			store = await openStore(db.config(schema));
			campaignId = (await store.transaction((tx) => tx.insertCampaign(campaignRow('specifics'), NOW)))!.id;
		});

		it('keeps every table in the configured schema and records the migration once', async () => {
			await openStore(db.config(schema, { password: 'another password' })).then((s) => s.close());
			const tables = await db.query<{ table_schema: string; table_name: string }>(
				"SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema = $1 ORDER BY table_name",
				[schema],
			);
			expect(tables.map((t) => t.table_name)).toEqual([
				'campaigns',
				'coupons',
				'dashboard_days',
				'dashboard_deltas',
				'dashboard_tallies',
				'events',
				'idempotency_keys',
				'leases',
				'participants',
				'pipedrive_sends',
				'referral_event_times',
				'referral_reviews',
				'referrer_board',
				'referrer_tallies',
				'rewards',
				'schema_migrations',
				'sync_state',
			]);
			// The referrer tallies' trigger functions too (none lands in public).
			const functions = await db.query<{ nspname: string }>(
				"SELECT n.nspname FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace WHERE p.proname LIKE 'referrer\\_tallies\\_%' AND n.nspname IN ($1, 'public')",
				[schema],
			);
			expect(functions.map((f) => f.nspname)).toEqual([schema, schema, schema]);
			const elsewhere = await db.query(
				"SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name IN ('campaigns', 'participants', 'events', 'schema_migrations')",
			);
			expect(elsewhere).toEqual([]);
			const versions = await db.query<{ version: number }>(`SELECT version FROM "${schema}".schema_migrations`);
			expect(versions.map((v) => v.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
		});

		it('returns bigint ids, counts and numeric values as JavaScript numbers', async () => {
			const [p] = await store.transaction((tx) => tx.insertParticipants([person(campaignId, 'num@example.com', 'NUM1')], NOW));
			const updated = await store.transaction((tx) =>
				tx.updateParticipant(p.id, { saleValue: 99.9, pipedrivePersonId: 9007199254740991, pipedriveDealId: 12 }, NOW),
			);
			expect(typeof updated!.id).toBe('number');
			expect(typeof updated!.campaignId).toBe('number');
			expect(updated!.saleValue).toBe(99.9);
			expect(updated!.pipedrivePersonId).toBe(9007199254740991);
			const stats = await store.read((tx) => tx.campaignStats(campaignId, 1));
			expect(typeof stats.participants).toBe('number');
		});

		it('sends insertParticipants as one statement for 1,000 rows', async () => {
			const spy = jest.spyOn(pg.Client.prototype, 'query');
			try {
				const rows = Array.from({ length: 1000 }, (_, i) => person(campaignId, `one${i}@example.com`, `ONE${i}`));
				const inserted = await store.transaction((tx) => tx.insertParticipants(rows, NOW));
				expect(inserted).toHaveLength(1000);
				const inserts = spy.mock.calls.filter(([text]) => /^\s*INSERT INTO participants/i.test(String(text)));
				expect(inserts).toHaveLength(1);
			} finally {
				spy.mockRestore();
			}
		});

		it('sends insertRewards as one statement for 1,000 rows and returns numeric amounts as numbers', async () => {
			const [p] = await store.transaction((tx) => tx.insertParticipants([person(campaignId, 'rewards@example.com', 'RWD1')], NOW));
			const spy = jest.spyOn(pg.Client.prototype, 'query');
			try {
				const rows = Array.from({ length: 1000 }, (_, i) => ({
					campaignId,
					beneficiaryId: p.id,
					beneficiaryRole: 'referrer' as const,
					rule: 'per_referral' as const,
					ordinal: i + 1,
					referralId: i === 0 ? 9007199254740991 : null,
					kind: 'amount' as const,
					amount: i === 0 ? 1234.56 : 10,
					currency: 'EUR',
					payload: { i },
					status: 'due' as const,
					dueAt: NOW,
				}));
				const inserted = await store.transaction((tx) => tx.insertRewards(rows, NOW));
				expect(inserted).toHaveLength(1000);
				const inserts = spy.mock.calls.filter(([text]) => /^\s*INSERT INTO rewards/i.test(String(text)));
				expect(inserts).toHaveLength(1);
				const first = inserted.find((r) => r.ordinal === 1)!;
				expect(first).toMatchObject({ amount: 1234.56, referralId: 9007199254740991, ordinal: 1, attempts: 0, payload: { i: 0 } });
				expect(typeof first.id).toBe('number');
				expect(typeof first.beneficiaryId).toBe('number');
				const pool = await store.read((tx) => tx.couponPool(campaignId));
				expect(pool).toEqual({ total: 0, available: 0 });
			} finally {
				spy.mockRestore();
			}
		});

		it('does not deadlock when concurrent transactions insert overlapping emails in different orders', async () => {
			const own = db.freshSchema();
			const ownStore = await openStore(db.config(own));
			const c = (await ownStore.transaction((tx) => tx.insertCampaign(campaignRow('deadlock'), NOW)))!;
			// Slow every row down (test-only trigger) so the four statements really run side by side.
			await db.query(
				`CREATE FUNCTION "${own}".slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN NEW; END $$`,
			);
			await db.query(
				`CREATE TRIGGER slow_insert BEFORE INSERT ON "${own}".participants FOR EACH ROW EXECUTE FUNCTION "${own}".slow_insert()`,
			);
			const emails = Array.from({ length: 150 }, (_, i) => `dl${String(i).padStart(3, '0')}@example.com`);
			const orders = [
				emails,
				[...emails].reverse(),
				[...emails.filter((_, i) => i % 2), ...emails.filter((_, i) => i % 2 === 0)],
				[...emails.filter((_, i) => i % 2 === 0), ...emails.filter((_, i) => i % 2)].reverse(),
			];
			// all four transactions are open before any of them inserts
			let arrived = 0;
			let go!: () => void;
			const barrier = new Promise<void>((resolve) => (go = resolve));
			const counts = await Promise.all(
				orders.map((order, k) =>
					ownStore.transaction(async (tx) => {
						await tx.getCampaign({ id: c.id });
						if (++arrived === orders.length) go();
						await barrier;
						const rows = order.map((e, i) => person(c.id, e, `DL${k}-${i}`));
						return (await tx.insertParticipants(rows, NOW)).length;
					}),
				),
			);
			expect(counts.reduce((a, b) => a + b, 0)).toBe(150);
			expect(await ownStore.read((tx) => tx.findParticipantsByEmail(c.id, emails, []))).toHaveLength(150);
			await ownStore.close();
		});

		it('a poller reading with afterId sees every event exactly once while writers commit concurrently', async () => {
			const own = await openStore(db.config(db.freshSchema()));
			const c = (await own.transaction((tx) => tx.insertCampaign(campaignRow('events'), NOW)))!;
			let writing = true;
			const writers = Array.from({ length: 8 }, async (_, w) => {
				for (let i = 0; i < 12; i++) {
					await own.transaction(async (tx) => {
						await tx.appendEvents(
							Array.from({ length: 1 + (i % 3) }, (_, k) => ({
								type: 'reward.due' as const,
								campaignId: c.id,
								participantId: w,
								referrerId: i,
								payload: { w, i, k },
							})),
							new Date().toISOString(),
						);
						// keep the transaction open a little after drawing ids
						await sleep(Math.random() * 4);
					});
				}
			});
			const seen: number[] = [];
			let cursor = 0;
			const poll = async () => {
				const batch = await own.read((tx) => tx.listEvents({ afterId: cursor }, 50, 'asc'));
				for (const e of batch) seen.push(e.id);
				if (batch.length) cursor = batch[batch.length - 1].id;
				return batch.length;
			};
			const poller = (async () => {
				while (writing) {
					await poll();
					await sleep(1);
				}
			})();
			await Promise.all(writers);
			writing = false;
			await poller;
			while ((await poll()) > 0);
			const all = (await own.read((tx) => tx.listEvents({}, 10_000, 'asc'))).map((e) => e.id);
			expect(all).toHaveLength(8 * (4 * 1 + 4 * 2 + 4 * 3));
			expect(seen).toEqual(all);
			await own.close();
		});

		it('rejects a transaction whose failed statement was caught inside it, instead of reporting success', async () => {
			const slug = `caught-${Date.now()}`;
			await expect(
				store.transaction(async (tx) => {
					await tx.insertCampaign(campaignRow(slug), NOW);
					await tx.insertParticipants([person(424242, 'fk@example.com', 'FKFAIL')], NOW).catch(() => undefined);
					return 'looks fine';
				}),
			).rejects.toThrow(/rolled back/);
			expect(await store.read((tx) => tx.getCampaign({ slug }))).toBeNull();
		});

		it('keys the store cache on every field, the password included', async () => {
			const config = db.config(schema);
			const a = await openStore(config);
			const b = await openStore({ ...config, password: 'changed' });
			expect(a).toBe(store);
			expect(b).not.toBe(a);
			expect(await openStore({ ...config, password: 'changed' })).toBe(b);
			await b.close();
			expect(await a.read((tx) => tx.getCampaign({ id: campaignId }))).not.toBeNull();
		});

		it('refuses invalid schema names before connecting', async () => {
			for (const bad of ['Referrals', '1abc', 'a-b', 'a"; DROP SCHEMA public; --', '', 'x'.repeat(64)]) {
				await expect(openStore(db.config(bad))).rejects.toThrow(/^cannot open the store: invalid PostgreSQL schema name/);
			}
		});

		it('reports an unreachable server or a missing database without the password', async () => {
			const password = 'S3cret-Pa55word!';
			const refused = openStore(db.config(db.freshSchema(), { port: 1, password }));
			await expect(refused).rejects.toBeInstanceOf(StoreOpenError);
			const err1 = await refused.catch((e: Error) => e);
			expect((err1 as Error).message).toMatch(/^cannot open the store: PostgreSQL postgres@127\.0\.0\.1:1\//);
			expect((err1 as Error).message).not.toContain(password);
			const missing = await openStore(db.config(db.freshSchema(), { database: 'no_such_database_x', password })).catch(
				(e: Error) => e,
			);
			expect(missing).toBeInstanceOf(StoreOpenError);
			expect((missing as Error).message).toMatch(/no_such_database_x/);
			expect((missing as Error).message).not.toContain(password);
		});

		it('asks for TLS when ssl is require or verify', async () => {
			const [{ ssl }] = await db.query<{ ssl: string }>('SHOW ssl');
			for (const mode of ['require', 'verify'] as const) {
				const opening = openStore(db.config(db.freshSchema(), { ssl: mode }));
				if (ssl === 'off') {
					await expect(opening).rejects.toThrow(/^cannot open the store: .*SSL/);
				} else {
					await (await opening.catch(() => null))?.close();
				}
			}
		});

		it('8 processes opening a fresh database at once and inserting the same 500 emails leave exactly 500 rows', async () => {
			const race = await createTestDatabase('race');
			try {
				const config = race.config('referrals');
				const inserted = await runChildInserters(config, 8, 500);
				expect(inserted.reduce((a, b) => a + b, 0)).toBe(500);
				const [{ n }] = await race.query<{ n: string }>('SELECT count(*) AS n FROM referrals.participants');
				expect(Number(n)).toBe(500);
				const [{ d }] = await race.query<{ d: string }>('SELECT count(DISTINCT email) AS d FROM referrals.participants');
				expect(Number(d)).toBe(500);
				const versions = await race.query<{ version: number }>('SELECT version FROM referrals.schema_migrations');
				expect(versions.map((v) => v.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
			} finally {
				await race.drop();
			}
		});
	});
});
