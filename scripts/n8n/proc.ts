/**
 * Process helpers shared by the n8n runtime scripts: finding a Node >= 24 binary, building a clean
 * environment for child `npm`/`n8n` processes, and running commands with captured output.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root (scripts/n8n/ is two levels below it). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** n8n 2.41 declares `engines.node >= 24`. */
export const MIN_NODE_MAJOR = 24;

function majorOf(version: string): number {
	return Number(/^v?(\d+)/.exec(version)?.[1] ?? 0);
}

/**
 * Absolute path of a Node >= 24 binary: `N8N_NODE_BINARY` if set, else the current process if it
 * is new enough (npm scripts run on the project's `node` devDependency), else the project's
 * `node_modules/node/bin/node` (the `node@24` devDependency).
 */
export function nodeBinary(): string {
	const fromEnv = process.env.N8N_NODE_BINARY;
	if (fromEnv) return fromEnv;
	if (majorOf(process.version) >= MIN_NODE_MAJOR) return process.execPath;
	const candidates = [
		path.join(REPO_ROOT, 'node_modules', 'node', 'bin', 'node'),
		path.join(REPO_ROOT, 'node_modules', '.bin', 'node'),
	];
	for (const candidate of candidates) {
		if (fs.existsSync(candidate)) return fs.realpathSync(candidate);
	}
	throw new Error(
		`n8n needs Node >= ${MIN_NODE_MAJOR}; this process runs ${process.version} and the project's ` +
			`node devDependency (node_modules/node/bin/node) is missing. Run \`npm ci\` first, or set N8N_NODE_BINARY.`,
	);
}

/**
 * A child-process environment: the parent's, minus every `npm_*` variable that `npm run` injects
 * (they would point a nested npm at this repository: local prefix, package.json, node-gyp...) and
 * minus jest's NODE_ENV=test / JEST_* (n8n silences its logger when NODE_ENV is test), with Node
 * 24's directory first on PATH, plus `extra`.
 */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
	const env: NodeJS.ProcessEnv = {};
	for (const [key, value] of Object.entries(process.env)) {
		if (/^(npm_|JEST_)/i.test(key) || ['INIT_CWD', 'NODE', 'NODE_ENV', 'NODE_OPTIONS'].includes(key)) continue;
		env[key] = value;
	}
	const nodeDir = path.dirname(nodeBinary());
	env.PATH = [nodeDir, ...(env.PATH ?? '').split(path.delimiter).filter((p) => p && p !== nodeDir)].join(
		path.delimiter,
	);
	for (const [key, value] of Object.entries(extra)) {
		if (value === undefined) delete env[key];
		else env[key] = value;
	}
	return env;
}

export interface RunResult {
	code: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
}

export interface RunOptions extends Pick<SpawnOptions, 'cwd' | 'env'> {
	/** Echo the child's output lines with this prefix to our stderr. */
	echo?: string;
	/** Throw when the exit code is not 0 (default true). */
	check?: boolean;
	/** Kill the child (SIGKILL) after this many ms. */
	timeoutMs?: number;
}

/** Runs a command to completion, capturing stdout and stderr. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
	const { echo, check = true, timeoutMs, ...spawnOptions } = options;
	return new Promise((resolve, reject) => {
		const child = spawn(command, args, { ...spawnOptions, stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		const echoLines = (chunk: string) => {
			if (echo === undefined) return;
			for (const line of chunk.split('\n')) if (line.trim()) process.stderr.write(`${echo}${line}\n`);
		};
		child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
			stdout += chunk;
			echoLines(chunk);
		});
		child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
			stderr += chunk;
			echoLines(chunk);
		});
		const timer = timeoutMs ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : undefined;
		child.on('error', (error) => {
			if (timer) clearTimeout(timer);
			reject(error);
		});
		child.on('close', (code, signal) => {
			if (timer) clearTimeout(timer);
			const result = { code, signal, stdout, stderr };
			if (check && code !== 0) {
				// Both streams: tsc prints its errors on stdout, npm its warnings on stderr.
				const tail = [stdout.trim(), stderr.trim()].filter(Boolean).join('\n').split('\n').slice(-40).join('\n');
				reject(
					Object.assign(
						new Error(
							`\`${command} ${args.join(' ')}\` failed (${signal ?? `exit ${code}`}) in ${String(spawnOptions.cwd ?? process.cwd())}:\n${tail}`,
						),
						{ result },
					),
				);
			} else resolve(result);
		});
	});
}

/** `npm` on the child PATH (it runs on Node 24 because Node 24's directory comes first). */
export function npmCommand(): string {
	return process.platform === 'win32' ? 'npm.cmd' : 'npm';
}

