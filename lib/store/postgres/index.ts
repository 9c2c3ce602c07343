// The PostgreSQL backend, over a `pg.Pool`, for n8n queue mode and many workers.
//
// Every table lives in the configured schema: each pooled connection starts with
// `-c search_path=<schema>`, so the SQL text below is static and fully parameterised. Writers on
// the same rows are serialised by row locks (`lockParticipants`, unique indexes); writers of the
// event log are serialised by a transaction-level advisory lock so ids become visible in order.

import { AsyncLocalStorage } from 'node:async_hooks';

import pg from 'pg';

import {
	PARTICIPANT_SOURCES,
	withFraudDefaults,
	type Campaign,
	type CampaignStats,
	type CampaignStatus,
	type Participant,
	type ParticipantSource,
	type ReferralEvent,
	type ReferralReview,
	type Reward,
	type RewardStatus,
	type TopReferrer,
} from '../../referrals/model';
import { redact, StoreClosedError, StoreError, StoreOpenError, TransactionStateError } from '../errors';
import type {
	BoardRow,
	CampaignInsert,
	CampaignPatch,
	ClaimRequest,
	EventFilter,
	EventInsert,
	Page,
	ReviewInsert,
	ParticipantFilter,
	ParticipantInsert,
	ParticipantPatch,
	PipedriveIds,
	PostgresStoreConfig,
	ReferralCounts,
	ReferralStore,
	ReferrerTally,
	RewardFilter,
	RewardIdentity,
	RewardInsert,
	RewardPatch,
	StoreTransaction,
	SeriesRow,
	SeriesSpan,
	TallyRow,
	PipedriveSend,
	PipedriveSendFilter,
	PipedriveSendRow,
} from '../types';
import * as dashboard from './dashboard';
import { POSTGRES_MIGRATIONS, type PostgresMigration } from './migrations';
import * as reviews from './reviews';
import * as reconcile from './reconcile';
import * as sends from './sends';

export const SCHEMA_NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** First half of the two-part advisory lock keys; the second half is hashtext(schema). */
const MIGRATION_LOCK_CLASS = 0x52465231; // 'RFR1'
const EVENTS_LOCK_CLASS = 0x52465232; // 'RFR2'

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

export interface PostgresStoreHooks {
	/** Called once when the store is closed (the openStore cache forgets it). */
	onClose?: () => void;
	/** Migrations to apply; defaults to POSTGRES_MIGRATIONS (tests may pass a longer list). */
	migrations?: PostgresMigration[];
}

function describeTarget(config: PostgresStoreConfig): string {
	return `PostgreSQL ${config.user}@${config.host}:${config.port}/${config.database} (schema ${config.schema})`;
}

