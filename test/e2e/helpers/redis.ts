/**
 * A throwaway Redis for queue-mode suites: `redis-server` on a free 127.0.0.1 port, no persistence.
 * `redisAvailable()` says whether the binary is on PATH (REDIS_SERVER overrides its path).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort, LOCALHOST } from '../../../scripts/n8n/instance';
import { describePostgres, PG_HOST, PG_PASSWORD, PG_PORT, PG_USER } from '../../helpers/postgres';

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

/**
 * A describe block for queue mode: needs PostgreSQL (see describePostgres) and redis-server; skipped
 * with the reason printed when redis-server is missing, failed instead when CI=true.
 */
export const describeQueue: typeof describePostgres = (name, fn) => {
	const redis = redisAvailable();
	if (redis.ok) return describePostgres(name, fn);
	if (process.env.CI === 'true') {
		describe(name, () => it('needs redis-server (CI=true)', () => { throw new Error(redis.reason); }));
		return;
	}
	// eslint-disable-next-line no-console
	console.warn(`Skipping "${name}": ${redis.reason}`);
	describe.skip(name, fn);
};

/** n8n's settings for queue mode: jobs through this Redis, n8n's own data in this PostgreSQL database. */
export function queueModeEnv(redis: RedisServer, database: string): Record<string, string> {
	return {
		EXECUTIONS_MODE: 'queue',
		QUEUE_BULL_REDIS_HOST: redis.host,
		QUEUE_BULL_REDIS_PORT: String(redis.port),
		DB_TYPE: 'postgresdb',
		DB_POSTGRESDB_HOST: PG_HOST,
		DB_POSTGRESDB_PORT: String(PG_PORT),
		DB_POSTGRESDB_DATABASE: database,
		DB_POSTGRESDB_USER: PG_USER,
		DB_POSTGRESDB_PASSWORD: PG_PASSWORD,
		// Main and workers decrypt the same credentials.
		N8N_ENCRYPTION_KEY: randomBytes(24).toString('hex'),
	};
}
