/**
 * Running a real n8n from an install made by ./install.ts: `n8n start` (main), `n8n worker` (queue
 * mode) and one-shot CLI commands (`import:workflow`, `import:credentials`, `publish:workflow`,
 * `execute`). Every process gets its own N8N_USER_FOLDER (database, encryption key, community
 * packages), binds to 127.0.0.1 on free ports, and runs with the quiet offline settings of
 * ../shared/n8n-runtime.md. Stopping a process also stops the task runner it spawned (tracked
 * through /proc); processes still running when this process exits are killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { n8nBin } from './install';
import { childEnv, nodeBinary, run, sleep, type RunResult } from './proc';

export const LOCALHOST = '127.0.0.1';

/** Settings that keep n8n quiet and off the internet (besides harmless failed calls it still makes). */
export const QUIET_OFFLINE_ENV: Record<string, string> = {
	N8N_DIAGNOSTICS_ENABLED: 'false',
	N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
	N8N_TEMPLATES_ENABLED: 'false',
	N8N_PERSONALIZATION_ENABLED: 'false',
	N8N_HIRING_BANNER_ENABLED: 'false',
	// n8n writes <user folder>/.n8n/config with the encryption key; keep it private without warnings.
	N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
	N8N_RUNNERS_BROKER_LISTEN_ADDRESS: LOCALHOST,
};

/** Ports the OS says are free on 127.0.0.1 (all held open together, so they differ). */
export async function freePorts(count: number): Promise<number[]> {
	const servers: net.Server[] = [];
	try {
		const ports: number[] = [];
		for (let i = 0; i < count; i++) {
			const server = net.createServer();
			servers.push(server);
			await new Promise<void>((resolve, reject) => {
				server.once('error', reject);
				server.listen(0, LOCALHOST, () => resolve());
			});
			ports.push((server.address() as net.AddressInfo).port);
		}
		return ports;
	} finally {
		await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
	}
}

export async function freePort(): Promise<number> {
	return (await freePorts(1))[0];
}

/** Is something listening on 127.0.0.1:port? */
export function isPortInUse(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = net.connect({ host: LOCALHOST, port });
		socket.once('connect', () => {
			socket.destroy();
			resolve(true);
		});
		socket.once('error', () => resolve(false));
	});
}

/** The environment every n8n process of a user folder gets; `env` is applied last. */
export function n8nEnv(userFolder: string, env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
	return childEnv({
		...QUIET_OFFLINE_ENV,
		N8N_USER_FOLDER: userFolder,
		// Logs on stdout, no colours, for assertions and error messages.
		N8N_LOG_OUTPUT: 'console',
		NO_COLOR: '1',
		FORCE_COLOR: '0',
		...env,
	});
}

export interface CliOptions {
	env?: Record<string, string | undefined>;
	/** Throw on a non-zero exit code (default true). */
	check?: boolean;
	timeoutMs?: number;
}

/**
 * Runs one n8n CLI command against a user folder, e.g. `['import:workflow', '--input=wf.json']`,
 * `['import:credentials', '--input=creds.json']`, `['publish:workflow', '--id=abc']`,
 * `['execute', '--id=abc']`. Each call boots n8n (several seconds): batch work into one call
 * (`--separate --input=<dir>` imports a folder). The n8n server of that user folder should be
 * stopped meanwhile, since both use the same SQLite database.
 */
export async function n8nCli(n8nDir: string, userFolder: string, args: string[], options: CliOptions = {}): Promise<RunResult> {
	fs.mkdirSync(userFolder, { recursive: true });
	const [taskBrokerPort] = await freePorts(1);
	const result = await run(nodeBinary(), [n8nBin(n8nDir), ...args], {
		cwd: userFolder,
		env: n8nEnv(userFolder, { N8N_RUNNERS_BROKER_PORT: String(taskBrokerPort), ...options.env }),
		check: false,
		timeoutMs: options.timeoutMs ?? 5 * 60_000,
	});
	if ((options.check ?? true) && result.code !== 0) {
		const output = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-40).join('\n');
		throw Object.assign(new Error(`n8n ${args.join(' ')} failed (${result.signal ?? `exit ${result.code}`}):\n${output}`), {
			result,
		});
	}
	return result;
}

