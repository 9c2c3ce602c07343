/**
 * A throwaway Redis for queue-mode suites: `redis-server` on a free 127.0.0.1 port, no persistence.
 * `redisAvailable()` says whether the binary is on PATH (REDIS_SERVER overrides its path).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, LOCALHOST } from '../../../scripts/n8n/instance';

const REDIS_SERVER = process.env.REDIS_SERVER || 'redis-server';

export function redisAvailable(): { ok: true } | { ok: false; reason: string } {
	const probe = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
	if (probe.error) return { ok: false, reason: `${REDIS_SERVER}: ${probe.error.message}` };
	return probe.status === 0 ? { ok: true } : { ok: false, reason: `${REDIS_SERVER} --version exited ${probe.status}` };
}

export interface RedisServer {
	host: string;
	port: number;
	stop(): Promise<void>;
}

export async function startRedis(timeoutMs = 15_000): Promise<RedisServer> {
	const port = await freePort();
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-redis-'));
	const child = spawn(
		REDIS_SERVER,
		['--port', String(port), '--bind', LOCALHOST, '--save', '', '--appendonly', 'no', '--dir', dir],
		{ stdio: ['ignore', 'pipe', 'pipe'] },
	);
	const kill = () => child.kill('SIGKILL');
	process.once('exit', kill);
	let output = '';
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), timeoutMs);
		const onData = (chunk: Buffer) => {
			output += chunk.toString();
			if (/Ready to accept connections/i.test(output)) {
				clearTimeout(timer);
				resolve();
			}
		};
		child.stdout!.on('data', onData);
		child.stderr!.on('data', onData);
		child.once('exit', (code) => {
			clearTimeout(timer);
			reject(new Error(`redis-server exited (${code}):\n${output}`));
		});
	});
	return {
		host: LOCALHOST,
		port,
		async stop() {
			child.kill('SIGTERM');
			const timer = setTimeout(kill, 5_000);
			await exited;
			clearTimeout(timer);
			process.removeListener('exit', kill);
			fs.rmSync(dir, { recursive: true, force: true });
		},
	};
}
