// PostgreSQL for tests: a fresh, uniquely named database per suite on the local server
// (127.0.0.1:5432, user postgres, trust auth; PGHOST/PGPORT/PGUSER/PGPASSWORD override), dropped
// at the end. When the server is unreachable the suite is skipped with the reason printed, except
// in CI (CI=true), where it fails.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

import pg from 'pg';

import type { PostgresStoreConfig } from '../../lib/store/types';

export const PG_HOST = process.env.PGHOST || '127.0.0.1';
export const PG_PORT = Number(process.env.PGPORT || 5432);
export const PG_USER = process.env.PGUSER || 'postgres';
export const PG_PASSWORD = process.env.PGPASSWORD || '';

export type ProbeResult = { ok: true } | { ok: false; reason: string };

let probed: ProbeResult | undefined;

/**
 * Whether the server answers a query. Synchronous (a short child process) because jest has to
 * choose between `describe` and `describe.skip` while it collects tests.
 */
export function probePostgres(): ProbeResult {
	if (probed) return probed;
	const script = `
		const { Client } = require(${JSON.stringify(require.resolve('pg'))});
		const c = new Client({ host: process.env.H, port: Number(process.env.P), user: process.env.U,
			password: process.env.W, database: 'postgres', connectionTimeoutMillis: 4000 });
		c.connect().then(() => c.query('SELECT 1')).then(() => c.end()).then(
			() => process.exit(0),
			(e) => { process.stderr.write(String(e && (e.message || e.code) || e)); process.exit(1); });`;
	try {
		execFileSync(process.execPath, ['-e', script], {
			env: { ...process.env, H: PG_HOST, P: String(PG_PORT), U: PG_USER, W: PG_PASSWORD },
			stdio: ['ignore', 'ignore', 'pipe'],
			timeout: 10_000,
		});
		probed = { ok: true };
	} catch (err) {
		const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
		probed = { ok: false, reason: stderr || (err as Error).message };
	}
	return probed;
}

/**
 * `describe` for suites that need PostgreSQL: runs them when the server answers; otherwise skips
 * them with the reason printed, or, when CI=true, fails with that reason.
 */
export function describePostgres(name: string, fn: () => void): void {
	const probe = probePostgres();
	if (probe.ok) {
		describe(name, fn);
		return;
	}
	const where = `${PG_USER}@${PG_HOST}:${PG_PORT}`;
	if (process.env.CI === 'true') {
		describe(name, () => {
			it('needs a reachable PostgreSQL server (CI=true)', () => {
				throw new Error(`PostgreSQL at ${where} is unreachable in CI: ${probe.reason}`);
			});
		});
		return;
	}
	// eslint-disable-next-line no-console
	console.warn(`Skipping "${name}": PostgreSQL at ${where} is unreachable (${probe.reason}). Set CI=true to fail instead.`);
	describe.skip(name, fn);
}

function adminClient(database: string): pg.Client {
	return new pg.Client({
		host: PG_HOST,
		port: PG_PORT,
		user: PG_USER,
		password: PG_PASSWORD,
		database,
		connectionTimeoutMillis: 5000,
	});
}

export interface TestDatabase {
	readonly database: string;
	/** A store configuration for this database; each distinct schema is an independent store. */
	config(schema: string, overrides?: Partial<PostgresStoreConfig>): PostgresStoreConfig;
	/** A fresh schema name, unique within this database. */
	freshSchema(): string;
	/** Runs one query as the superuser in this database. */
	query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
	/** Drops the database (forcibly disconnecting what is left connected). */
	drop(): Promise<void>;
}

/** Creates an empty database with a unique name (prefix + pid + random). */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
	const database = `rt_${prefix.replace(/[^a-z0-9_]/g, '_')}_${process.pid}_${randomBytes(4).toString('hex')}`;
	const admin = adminClient('postgres');
	await admin.connect();
	try {
		// Identifier built from [a-z0-9_] only (above); CREATE DATABASE takes no parameters.
		await admin.query(`CREATE DATABASE "${database}"`);
	} finally {
		await admin.end();
	}
	let schemas = 0;
	let client: pg.Client | undefined;
	return {
		database,
		config: (schema, overrides = {}) => ({
			backend: 'postgres',
			host: PG_HOST,
			port: PG_PORT,
			database,
			user: PG_USER,
			password: PG_PASSWORD,
			ssl: 'disable',
			schema,
			...overrides,
		}),
		freshSchema: () => `s${++schemas}_${randomBytes(3).toString('hex')}`,
		async query(sql, params) {
			if (!client) {
				client = adminClient(database);
				await client.connect();
			}
			return (await client.query(sql, params)).rows;
		},
		async drop() {
			await client?.end().catch(() => undefined);
			client = undefined;
			const admin2 = adminClient('postgres');
			await admin2.connect();
			try {
				await admin2.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
			} finally {
				await admin2.end();
			}
		},
	};
}
