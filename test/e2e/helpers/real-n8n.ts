/**
 * Sets up a real n8n for an end-to-end suite: the cached n8n install, this package packed and
 * installed as a community package into a fresh user folder, credentials and workflows imported
 * and published with the n8n CLI, then `n8n start`. Everything is thrown away by `dispose()`
 * unless E2E_KEEP=1 (the folder is printed so its database and n8n.log can be inspected).
 *
 * Env: N8N_VERSION (default 2.41.0), E2E_TARBALL (use this tarball instead of build + pack),
 * E2E_KEEP=1, E2E_ECHO=1 (echo n8n's log lines to stderr), N8N_CACHE_DIR (see install.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_N8N_VERSION, ensureN8n } from '../../../scripts/n8n/install';
import { n8nCli, startN8n, waitForWebhooks, writeJson, type N8nInstance, type WebhookProbe } from '../../../scripts/n8n/instance';
import { installCommunityPackage, packPackage } from '../../../scripts/n8n/package';
import { formatDuration, log } from '../../../scripts/n8n/proc';
import type { WorkflowFile } from '../fixtures/workflows';

export interface RealN8n {
	n8nDir: string;
	/** The packed package that was installed (to install it elsewhere too, e.g. for a worker; deleted by dispose()). */
	tarball: string;
	userFolder: string;
	instance: N8nInstance;
	/** The output of the setup's CLI calls (imports, publishes). */
	cliOutput: string;
	dispose(): Promise<void>;
}

export interface PrepareOptions {
	/** Credential files' contents; a function gets the user folder (e.g. for an SQLite path in it). */
	credentials?: unknown[] | ((userFolder: string) => unknown[]);
	workflows?: WorkflowFile[] | ((userFolder: string) => WorkflowFile[]);
	/** Runs after the package is installed and before anything is imported (e.g. seeding). */
	beforeImport?: (userFolder: string) => Promise<void> | void;
	/** Extra env for the CLI calls and `n8n start` (e.g. queue mode). */
	env?: Record<string, string | undefined>;
}

let packed: { tarball: Promise<string>; dir: string; users: number } | undefined;
/**
 * One build + pack shared by the setups alive at the same time in a suite; removed when the last
 * of them is disposed (jest's sandboxed `process` gets no 'exit' event to clean up on).
 */
function acquireTarball(): { tarball: Promise<string>; release: () => void } {
	if (process.env.E2E_TARBALL) return { tarball: Promise.resolve(path.resolve(process.env.E2E_TARBALL)), release: () => {} };
	if (!packed) {
		const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'n8n-e2e-pack-'));
		packed = { tarball: packPackage({ destination: dir }), dir, users: 0 };
	}
	const current = packed;
	current.users++;
	return {
		tarball: current.tarball,
		release: () => {
			if (--current.users > 0) return;
			fs.rmSync(current.dir, { recursive: true, force: true });
			if (packed === current) packed = undefined;
		},
	};
}

export async function prepareRealN8n(options: PrepareOptions = {}): Promise<RealN8n> {
	const started = Date.now();
	const step = (what: string) => log(`${what} (${formatDuration(Date.now() - started)} into setup)`);
	const n8nDir = await ensureN8n(process.env.N8N_VERSION || DEFAULT_N8N_VERSION);
	const pack = acquireTarball();
	let tarball: string;
	try {
		tarball = await pack.tarball;
	} catch (error) {
		pack.release();
		throw error;
	}
	const userFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'n8n-e2e-'));
	let instance: N8nInstance | undefined;
	let disposed = false;
	const dispose = async () => {
		if (disposed) return;
		disposed = true;
		await instance?.stop();
		pack.release();
		if (process.env.E2E_KEEP === '1') process.stderr.write(`[e2e] kept ${userFolder}\n`);
		else fs.rmSync(userFolder, { recursive: true, force: true });
	};
	try {
		await installCommunityPackage(userFolder, tarball);
		await options.beforeImport?.(userFolder);
		const cli = (args: string[]) => n8nCli(n8nDir, userFolder, args, { env: options.env });
		let cliOutput = '';
		const importDir = path.join(userFolder, 'e2e-import');
		const credentials =
			typeof options.credentials === 'function' ? options.credentials(userFolder) : options.credentials;
		const workflows = typeof options.workflows === 'function' ? options.workflows(userFolder) : options.workflows;
		if (credentials?.length) {
			const file = writeJson(path.join(importDir, 'credentials.json'), credentials);
			const result = await cli(['import:credentials', `--input=${file}`]);
			cliOutput += result.stdout + result.stderr;
			expectCliSuccess(result.stdout + result.stderr, /Successfully imported \d+ credential/);
			step(`imported ${credentials.length} credential(s)`);
		}
		if (workflows?.length) {
			const dir = path.join(importDir, 'workflows');
			for (const workflow of workflows) writeJson(path.join(dir, `${workflow.id}.json`), workflow);
			const result = await cli(['import:workflow', '--separate', `--input=${dir}`]);
			cliOutput += result.stdout + result.stderr;
			expectCliSuccess(result.stdout + result.stderr, /Successfully imported \d+ workflow/);
			// 2.x: imported workflows are inactive; publishing activates their current version.
			for (const workflow of workflows) {
				const published = await cli(['publish:workflow', `--id=${workflow.id}`]);
				cliOutput += published.stdout + published.stderr;
				expectCliSuccess(published.stdout + published.stderr, /Publishing workflow with ID/);
			}
			step(`imported and published ${workflows.length} workflow(s)`);
		}
		instance = await startN8n({
			n8nDir,
			userFolder,
			env: options.env,
			logFile: path.join(userFolder, 'n8n.log'),
			echo: process.env.E2E_ECHO === '1' ? '[n8n] ' : undefined,
		});
		step(`n8n started at ${instance.url}`);
		// n8n 2.41 activates published workflows in the background after start.
		const webhooks = (workflows ?? []).flatMap(webhooksOf);
		if (webhooks.length) {
			await waitForWebhooks(instance, webhooks, 180_000);
			step(`${webhooks.length} webhook(s) active`);
		}
		return { n8nDir, tarball, userFolder, instance, cliOutput, dispose };
	} catch (error) {
		await dispose();
		throw error;
	}
}

