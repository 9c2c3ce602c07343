/**
 * `npm start`: the demo. A real n8n on http://localhost:5678 with this package installed the way
 * users get it (a community package), a Referral Store credential over an SQLite file, and the
 * bundled workflows imported.
 *
 *   1. build + pack this repository (npm run build, npm pack)
 *   2. find or install n8n 2.41.0 in the cache (first time ~6 min and 2.9 GB; see scripts/n8n/install.ts)
 *   3. install the package into the demo user folder `.n8n-demo/` (kept between runs: the owner
 *      account, workflows, executions and the referral data survive restarts)
 *   4. import the store credential (and the bundled workflows that are new or changed)
 *   5. start n8n and wait for Ctrl-C
 *
 * Env: PORT (default 5678), N8N_VERSION (default 2.41.0), N8N_CACHE_DIR, DEMO_WORKFLOWS_DIR (default
 * workflows/), DEMO_VERBOSE=1 (echo n8n's log; it is always written to .n8n-demo/n8n.log).
 * Reset everything with `rm -rf .n8n-demo`.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_N8N_VERSION, ensureN8n } from './n8n/install';
import { isPortInUse, n8nCli, startN8n, tail, writeJson, type N8nInstance } from './n8n/instance';
import { installCommunityPackage, packPackage, PACKAGE_NAME } from './n8n/package';
import { formatDuration, REPO_ROOT } from './n8n/proc';

const DEMO_DIR = path.join(REPO_ROOT, '.n8n-demo');
const WORKFLOWS_DIR = path.resolve(process.env.DEMO_WORKFLOWS_DIR || path.join(REPO_ROOT, 'workflows'));
const STATE_FILE = path.join(DEMO_DIR, 'demo-state.json');
const PID_FILE = path.join(DEMO_DIR, 'demo.pid');
const LOG_FILE = path.join(DEMO_DIR, 'n8n.log');

/** The credential the bundled workflows use (they reference it by this id and name). */
export const DEMO_STORE_CREDENTIAL = { id: 'demoReferralStore', name: 'Referral Store (demo SQLite)' };
const SQLITE_PATH = path.join(DEMO_DIR, '.n8n', 'referrals.sqlite');

interface DemoState {
	/** sha256 of each workflow file as last imported, by file name. */
	workflows: Record<string, string>;
}

function say(message = ''): void {
	process.stdout.write(`${message}\n`);
}

async function main(): Promise<void> {
	const started = Date.now();
	const port = Number(process.env.PORT || 5678);
	if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`PORT "${process.env.PORT}" is not a port`);
	fs.mkdirSync(DEMO_DIR, { recursive: true });
	claimDemoFolder();
	if (await isPortInUse(port)) {
		throw new Error(`port ${port} is already in use on 127.0.0.1 (another n8n?). Stop it, or run with PORT=<another port>.`);
	}

	say(`\n=== ${PACKAGE_NAME}: demo ===\n`);
	say('1/5 building and packing the package ...');
	const packDir = fs.mkdtempSync(path.join(os.tmpdir(), `${PACKAGE_NAME}-demo-`));
	let n8nDir: string;
	try {
		const tarball = await packPackage({ destination: packDir });

		const version = process.env.N8N_VERSION || DEFAULT_N8N_VERSION;
		say(`2/5 n8n ${version} (installed once into the cache; the first time takes ~6 min and 2.9 GB) ...`);
		n8nDir = await ensureN8n(version);

		say(`3/5 installing ${PACKAGE_NAME} as a community package into ${path.relative(REPO_ROOT, DEMO_DIR)}/ ...`);
		await installCommunityPackage(DEMO_DIR, tarball);
	} finally {
		fs.rmSync(packDir, { recursive: true, force: true });
	}

	say('4/5 importing the Referral Store credential and the bundled workflows ...');
	await importDemoData(n8nDir);

	// ── Extension point: the Pipedrive sandbox ─────────────────────────────────────────────────
	// Start the sandbox (sandbox/) here, before n8n, stop it in runUntilStopped, and import a
	// `pipedriveReferralApi` credential whose base URL points at it (see importDemoData).
	// ──────────────────────────────────────────────────────────────────────────────────────────

	say(`5/5 starting n8n on http://localhost:${port} (log: ${path.relative(REPO_ROOT, LOG_FILE)}) ...`);
	fs.writeFileSync(LOG_FILE, '');
	const instance = await startN8n({
		n8nDir,
		userFolder: DEMO_DIR,
		port,
		host: 'localhost',
		logFile: LOG_FILE,
		echo: process.env.DEMO_VERBOSE === '1' ? '[n8n] ' : undefined,
		timeoutMs: 180_000,
	});
	printNextSteps(port, Date.now() - started);
	await runUntilStopped(instance);
}

/** Refuses to run twice on the same folder (both would write n8n's SQLite database). */
function claimDemoFolder(): void {
	if (fs.existsSync(PID_FILE)) {
		const pid = Number(fs.readFileSync(PID_FILE, 'utf8'));
		let alive = false;
		try {
			if (pid > 0) process.kill(pid, 0);
			alive = pid > 0;
		} catch {
			alive = false;
		}
		if (alive && pid !== process.pid) {
			throw new Error(`the demo is already running (pid ${pid}); stop it first (Ctrl-C in its terminal)`);
		}
	}
	fs.writeFileSync(PID_FILE, String(process.pid));
	process.on('exit', () => {
		try {
			if (fs.readFileSync(PID_FILE, 'utf8') === String(process.pid)) fs.unlinkSync(PID_FILE);
		} catch {
			/* already gone */
		}
	});
}

