// Opening the pool: the configuration check, the connection settings (search_path, result types),
// migrations under an advisory lock, and which errors mean a connection is no longer usable.

import pg from 'pg';

import { StoreError, StoreOpenError } from '../errors';
import type { PostgresStoreConfig } from '../types';
import type { PostgresMigration } from './migrations';

export const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** First half of the two-part advisory lock key; the second half is hashtext(schema). */
const MIGRATION_LOCK_CLASS = 0x52465231; // 'RFR1'

const POOL_MAX = 10;

// Result types: ids and counts (int8) as numbers, numeric as numbers, timestamptz as
// `Date#toISOString()` text, like the SQLite backend. jsonb keeps pg's JSON.parse.
const OID_INT8 = 20;
const OID_NUMERIC = 1700;
const OID_TIMESTAMPTZ = 1184;
const parseTimestamptz = pg.types.getTypeParser(OID_TIMESTAMPTZ, 'text') as (value: string) => Date;
const parseInt8 = (value: string): number => Number(value);
const parseIso = (value: string): string => parseTimestamptz(value).toISOString();
const TYPES = {
	getTypeParser(oid: number, format?: 'text' | 'binary') {
		if (format === undefined || format === 'text') {
			if (oid === OID_INT8) return parseInt8;
			if (oid === OID_NUMERIC) return parseFloat;
			if (oid === OID_TIMESTAMPTZ) return parseIso;
		}
		return pg.types.getTypeParser(oid, format as 'text');
	},
} as pg.CustomTypesConfig;

export function describeTarget(config: PostgresStoreConfig): string {
	return `PostgreSQL ${config.user}@${config.host}:${config.port}/${config.database} (schema ${config.schema})`;
}

export function validate(config: PostgresStoreConfig): void {
	if (typeof config.schema !== 'string' || !SCHEMA_NAME_PATTERN.test(config.schema)) {
		throw new StoreOpenError(
			`invalid PostgreSQL schema name ${JSON.stringify(config.schema)}: use lower-case letters, digits and _ (at most 63, not starting with a digit)`,
		);
	}
	if (typeof config.host !== 'string' || config.host.trim() === '') {
		throw new StoreOpenError('the PostgreSQL host is empty');
	}
	if (!Number.isInteger(config.port) || config.port < 1 || config.port > 65535) {
		throw new StoreOpenError(`invalid PostgreSQL port ${JSON.stringify(config.port)}`);
	}
	if (!['disable', 'require', 'verify'].includes(config.ssl)) {
		throw new StoreOpenError(`invalid PostgreSQL SSL mode ${JSON.stringify(config.ssl)}`);
	}
}

/**
 * Connects to a validate()d configuration, creates the schema when missing and applies the
 * missing migrations; the pool is ended again when any of it fails.
 */
export async function openPool(config: PostgresStoreConfig, migrations: PostgresMigration[]): Promise<pg.Pool> {
	const pool = new pg.Pool({
		host: config.host,
		port: config.port,
		database: config.database,
		user: config.user,
		password: config.password,
		ssl:
			config.ssl === 'disable'
				? false
				: config.ssl === 'require'
					? { rejectUnauthorized: false }
					: { rejectUnauthorized: true },
		// validate() checked the schema name against SCHEMA_NAME_PATTERN, so it is safe in this option string.
		options: `-c search_path=${config.schema}`,
		application_name: 'n8n-nodes-pipedrive-referrals',
		max: POOL_MAX,
		idleTimeoutMillis: 30_000,
		connectionTimeoutMillis: 15_000,
		types: TYPES,
	});
	// An idle client losing its connection emits 'error' on the pool; without a listener that
	// would crash the process. The next query on a fresh client reports real problems.
	pool.on('error', () => undefined);
	try {
		await migrate(pool, config.schema, migrations);
	} catch (err) {
		await pool.end().catch(() => undefined);
		throw err;
	}
	return pool;
}

async function migrate(pool: pg.Pool, schema: string, migrations: PostgresMigration[]): Promise<void> {
	const sorted = [...migrations].sort((a, b) => a.version - b.version);
	const client = await pool.connect();
	let broken: Error | undefined;
	try {
		// A session lock, held across the per-migration transactions; concurrent openers of the
		// same schema wait here, then find everything applied.
		await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]);
		try {
			const exists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
			if (exists.rowCount === 0) {
				// The only statement with an identifier in its text; the name matched the pattern.
				await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
			}
			const table = await client.query("SELECT to_regclass('schema_migrations') AS t");
			if (table.rows[0].t === null) {
				await client.query(
					'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)',
				);
			}
			const applied = new Set(
				(await client.query('SELECT version FROM schema_migrations')).rows.map((r) => r.version as number),
			);
			for (const migration of sorted) {
				if (applied.has(migration.version)) continue;
				await client.query('BEGIN');
				try {
					for (const statement of migration.statements) await client.query(statement);
					await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())', [
						migration.version,
					]);
					await client.query('COMMIT');
				} catch (err) {
					await client.query('ROLLBACK').catch(() => undefined);
					throw new StoreError(`migration ${migration.version} (${migration.name}) failed: ${(err as Error).message}`, {
						cause: err,
					});
				}
			}
		} finally {
			await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [MIGRATION_LOCK_CLASS, schema]).catch((err) => {
				broken = err; // dropping the connection releases the lock
			});
		}
	} catch (err) {
		broken ??= err as Error;
		throw err;
	} finally {
		client.release(broken);
	}
}

export function isConnectionError(err: unknown): boolean {
	const e = err as { code?: string; message?: string };
	if (typeof e?.code === 'string' && /^(08|57P)/.test(e.code)) return true;
	return /Connection terminated|ECONNRESET|EPIPE|not queryable/i.test(e?.message ?? '');
}
