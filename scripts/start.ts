/**
 * `npm start`: the demo. A real n8n on http://localhost:5678 with this package installed the way
 * users get it (a community package), every bundled workflow imported and published, the Pipedrive
 * sandbox standing in for Pipedrive (or real Pipedrive), and the referral store on embedded SQLite.
 *
 *   1. build + pack this repository (npm run build, npm pack), unless its sources are unchanged
 *      since the package was last installed into the demo
 *   2. find or install n8n 2.41.0 in the cache, from its committed lock, while packing (first time
 *      about 4 min and 2.7 GB; see scripts/n8n/install.ts)
 *   3. install the package into the demo user folder `.n8n-demo/` (kept between runs: the owner
 *      account, workflows, executions and the referral data survive restarts)
 *   4. start the Pipedrive sandbox on :4010 (an account without the referral fields), unless
 *      PIPEDRIVE_API_TOKEN and PIPEDRIVE_COMPANY_DOMAIN are set (then real Pipedrive is used), and
 *      the mail catcher the demo's email workflows send to (its page on :4011)
 *   5. import the credentials and the bundled workflows that are new or changed, publish them
 *   6. start n8n, set up the owner account, run the sync workflow once (its Set Up Fields creates the
 *      referral fields Pipedrive lacks), print what to do next, and wait for Ctrl-C
 *
 * Env: PORT (default 5678), SANDBOX_PORT (default 4010), MAIL_PORT + MAIL_UI_PORT (the mail catcher, default 2525 and 4011), PIPEDRIVE_API_TOKEN +
 * PIPEDRIVE_COMPANY_DOMAIN (real Pipedrive), WEBHOOK_URL (the public URL Pipedrive can reach n8n
 * at, for real Pipedrive), N8N_VERSION (only the locked version, 2.41.0; `npm run n8n:lock -- <v>` moves it), N8N_CACHE_DIR, DEMO_VERBOSE=1 (echo n8n's
 * log; it is always written to .n8n-demo/n8n.log). Reset everything with `rm -rf .n8n-demo`.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startSandbox, type Sandbox } from '../sandbox';
import { startMailCatcher, type MailCatcher } from './mail-catcher';
import {
	BUNDLED_CREDENTIALS,
	DASHBOARD_USER,
	BUNDLED_PATHS,
	bundledCredentialFiles,
	bundledWorkflows,
	demoMailCredentialFile,
	QUALIFY_KEY_HEADER,
	withDemoMail,
	withStampSecret,
	WORKFLOWS_DIR,
	type PipedriveSettings,
} from './n8n/bundle';
import { DEFAULT_N8N_VERSION, ensureN8n } from './n8n/install';
import { isPortInUse, n8nCli, startN8n, tail, writeJson, type N8nInstance } from './n8n/instance';
import { installCommunityPackage, packPackage, PACKAGE_NAME } from './n8n/package';
import { formatDuration, REPO_ROOT } from './n8n/proc';
import { executeWorkflowNow, signIn } from './n8n/run-workflow';

const DEMO_DIR = path.join(REPO_ROOT, '.n8n-demo');
const STATE_FILE = path.join(DEMO_DIR, 'demo-state.json');
const PID_FILE = path.join(DEMO_DIR, 'demo.pid');
const LOG_FILE = path.join(DEMO_DIR, 'n8n.log');
const SQLITE_PATH = path.join(DEMO_DIR, '.n8n', 'referrals.sqlite');
const N8N_DATABASE = path.join(DEMO_DIR, '.n8n', 'database.sqlite');
const INSTALLED_PACKAGE = path.join(DEMO_DIR, '.n8n', 'nodes', 'node_modules', PACKAGE_NAME, 'package.json');
const OWNER_EMAIL = 'demo@example.com';
/** What the packed package is made of: when none of it changed, the installed copy is current. */
const PACKAGE_SOURCES = ['credentials', 'icons', 'lib', 'nodes', 'workflows', 'gulpfile.js', 'index.js', 'package.json', 'package-lock.json', 'tsconfig.build.json', 'tsconfig.json'];