export interface N8nProcess {
	/** The process id. */
	pid: number;
	/** Everything the process printed so far (stdout and stderr interleaved). */
	logs(): string;
	/** The file its output goes to. */
	logFile: string;
	/** Resolves when a log line matches; rejects after `timeoutMs` or if the process exits. */
	waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
	/** SIGTERM, then SIGKILL (with its descendants) after the grace period; resolves when it has exited. */
	stop(graceMs?: number): Promise<void>;
	/** Resolves with the exit code when the process exits. */
	exited: Promise<number | null>;
}

export interface N8nInstance extends N8nProcess {
	/** Base URL, e.g. http://127.0.0.1:5678 (no trailing slash). */
	url: string;
	port: number;
	runnersPort: number;
}

export interface SpawnN8nOptions {
	n8nDir: string;
	userFolder: string;
	/** Extra environment, applied last (e.g. EXECUTIONS_MODE=queue, DB_TYPE=postgresdb, DB_POSTGRESDB_*). */
	env?: Record<string, string | undefined>;
	/** Where the output goes (appended); default `<userFolder>/n8n-<command>.log`. */
	logFile?: string;
	/** Echo the output to our stderr with this prefix. */
	echo?: string;
}

/** Keeps the most recent output of a process (up to ~8 MB) and notifies log waiters. */
class LogBuffer {
	private text = '';
	private listeners = new Set<() => void>();
	constructor(private readonly limit = 8 * 1024 * 1024) {}
	append(chunk: string) {
		this.text += chunk;
		if (this.text.length > this.limit) this.text = this.text.slice(this.text.length - this.limit / 2);
		for (const listener of this.listeners) listener();
	}
	get value() {
		return this.text;
	}
	onAppend(listener: () => void): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}
}

/**
 * Every n8n process we started and have not seen exit, with the descendants (the task runner) seen
 * so far; killed if we exit first. n8n runs in our process group, so a Ctrl-C in the terminal
 * reaches it (and its task runner) directly, even when the parent (jest) exits without cleaning up.
 */
const running = new Map<number, Set<number>>();
let exitHookInstalled = false;
function track(pid: number): Set<number> {
	const descendants = new Set<number>();
	running.set(pid, descendants);
	if (!exitHookInstalled) {
		exitHookInstalled = true;
		process.on('exit', () => {
			for (const [id, known] of running) {
				for (const other of [id, ...known, ...descendantsOf(id)]) signal(other, 'SIGKILL');
			}
		});
	}
	return descendants;
}

function signal(pid: number, name: NodeJS.Signals): void {
	try {
		process.kill(pid, name);
	} catch {
		/* already gone */
	}
}

/** The live descendants of a process, from /proc (Linux); empty elsewhere. */
export function descendantsOf(root: number): number[] {
	let entries: string[];
	try {
		entries = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
	} catch {
		return [];
	}
	const children = new Map<number, number[]>();
	for (const entry of entries) {
		try {
			const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
			// pid (comm) state ppid ...; comm may hold spaces and parentheses.
			const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
			const list = children.get(ppid) ?? [];
			list.push(Number(entry));
			children.set(ppid, list);
		} catch {
			/* exited meanwhile */
		}
	}
	const found: number[] = [];
	const queue = [root];
	while (queue.length) {
		for (const child of children.get(queue.shift()!) ?? []) {
			found.push(child);
			queue.push(child);
		}
	}
	return found;
}

/**
 * A detached watchdog: if this process dies without stopping n8n (jest killed on a timeout,
 * SIGKILL), it sends n8n SIGTERM, then SIGKILL with its descendants. It exits when n8n does.
 */
const WATCHDOG = `
const [parent, child, graceMs] = process.argv.slice(1).map(Number);
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
const tree = (root) => {
  const fs = require('node:fs'); const kids = new Map();
  for (const e of fs.readdirSync('/proc').filter((n) => /^\\d+$/.test(n))) {
    try { const st = fs.readFileSync('/proc/' + e + '/stat', 'utf8');
      const pp = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      kids.set(pp, [...(kids.get(pp) || []), Number(e)]); } catch {}
  }
  const out = []; const q = [root];
  while (q.length) for (const c of kids.get(q.shift()) || []) { out.push(c); q.push(c); }
  return out;
};
const timer = setInterval(() => {
  if (!alive(child)) process.exit(0);
  if (alive(parent)) return;
  clearInterval(timer);
  let known = []; try { known = tree(child); } catch {}
  try { process.kill(child, 'SIGTERM'); } catch {}
  setTimeout(() => { for (const pid of [child, ...known]) { try { process.kill(pid, 'SIGKILL'); } catch {} } process.exit(0); }, graceMs);
}, 1000);
`;

