// Jest hooks shared by the suites that sync a fresh referral store with the Pipedrive sandbox: one
// sandbox per file, reset (and its faults off) before each test; a new SQLite store per test; after
// each test, no request that broke Pipedrive's OpenAPI files, and the store closed and deleted.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { startSandbox, type Sandbox } from '../../sandbox';

/** Registers the hooks; `use` gets the sandbox once, and each test's program before the test's own beforeEach runs. */
export function useSandboxAndStore(folderPrefix: string, use: (env: { sandbox: Sandbox; program?: ReferralProgram }) => void): void {
	let sandbox: Sandbox;
	let folder: string;
	beforeAll(async () => {
		sandbox = await startSandbox({ rateLimit: 0 });
		use({ sandbox });
	});
	afterAll(async () => {
		await sandbox.close();
	});
	beforeEach(async () => {
		sandbox.reset();
		sandbox.setFaults(null);
		folder = mkdtempSync(join(tmpdir(), folderPrefix));
		use({ sandbox, program: new ReferralProgram(await openStore({ backend: 'sqlite', path: join(folder, 'r.sqlite') })) });
	});
	afterEach(async () => {
		expect(sandbox.violations()).toEqual([]);
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});
}