interface DemoState {
	/** sha256 of each workflow file as last imported, by file name. */
	workflows: Record<string, string>;
	/** sha256 of the credentials as last imported, and of the package's sources as last installed. */
	credentials?: string;
	packageSources?: string;
	/** The qualify webhook's header key, the portal secret and the owner's password, made on the first start. */
	qualifyKey: string;
	portalSecret: string;
	/** Signs the forms' render-time stamps (Check Form Submission → Stamp Secret). */
	formStampSecret: string;
	ownerPassword: string;
	/** The program dashboard's Basic Auth password: DASHBOARD_PASSWORD, else made on the first start. */
	dashboardPassword: string;
}

function say(message = ''): void {
	process.stdout.write(`${message}\n`);
}

function portFrom(name: string, fallback: number): number {
	const port = Number(process.env[name] || fallback);
	if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`${name} "${process.env[name]}" is not a port`);
	return port;
}

async function main(): Promise<void> {
	const started = Date.now();
	const port = portFrom('PORT', 5678);
	const realPipedrive = Boolean(process.env.PIPEDRIVE_API_TOKEN && process.env.PIPEDRIVE_COMPANY_DOMAIN);
	const sandboxPort = portFrom('SANDBOX_PORT', 4010);
	const mailPort = portFrom('MAIL_PORT', 2525);
	const mailUiPort = portFrom('MAIL_UI_PORT', 4011);
	fs.mkdirSync(DEMO_DIR, { recursive: true });
	claimDemoFolder();
	const ports = [['PORT', port], ['MAIL_PORT', mailPort], ['MAIL_UI_PORT', mailUiPort], ...(realPipedrive ? [] : [['SANDBOX_PORT', sandboxPort]])];
	for (const [name, taken] of ports as Array<[string, number]>) {
		if (await isPortInUse(taken)) {
			throw new Error(`port ${taken} is already in use on 127.0.0.1 (another demo?). Stop it, or run with ${name}=<another port>.`);
		}
	}
	const state = readState();

	say(`\n=== ${PACKAGE_NAME}: demo ===\n`);
	const version = process.env.N8N_VERSION || DEFAULT_N8N_VERSION;
	const sources = hashSources();
	let n8nDir: string;
	if (state.packageSources === sources && fs.existsSync(INSTALLED_PACKAGE)) {
		// A later start of the same checkout: building and reinstalling would give the same files.
		say(`1/6 ${PACKAGE_NAME} is unchanged since it was installed into ${path.relative(REPO_ROOT, DEMO_DIR)}/: kept`);
		say(`2/6 n8n ${version} from the cache ...`);
		say('3/6 (nothing to install)');
		n8nDir = await ensureN8n(version);
	} else {
		say('1/6 building and packing the package ...');
		say(`2/6 meanwhile, n8n ${version} (installed once into the cache from its lock; the first time about 4 min and 2.7 GB) ...`);
		const packDir = fs.mkdtempSync(path.join(os.tmpdir(), `${PACKAGE_NAME}-demo-`));
		try {
			// Independent, so at the same time: on a fresh machine the pack is done long before n8n.
			const [tarball, installed] = await Promise.all([packPackage({ destination: packDir }), ensureN8n(version)]);
			n8nDir = installed;
			say(`3/6 installing ${PACKAGE_NAME} as a community package into ${path.relative(REPO_ROOT, DEMO_DIR)}/ ...`);
			await installCommunityPackage(DEMO_DIR, tarball);
			state.packageSources = sources;
		} finally {
			fs.rmSync(packDir, { recursive: true, force: true });
		}
	}

	let sandbox: Sandbox | undefined;
	let pipedrive: PipedriveSettings;
	if (realPipedrive) {
		say(`4/6 using real Pipedrive: ${process.env.PIPEDRIVE_COMPANY_DOMAIN}.pipedrive.com`);
		pipedrive = { apiToken: process.env.PIPEDRIVE_API_TOKEN!, companyDomain: process.env.PIPEDRIVE_COMPANY_DOMAIN! };
	} else {
		say(`4/6 starting the Pipedrive sandbox on http://localhost:${sandboxPort} (set PIPEDRIVE_API_TOKEN and PIPEDRIVE_COMPANY_DOMAIN for real Pipedrive) ...`);
		// Like a new Pipedrive account: no referral fields until the sync workflow's Set Up Fields makes them.
		sandbox = await startSandbox({ port: sandboxPort, seed: { referralFields: false } });
		pipedrive = { apiToken: sandbox.apiToken, companyDomain: 'referral-sandbox', baseUrl: sandbox.url };
	}

	let mail: MailCatcher | undefined;
	try {
		// The demo's email workflows send here; the files themselves keep email off until SMTP is set.
		mail = await startMailCatcher({ smtpPort: mailPort, httpPort: mailUiPort });
		say(`    mail catcher: SMTP on localhost:${mail.smtpPort}, messages at ${mail.url}`);
		say('5/6 importing the credentials and the bundled workflows ...');
		await importDemoData(n8nDir, state, pipedrive, mail.smtpPort);

		say(`6/6 starting n8n on http://localhost:${port} (log: ${path.relative(REPO_ROOT, LOG_FILE)}) ...`);
		fs.writeFileSync(LOG_FILE, '');
		const instance = await startN8n({
			n8nDir,
			userFolder: DEMO_DIR,
			port,
			host: 'localhost',
			env: process.env.WEBHOOK_URL ? { WEBHOOK_URL: process.env.WEBHOOK_URL } : {},
			logFile: LOG_FILE,
			echo: process.env.DEMO_VERBOSE === '1' ? '[n8n] ' : undefined,
			timeoutMs: 180_000,
		});
		const ownerReady = await setUpOwner(instance, state);
		await setUpPipedriveFields(instance, ownerReady ? state : null);
		printNextSteps({ port, sandbox, mail, ownerReady, state, elapsedMs: Date.now() - started });
		await runUntilStopped(instance, sandbox, mail);
	} catch (error) {
		await sandbox?.close();
		await mail?.close();
		throw error;
	}
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

async function importDemoData(n8nDir: string, state: DemoState, pipedrive: PipedriveSettings, smtpPort: number): Promise<void> {
	const importDir = path.join(DEMO_DIR, 'import');
	fs.rmSync(importDir, { recursive: true, force: true });

	// Imported (an upsert by id) whenever they differ from the last import: the store points at this
	// checkout's .n8n-demo/, and Pipedrive at the sandbox or at the real account given this time.
	// Plain JSON; n8n encrypts it.
	const credentials = [
		...bundledCredentialFiles({
			store: { backend: 'sqlite', sqlitePath: SQLITE_PATH },
			pipedrive,
			qualifyKey: state.qualifyKey,
			portalSecret: state.portalSecret,
			dashboardPassword: state.dashboardPassword,
		}),
		demoMailCredentialFile(smtpPort),
	];
	const credentialsHash = createHash('sha256').update(JSON.stringify(credentials)).digest('hex');
	if (state.credentials === credentialsHash) {
		say(`    ${credentials.length} credentials unchanged since the last import`);
	} else {
		const credentialsFile = writeJson(path.join(importDir, 'credentials.json'), credentials);
		await cli(n8nDir, ['import:credentials', `--input=${credentialsFile}`], /Successfully imported/);
		state.credentials = credentialsHash;
	}

	// A workflow file is imported when it is new or changed since the last import, so edits made in
	// the editor survive restarts until the file itself changes; then it is published (n8n 2.x
	// ignores `active` on import).
	const files = bundledWorkflows();
	const changed = files.filter(({ file }) => state.workflows[file] !== hashFile(path.join(WORKFLOWS_DIR, file)));
	if (changed.length === 0) {
		say(`    ${files.length} bundled workflows unchanged since the last import`);
	} else {
		const dir = path.join(importDir, 'workflows');
		fs.mkdirSync(dir, { recursive: true });
		// Their Send Email nodes on, sending to the mail catcher (the demo only).
		for (const { file, workflow } of changed) writeJson(path.join(dir, file), withStampSecret(withDemoMail(workflow), state.formStampSecret));
		await cli(n8nDir, ['import:workflow', '--separate', `--input=${dir}`], /Successfully imported/);
		for (const { file, workflow } of changed) {
			if (workflow.active) await cli(n8nDir, ['publish:workflow', `--id=${workflow.id}`], /Publishing workflow/);
			state.workflows[file] = hashFile(path.join(WORKFLOWS_DIR, file));
		}
		say(`    imported and published ${changed.length} workflow(s): ${changed.map(({ file }) => file).join(', ')}`);
	}
	writeJson(STATE_FILE, state);
	fs.rmSync(importDir, { recursive: true, force: true });
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
	let saved: Partial<DemoState> = {};
	try {
		saved = JSON.parse(fs.readFileSync(STATE_FILE, 'utf8')) as Partial<DemoState>;
	} catch {
		/* first start */
	}
	// n8n's database gone (deleted by hand): everything it held is imported again.
	const imported = fs.existsSync(N8N_DATABASE);
	return {
		workflows: imported ? (saved.workflows ?? {}) : {},
		credentials: imported ? saved.credentials : undefined,
		packageSources: saved.packageSources,
		qualifyKey: saved.qualifyKey ?? randomBytes(18).toString('base64url'),
		portalSecret: saved.portalSecret ?? randomBytes(36).toString('base64url'),
		formStampSecret: saved.formStampSecret ?? randomBytes(24).toString('base64url'),
		ownerPassword: saved.ownerPassword ?? `Demo-${randomBytes(6).toString('hex')}`,
		dashboardPassword: process.env.DASHBOARD_PASSWORD || saved.dashboardPassword || randomBytes(12).toString('base64url'),
	};
}

function hashFile(file: string): string {
	return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** One sha256 over the paths and contents of every file the package is built from. */
function hashSources(): string {
	const hash = createHash('sha256');
	const visit = (relative: string) => {
		const full = path.join(REPO_ROOT, relative);
		if (!fs.existsSync(full)) return;
		if (fs.statSync(full).isDirectory()) {
			for (const entry of fs.readdirSync(full).sort()) visit(path.join(relative, entry));
			return;
		}
		hash.update(`${relative}\0`).update(fs.readFileSync(full)).update('\0');
	};
	for (const source of PACKAGE_SOURCES) visit(source);
	return hash.digest('hex');
}

/**
 * Sets up the owner account the first time (what n8n asks a newcomer on the first visit), with the
 * demo's email and a password kept in demo-state.json. False when an owner exists whose password is
 * not ours (set up by hand earlier).
 */
async function setUpOwner(instance: N8nInstance, state: DemoState): Promise<boolean> {
	const response = await fetch(`${instance.url}/rest/owner/setup`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ email: OWNER_EMAIL, firstName: 'Demo', lastName: 'Owner', password: state.ownerPassword }),
	});
	if (response.ok) return true;
	const login = await fetch(`${instance.url}/rest/login`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ emailOrLdapLoginId: OWNER_EMAIL, password: state.ownerPassword }),
	});
	return login.ok;
}