function startWatchdog(childPid: number, graceMs = 15_000): void {
	try {
		const watchdog = spawn(nodeBinary(), ['-e', WATCHDOG, String(process.pid), String(childPid), String(graceMs)], {
			detached: true,
			stdio: 'ignore',
		});
		watchdog.unref();
	} catch {
		/* best effort */
	}
}

/**
 * Spawns `n8n <command>`. Its output goes straight to a log file (`logFile`, default
 * `<userFolder>/n8n-<command>.log`), not through a pipe: an n8n whose parent died would otherwise
 * spin on EPIPE while it shuts down. `logs()` reads that file.
 */
export function spawnN8n(command: string[], options: SpawnN8nOptions): N8nProcess {
	fs.mkdirSync(options.userFolder, { recursive: true });
	const logFile = options.logFile ?? path.join(options.userFolder, `n8n-${command[0]}.log`);
	fs.mkdirSync(path.dirname(logFile), { recursive: true });
	const logFd = fs.openSync(logFile, 'a');
	let offset = fs.fstatSync(logFd).size; // this run's output starts here
	let child: ChildProcess;
	try {
		child = spawn(nodeBinary(), [n8nBin(options.n8nDir), ...command], {
			cwd: options.userFolder,
			env: n8nEnv(options.userFolder, options.env),
			stdio: ['ignore', logFd, logFd],
		});
	} finally {
		fs.closeSync(logFd); // the child has its own copy
	}
	const pid = child.pid;
	if (pid === undefined) throw new Error(`could not spawn n8n ${command.join(' ')}`);
	const known = track(pid);
	startWatchdog(pid);
	const remember = () => {
		for (const descendant of descendantsOf(pid)) known.add(descendant);
	};
	// The task runner starts a few seconds in; note it (and any relaunch) while n8n runs.
	const watcher = setInterval(remember, 2_000);
	watcher.unref();

	const buffer = new LogBuffer();
	let partial = '';
	/** Reads what n8n wrote since the last call. */
	const catchUp = () => {
		let fd: number;
		try {
			fd = fs.openSync(logFile, 'r');
		} catch {
			return;
		}
		try {
			const chunk = Buffer.alloc(64 * 1024);
			for (;;) {
				const read = fs.readSync(fd, chunk, 0, chunk.length, offset);
				if (read <= 0) break;
				offset += read;
				const text = chunk.toString('utf8', 0, read);
				buffer.append(text);
				if (options.echo !== undefined) {
					const lines = (partial + text).split('\n');
					partial = lines.pop() ?? '';
					for (const line of lines) if (line.trim()) process.stderr.write(`${options.echo}${line}\n`);
				}
			}
		} finally {
			fs.closeSync(fd);
		}
	};
	const reader = setInterval(catchUp, 200);
	reader.unref();

	let exitCode: number | null | undefined;
	const exited = new Promise<number | null>((resolve) => {
		child.on('exit', (code) => {
			clearInterval(watcher);
			clearInterval(reader);
			catchUp();
			exitCode = code;
			// Whatever it left behind (a task runner that did not stop with it) goes too.
			for (const descendant of known) signal(descendant, 'SIGKILL');
			running.delete(pid);
			resolve(code);
		});
	});

	const waitForLog = (pattern: RegExp, timeoutMs = 90_000) =>
		new Promise<string>((resolve, reject) => {
			const check = () => {
				const match = pattern.exec(buffer.value);
				if (match) {
					done();
					resolve(match[0]);
				} else if (exitCode !== undefined) {
					done();
					reject(new Error(`n8n exited (code ${exitCode}) before logging ${pattern}:\n${tail(buffer.value)}`));
				}
			};
			const timer = setTimeout(() => {
				done();
				reject(new Error(`n8n did not log ${pattern} within ${timeoutMs / 1000} s:\n${tail(buffer.value)}`));
			}, timeoutMs);
			const unsubscribe = buffer.onAppend(check);
			void exited.then(check);
			const done = () => {
				clearTimeout(timer);
				unsubscribe();
			};
			check();
		});

	const stop = async (graceMs = 15_000) => {
		if (exitCode !== undefined) return;
		remember();
		signal(pid, 'SIGTERM'); // n8n shuts down gracefully and stops its task runner
		const timer = setTimeout(() => {
			remember();
			for (const other of [pid, ...known]) signal(other, 'SIGKILL');
		}, graceMs);
		await exited;
		clearTimeout(timer);
	};

	const logs = () => {
		catchUp();
		return buffer.value;
	};
	return { pid, logFile, logs, waitForLog, stop, exited };
}