function validate(config: PostgresStoreConfig): void {
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

/** Connects, creates the schema when missing and applies the missing migrations. */
export async function openPostgresStore(
	config: PostgresStoreConfig,
	hooks: PostgresStoreHooks = {},
): Promise<PostgresStore> {
	validate(config);
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
		// The schema name matched SCHEMA_NAME_PATTERN above, so it is safe in this option string.
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
		await migrate(pool, config.schema, hooks.migrations ?? POSTGRES_MIGRATIONS);
	} catch (err) {
		await pool.end().catch(() => undefined);
		const message = redact((err as Error).message ?? String(err), config.password);
		throw new StoreOpenError(`${describeTarget(config)}: ${message}`, { cause: err });
	}
	return new PostgresStore(pool, config.schema, hooks.onClose);
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

type Row = Record<string, unknown>;
type Param = string | number | null | string[] | number[] | Array<string | null> | Array<number | null>;

function toIso(value: string): string {
	const date = new Date(value);
	if (Number.isNaN(date.getTime())) throw new TypeError(`not a valid timestamp: ${String(value)}`);
	return date.toISOString();
}

function toLimit(limit: number): number {
	if (typeof limit !== 'number' || Number.isNaN(limit)) throw new TypeError('limit must be a number');
	return Math.max(0, Math.floor(Math.min(limit, Number.MAX_SAFE_INTEGER)));
}

function rowToCampaign(r: Row): Campaign {
	return {
		id: r.id as number,
		slug: r.slug as string,
		name: r.name as string,
		status: r.status as CampaignStatus,
		linkTemplate: r.link_template as string,
		codeSettings: r.code_settings as Campaign['codeSettings'],
		fraudSettings: withFraudDefaults(r.fraud_settings as Campaign['fraudSettings']),
		rewardRules: r.reward_rules as Campaign['rewardRules'],
		createdAt: r.created_at as string,
		updatedAt: r.updated_at as string,
	};
}

function rowToParticipant(r: Row): Participant {
	return {
		id: r.id as number,
		campaignId: r.campaign_id as number,
		email: r.email as string | null,
		firstName: r.first_name as string | null,
		lastName: r.last_name as string | null,
		source: r.source as Participant['source'],
		code: r.code as string,
		link: r.link as string,
		referredBy: r.referred_by as number | null,
		referralStatus: r.referral_status as Participant['referralStatus'],
		qualifiedAt: r.qualified_at as string | null,
		saleValue: r.sale_value as number | null,
		saleCurrency: r.sale_currency as string | null,
		pipedrivePersonId: r.pipedrive_person_id as number | null,
		pipedriveLeadId: r.pipedrive_lead_id as string | null,
		pipedriveDealId: r.pipedrive_deal_id as number | null,
		metadata: r.metadata as Record<string, unknown>,
		createdAt: r.created_at as string,
		updatedAt: r.updated_at as string,
		erasedAt: r.erased_at as string | null,
	};
}

function rowToEvent(r: Row): ReferralEvent {
	return {
		id: r.id as number,
		type: r.type as ReferralEvent['type'],
		campaignId: r.campaign_id as number,
		participantId: r.participant_id as number | null,
		referrerId: r.referrer_id as number | null,
		payload: r.payload as Record<string, unknown>,
		createdAt: r.created_at as string,
	};
}

function rowToReward(r: Row): Reward {
	return {
		id: r.id as number,
		campaignId: r.campaign_id as number,
		beneficiaryId: r.beneficiary_id as number,
		beneficiaryRole: r.beneficiary_role as Reward['beneficiaryRole'],
		rule: r.rule as Reward['rule'],
		ordinal: r.ordinal as number,
		referralId: r.referral_id as number | null,
		kind: r.kind as Reward['kind'],
		amount: r.amount as number | null,
		currency: r.currency as string | null,
		couponCode: r.coupon_code as string | null,
		payload: r.payload as Record<string, unknown>,
		status: r.status as Reward['status'],
		dueAt: r.due_at as string,
		leaseUntil: r.lease_until as string | null,
		attempts: r.attempts as number,
		externalRef: r.external_ref as string | null,
		failureReason: r.failure_reason as string | null,
		issuedAt: r.issued_at as string | null,
		createdAt: r.created_at as string,
		updatedAt: r.updated_at as string,
	};
}

/** Oldest first: by dueAt (ISO text compares in time order), then id. */
function byDueAtThenId(a: Reward, b: Reward): number {
	if (a.dueAt !== b.dueAt) return a.dueAt < b.dueAt ? -1 : 1;
	return a.id - b.id;
}

const CAMPAIGN_COLUMNS =
	'id, slug, name, status, link_template, code_settings, fraud_settings, reward_rules, created_at, updated_at';

const REWARD_COLUMNS =
	'id, campaign_id, beneficiary_id, beneficiary_role, rule, ordinal, referral_id, kind, amount, currency, ' +
	'coupon_code, payload, status, due_at, lease_until, attempts, external_ref, failure_reason, issued_at, ' +
	'created_at, updated_at';

const PARTICIPANT_COLUMNS =
	'id, campaign_id, email, first_name, last_name, source, code, link, referred_by, referral_status, ' +
	'qualified_at, sale_value, sale_currency, pipedrive_person_id, pipedrive_lead_id, pipedrive_deal_id, ' +
	'metadata, created_at, updated_at, erased_at';

const EVENT_COLUMNS = 'id, type, campaign_id, participant_id, referrer_id, payload, created_at';

// One statement whatever the batch size. Rows go in sorted by (campaign, identity) so concurrent
// batches with overlapping people take their unique-index locks in the same order (no deadlock);
// the ordinal keeps the first of two equal identities in one batch the one that wins.
const INSERT_PARTICIPANTS_SQL = `INSERT INTO participants (campaign_id, email, email_identity, first_name, last_name, source,
	code, link, referred_by, referral_status, metadata, pipedrive_person_id, created_at, updated_at)
SELECT t.campaign_id, t.email, t.email_identity, t.first_name, t.last_name, t.source, t.code, t.link,
	t.referred_by, t.referral_status, t.metadata, t.pipedrive_person_id, $11::timestamptz, $11::timestamptz
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
	$8::bigint[], $9::text[], $10::jsonb[], $12::bigint[], $13::text[])
	WITH ORDINALITY AS t(campaign_id, email, first_name, last_name, source, code, link,
		referred_by, referral_status, metadata, pipedrive_person_id, email_identity, ord)
ORDER BY t.campaign_id, t.email_identity, t.ord
ON CONFLICT DO NOTHING
RETURNING ${PARTICIPANT_COLUMNS}`;

// One statement whatever the batch size. DISTINCT ON keeps the first of two equal identities in one
// batch (a second one would make DO UPDATE touch the same row twice, an error); the sort makes
// concurrent batches take their unique-index locks in the same order. An existing identity is
// left alone unless it was cancelled, then revived; DO UPDATE ... WHERE false returns nothing, so
// only inserted and revived rows come back.
const INSERT_REWARDS_SQL = `INSERT INTO rewards (campaign_id, beneficiary_id, beneficiary_role, rule, ordinal, referral_id,
	kind, amount, currency, payload, status, due_at, created_at, updated_at)
SELECT DISTINCT ON (t.campaign_id, t.beneficiary_id, t.rule, t.ordinal)
	t.campaign_id, t.beneficiary_id, t.beneficiary_role, t.rule, t.ordinal, t.referral_id,
	t.kind, t.amount, t.currency, t.payload, t.status, t.due_at, $13::timestamptz, $13::timestamptz
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],
	$8::numeric[], $9::text[], $10::jsonb[], $11::text[], $12::timestamptz[])
	WITH ORDINALITY AS t(campaign_id, beneficiary_id, beneficiary_role, rule, ordinal, referral_id,
		kind, amount, currency, payload, status, due_at, ord)
ORDER BY t.campaign_id, t.beneficiary_id, t.rule, t.ordinal, t.ord
ON CONFLICT (campaign_id, beneficiary_id, rule, ordinal) DO UPDATE SET
	beneficiary_role = excluded.beneficiary_role, referral_id = excluded.referral_id, kind = excluded.kind,
	amount = excluded.amount, currency = excluded.currency, payload = excluded.payload, status = excluded.status,
	due_at = excluded.due_at, attempts = 0, failure_reason = NULL, lease_until = NULL, updated_at = excluded.updated_at
WHERE rewards.status = 'cancelled'
RETURNING ${REWARD_COLUMNS}`;

// Codes keep their upload order (coupons are handed out by ascending id).
const INSERT_COUPONS_SQL = `INSERT INTO coupons (campaign_id, code, added_at)
SELECT $1::bigint, t.code, $3::timestamptz
FROM unnest($2::text[]) WITH ORDINALITY AS t(code, ord)
ORDER BY t.ord
ON CONFLICT (campaign_id, code) DO NOTHING
RETURNING id`;

// The campaign's next free coupon, skipping ones other transactions are taking (each coupon goes
// to one reward, also under concurrency), and its code written onto the reward, in one statement.
const TAKE_COUPON_SQL = `WITH taken AS (
	UPDATE coupons SET reward_id = $2::bigint, taken_at = $3::timestamptz
	WHERE id = (SELECT id FROM coupons WHERE campaign_id = $1 AND reward_id IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
	RETURNING code
)
UPDATE rewards SET coupon_code = taken.code, updated_at = $3::timestamptz FROM taken
WHERE rewards.id = $2::bigint
RETURNING taken.code`;

const INSERT_EVENTS_SQL = `INSERT INTO events (type, campaign_id, participant_id, referrer_id, payload, created_at)
SELECT t.type, t.campaign_id, t.participant_id, t.referrer_id, t.payload, $6::timestamptz
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::jsonb[])
	WITH ORDINALITY AS t(type, campaign_id, participant_id, referrer_id, payload, ord)
ORDER BY t.ord`;

/**
 * `column = $n` for each field the patch sets, binding its value into `params`; the whitelist's
 * column names are the only names that reach SQL text.
 */
function assignments<K extends string>(
	columns: ReadonlyArray<readonly [K, string, string]>,
	patch: Partial<Record<K, unknown>>,
	params: Param[],
): string[] {
	const sets: string[] = [];
	for (const [key, column, cast] of columns) {
		const value = patch[key];
		if (value === undefined) continue;
		params.push(patchValue(cast, value));
		sets.push(`${column} = $${params.length}${cast}`);
	}
	return sets;
}

/** Binds a patched value: JSON columns as JSON text, timestamps normalised like `now`. */
function patchValue(cast: string, value: unknown): Param {
	if (value === null) return null; // a NOT NULL column (metadata, settings) refuses it
	if (cast === '::jsonb') return JSON.stringify(value);
	if (cast === '::timestamptz') return toIso(value as string);
	return value as string | number;
}

/** Patchable campaign fields: [property, column, cast]; the only names that reach SQL text. */
const CAMPAIGN_PATCH_COLUMNS: ReadonlyArray<readonly [keyof CampaignPatch, string, string]> = [
	['name', 'name', ''],
	['status', 'status', ''],
	['linkTemplate', 'link_template', ''],
	['codeSettings', 'code_settings', '::jsonb'],
	['fraudSettings', 'fraud_settings', '::jsonb'],
	['rewardRules', 'reward_rules', '::jsonb'],
];

/** Patchable reward fields: [property, column, cast]. */
const REWARD_PATCH_COLUMNS: ReadonlyArray<readonly [keyof RewardPatch, string, string]> = [
	['status', 'status', ''],
	['leaseUntil', 'lease_until', '::timestamptz'],
	['attempts', 'attempts', '::integer'],
	['externalRef', 'external_ref', ''],
	['failureReason', 'failure_reason', ''],
	['couponCode', 'coupon_code', ''],
	['issuedAt', 'issued_at', '::timestamptz'],
	['dueAt', 'due_at', '::timestamptz'],
];

/** Patchable participant fields: [property, column, cast]. */
const PARTICIPANT_PATCH_COLUMNS: ReadonlyArray<readonly [keyof ParticipantPatch, string, string]> = [
	['firstName', 'first_name', ''],
	['lastName', 'last_name', ''],
	['link', 'link', ''],
	['metadata', 'metadata', '::jsonb'],
	['referralStatus', 'referral_status', ''],
	['qualifiedAt', 'qualified_at', '::timestamptz'],
	['saleValue', 'sale_value', '::numeric'],
	['saleCurrency', 'sale_currency', ''],
	['pipedrivePersonId', 'pipedrive_person_id', '::bigint'],
	['pipedriveLeadId', 'pipedrive_lead_id', ''],
	['pipedriveDealId', 'pipedrive_deal_id', '::bigint'],
];

interface TxContext {
	active: boolean;
}

export class PostgresStore implements ReferralStore {
	readonly backend = 'postgres' as const;

	private readonly context = new AsyncLocalStorage<TxContext>();
	private closing: Promise<void> | null = null;

	constructor(
		private readonly pool: pg.Pool,
		private readonly schema: string,
		private readonly onClose?: () => void,
	) {}

	transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
		return this.run(fn, true);
	}

	read<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
		return this.run(fn, false);
	}

	async scrub(): Promise<void> {
		if (this.context.getStore()?.active) throw new TransactionStateError('scrub() cannot be called inside a transaction');
		if (this.closing) throw new StoreClosedError();
		// VACUUM runs outside a transaction and waits for others' row versions to be invisible; a
		// role that may not vacuum (not the table's owner) leaves it to autovacuum.
		await this.pool.query('VACUUM participants').catch(() => undefined);
	}

	close(): Promise<void> {
		if (this.context.getStore()?.active) {
			// The pool would wait for this transaction's client, which waits for close().
			return Promise.reject(new TransactionStateError('close() cannot be called inside a transaction'));
		}
		if (!this.closing) {
			this.onClose?.(); // forgotten by the openStore cache at once
			this.closing = this.pool.end();
		}
		return this.closing;
	}

	private async run<T>(fn: (tx: StoreTransaction) => Promise<T>, write: boolean): Promise<T> {
		if (this.closing) throw new StoreClosedError();
		if (this.context.getStore()?.active) {
			// A nested transaction would wait on the outer one's row locks, or on a pool slot.
			throw new TransactionStateError(
				'transactions cannot be nested: use the transaction object you were given',
			);
		}
		const client = await this.pool.connect();
		let broken: Error | undefined;
		try {
			await client.query(write ? 'BEGIN' : 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
			const ctx: TxContext = { active: true };
			const tx = new PostgresTransaction(client, ctx, this.schema);
			let result: T;
			try {
				result = await this.context.run(ctx, () => fn(tx));
			} catch (err) {
				ctx.active = false;
				await client.query('ROLLBACK').catch((rollbackErr) => {
					broken = rollbackErr;
				});
				throw err;
			}
			ctx.active = false;
			const commit = await client.query('COMMIT');
			// COMMIT of a transaction in which a statement failed (the error was caught inside
			// `fn`) quietly rolls back; say so instead of reporting success.
			if (commit.command === 'ROLLBACK') {
				throw new StoreError('the transaction was rolled back because one of its statements failed');
			}
			return result;
		} catch (err) {
			if (!broken && isConnectionError(err)) broken = err as Error;
			throw err;
		} finally {
			client.release(broken);
		}
	}
}