/**
 * Runs the sync workflow once, as a user does after importing: its first node, Set Up Fields,
 * creates the referral fields Pipedrive lacks (none after the first start), then contacts are synced.
 */
async function setUpPipedriveFields(instance: N8nInstance, state: DemoState | null): Promise<void> {
	const sync = bundledWorkflows().find(({ file }) => file === 'sync-pipedrive-contacts.json')!.workflow;
	const cookie = state && (await signIn(instance, OWNER_EMAIL, state.ownerPassword));
	if (!cookie) {
		say(`Execute the workflow "${sync.name}" once: it creates the referral fields in Pipedrive.`);
		return;
	}
	const execution = await executeWorkflowNow(instance, cookie, sync.id, 'Run Now');
	say(
		execution.status === 'success'
			? `Pipedrive fields set up and contacts synced by "${sync.name}" (execution ${execution.id}).`
			: `"${sync.name}" ended with status ${execution.status} (execution ${execution.id}); see Executions in n8n.`,
	);
}

function printNextSteps(options: { port: number; sandbox?: Sandbox; mail?: MailCatcher; ownerReady: boolean; state: DemoState; elapsedMs: number }): void {
	const url = `http://localhost:${options.port}`;
	const { sandbox } = options;
	say(`\nn8n is running (ready in ${formatDuration(options.elapsedMs)}): ${url}\n`);
	say(options.ownerReady ? `Sign in: ${OWNER_EMAIL} / ${options.state.ownerPassword}` : 'Sign in with the owner account you set up earlier.');
	say(`The ${bundledWorkflows().length} bundled workflows are active (Overview → Workflows); each has a note saying what it does.\n`);
	say('Try the whole referral program:');
	say(`  1. Join as a referrer:      ${url}/form/${BUNDLED_PATHS.referrerForm}`);
	say('     The page shows your referral link and a link to your share page (copy button, share buttons, QR code).');
	say('  2. Open that link (in a private window, say) and sign up as a friend with another email.');
	say(`     ${sandbox ? 'The sandbox' : 'Pipedrive'} now has the friend as a person and a deal with the referral fields.`);
	if (sandbox) {
		say('  3. Win the friend\'s deal in the sandbox, as a salesperson would in Pipedrive:');
		say(`     curl -X POST ${sandbox.url.replace('127.0.0.1', 'localhost')}/__admin/deals/latest/status -H 'content-type: application/json' -d '{"status":"won"}'`);
	} else {
		say('  3. Win the friend\'s deal in Pipedrive. Pipedrive must reach n8n for that: set WEBHOOK_URL to a public');
		say('     URL of this n8n (a tunnel), or the qualify workflow never hears of it.');
	}
	say('     The referral is qualified and a 25 EUR reward becomes due; within a minute the issue-rewards');
	say('     workflow claims and confirms it (Executions shows each run).');
	if (options.mail) {
		say(`  Emails: ${options.mail.url} lists every email the demo sent (the welcome email, with your private`);
		say('     stats-page link, comes within a minute of signing up; then "a friend signed up", "your referral');
		say('     converted" and "your reward is on its way").');
	}
	say(`  4. Or qualify by code from any system:`);
	say(`     curl -X POST ${url}/webhook/${BUNDLED_PATHS.qualifyWebhook} -H '${QUALIFY_KEY_HEADER}: ${options.state.qualifyKey}' -H 'content-type: application/json' -d '{"code": "CODE-OF-A-REFERRED-PERSON"}'`);
	say(`  5. The team's program dashboard (KPIs, funnel, trends, leaderboard, rewards to approve):`);
	say(`     ${url}/webhook/${BUNDLED_PATHS.dashboard}   log in as ${DASHBOARD_USER} / ${options.state.dashboardPassword} (set DASHBOARD_PASSWORD to choose it)`);
	say('');
	if (sandbox) {
		say(`Pipedrive sandbox: ${sandbox.url.replace('127.0.0.1', 'localhost')}/__admin/ lists its admin commands (state, deals, webhooks).`);
		say('It keeps its data in memory and starts fresh each time; the referral store and n8n keep theirs.');
	}
	say(`Credentials "${BUNDLED_CREDENTIALS.store.name}" (${path.relative(REPO_ROOT, SQLITE_PATH)}), "${BUNDLED_CREDENTIALS.pipedrive.name}" and "${BUNDLED_CREDENTIALS.qualifyKey.name}" are set up.`);
	say(`Data lives in ${path.relative(REPO_ROOT, DEMO_DIR)}/ (reset: stop, then rm -rf .n8n-demo). Log: ${path.relative(REPO_ROOT, LOG_FILE)}`);
	say('Stop with Ctrl-C.\n');
}

async function runUntilStopped(instance: N8nInstance, sandbox: Sandbox | undefined, mail: MailCatcher | undefined): Promise<void> {
	let stopping = false;
	const stop = async (signal: string) => {
		if (stopping) return;
		stopping = true;
		say(`\n${signal}: stopping n8n ...`);
		await instance.stop(20_000);
		await sandbox?.close();
		await mail?.close();
		say('Stopped.');
		process.exit(0);
	};
	process.on('SIGINT', () => void stop('Ctrl-C'));
	process.on('SIGTERM', () => void stop('SIGTERM'));
	process.on('SIGHUP', () => void stop('SIGHUP'));
	const code = await instance.exited;
	if (!stopping) {
		await sandbox?.close();
		await mail?.close();
		say(`\nn8n exited on its own (code ${code}). Last lines of ${path.relative(REPO_ROOT, LOG_FILE)}:\n`);
		say(tail(instance.logs(), 40));
		process.exit(code || 1);
	}
}

main().catch((error) => {
	process.stderr.write(`\nnpm start failed: ${error instanceof Error ? error.message : String(error)}\n`);
	process.exit(1);
});