export interface StartN8nOptions extends SpawnN8nOptions {
	/** Port of the editor, REST API and webhooks (default: a free one). */
	port?: number;
	/** Task-runner broker port (default: a free one; n8n's default 5679 would clash between instances). */
	runnersPort?: number;
	/** Host name used in the URLs n8n builds (N8N_HOST), default 127.0.0.1. */
	host?: string;
	/** How long to wait for /healthz and for the start to finish (default 90 s). */
	timeoutMs?: number;
}

/** How n8n 2.x says the start is complete. */
const READY_LINE = /Editor is now accessible via/;

/**
 * Starts `n8n start` and waits until it is ready: `GET /healthz` answers ok and n8n has logged that
 * the editor is accessible. Published workflows are NOT necessarily active yet: n8n 2.41 activates
 * them in the background (workflow publication outbox); use `waitForWebhooks` before calling them.
 */
export async function startN8n(options: StartN8nOptions): Promise<N8nInstance> {
	const timeoutMs = options.timeoutMs ?? 90_000;
	const [port, runnersPort] =
		options.port !== undefined && options.runnersPort !== undefined
			? [options.port, options.runnersPort]
			: await freeOr(options.port, options.runnersPort);
	const host = options.host ?? LOCALHOST;
	const url = `http://${host === LOCALHOST ? LOCALHOST : host}:${port}`;
	const processHandle = spawnN8n(['start'], {
		...options,
		env: {
			N8N_PORT: String(port),
			N8N_LISTEN_ADDRESS: LOCALHOST,
			N8N_HOST: host,
			N8N_PROTOCOL: 'http',
			N8N_RUNNERS_BROKER_PORT: String(runnersPort),
			// Cookies over plain http on localhost (the demo's owner login).
			N8N_SECURE_COOKIE: 'false',
			// 2.x activates published workflows in the background, from an outbox polled every 15 s
			// by default; poll every second so webhooks answer soon after start (see waitForWebhooks).
			N8N_WORKFLOW_PUBLICATION_OUTBOX_POLL_INTERVAL_MS: '1000',
			...options.env,
		},
	});
	const started = Date.now();
	try {
		await waitForHealthz(`http://${LOCALHOST}:${port}`, processHandle, timeoutMs);
		await processHandle.waitForLog(READY_LINE, Math.max(5_000, timeoutMs - (Date.now() - started)));
	} catch (error) {
		await processHandle.stop(5_000);
		throw error;
	}
	return { ...processHandle, url, port, runnersPort };
}

async function freeOr(port?: number, runnersPort?: number): Promise<[number, number]> {
	const free = await freePorts(2);
	const a = port ?? free.find((p) => p !== runnersPort)!;
	const b = runnersPort ?? free.find((p) => p !== a)!;
	return [a, b];
}

async function waitForHealthz(baseUrl: string, processHandle: N8nProcess, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	let exited = false;
	void processHandle.exited.then(() => (exited = true));
	let last = 'no answer yet';
	while (Date.now() < deadline) {
		if (exited) throw new Error(`n8n exited during start:\n${tail(processHandle.logs())}`);
		try {
			const response = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
			const body = await response.text();
			if (response.ok && /"status"\s*:\s*"ok"/.test(body)) return;
			last = `${response.status} ${body.slice(0, 200)}`;
		} catch (error) {
			last = (error as Error).message;
		}
		await sleep(500);
	}
	throw new Error(
		`n8n did not answer ${baseUrl}/healthz with ok within ${timeoutMs / 1000} s (last: ${last}):\n${tail(processHandle.logs())}`,
	);
}

export interface WebhookProbe {
	/** The production webhook path, e.g. `e2e/enrol` (served at /webhook/<path>). */
	path: string;
	/** The method the webhook is registered for (default POST). */
	method?: string;
}

/**
 * Waits until the production webhooks answer, i.e. their workflows are active. Probes without
 * triggering anything: for a webhook registered for POST, n8n answers a GET with 404 "This webhook
 * is not registered for GET requests. Did you mean to make a POST request?"; before activation the
 * 404 says 'The requested webhook "GET <path>" is not registered'. (A GET webhook cannot be probed
 * this way and is probed with POST: a HEAD answer has no body to read the hint from.)
 */