/** The production webhooks a workflow registers (its Webhook nodes). */
export function webhooksOf(workflow: WorkflowFile): WebhookProbe[] {
	return workflow.nodes
		.filter((node) => node.type === 'n8n-nodes-base.webhook')
		.map((node) => ({
			path: String(node.parameters.path),
			method: String(node.parameters.httpMethod ?? 'GET'),
		}));
}

/**
 * Log lines that speak of this package and of a problem. Paths of the n8n install are left out
 * first: the cache folder's name contains the package name, and n8n prints stack traces of its
 * own harmless failures (calls to api.n8n.io).
 */
export function packageProblemLines(logs: string, n8nDir: string, packageName: string): string[] {
	const problem = /error|fail|warn|cannot|unable|not (be )?load|unrecognized|unknown node/i;
	return logs
		.split('\n')
		.filter((line) => line.split(n8nDir).join('<n8n>').includes(packageName) && problem.test(line));
}

/** n8n's CLI logs some failures and still exits 0: check for the success line and no error. */
function expectCliSuccess(output: string, success: RegExp): void {
	if (!success.test(output) || /An error occurred|Error updating database|There was an error/i.test(output)) {
		throw new Error(`n8n CLI call did not succeed:\n${output.split('\n').slice(-40).join('\n')}`);
	}
}

/** POSTs JSON to a production webhook of the instance; returns status and parsed body. */
export async function postWebhook(
	instance: N8nInstance,
	webhookPath: string,
	body: unknown,
): Promise<{ status: number; body: any; text: string }> {
	const response = await fetch(`${instance.url}/webhook/${webhookPath}`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify(body),
		signal: AbortSignal.timeout(60_000),
	});
	const text = await response.text();
	let parsed: unknown = text;
	try {
		parsed = JSON.parse(text);
	} catch {
		/* not JSON */
	}
	return { status: response.status, body: parsed, text };
}

/**
 * Sets up the owner account over n8n's REST API (what a newcomer does on first visit) and returns
 * the session cookie, for the editor's own endpoints such as /types/nodes.json.
 */
export async function setUpOwner(instance: N8nInstance): Promise<string> {
	const response = await fetch(`${instance.url}/rest/owner/setup`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({
			email: 'owner@example.com',
			firstName: 'E2E',
			lastName: 'Owner',
			password: 'E2e-password-1234',
		}),
	});
	// Set up once per instance; later callers log in as that owner.
	const session = response.ok ? response : await logInAsOwner(instance, `${response.status} ${await response.text()}`);
	const cookie = session.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
	if (!cookie) throw new Error('owner setup returned no session cookie');
	return cookie;
}

async function logInAsOwner(instance: N8nInstance, setupFailure: string): Promise<Response> {
	const response = await fetch(`${instance.url}/rest/login`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ emailOrLdapLoginId: 'owner@example.com', password: 'E2e-password-1234' }),
	});
	if (!response.ok) throw new Error(`owner setup failed (${setupFailure}), and so did logging in: ${response.status} ${await response.text()}`);
	return response;
}

/** GETs an editor endpoint with a session cookie and parses the JSON answer. */
export async function getJson(instance: N8nInstance, urlPath: string, cookie: string): Promise<any> {
	const response = await fetch(`${instance.url}${urlPath}`, { headers: { cookie } });
	if (!response.ok) throw new Error(`GET ${urlPath}: ${response.status} ${await response.text()}`);
	return await response.json();
}