async function importDemoData(n8nDir: string): Promise<void> {
	const importDir = path.join(DEMO_DIR, 'import');
	fs.rmSync(importDir, { recursive: true, force: true });

	// The store credential, imported on every start (an upsert by id): it keeps pointing at this
	// checkout's .n8n-demo/ even if the repository moved. Its data is plain JSON; n8n encrypts it.
	const credentials = [
		{
			...DEMO_STORE_CREDENTIAL,
			type: 'referralStoreApi',
			data: { backend: 'sqlite', sqlitePath: SQLITE_PATH },
		},
		// ── Extension point: more demo credentials (the Pipedrive sandbox's) go here. ──
	];
	const credentialsFile = writeJson(path.join(importDir, 'credentials.json'), credentials);
	await cli(n8nDir, ['import:credentials', `--input=${credentialsFile}`], /Successfully imported/);

	// ── Extension point: the bundled workflows ────────────────────────────────────────────────
	// Every workflows/*.json is imported when it is new or changed since the last import (so edits
	// made in the editor survive restarts until the file itself changes). A file whose `"active"` is
	// true is then published (activated): n8n 2.x ignores `active` on import.
	const state = readState();
	const files = fs.existsSync(WORKFLOWS_DIR)
		? fs.readdirSync(WORKFLOWS_DIR).filter((name) => name.endsWith('.json')).sort()
		: [];
	const changed = files.filter((name) => state.workflows[name] !== hashFile(path.join(WORKFLOWS_DIR, name)));
	if (files.length === 0) {
		say('    no workflows/*.json yet: nothing to import');
	} else if (changed.length === 0) {
		say(`    ${files.length} bundled workflow(s) unchanged since the last import`);
	} else {
		const dir = path.join(importDir, 'workflows');
		fs.mkdirSync(dir, { recursive: true });
		for (const name of changed) fs.copyFileSync(path.join(WORKFLOWS_DIR, name), path.join(dir, name));
		await cli(n8nDir, ['import:workflow', '--separate', `--input=${dir}`], /Successfully imported/);
		for (const name of changed) {
			const workflow = JSON.parse(fs.readFileSync(path.join(WORKFLOWS_DIR, name), 'utf8')) as {
				id?: string;
				active?: boolean;
			};
			if (workflow.active === true && workflow.id) {
				await cli(n8nDir, ['publish:workflow', `--id=${workflow.id}`], /Publishing workflow/);
			}
			state.workflows[name] = hashFile(path.join(WORKFLOWS_DIR, name));
		}
		writeJson(STATE_FILE, state);
		say(`    imported ${changed.length} workflow(s): ${changed.join(', ')}`);
	}
	// ─────────────────────────────────────────────────────────────────────────────────────────
}

async function cli(n8nDir: string, args: string[], success: RegExp): Promise<void> {
	const started = Date.now();
	const result = await n8nCli(n8nDir, DEMO_DIR, args);
	const output = `${result.stdout}\n${result.stderr}`;
	if (!success.test(output) || /An error occurred|Error updating database/i.test(output)) {
		throw new Error(`n8n ${args[0]} did not succeed:\n${tail(output, 30)}`);
	}
	say(`    n8n ${args.join(' ').replace(REPO_ROOT + path.sep, '')} (${formatDuration(Date.now() - started)})`);
}

function readState(): DemoState {
	try {
		return { workflows: {}, ...(JSON.parse(fs.readFileSync(STATE_FILE, 'utf8')) as Partial<DemoState>) };
	} catch {
		return { workflows: {} };
	}
}

function hashFile(file: string): string {
	return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function printNextSteps(port: number, elapsedMs: number): void {
	const url = `http://localhost:${port}`;
	say(`\nn8n is running (ready in ${formatDuration(elapsedMs)}): ${url}\n`);
	say('Next:');
	say(`  1. Open ${url} in your browser.`);
	say('  2. The first time, n8n asks you to set up the owner account (any email and password; it');
	say('     stays on this machine, in .n8n-demo/). Afterwards you sign in with it.');
	say('  3. Add a node and search "Referral Campaign" (the package\'s nodes are installed as the community');
	say(`     package ${PACKAGE_NAME}). Its credential "${DEMO_STORE_CREDENTIAL.name}" is ready:`);
	say(`     an SQLite file at ${path.relative(REPO_ROOT, SQLITE_PATH)}.`);
	say('  4. Start with: Referral Campaign → Campaign → Create, then Participant → Enrol.');
	say('');
	say(`Data lives in ${path.relative(REPO_ROOT, DEMO_DIR)}/ (reset: stop, then rm -rf .n8n-demo). Log: ${path.relative(REPO_ROOT, LOG_FILE)}`);
	say('Stop with Ctrl-C.\n');
}

async function runUntilStopped(instance: N8nInstance): Promise<void> {
	let stopping = false;
	const stop = async (signal: string) => {
		if (stopping) return;
		stopping = true;
		say(`\n${signal}: stopping n8n ...`);
		await instance.stop(20_000);
		say('n8n stopped.');
		process.exit(0);
	};
	process.on('SIGINT', () => void stop('Ctrl-C'));
	process.on('SIGTERM', () => void stop('SIGTERM'));
	process.on('SIGHUP', () => void stop('SIGHUP'));
	const code = await instance.exited;
	if (!stopping) {
		say(`\nn8n exited on its own (code ${code}). Last lines of ${path.relative(REPO_ROOT, LOG_FILE)}:\n`);
		say(tail(instance.logs(), 40));
		process.exit(code || 1);
	}
}

main().catch((error) => {
	process.stderr.write(`\nnpm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
	process.exit(1);
});