export async function waitForWebhooks(
	instance: Pick<N8nInstance, 'url' | 'logs'>,
	webhooks: Array<string | WebhookProbe>,
	timeoutMs = 60_000,
): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	const pending = new Map(
		webhooks.map((w) => {
			const probe = typeof w === 'string' ? { path: w, method: 'POST' } : { method: 'POST', ...w };
			return [probe.path, probe];
		}),
	);
	let last = '';
	while (pending.size > 0) {
		for (const [key, probe] of pending) {
			const probeMethod = probe.method.toUpperCase() === 'GET' ? 'POST' : 'GET';
			try {
				const response = await fetch(`${instance.url}/webhook/${probe.path}`, {
					method: probeMethod,
					signal: AbortSignal.timeout(5_000),
				});
				const text = await response.text();
				const registeredForOtherMethod = new RegExp(`Did you mean to make a ${probe.method.toUpperCase()} request`, 'i');
				if (response.status !== 404 || registeredForOtherMethod.test(text)) pending.delete(key);
				else last = `${probe.path}: ${response.status} ${text.slice(0, 200)}`;
			} catch (error) {
				last = `${probe.path}: ${(error as Error).message}`;
			}
		}
		if (pending.size === 0) return;
		if (Date.now() > deadline) {
			throw new Error(
				`webhooks not active after ${timeoutMs / 1000} s: ${[...pending.keys()].join(', ')} (last: ${last}):\n${tail(instance.logs())}`,
			);
		}
		await sleep(500);
	}
}

export interface StartWorkerOptions extends SpawnN8nOptions {
	/**
	 * The main instance's base URL (e.g. its `url`). Executions on the worker build URLs from it
	 * (`getInstanceBaseUrl()`, webhook URLs): set as N8N_EDITOR_BASE_URL and WEBHOOK_URL.
	 */
	mainUrl?: string;
	/** Worker health server port (QUEUE_HEALTH_CHECK_PORT; default a free one). */
	healthPort?: number;
	/** Task-runner broker port (default a free one). */
	runnersPort?: number;
	/** Number of jobs run in parallel (`--concurrency`, default 10 as in n8n). */
	concurrency?: number;
	timeoutMs?: number;
}

/**
 * Starts `n8n worker` (queue mode). The caller passes the queue settings shared with the main
 * instance in `env`: EXECUTIONS_MODE=queue, QUEUE_BULL_REDIS_HOST/PORT, DB_TYPE=postgresdb and
 * DB_POSTGRESDB_*, and the main instance's N8N_ENCRYPTION_KEY (or the same user folder). The
 * worker's user folder needs the community package installed too. Waits for its health endpoint
 * (`/healthz` on the health port) to answer ok.
 */
export async function startWorker(options: StartWorkerOptions): Promise<N8nProcess & { healthPort: number }> {
	const free = await freePorts(2);
	const healthPort = options.healthPort ?? free[0];
	const runnersPort = options.runnersPort ?? free.find((p) => p !== healthPort)!;
	const args = ['worker'];
	if (options.concurrency !== undefined) args.push(`--concurrency=${options.concurrency}`);
	const handle = spawnN8n(args, {
		...options,
		env: {
			EXECUTIONS_MODE: 'queue',
			QUEUE_HEALTH_CHECK_ACTIVE: 'true',
			QUEUE_HEALTH_CHECK_PORT: String(healthPort),
			N8N_WORKER_SERVER_ADDRESS: LOCALHOST,
			N8N_RUNNERS_BROKER_PORT: String(runnersPort),
			...(options.mainUrl ? { N8N_EDITOR_BASE_URL: options.mainUrl, WEBHOOK_URL: options.mainUrl } : {}),
			...options.env,
		},
	});
	try {
		await waitForHealthz(`http://${LOCALHOST}:${healthPort}`, handle, options.timeoutMs ?? 90_000);
	} catch (error) {
		await handle.stop(5_000);
		throw error;
	}
	return { ...handle, healthPort };
}

/** The last lines of a log, for error messages. */
export function tail(text: string, lines = 60): string {
	return text.split('\n').slice(-lines).join('\n');
}

/** Writes JSON to a file (creating its folder) and returns the path. */
export function writeJson(file: string, value: unknown): string {
	fs.mkdirSync(path.dirname(file), { recursive: true });
	fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
	return file;
}