export function log(message: string): void {
	process.stderr.write(`[n8n] ${message}\n`);
}

export function formatDuration(ms: number): string {
	const s = Math.round(ms / 1000);
	return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// npm configuration for child npm processes, and retrying npm steps that fail transiently.
// ---------------------------------------------------------------------------------------------

/**
 * npm settings a user may have set in the environment (`npm_config_registry=… npm start`) that a
 * child npm must keep. `childEnv` drops every `npm_*` variable (most point npm at this repository),
 * so these are copied back explicitly. A child npm still reads ~/.npmrc and the global npmrc itself,
 * which is where registry credentials live; none are copied here.
 */
const NPM_PASSTHROUGH = [
	'registry',
	'replace_registry_host',
	'cache',
	'cafile',
	'ca',
	'strict_ssl',
	'proxy',
	'https_proxy',
	'noproxy',
	'offline',
	'prefer_offline',
	'prefer_online',
	'fetch_retries',
	'fetch_retry_factor',
	'fetch_retry_mintimeout',
	'fetch_retry_maxtimeout',
	'fetch_timeout',
	'maxsockets',
];

/** npm's own per-request retries (npm's defaults: 2 retries, 10 s to 60 s); the user's settings win. */
export const NPM_FETCH_DEFAULTS: Record<string, string> = {
	npm_config_fetch_retries: '4',
	npm_config_fetch_retry_mintimeout: '10000',
	npm_config_fetch_retry_maxtimeout: '60000',
	npm_config_fetch_timeout: '300000',
};

/** The user's npm settings from the environment (see NPM_PASSTHROUGH), as `npm_config_<name>`. */
export function npmPassthroughEnv(source: NodeJS.ProcessEnv = process.env): Record<string, string> {
	const out: Record<string, string> = {};
	for (const [key, value] of Object.entries(source)) {
		const match = /^npm_config_(.+)$/i.exec(key);
		if (!match || value === undefined || value === '') continue;
		const name = match[1].toLowerCase().replace(/-/g, '_');
		if (NPM_PASSTHROUGH.includes(name)) out[`npm_config_${name}`] = value;
	}
	return out;
}

/** Environment for a child npm that downloads: childEnv + the user's npm settings + fetch retries. */
export function npmChildEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
	return childEnv({ ...NPM_FETCH_DEFAULTS, ...npmPassthroughEnv(), ...extra });
}

export type FailureKind = 'transient' | 'permanent';

export interface NpmFailure {
	kind: FailureKind;
	/** npm's error code (E503, ETARGET, EINTEGRITY, …) when one was found. */
	code?: string;
	/** The one line that says what went wrong, e.g. `E503: 503 Service Unavailable - GET https://…`. */
	keyLine: string;
}

/** Codes that mean "the registry or the network had a bad moment": worth another attempt. */
const TRANSIENT_CODES = new Set([
	'E408',
	'E429',
	'E500',
	'E502',
	'E503',
	'E504',
	'ETIMEDOUT',
	'ESOCKETTIMEDOUT',
	'ECONNRESET',
	'ECONNREFUSED',
	'ECONNABORTED',
	'EAI_AGAIN',
	'EPIPE',
	'EINTEGRITY',
	'FETCH_ERROR',
	'ERR_SOCKET_TIMEOUT',
	'ERR_STREAM_PREMATURE_CLOSE',
	'Z_BUF_ERROR',
	'Z_DATA_ERROR',
	'TAR_BAD_ARCHIVE',
	'TAR_ABORT',
]);