function isConnectionError(err: unknown): boolean {
	const e = err as { code?: string; message?: string };
	if (typeof e?.code === 'string' && /^(08|57P)/.test(e.code)) return true;
	return /Connection terminated|ECONNRESET|EPIPE|not queryable/i.test(e?.message ?? '');
}

class PostgresTransaction implements StoreTransaction {
	private eventsLocked = false;

	constructor(
		private readonly client: pg.PoolClient,
		private readonly ctx: TxContext,
		private readonly schema: string,
	) {}

	private async q(sql: string, params: Param[]): Promise<Row[]> {
		if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
		return (await this.client.query(sql, params)).rows;
	}

	async insertCampaign(row: CampaignInsert, now: string): Promise<Campaign | null> {
		const ts = toIso(now);
		const rows = await this.q(
			'INSERT INTO campaigns (slug, name, status, link_template, code_settings, fraud_settings, reward_rules, created_at, updated_at) ' +
				'VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8, $8) ON CONFLICT (slug) DO NOTHING ' +
				`RETURNING ${CAMPAIGN_COLUMNS}`,
			[
				row.slug,
				row.name,
				row.status,
				row.linkTemplate,
				JSON.stringify(row.codeSettings),
				JSON.stringify(row.fraudSettings),
				JSON.stringify(row.rewardRules),
				ts,
			],
		);
		return rows.length === 0 ? null : rowToCampaign(rows[0]);
	}

