/**
 * Erasure, read back from the raw tables of both backends: after a participant is deleted, no row
 * of any table holds their email, names or sign-up device (event payloads and metadata included; on PostgreSQL no
 * row version left on the table's pages either; SQLite's file bytes: test/store/sqlite-files), while the
 * referrer's counts, the rewards their referral earned and everyone else stay exactly as they were.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

import { deviceFingerprint } from '../../lib/referrals/device';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { ReferralStore } from '../../lib/store/types';
import { createTestDatabase, describePostgres, PG_HOST, PG_PASSWORD, PG_PORT, PG_USER, type TestDatabase } from '../helpers/postgres';

const TEMPLATE = 'https://n8n.example.com/form/refer?ref={{code}}';
const BO = { email: 'bo.private@example.com', firstName: 'Bonifacius', lastName: 'Verysecretname' };
/** Bo's sign-up device: the store keeps only its fingerprint, personal data too. */
const BO_DEVICE = { clientIp: '203.0.113.77', userAgent: 'BoBrowser/1.0' };
const BO_FINGERPRINT = deviceFingerprint(BO_DEVICE.clientIp, BO_DEVICE.userAgent)!;

/** Runs the scenario on a store; `dump` returns every row of every table as text. */
async function erasureScenario(store: ReferralStore, dump: () => Promise<string>): Promise<void> {
	const program = new ReferralProgram(store);
	const campaign = await program.createCampaign(
		{ name: 'Erasure', rewardRules: { perReferral: { every: 1, reward: { kind: 'amount', amount: 25, currency: 'EUR' } } } },
		TEMPLATE,
	);
	const [ann] = await program.enrol(campaign.id, [{ email: 'ann@example.com', firstName: 'Ann' }], { stopOnError: true });
	if (!ann.ok) throw ann.error;
	const code = ann.value.participant.code;
	const registered = await program.registerReferred(
		campaign.id,
		[
			{ code, ...BO, ...BO_DEVICE, metadata: { note: `call ${BO.firstName} at ${BO.email}` } },
			{ code, email: 'cy@example.com', firstName: 'Cy' },
		],
		{ stopOnError: true },
	);
	const [bo, cy] = registered.map((outcome) => {
		if (!outcome.ok) throw outcome.error;
		return outcome.value.participant;
	});
	await program.qualify({ code: bo.code }, { action: 'qualify', saleValue: 100, currency: 'EUR', idempotencyKey: 'order-1' });
	const before = await dump();
	expect(before).toContain(BO.email);
	expect(before).toContain(BO_FINGERPRINT);

	const statsBefore = await program.getCampaignStats(campaign.id);
	const rewardsBefore = await program.rewards.list({ campaignId: campaign.id }, { limit: 100 });
	const cyBefore = await program.getParticipant(campaign.id, { id: cy.id });
	const annBefore = await program.getParticipant(campaign.id, { id: ann.value.participant.id });

	const erased = await program.eraseParticipant(campaign.id, { email: BO.email });
	expect(erased).toMatchObject({ id: bo.id, email: null, firstName: null, lastName: null, metadata: {}, erasedAt: expect.any(String) });

	const raw = await dump();
	for (const personal of [BO.email, BO.firstName, BO.lastName, 'bo.private', BO_FINGERPRINT]) expect({ personal, found: raw.includes(personal) }).toEqual({ personal, found: false });

	const statsAfter = await program.getCampaignStats(campaign.id);
	expect(statsAfter.participants).toBe(statsBefore.participants);
	expect(statsAfter.referrals).toEqual(statsBefore.referrals);
	expect((await program.rewards.list({ campaignId: campaign.id }, { limit: 100 })).map((view) => view.reward)).toEqual(
		rewardsBefore.map((view) => view.reward),
	);
	expect(await program.getParticipant(campaign.id, { id: cy.id })).toEqual(cyBefore);
	expect(await program.getParticipant(campaign.id, { id: ann.value.participant.id })).toEqual(annBefore);
	// Erasing twice changes nothing more; the erased person is no longer found by email.
	expect(await program.eraseParticipant(campaign.id, { id: bo.id })).toEqual(erased);
	await expect(program.getParticipant(campaign.id, { email: BO.email })).rejects.toMatchObject({ kind: 'not_found' });
}

describe('erasure (SQLite)', () => {
	let folder: string;

	beforeEach(() => {
		folder = mkdtempSync(join(tmpdir(), 'erasure-'));
	});

	afterEach(async () => {
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});

	it('leaves no personal data in any table, and every count and reward as it was', async () => {
		const path = join(folder, 'referrals.sqlite');
		const store = await openStore({ backend: 'sqlite', path });
		await erasureScenario(store, async () => {
			const db = new DatabaseSync(path, { readOnly: true });
			try {
				const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>;
				expect(tables.length).toBeGreaterThanOrEqual(6);
				return tables.map(({ name }) => JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all())).join('\n');
			} finally {
				db.close();
			}
		});
	});
});

describePostgres('erasure (PostgreSQL)', () => {
	let db: TestDatabase;

	beforeAll(async () => {
		db = await createTestDatabase('erasure');
	});

	afterAll(async () => {
		await closeAllStores();
		await db?.drop();
	});

	it('leaves no personal data in any table, and every count and reward as it was', async () => {
		const store = await openStore({
			backend: 'postgres',
			host: PG_HOST,
			port: PG_PORT,
			database: db.database,
			user: PG_USER,
			password: PG_PASSWORD,
			schema: 'referrals',
			ssl: 'disable',
		});
		await erasureScenario(store, async () => {
			const tables = await db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'referrals'");
			expect(tables.length).toBeGreaterThanOrEqual(6);
			const rows = await Promise.all(tables.map(({ table_name }) => db.query(`SELECT * FROM referrals."${table_name}"`)));
			// Every row version still on the participants table's pages, dead ones too (pageinspect):
			// the store vacuums the table after an erasure, so the old version is gone from it.
			await db.query('CREATE EXTENSION IF NOT EXISTS pageinspect');
			const versions = await db.query<{ data: string }>(
				`SELECT encode(t_data, 'escape') AS data FROM generate_series(0, pg_relation_size('referrals.participants') / current_setting('block_size')::int - 1) AS page,
					LATERAL heap_page_items(get_raw_page('referrals.participants', page::int)) WHERE t_data IS NOT NULL`,
			);
			expect(versions.length).toBeGreaterThanOrEqual(3);
			return [...rows, versions].map((table) => JSON.stringify(table)).join('\n');
		});
	});
});
