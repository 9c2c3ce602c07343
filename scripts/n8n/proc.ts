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
