import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import type { Campaign, Participant } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { ReferralStore, StoreConfig } from '../../lib/store/types';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');

interface Fixture {
	store: ReferralStore;
	program: ReferralProgram;
	campaign: Campaign;
	referrer: Participant;
	friend: Participant;
}

async function fixture(config: StoreConfig): Promise<Fixture> {
	const store = await openStore(config);
	const program = new ReferralProgram(store);
	const campaign = await program.createCampaign({ name: `Q ${Math.random()}` }, 'https://x.example/r?ref={{code}}');
	const [enrolled] = await program.enrol(campaign.id, [{ email: 'ann@example.com', firstName: 'Ann' }], { stopOnError: true });
	if (!enrolled.ok) throw enrolled.error;
	const [registered] = await program.registerReferred(campaign.id, [{ code: enrolled.value.participant.code, email: 'bo@example.com' }], { stopOnError: true });
	if (!registered.ok) throw registered.error;
	return { store, program, campaign, referrer: enrolled.value.participant, friend: registered.value.participant };
}

async function qualificationEvents(f: Fixture) {
	return await f.store.read((tx) => tx.listEvents({ types: ['referral.qualified', 'referral.unqualified'] }, 10_000, 'asc'));
}

function describeQualification(name: string, config: () => StoreConfig) {
	describe(name, () => {
		let f: Fixture;

		beforeEach(async () => {
			f = await fixture(config());
		});

		afterEach(async () => {
			await closeAllStores();
		});

		it('moves pending → qualified → unqualified → qualified, with one event per change', async () => {
			const first = await f.program.qualify({ code: f.friend.code.toLowerCase() }, { action: 'qualify', saleValue: '250.50', currency: 'eur', via: 'code' });
			expect(first).toMatchObject({ previousStatus: 'pending', status: 'qualified', changed: true, duplicate: false });
			expect(first.participant).toMatchObject({ referralStatus: 'qualified', saleValue: 250.5, saleCurrency: 'EUR' });
			expect(first.participant.qualifiedAt).not.toBeNull();
			expect(first.referrer).toMatchObject({ id: f.referrer.id, email: 'ann@example.com' });
			const again = await f.program.qualify({ code: f.friend.code }, { action: 'qualify' });
			expect(again).toMatchObject({ previousStatus: 'qualified', status: 'qualified', changed: false });
			const refund = await f.program.qualify({ email: 'BO@example.com', campaignId: f.campaign.id }, { action: 'unqualify' });
			expect(refund).toMatchObject({ previousStatus: 'qualified', status: 'unqualified', changed: true });
			const converted = await f.program.qualify({ id: f.friend.id }, { action: 'qualify' });
			expect(converted).toMatchObject({ previousStatus: 'unqualified', status: 'qualified', changed: true });
			const events = await qualificationEvents(f);
			expect(events.map((e) => [e.type, e.payload.previousStatus])).toEqual([
				['referral.qualified', 'pending'],
				['referral.unqualified', 'qualified'],
				['referral.qualified', 'unqualified'],
			]);
			expect(events[0]).toMatchObject({ participantId: f.friend.id, referrerId: f.referrer.id, payload: { saleValue: 250.5, currency: 'EUR', via: 'code' } });
			const stats = await f.program.getCampaignStats(f.campaign.id);
			expect(stats.referrals).toMatchObject({ qualified: 1, pending: 0 });
		});

		it('finds referrals by Pipedrive deal and lead ids', async () => {
			await f.program.linkPipedrive(f.friend.id, { dealId: 77, leadId: 'adf21080-0e10-11eb-879b-05d71fb426ec' });
			expect((await f.program.qualify({ pipedriveDealId: '77' }, { action: 'qualify' })).changed).toBe(true);
			expect((await f.program.qualify({ pipedriveLeadId: 'ADF21080-0E10-11EB-879B-05D71FB426EC' }, { action: 'unqualify' })).changed).toBe(true);
		});

		it('refuses unknown codes and people who were not referred, saying which', async () => {
			await expect(f.program.qualify({ code: 'NOSUCHCODE' }, { action: 'qualify' })).rejects.toMatchObject({
				kind: 'not_found',
				field: 'code',
				message: 'No referral has the referral code "NOSUCHCODE"',
			});
			await expect(f.program.qualify({ code: f.referrer.code }, { action: 'qualify' })).rejects.toMatchObject({
				kind: 'not_a_referral',
				message: `The referral code "${f.referrer.code}" belongs to a participant who was not referred`,
			});
			await expect(f.program.qualify({ pipedriveDealId: 5 }, { action: 'qualify' })).rejects.toMatchObject({ kind: 'not_found', field: 'pipedriveDealId' });
			await expect(f.program.qualify({ code: f.friend.code }, { action: 'qualify', saleValue: 'lots' })).rejects.toMatchObject({ field: 'saleValue' });
			await expect(f.program.qualify({ code: f.friend.code }, { action: 'qualify', saleValue: 5, currency: 'euro' })).rejects.toMatchObject({ field: 'currency' });
			expect(await qualificationEvents(f)).toEqual([]);
		});

		it('applies an idempotency key once: a retried delivery cannot undo a later change', async () => {
			await f.program.qualify({ code: f.friend.code }, { action: 'qualify', idempotencyKey: 'pipedrive:won:1' });
			await f.program.qualify({ code: f.friend.code }, { action: 'unqualify', idempotencyKey: 'pipedrive:lost:2' });
			const retried = await f.program.qualify({ code: f.friend.code }, { action: 'qualify', idempotencyKey: 'pipedrive:won:1' });
			expect(retried).toMatchObject({ changed: false, duplicate: true, status: 'unqualified' });
			expect(await qualificationEvents(f)).toHaveLength(2);
		});

		it.each([
			['without', ''],
			['with', 'pipedrive:event:9001'],
		])('200 deliveries of one stage change, 50 at a time, %s an event id: one qualification, one event', async (_label, key) => {
			let changed = 0;
			for (let sent = 0; sent < 200; sent += 50) {
				const results = await Promise.all(
					Array.from({ length: 50 }, () => f.program.qualify({ code: f.friend.code }, { action: 'qualify', idempotencyKey: key || undefined })),
				);
				changed += results.filter((r) => r.changed).length;
			}
			expect(changed).toBe(1);
			expect(await qualificationEvents(f)).toHaveLength(1);
		});

		it('4 processes delivering the same qualification 50 times each, 25 at a time: one qualification, one event', async () => {
			const startAt = Date.now() + 4000;
			const outputs = await Promise.all(
				Array.from({ length: 4 }, () =>
					run(
						join(ROOT, 'node_modules/.bin/node'),
						['--import', 'tsx', join(__dirname, 'qualify-worker.ts'), JSON.stringify(config()), f.friend.code, 'pipedrive:event:77', '50', '25', String(startAt)],
						{ cwd: ROOT },
					),
				),
			);
			expect(outputs.map(({ stdout }) => Number(stdout)).reduce((a, b) => a + b, 0)).toBe(1);
			expect(await qualificationEvents(f)).toHaveLength(1);
			expect((await f.program.getParticipant(f.campaign.id, { id: f.friend.id })).referralStatus).toBe('qualified');
		}, 60_000);
	});
}

const folder = mkdtempSync(join(tmpdir(), 'qualify-'));
let sqliteFile = 0;
const sqliteConfigs = new Map<string, StoreConfig>();
describeQualification('qualification on SQLite', () => {
	const name = expect.getState().currentTestName ?? '';
	if (!sqliteConfigs.has(name)) sqliteConfigs.set(name, { backend: 'sqlite', path: join(folder, `q${++sqliteFile}.sqlite`) });
	return sqliteConfigs.get(name)!;
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describePostgres('qualification on PostgreSQL', () => {
	let database: TestDatabase;
	const schemas = new Map<string, string>();
	beforeAll(async () => {
		database = await createTestDatabase('qualify');
	});
	afterAll(async () => {
		await closeAllStores();
		await database?.drop();
	});
	describeQualification('store', () => {
		const name = expect.getState().currentTestName ?? '';
		if (!schemas.has(name)) schemas.set(name, database.freshSchema());
		return database.config(schemas.get(name)!);
	});
});