	async getCampaign(ref: { id: number } | { slug: string }): Promise<Campaign | null> {
		const rows =
			'id' in ref
				? await this.q(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1`, [ref.id])
				: await this.q(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE slug = $1`, [ref.slug]);
		return rows.length === 0 ? null : rowToCampaign(rows[0]);
	}

	async listCampaigns(
		filter: { status?: CampaignStatus[]; search?: string },
		page: Page,
	): Promise<Campaign[]> {
		const where: string[] = [];
		const params: Param[] = [];
		if (filter.status?.length) {
			params.push(filter.status);
			where.push(`status = ANY($${params.length}::text[])`);
		}
		if (filter.search) {
			params.push(filter.search.toLowerCase());
			where.push(`(strpos(lower(name), $${params.length}) > 0 OR strpos(lower(slug), $${params.length}) > 0)`);
		}
		if (page.afterId !== undefined) {
			params.push(page.afterId);
			where.push(`id > $${params.length}`);
		}
		params.push(toLimit(page.limit));
		const rows = await this.q(
			`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
				`ORDER BY id LIMIT $${params.length}`,
			params,
		);
		return rows.map(rowToCampaign);
	}

	async updateCampaign(id: number, patch: CampaignPatch, now: string): Promise<Campaign | null> {
		const params: Param[] = [id, toIso(now)];
		const sets = [...assignments(CAMPAIGN_PATCH_COLUMNS, patch, params), 'updated_at = $2'];
		const rows = await this.q(
			`UPDATE campaigns SET ${sets.join(', ')} WHERE id = $1 RETURNING ${CAMPAIGN_COLUMNS}`,
			params,
		);
		return rows.length === 0 ? null : rowToCampaign(rows[0]);
	}

	async insertParticipants(rows: ParticipantInsert[], now: string): Promise<Participant[]> {
		const ts = toIso(now);
		if (rows.length === 0) return [];
		const n = rows.length;
		const campaignIds = new Array<number>(n);
		const emails = new Array<string>(n);
		const firstNames = new Array<string | null>(n);
		const lastNames = new Array<string | null>(n);
		const sources = new Array<string>(n);
		const codes = new Array<string>(n);
		const links = new Array<string>(n);
		const referredBy = new Array<number | null>(n);
		const statuses = new Array<string>(n);
		const metadata = new Array<string>(n);
		const personIds = new Array<number | null>(n);
		const identities = new Array<string>(n);
		for (let i = 0; i < n; i++) {
			const r = rows[i];
			campaignIds[i] = r.campaignId;
			emails[i] = r.email;
			identities[i] = r.emailIdentity;
			firstNames[i] = r.firstName ?? null;
			lastNames[i] = r.lastName ?? null;
			sources[i] = r.source;
			codes[i] = r.code;
			links[i] = r.link;
			referredBy[i] = r.referredBy ?? null;
			statuses[i] = r.referralStatus;
			metadata[i] = JSON.stringify(r.metadata ?? {});
			personIds[i] = r.pipedrivePersonId ?? null;
		}
		const inserted = await this.q(INSERT_PARTICIPANTS_SQL, [
			campaignIds,
			emails,
			firstNames,
			lastNames,
			sources,
			codes,
			links,
			referredBy,
			statuses,
			metadata,
			ts,
			personIds,
			identities,
		]);
		return inserted.map(rowToParticipant);
	}

	async getParticipant(id: number): Promise<Participant | null> {
		const rows = await this.q(`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE id = $1`, [id]);
		return rows.length === 0 ? null : rowToParticipant(rows[0]);
	}

	async getParticipants(ids: number[]): Promise<Participant[]> {
		if (ids.length === 0) return [];
		const rows = await this.q(`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE id = ANY($1::bigint[]) ORDER BY id`, [ids]);
		return rows.map(rowToParticipant);
	}

	async findParticipantsByEmail(campaignId: number, emails: string[], identities: string[]): Promise<Participant[]> {
		if (emails.length === 0 && identities.length === 0) return [];
		// Two lookups, each through its own (campaign, column) unique index.
		const rows = await this.q(
			`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE campaign_id = $1 AND email = ANY($2::text[]) UNION ` +
				`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE campaign_id = $1 AND email_identity = ANY($3::text[]) ORDER BY id`,
			[campaignId, emails, identities],
		);
		return rows.map(rowToParticipant);
	}

	async findParticipantsByCode(codes: string[]): Promise<Participant[]> {
		if (codes.length === 0) return [];
		const rows = await this.q(
			`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE code = ANY($1::text[]) ORDER BY id`,
			[codes],
		);
		return rows.map(rowToParticipant);
	}

	async listParticipants(
		campaignId: number,
		filter: ParticipantFilter,
		page: Page,
	): Promise<Participant[]> {
		const where = ['campaign_id = $1'];
		const params: Param[] = [campaignId];
		if (filter.referralStatus?.length) {
			params.push(filter.referralStatus);
			where.push(`referral_status = ANY($${params.length}::text[])`);
		}
		if (filter.source?.length) {
			params.push(filter.source);
			where.push(`source = ANY($${params.length}::text[])`);
		}
		if (filter.referredBy !== undefined) {
			params.push(filter.referredBy);
			where.push(`referred_by = $${params.length}`);
		}
		if (filter.updatedSince !== undefined) {
			params.push(toIso(filter.updatedSince));
			where.push(`updated_at >= $${params.length}::timestamptz`);
		}
		if (!filter.includeErased) where.push('erased_at IS NULL');
		if (page.afterId !== undefined) {
			params.push(page.afterId);
			where.push(`id > $${params.length}`);
		}
		params.push(toLimit(page.limit));
		const rows = await this.q(
			`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE ${where.join(' AND ')} ORDER BY id LIMIT $${params.length}`,
			params,
		);
		return rows.map(rowToParticipant);
	}

	async updateParticipant(id: number, patch: ParticipantPatch, now: string): Promise<Participant | null> {
		const params: Param[] = [id, toIso(now)];
		const sets = [...assignments(PARTICIPANT_PATCH_COLUMNS, patch, params), 'updated_at = $2'];
		const rows = await this.q(
			`UPDATE participants SET ${sets.join(', ')} WHERE id = $1 RETURNING ${PARTICIPANT_COLUMNS}`,
			params,
		);
		return rows.length === 0 ? null : rowToParticipant(rows[0]);
	}

	async findParticipantsByPipedrive(ids: PipedriveIds, campaignId?: number): Promise<Participant[]> {
		const any: string[] = [];
		const params: Param[] = [];
		for (const [column, values, cast] of [
			['pipedrive_person_id', ids.personIds, '::bigint[]'],
			['pipedrive_deal_id', ids.dealIds, '::bigint[]'],
			['pipedrive_lead_id', ids.leadIds, '::text[]'],
		] as const) {
			if (!values?.length) continue;
			params.push(values as Param);
			any.push(`${column} = ANY($${params.length}${cast})`);
		}
		if (any.length === 0) return [];
		let sql = `SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE (${any.join(' OR ')})`;
		if (campaignId !== undefined) {
			params.push(campaignId);
			sql += ` AND campaign_id = $${params.length}`;
		}
		return (await this.q(`${sql} ORDER BY id`, params)).map(rowToParticipant);
	}

	async referralCounts(referrerIds: number[]): Promise<Map<number, ReferralCounts>> {
		const counts = new Map<number, ReferralCounts>();
		if (referrerIds.length === 0) return counts;
		const rows = await this.q(
			"SELECT referred_by AS referrer, count(*) AS referrals, count(*) FILTER (WHERE referral_status = 'qualified') AS qualified " +
				'FROM participants WHERE referred_by = ANY($1::bigint[]) GROUP BY referred_by',
			[referrerIds],
		);
		for (const r of rows) {
			counts.set(Number(r.referrer), { referrals: Number(r.referrals), qualified: Number(r.qualified) });
		}
		return counts;
	}

	async claimIdempotencyKey(key: string, participantId: number, now: string): Promise<boolean> {
		const rows = await this.q(
			'INSERT INTO idempotency_keys (key, participant_id, created_at) VALUES ($1, $2, $3::timestamptz) ON CONFLICT (key) DO NOTHING RETURNING key',
			[key, participantId, toIso(now)],
		);
		return rows.length === 1;
	}

	async acquireLease(key: string, holder: string, until: string, now: string): Promise<boolean> {
		const rows = await this.q(
			`INSERT INTO leases (key, holder, lease_until) VALUES ($1, $2, $3::timestamptz)
			ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
			WHERE leases.lease_until <= $4::timestamptz RETURNING key`,
			[key, holder, toIso(until), toIso(now)],
		);
		return rows.length === 1;
	}

	async releaseLease(key: string, holder: string): Promise<void> {
		await this.q('DELETE FROM leases WHERE key = $1 AND holder = $2', [key, holder]);
	}

	async deleteExpiredLeases(prefix: string, now: string, limit: number): Promise<number> {
		// starts_with, not a key range: a database's collation may order punctuation its own way.
		const rows = await this.q(
			`DELETE FROM leases WHERE key IN (SELECT key FROM leases WHERE starts_with(key, $1) AND lease_until <= $2::timestamptz LIMIT $3)
			RETURNING key`,
			[prefix, toIso(now), limit],
		);
		return rows.length;
	}

	async insertRewards(rows: RewardInsert[], now: string): Promise<Reward[]> {
		const ts = toIso(now);
		if (rows.length === 0) {
			if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
			return [];
		}
		const n = rows.length;
		const campaignIds = new Array<number>(n);
		const beneficiaryIds = new Array<number>(n);
		const roles = new Array<string>(n);
		const rules = new Array<string>(n);
		const ordinals = new Array<number>(n);
		const referralIds = new Array<number | null>(n);
		const kinds = new Array<string>(n);
		const amounts = new Array<number | null>(n);
		const currencies = new Array<string | null>(n);
		const payloads = new Array<string>(n);
		const statuses = new Array<string>(n);
		const dueAts = new Array<string>(n);
		for (let i = 0; i < n; i++) {
			const r = rows[i];
			campaignIds[i] = r.campaignId;
			beneficiaryIds[i] = r.beneficiaryId;
			roles[i] = r.beneficiaryRole;
			rules[i] = r.rule;
			ordinals[i] = r.ordinal;
			referralIds[i] = r.referralId ?? null;
			kinds[i] = r.kind;
			amounts[i] = r.amount ?? null;
			currencies[i] = r.currency ?? null;
			payloads[i] = JSON.stringify(r.payload ?? {});
			statuses[i] = r.status;
			dueAts[i] = toIso(r.dueAt);
		}
		const inserted = await this.q(INSERT_REWARDS_SQL, [
			campaignIds,
			beneficiaryIds,
			roles,
			rules,
			ordinals,
			referralIds,
			kinds,
			amounts,
			currencies,
			payloads,
			statuses,
			dueAts,
			ts,
		]);
		return inserted.map(rowToReward);
	}

	async getReward(id: number): Promise<Reward | null> {
		const rows = await this.q(`SELECT ${REWARD_COLUMNS} FROM rewards WHERE id = $1`, [id]);
		return rows.length === 0 ? null : rowToReward(rows[0]);
	}

	async findRewards(identities: RewardIdentity[]): Promise<Reward[]> {
		if (identities.length === 0) {
			if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
			return [];
		}
		const rows = await this.q(
			`SELECT ${REWARD_COLUMNS} FROM rewards WHERE (campaign_id, beneficiary_id, rule, ordinal) IN ` +
				'(SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[]))',
			[
				identities.map((i) => i.campaignId),
				identities.map((i) => i.beneficiaryId),
				identities.map((i) => i.rule),
				identities.map((i) => i.ordinal),
			],
		);
		return rows.map(rowToReward);
	}

	async liveRewardsAbove(campaignId: number, beneficiaryId: number, rule: Reward['rule'], ordinal: number): Promise<Reward[]> {
		const rows = await this.q(
			`SELECT ${REWARD_COLUMNS} FROM rewards WHERE campaign_id = $1 AND beneficiary_id = $2 AND rule = $3 AND ordinal > $4 ` +
				"AND status <> 'cancelled' ORDER BY ordinal",
			[campaignId, beneficiaryId, rule, ordinal],
		);
		return rows.map(rowToReward);
	}

	async listRewards(filter: RewardFilter, page: Page): Promise<Reward[]> {
		const where: string[] = [];
		const params: Param[] = [];
		if (filter.campaignId !== undefined) {
			params.push(filter.campaignId);
			where.push(`campaign_id = $${params.length}`);
		}
		if (filter.beneficiaryId !== undefined) {
			params.push(filter.beneficiaryId);
			where.push(`beneficiary_id = $${params.length}`);
		}
		if (filter.referralId !== undefined) {
			params.push(filter.referralId);
			where.push(`referral_id = $${params.length}`);
		}
		if (filter.status?.length) {
			params.push(filter.status);
			where.push(`status = ANY($${params.length}::text[])`);
		}
		if (page.afterId !== undefined) {
			params.push(page.afterId);
			where.push(`id > $${params.length}`);
		}
		params.push(toLimit(page.limit));
		const rows = await this.q(
			`SELECT ${REWARD_COLUMNS} FROM rewards${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
				`ORDER BY id LIMIT $${params.length}`,
			params,
		);
		return rows.map(rowToReward);
	}

	async updateReward(id: number, patch: RewardPatch, fromStatus: RewardStatus[], now: string): Promise<Reward | null> {
		const params: Param[] = [id, toIso(now), fromStatus];
		const sets = [...assignments(REWARD_PATCH_COLUMNS, patch, params), 'updated_at = $2'];
		const rows = await this.q(
			`UPDATE rewards SET ${sets.join(', ')} WHERE id = $1 AND status = ANY($3::text[]) RETURNING ${REWARD_COLUMNS}`,
			params,
		);
		return rows.length === 0 ? null : rowToReward(rows[0]);
	}

	async claimRewards(request: ClaimRequest, now: string): Promise<Reward[]> {
		const params: Param[] = [toIso(request.leaseUntil), toIso(now)];
		const where = ["(status = 'due' OR (status = 'pending_hold' AND due_at <= $2::timestamptz))"];
		if (request.campaignId !== undefined) {
			params.push(request.campaignId);
			where.push(`campaign_id = $${params.length}`);
		}
		if (request.beneficiaryId !== undefined) {
			params.push(request.beneficiaryId);
			where.push(`beneficiary_id = $${params.length}`);
		}
		params.push(toLimit(request.limit));
		// SKIP LOCKED: a concurrent claimer passes over the rows this one is taking; a row claimed
		// and committed meanwhile fails the re-checked status condition and is passed over too.
		const rows = await this.q(
			"UPDATE rewards SET status = 'issuing', lease_until = $1::timestamptz, updated_at = $2::timestamptz " +
				`WHERE id IN (SELECT id FROM rewards WHERE ${where.join(' AND ')} ORDER BY due_at, id LIMIT $${params.length} ` +
				`FOR UPDATE SKIP LOCKED) RETURNING ${REWARD_COLUMNS}`,
			params,
		);
		return rows.map(rowToReward).sort(byDueAtThenId);
	}

	async promoteHeldRewards(now: string): Promise<Reward[]> {
		const rows = await this.q(
			"UPDATE rewards SET status = 'due', updated_at = $1::timestamptz " +
				`WHERE status = 'pending_hold' AND due_at <= $1::timestamptz RETURNING ${REWARD_COLUMNS}`,
			[toIso(now)],
		);
		return rows.map(rowToReward).sort(byDueAtThenId);
	}

	async releaseExpiredClaims(now: string): Promise<Reward[]> {
		const rows = await this.q(
			"UPDATE rewards SET status = 'due', lease_until = NULL, updated_at = $1::timestamptz " +
				`WHERE status = 'issuing' AND lease_until <= $1::timestamptz RETURNING ${REWARD_COLUMNS}`,
			[toIso(now)],
		);
		return rows.map(rowToReward).sort(byDueAtThenId);
	}

	async addCoupons(campaignId: number, codes: string[], now: string): Promise<number> {
		const ts = toIso(now);
		const clean: string[] = [];
		for (const raw of codes) {
			const code = typeof raw === 'string' ? raw.trim() : '';
			if (code !== '') clean.push(code);
		}
		if (clean.length === 0) {
			if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
			return 0;
		}
		return (await this.q(INSERT_COUPONS_SQL, [campaignId, clean, ts])).length;
	}

	async takeCoupon(campaignId: number, rewardId: number, now: string): Promise<string | null> {
		const ts = toIso(now);
		// The reward's row lock serialises takers for the same reward; the next statement then sees
		// a coupon a concurrent taker committed for it.
		const reward = await this.q('SELECT id FROM rewards WHERE id = $1 FOR NO KEY UPDATE', [rewardId]);
		if (reward.length === 0) throw new StoreError(`there is no reward ${rewardId}`);
		// A reward gets one coupon: asking again returns the same code.
		const held = await this.q('SELECT code FROM coupons WHERE reward_id = $1', [rewardId]);
		if (held.length > 0) return held[0].code as string;
		const taken = await this.q(TAKE_COUPON_SQL, [campaignId, rewardId, ts]);
		return taken.length === 0 ? null : (taken[0].code as string);
	}

	async couponPool(campaignId: number): Promise<{ total: number; available: number }> {
		const rows = await this.q(
			'SELECT count(*) AS total, count(*) - count(reward_id) AS available FROM coupons WHERE campaign_id = $1',
			[campaignId],
		);
		return { total: rows[0].total as number, available: rows[0].available as number };
	}

	async getSyncState(campaignId: number, key: string): Promise<Record<string, unknown> | null> {
		const rows = await this.q('SELECT state FROM sync_state WHERE campaign_id = $1 AND key = $2', [campaignId, key]);
		return rows.length === 0 ? null : (rows[0].state as Record<string, unknown>);
	}

	async setSyncState(campaignId: number, key: string, state: Record<string, unknown>, now: string): Promise<void> {
		await this.q(
			'INSERT INTO sync_state (campaign_id, key, state, updated_at) VALUES ($1, $2, $3::jsonb, $4::timestamptz) ' +
				'ON CONFLICT (campaign_id, key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at',
			[campaignId, key, JSON.stringify(state), toIso(now)],
		);
	}

	async findIdempotencyKeys(keys: string[]): Promise<string[]> {
		return await reconcile.findIdempotencyKeys((sql, params) => this.q(sql, params), keys);
	}

	async getReferralEventTime(participantId: number): Promise<string | null> {
		return await reconcile.getReferralEventTime((sql, params) => this.q(sql, params), participantId);
	}

	async setReferralEventTime(participantId: number, occurredAt: string): Promise<void> {
		await reconcile.setReferralEventTime((sql, params) => this.q(sql, params), participantId, toIso(occurredAt));
	}

	async savePipedriveSend(row: PipedriveSendRow, now: string): Promise<void> {
		await sends.savePipedriveSend((sql, params) => this.q(sql, params), row, toIso(now));
	}

	async latestQueuedSendAt(): Promise<string | null> {
		return await sends.latestQueuedSendAt((sql, params) => this.q(sql, params));
	}

	async deletePipedriveSend(participantId: number): Promise<void> {
		await sends.deletePipedriveSend((sql, params) => this.q(sql, params), participantId);
	}

	async getPipedriveSends(participantIds: number[]): Promise<PipedriveSend[]> {
		return await sends.getPipedriveSends((sql, params) => this.q(sql, params), participantIds);
	}

	async claimDueSends(now: string, leaseUntil: string, limit: number): Promise<PipedriveSend[]> {
		return await sends.claimDueSends((sql, params) => this.q(sql, params), toIso(now), toIso(leaseUntil), toLimit(limit));
	}

	async listPipedriveSends(filter: PipedriveSendFilter, limit: number): Promise<PipedriveSend[]> {
		return await sends.listPipedriveSends((sql, params) => this.q(sql, params), filter, toLimit(limit));
	}

	async lockParticipants(ids: number[]): Promise<void> {
		if (ids.length === 0) {
			if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
			return;
		}
		await this.q('SELECT id FROM participants WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [ids]);
	}

	async referrerTally(referrerId: number): Promise<ReferrerTally> {
		const rows = await this.q('SELECT qualified, live_rewards, settled_rules FROM referrer_tallies WHERE referrer_id = $1', [referrerId]);
		if (rows.length === 0) return { qualified: 0, liveRewards: 0, settledRules: null };
		const r = rows[0];
		return { qualified: r.qualified as number, liveRewards: r.live_rewards as number, settledRules: r.settled_rules as string | null };
	}

	async settleReferrerTally(referrerId: number, settledRules: string | null): Promise<void> {
		await this.q(
			'INSERT INTO referrer_tallies (referrer_id, settled_rules) VALUES ($1, $2) ' +
				'ON CONFLICT (referrer_id) DO UPDATE SET settled_rules = excluded.settled_rules',
			[referrerId, settledRules],
		);
	}

	async countReferralsSince(referrerIds: number[], since: string): Promise<Map<number, number>> {
		const counts = new Map<number, number>();
		if (referrerIds.length === 0) return counts;
		const rows = await this.q(
			'SELECT referred_by AS referrer, count(*) AS n FROM participants ' +
				'WHERE referred_by = ANY($1::bigint[]) AND created_at >= $2::timestamptz GROUP BY referred_by',
			[referrerIds, toIso(since)],
		);
		for (const r of rows) counts.set(r.referrer as number, r.n as number);
		return counts;
	}

	async setSignupDevices(devices: Map<number, string>): Promise<void> {
		if (devices.size === 0) return;
		await this.q(
			'UPDATE participants AS p SET signup_device = t.device FROM unnest($1::bigint[], $2::text[]) AS t(id, device) WHERE p.id = t.id',
			[[...devices.keys()], [...devices.values()]],
		);
	}

	async signupDevices(ids: number[]): Promise<Map<number, string>> {
		const devices = new Map<number, string>();
		if (ids.length === 0) return devices;
		const rows = await this.q(
			'SELECT id, signup_device FROM participants WHERE id = ANY($1::bigint[]) AND signup_device IS NOT NULL',
			[ids],
		);
		for (const r of rows) devices.set(r.id as number, r.signup_device as string);
		return devices;
	}

	async eraseParticipant(id: number, now: string): Promise<Participant | null> {
		const rows = await this.q(
			"UPDATE participants SET email = NULL, email_identity = NULL, first_name = NULL, last_name = NULL, metadata = '{}'::jsonb, signup_device = NULL, " +
				'erased_at = coalesce(erased_at, $2::timestamptz), updated_at = $2::timestamptz ' +
				`WHERE id = $1 RETURNING ${PARTICIPANT_COLUMNS}`,
			[id, toIso(now)],
		);
		return rows.length === 0 ? null : rowToParticipant(rows[0]);
	}

	async campaignStats(campaignId: number, topReferrers: number): Promise<CampaignStats> {
		const bySource = Object.fromEntries(PARTICIPANT_SOURCES.map((s) => [s, 0])) as Record<
			ParticipantSource,
			number
		>;
		let participants = 0;
		for (const r of await this.q(
			'SELECT source, count(*) AS n FROM participants WHERE campaign_id = $1 GROUP BY source',
			[campaignId],
		)) {
			bySource[r.source as ParticipantSource] = r.n as number;
			participants += r.n as number;
		}
		const referrals = { total: 0, pending: 0, qualified: 0, unqualified: 0 };
		for (const r of await this.q(
			'SELECT referral_status AS status, count(*) AS n FROM participants ' +
				'WHERE campaign_id = $1 AND referred_by IS NOT NULL GROUP BY referral_status',
			[campaignId],
		)) {
			referrals.total += r.n as number;
			if (r.status === 'pending' || r.status === 'qualified' || r.status === 'unqualified') {
				referrals[r.status] = r.n as number;
			}
		}
		const limit = toLimit(topReferrers);
		const top: TopReferrer[] =
			limit > 0
				? (
						await this.q(
							'SELECT p.id, p.email, p.first_name, p.last_name, p.code, c.referrals, c.qualified ' +
								'FROM (SELECT referred_by, count(*) AS referrals, ' +
								"count(*) FILTER (WHERE referral_status = 'qualified') AS qualified " +
								'FROM participants WHERE campaign_id = $1 AND referred_by IS NOT NULL GROUP BY referred_by) AS c ' +
								'JOIN participants AS p ON p.id = c.referred_by ' +
								'ORDER BY c.qualified DESC, c.referrals DESC, p.id ASC LIMIT $2',
							[campaignId, limit],
						)
					).map((r) => ({
						participantId: r.id as number,
						email: r.email as string | null,
						firstName: r.first_name as string | null,
						lastName: r.last_name as string | null,
						code: r.code as string,
						referrals: r.referrals as number,
						qualified: r.qualified as number,
					}))
				: [];
		return {
			campaignId,
			participants,
			participantsBySource: bySource,
			referrals,
			conversionRate: referrals.total === 0 ? 0 : referrals.qualified / referrals.total,
			topReferrers: top,
		};
	}

	async dashboardSeries(campaignId: number, metrics: string[], spans: SeriesSpan[]): Promise<SeriesRow[]> {
		return await dashboard.dashboardSeries((sql, params) => this.q(sql, params), campaignId, metrics, spans);
	}

	async dashboardFirstBucket(campaignId: number): Promise<number | null> {
		return await dashboard.dashboardFirstBucket((sql, params) => this.q(sql, params), campaignId);
	}

	async dashboardTotals(campaignId: number, fromBucket: number | null, toBucket: number): Promise<TallyRow[]> {
		return await dashboard.dashboardTotals((sql, params) => this.q(sql, params), campaignId, fromBucket, toBucket);
	}

	async foldDashboardTallies(campaignId: number): Promise<void> {
		await dashboard.foldDashboardTallies((sql, params) => this.q(sql, params), this.schema, campaignId);
	}

	async referrerBoard(campaignId: number, limit: number): Promise<BoardRow[]> {
		return await dashboard.referrerBoard((sql, params) => this.q(sql, params), campaignId, toLimit(limit));
	}

	async appendEvents(events: EventInsert[], now: string): Promise<void> {
		const ts = toIso(now);
		if (events.length === 0) return;
		if (!this.eventsLocked) {
			// Event writers commit one after the other: this lock is held until COMMIT, and ids are
			// drawn only after taking it, so a smaller id is always visible before a larger one and a
			// reader polling with `afterId` never skips an event. Append events late in a
			// transaction: the lock serialises every event-writing transaction from here on.
			await this.q('SELECT pg_advisory_xact_lock($1, hashtext($2))', [EVENTS_LOCK_CLASS, this.schema]);
			this.eventsLocked = true;
		}
		await this.q(INSERT_EVENTS_SQL, [
			events.map((e) => e.type),
			events.map((e) => e.campaignId),
			events.map((e) => e.participantId ?? null),
			events.map((e) => e.referrerId ?? null),
			events.map((e) => JSON.stringify(e.payload ?? {})),
			ts,
		]);
	}

	async insertReferralReviews(rows: ReviewInsert[], now: string): Promise<void> {
		await reviews.insertReferralReviews(this.reviewQuery, rows, toIso(now));
	}

	async getReferralReviews(participantIds: number[]): Promise<Map<number, ReferralReview>> {
		return await reviews.getReferralReviews(this.reviewQuery, participantIds);
	}

	async decideReferralReview(participantId: number, decision: 'approved' | 'rejected', reason: string | null, now: string): Promise<void> {
		await reviews.decideReferralReview(this.reviewQuery, participantId, decision, reason, toIso(now));
	}

	private readonly reviewQuery = (sql: string, params: unknown[]) => this.q(sql, params as Param[]);

	async listEvents(filter: EventFilter, limit: number, order: 'asc' | 'desc'): Promise<ReferralEvent[]> {
		const where: string[] = [];
		const params: Param[] = [];
		if (filter.afterId !== undefined) {
			params.push(filter.afterId);
			where.push(`id > $${params.length}`);
		}
		if (filter.types?.length) {
			params.push(filter.types);
			where.push(`type = ANY($${params.length}::text[])`);
		}
		if (filter.campaignId !== undefined) {
			params.push(filter.campaignId);
			where.push(`campaign_id = $${params.length}`);
		}
		params.push(toLimit(limit));
		const rows = await this.q(
			`SELECT ${EVENT_COLUMNS} FROM events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
				`ORDER BY id ${order === 'desc' ? 'DESC' : 'ASC'} LIMIT $${params.length}`,
			params,
		);
		return rows.map(rowToEvent);
	}
}