/** Codes that another attempt cannot fix: a missing version, a lock out of sync, a full disk. */
const PERMANENT_CODES = new Set(['ETARGET', 'E404', 'EUSAGE', 'ENOSPC', 'EACCES', 'EPERM', 'EROFS', 'ELOCKMISMATCH', 'EPINMISMATCH', 'EBADENGINE', 'EBADPLATFORM']);

const TRANSIENT_TEXT = [
	/\b50[0234]\b[^\n]*(Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out)/i,
	/\bsocket hang up\b/i,
	/\bnetwork aborted\b/i,
	/\bnetwork timeout at\b/i,
	/\bpremature close\b/i,
	/\bintegrity checksum failed\b/i,
	/\bunexpected end of file\b/i,
	/\b(ETIMEDOUT|ECONNRESET|ECONNREFUSED|EAI_AGAIN|ESOCKETTIMEDOUT)\b/,
];

const PERMANENT_TEXT = [
	/\bnotarget\b/i,
	/No matching version found for/i,
	/\b404 Not Found\b/i,
	/can only install packages when your package\.json and package-lock\.json[^\n]* are in sync/i,
	/\bENOSPC\b|no space left on device/i,
];

/** npm's error lines (`npm error …` since npm 10, `npm ERR! …` before), without the prefix. */
function npmErrorLines(output: string): string[] {
	return output
		.split('\n')
		.map((line) => /^npm (?:error|ERR!)\s?(.*)$/.exec(line.trim())?.[1]?.trim())
		.filter((line): line is string => line !== undefined && line !== '');
}

/**
 * Sorts an npm failure (its stdout + stderr, or an Error message) into transient (retry) and
 * permanent (report now). A permanent sign wins over a transient one: `ETARGET` stays permanent even
 * if a 503 was logged on the way. Output with no recognisable sign is permanent (a compile error,
 * a bug): retrying it would only repeat it.
 */
export function classifyNpmFailure(output: string): NpmFailure {
	const lines = npmErrorLines(output);
	const codeLine = lines.find((line) => /^code\s+\S+/.test(line));
	let code = codeLine
		? /^code\s+(\S+)/.exec(codeLine)![1]
		: [...PERMANENT_CODES, ...TRANSIENT_CODES].find((known) => new RegExp(`\\b${known}\\b`).test(output));
	// `npm error code 1` is the exit status of a package's script (a compile error), not npm's code.
	if (code && /^\d+$/.test(code)) code = undefined;
	const plain = output
		.split('\n')
		.map((line) => line.trim().replace(/^npm (?:error|ERR!)\s?/, '').trim())
		.filter((line) => line && !/^npm (warn|notice|verbose|http)/i.test(line) && !/^A complete log of this run/i.test(line));
	const detail = code
		? lines.find(
				(line) =>
					!/^(code|errno|syscall|path|dest)\s/.test(line) &&
					!/^A complete log of this run/i.test(line) &&
					!/^(network|notarget)?\s*$/.test(line),
			)
		: // No npm code: the first line that reads like the cause (a compiler's or Node's error).
			(plain.find((line) => /\b(fatal error|error):|\bError: /i.test(line) && !/^code\s/.test(line)) ?? plain.pop());
	const cleanDetail = (detail ?? '(no output)').replace(/^(network|notarget)\s+/, '');
	const keyLine = code && !cleanDetail.includes(code) ? `${code}: ${cleanDetail}` : cleanDetail;

	let kind: FailureKind = 'permanent';
	if (code && PERMANENT_CODES.has(code)) kind = 'permanent';
	else if (PERMANENT_TEXT.some((re) => re.test(output))) kind = 'permanent';
	else if (code && TRANSIENT_CODES.has(code)) kind = 'transient';
	else if (TRANSIENT_TEXT.some((re) => re.test(output))) kind = 'transient';
	return { kind, code, keyLine: keyLine.length > 300 ? `${keyLine.slice(0, 297)}...` : keyLine };
}

