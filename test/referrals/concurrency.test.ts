import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { StoreConfig } from '../../lib/store/types';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const PROCESSES = 8;
const EMAILS = Array.from({ length: 500 }, (_, i) => `person${i}@example.com`);

/**
 * 8 processes open the same store and enrol the same 500 emails in their own random orders,
 * starting at the same moment. (Racing migrations is the store suite's concurrency test.)
 */
async function enrolmentRace(config: StoreConfig) {
	const setup = new ReferralProgram(await openStore(config));
	const campaign = await setup.createCampaign({ name: 'Race' }, 'https://example.com/r?ref={{code}}');
	await closeAllStores();
	const startAt = Date.now() + 4000;
	const outputs = await Promise.all(
		Array.from({ length: PROCESSES }, () =>
			run(
				join(ROOT, 'node_modules/.bin/node'),
				['--import', 'tsx', join(__dirname, 'enrol-worker.ts'), JSON.stringify(config), String(campaign.id), JSON.stringify(EMAILS), String(startAt)],
				{ cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
			),
		),
	);
	const codesPerProcess = outputs.map(({ stdout }) => JSON.parse(stdout) as Record<string, string>);
	const store = await openStore(config);
	const participants = await store.read((tx) => tx.listParticipants(campaign.id, {}, { limit: 10_000 }));
	const events = await store.read((tx) => tx.listEvents({ types: ['participant.enrolled'] }, 10_000, 'asc'));
	return { codesPerProcess, participants, events };
}

function expectOneParticipantPerEmail(result: Awaited<ReturnType<typeof enrolmentRace>>) {
	expect(result.participants).toHaveLength(EMAILS.length);
	expect(new Set(result.participants.map((p) => p.email))).toEqual(new Set(EMAILS));
	expect(new Set(result.participants.map((p) => p.code)).size).toBe(EMAILS.length);
	expect(result.events).toHaveLength(EMAILS.length);
	const stored = Object.fromEntries(result.participants.map((p) => [p.email, p.code]));
	for (const codes of result.codesPerProcess) expect(codes).toEqual(stored);
}

describe('8 processes enrolling the same 500 emails at once', () => {
	afterEach(async () => {
		await closeAllStores();
	});

	it('on a SQLite file: 500 participants, one code each, the same code in every process', async () => {
		const folder = mkdtempSync(join(tmpdir(), 'race-'));
		try {
			expectOneParticipantPerEmail(await enrolmentRace({ backend: 'sqlite', path: join(folder, 'race.sqlite') }));
		} finally {
			rmSync(folder, { recursive: true, force: true });
		}
	}, 120_000);

	describePostgres('on PostgreSQL', () => {
		let database: TestDatabase;

		beforeAll(async () => {
			database = await createTestDatabase('race');
		});

		afterAll(async () => {
			await closeAllStores();
			await database?.drop();
		});

		it('500 participants, one code each, the same code in every process', async () => {
			expectOneParticipantPerEmail(await enrolmentRace(database.config(database.freshSchema())));
		}, 120_000);
	});
});