/** The text to classify for an error from `run` (full stdout + stderr when there is a result). */
export function failureText(error: unknown): string {
	const result = (error as { result?: RunResult } | undefined)?.result;
	const message = error instanceof Error ? error.message : String(error);
	return result ? `${result.stdout}\n${result.stderr}\n${message}` : message;
}

/**
 * Classifies an error: its own `failure` when it carries one (our checks attach it), else the npm
 * output captured by `run`.
 */
export function defaultClassify(error: unknown): NpmFailure {
	const attached = (error as { failure?: NpmFailure } | undefined)?.failure;
	return attached ?? classifyNpmFailure(failureText(error));
}

/** An Error that says how to classify itself (see defaultClassify). */
export function failureError(failure: NpmFailure): Error & { failure: NpmFailure } {
	return Object.assign(new Error(failure.keyLine), { failure });
}

/** Waits before retry 1, 2 and 3 of a step that failed transiently. */
export const RETRY_DELAYS_MS: readonly number[] = [15_000, 45_000, 90_000];

/** A step that failed for good: the last failure, how many attempts were made, and for how long. */
export class StepFailedError extends Error {
	constructor(
		readonly step: string,
		readonly failure: NpmFailure,
		readonly attempts: number,
		readonly elapsedMs: number,
		readonly lastError: unknown,
	) {
		super(`${step} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${failure.keyLine}`);
		this.name = 'StepFailedError';
	}
}

export interface RetryOptions {
	/** Delays before each retry; its length is the number of retries (default RETRY_DELAYS_MS). */
	delaysMs?: readonly number[];
	sleep?: (ms: number) => Promise<void>;
	log?: (message: string) => void;
	classify?: (error: unknown) => NpmFailure;
	/** Once aborted, no further attempt is made (a waiting retry ends at once with the last failure). */
	signal?: AbortSignal;
}

/** sleep, ended early (resolving) when `signal` aborts. */
function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined, wait: (ms: number) => Promise<void>): Promise<void> {
	if (!signal) return wait(ms);
	if (signal.aborted) return Promise.resolve();
	return new Promise<void>((resolve) => {
		const done = () => {
			signal.removeEventListener('abort', done);
			resolve();
		};
		signal.addEventListener('abort', done);
		void wait(ms).then(done);
	});
}

/**
 * Runs `attempt(1)`, and on a transient failure `attempt(2)`… after each delay of `delaysMs`.
 * Throws a StepFailedError when an attempt fails permanently or the retries are used up.
 */
export async function withRetries<T>(step: string, attempt: (n: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
	const delays = options.delaysMs ?? RETRY_DELAYS_MS;
	const wait = options.sleep ?? sleep;
	const say = options.log ?? log;
	const classify = options.classify ?? defaultClassify;
	const started = Date.now();
	for (let n = 1; ; n++) {
		try {
			return await attempt(n);
		} catch (error) {
			const failure = classify(error);
			const retriesLeft = delays.length - (n - 1);
			if (failure.kind === 'permanent' || retriesLeft <= 0 || options.signal?.aborted) {
				throw new StepFailedError(step, failure, n, Date.now() - started, error);
			}
			const delay = delays[n - 1];
			say(
				`${step} failed (${failure.keyLine}): looks transient; retry ${n} of ${delays.length} in ${formatDuration(delay)}, from a clean folder`,
			);
			await sleepUnlessAborted(delay, options.signal, wait);
			if (options.signal?.aborted) throw new StepFailedError(step, failure, n, Date.now() - started, error);
		}
	}
}
