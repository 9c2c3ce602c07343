// The SQLite backend, over Node's built-in `node:sqlite` (`DatabaseSync`, one connection).
//
// Concurrency: inside one process, every transaction and read holds an async mutex from BEGIN to
// COMMIT, so statements of two transactions never interleave on the shared connection. Between
// processes (several n8n instances on one file), write transactions start with BEGIN IMMEDIATE and
// wait up to `busy_timeout` for the write lock; WAL lets readers run alongside the writer.

import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

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
import { StoreClosedError, StoreError, StoreOpenError, TransactionStateError } from '../errors';
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
	ReferralCounts,
	ReferralStore,
	ReferrerTally,
	RewardFilter,
	RewardIdentity,
	RewardInsert,
	RewardPatch,
	SqliteStoreConfig,
	StoreTransaction,
	SeriesRow,
	SeriesSpan,
	TallyRow,
	PipedriveSend,
	PipedriveSendFilter,
	PipedriveSendRow,
} from '../types';
import * as dashboard from './dashboard';
import { SQLITE_MIGRATIONS, type SqliteMigration } from './migrations';
import { AsyncMutex } from './mutex';
import * as reviews from './reviews';
import * as reconcile from './reconcile';
import * as sends from './sends';

/** How long a statement waits for another process's lock before failing with SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 10_000;

export interface SqliteStoreHooks {
	/** Called once when the store is closed (the openStore cache forgets it). */
	onClose?: () => void;
	/** Migrations to apply; defaults to SQLITE_MIGRATIONS (tests may pass a longer list). */
	migrations?: SqliteMigration[];
}

/** Opens (creating when missing) the database file and brings its schema up to date. */
export function openSqliteStore(config: SqliteStoreConfig, hooks: SqliteStoreHooks = {}): SqliteStore {
	if (typeof config.path !== 'string' || config.path.trim() === '') {
		throw new StoreOpenError('the SQLite file path is empty');
	}
	const file = resolve(config.path);
	let db: DatabaseSync | undefined;
	try {
		mkdirSync(dirname(file), { recursive: true });
		db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS, enableForeignKeyConstraints: true });
		configureConnection(db);
		const applied = migrate(db, hooks.migrations ?? SQLITE_MIGRATIONS);
		// A file written before secure_delete was on may hold old row versions in its free space:
		// rewritten once, when it is upgraded to the version that turned it on.
		if (applied.existing && applied.versions.includes(SECURE_DELETE_SINCE)) db.exec('VACUUM');
		openConnections.add(db);
		closeAtExit();
	} catch (err) {
		try {
			db?.close();
		} catch {
			// already closed or never opened
		}
		throw new StoreOpenError(`SQLite database ${file}: ${(err as Error).message}`, { cause: err });
	}
	const connection = db;
	return new SqliteStore(connection, () => {
		openConnections.delete(connection);
		hooks.onClose?.();
	});
}

/** The schema version whose upgrade rewrites older files (secure_delete is on from then on). */
const SECURE_DELETE_SINCE = 6;

const openConnections = new Set<DatabaseSync>();
let closingAtExit = false;

/**
 * n8n ends with process.exit(), which gives no async work a chance: the connections are closed
 * synchronously on 'exit'. Closing the last connection checkpoints the write-ahead log into the
 * main file and deletes it, so `referrals.sqlite` alone is a complete copy after n8n stops.
 */
function closeAtExit(): void {
	if (closingAtExit) return;
	closingAtExit = true;
	process.once('exit', () => {
		for (const db of openConnections) {
			try {
				if (db.isTransaction) db.exec('ROLLBACK');
				db.close();
			} catch {
				// already closed, or the file is gone: nothing left to save
			}
		}
		openConnections.clear();
	});
}

function configureConnection(db: DatabaseSync): void {
	db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
	db.exec('PRAGMA foreign_keys = ON');
	// Switching a fresh file to WAL needs a moment of exclusive access; when several processes
	// open the same new file at once, SQLite may answer "database is locked" without waiting.
	retryWhileBusy(() => db.exec('PRAGMA journal_mode = WAL'));
	db.exec('PRAGMA synchronous = NORMAL');
	// Freed space (an erased or updated row's old bytes) is overwritten with zeros, not left behind.
	db.exec('PRAGMA secure_delete = ON');
	db.function('referrals_lower', { deterministic: true }, (value) =>
		typeof value === 'string' ? value.toLowerCase() : value,
	);
}

function isBusy(err: unknown): boolean {
	const code = (err as { errcode?: number }).errcode;
	// SQLITE_BUSY (5) and SQLITE_LOCKED (6), including their extended codes.
	return typeof code === 'number' && ((code & 0xff) === 5 || (code & 0xff) === 6);
}

function retryWhileBusy(fn: () => void): void {
	const deadline = Date.now() + BUSY_TIMEOUT_MS;
	const sleeper = new Int32Array(new SharedArrayBuffer(4));
	for (;;) {
		try {
			fn();
			return;
		} catch (err) {
			if (!isBusy(err) || Date.now() > deadline) throw err;
			Atomics.wait(sleeper, 0, 0, 5 + Math.floor(Math.random() * 20));
		}
	}
}

/**
 * Applies the missing migrations in one BEGIN IMMEDIATE transaction: the first process to get the
 * write lock migrates, the others wait for it (busy_timeout) and then find nothing to do.
 */
function migrate(db: DatabaseSync, migrations: SqliteMigration[]): { versions: number[]; existing: boolean } {
	const sorted = [...migrations].sort((a, b) => a.version - b.version);
	const versions: number[] = [];
	let existing = false;
	retryWhileBusy(() => db.exec('BEGIN IMMEDIATE'));
	try {
		db.exec(
			'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL) STRICT',
		);
		const applied = new Set(
			db
				.prepare('SELECT version FROM schema_migrations')
				.all()
				.map((row) => row.version as number),
		);
		existing = applied.size > 0;
		const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
		for (const migration of sorted) {
			if (applied.has(migration.version)) continue;
			for (const edit of migration.schemaEdits ?? []) editTableDefinition(db, edit);
			for (const statement of migration.statements) db.exec(statement);
			record.run(migration.version, new Date().toISOString());
			versions.push(migration.version);
		}
		db.exec('COMMIT');
	} catch (err) {
		if (db.isTransaction) db.exec('ROLLBACK');
		throw err;
	}
	return { versions, existing };
}

/**
 * Rewrites part of a table's stored CREATE statement (https://sqlite.org/lang_altertable.html,
 * "making other kinds of table schema changes"): defensive mode, which forbids it, is lifted for
 * this one edit, and the schema version is bumped so every connection re-reads the definition.
 */
function editTableDefinition(db: DatabaseSync, edit: { table: string; from: string; to: string }): void {
	// Node 24 has DatabaseSync#enableDefensive; @types/node does not list it yet.
	const guarded = db as DatabaseSync & { enableDefensive(active: boolean): void };
	guarded.enableDefensive(false);
	try {
		db.exec('PRAGMA writable_schema = ON');
		const changed = db
			.prepare("UPDATE sqlite_schema SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = ? AND instr(sql, ?) > 0")
			.run(edit.from, edit.to, edit.table, edit.from);
		if (changed.changes !== 1) throw new StoreError(`the definition of table ${edit.table} does not contain ${edit.from}`);
		// PRAGMA takes no bound parameters: the new version is an integer read from SQLite itself.
		const nextSchemaVersion = Number(db.prepare('PRAGMA schema_version').get()!.schema_version) + 1;
		if (!Number.isSafeInteger(nextSchemaVersion)) throw new StoreError('SQLite reported no schema version');
		db.exec(`PRAGMA schema_version = ${nextSchemaVersion}`);
	} finally {
		db.exec('PRAGMA writable_schema = OFF');
		guarded.enableDefensive(true);
	}
}

type Row = Record<string, unknown>;

/** Returns `now` as `Date#toISOString()` text, so stored timestamps compare as strings. */
function toIso(value: string): string {
	const date = new Date(value);
	if (Number.isNaN(date.getTime())) throw new TypeError(`not a valid timestamp: ${String(value)}`);
	return date.toISOString();
}

/** The first string after every string that starts with `prefix` (SQLite compares keys bytewise). */
function prefixEnd(prefix: string): string {
	return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
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
		codeSettings: JSON.parse(r.code_settings as string),
		fraudSettings: withFraudDefaults(JSON.parse(r.fraud_settings as string)),
		rewardRules: JSON.parse(r.reward_rules as string),
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
		metadata: JSON.parse(r.metadata as string),
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
		payload: JSON.parse(r.payload as string),
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
		payload: JSON.parse(r.payload as string),
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

const PARTICIPANT_COLUMNS =
	'id, campaign_id, email, first_name, last_name, source, code, link, referred_by, referral_status, ' +
	'qualified_at, sale_value, sale_currency, pipedrive_person_id, pipedrive_lead_id, pipedrive_deal_id, ' +
	'metadata, created_at, updated_at, erased_at';

const REWARD_COLUMNS =
	'id, campaign_id, beneficiary_id, beneficiary_role, rule, ordinal, referral_id, kind, amount, currency, ' +
	'coupon_code, payload, status, due_at, lease_until, attempts, external_ref, failure_reason, issued_at, ' +
	'created_at, updated_at';

// A reward's identity exists: left alone, unless it was cancelled, then revived with the new
// content and status. DO UPDATE ... WHERE false returns nothing, so only inserted and revived rows
// come back.
const INSERT_REWARD_SQL = `INSERT INTO rewards (campaign_id, beneficiary_id, beneficiary_role, rule, ordinal, referral_id,
	kind, amount, currency, payload, status, due_at, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (campaign_id, beneficiary_id, rule, ordinal) DO UPDATE SET
	beneficiary_role = excluded.beneficiary_role, referral_id = excluded.referral_id, kind = excluded.kind,
	amount = excluded.amount, currency = excluded.currency, payload = excluded.payload, status = excluded.status,
	due_at = excluded.due_at, attempts = 0, failure_reason = NULL, lease_until = NULL, updated_at = excluded.updated_at
WHERE rewards.status = 'cancelled'
RETURNING ${REWARD_COLUMNS}`;

const INSERT_PARTICIPANT_SQL =
	'INSERT INTO participants (campaign_id, email, email_identity, first_name, last_name, source, code, link, referred_by, ' +
	'referral_status, metadata, pipedrive_person_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
	'ON CONFLICT DO NOTHING RETURNING id';

/** How a patched value is bound: as is, as JSON text, or as a normalised ISO timestamp. */
type PatchKind = 'value' | 'json' | 'time';

/** Patchable campaign fields: [property, column, kind]; the only names that reach SQL text. */
const CAMPAIGN_PATCH_COLUMNS: ReadonlyArray<readonly [keyof CampaignPatch, string, PatchKind]> = [
	['name', 'name', 'value'],
	['status', 'status', 'value'],
	['linkTemplate', 'link_template', 'value'],
	['codeSettings', 'code_settings', 'json'],
	['fraudSettings', 'fraud_settings', 'json'],
	['rewardRules', 'reward_rules', 'json'],
];

/** Patchable reward fields: [property, column, kind]. */
const REWARD_PATCH_COLUMNS: ReadonlyArray<readonly [keyof RewardPatch, string, PatchKind]> = [
	['status', 'status', 'value'],
	['leaseUntil', 'lease_until', 'time'],
	['attempts', 'attempts', 'value'],
	['externalRef', 'external_ref', 'value'],
	['failureReason', 'failure_reason', 'value'],
	['couponCode', 'coupon_code', 'value'],
	['issuedAt', 'issued_at', 'time'],
	['dueAt', 'due_at', 'time'],
];

/** Patchable participant fields: [property, column, kind]. */
const PARTICIPANT_PATCH_COLUMNS: ReadonlyArray<readonly [keyof ParticipantPatch, string, PatchKind]> = [
	['firstName', 'first_name', 'value'],
	['lastName', 'last_name', 'value'],
	['link', 'link', 'value'],
	['metadata', 'metadata', 'json'],
	['referralStatus', 'referral_status', 'value'],
	['qualifiedAt', 'qualified_at', 'time'],
	['saleValue', 'sale_value', 'value'],
	['saleCurrency', 'sale_currency', 'value'],
	['pipedrivePersonId', 'pipedrive_person_id', 'value'],
	['pipedriveLeadId', 'pipedrive_lead_id', 'value'],
	['pipedriveDealId', 'pipedrive_deal_id', 'value'],
];

/**
 * `column = ?` for each field the patch sets, binding its value into `params`; the whitelist's
 * column names are the only names that reach SQL text.
 */
function assignments<K extends string>(
	columns: ReadonlyArray<readonly [K, string, PatchKind]>,
	patch: Partial<Record<K, unknown>>,
	params: Array<string | number | null>,
): string[] {
	const sets: string[] = [];
	for (const [key, column, kind] of columns) {
		const value = patch[key];
		if (value === undefined) continue;
		sets.push(`${column} = ?`);
		params.push(patchValue(kind, value));
	}
	return sets;
}

function patchValue(kind: PatchKind, value: unknown): string | number | null {
	if (value === null) return null; // a NOT NULL column (metadata, settings) refuses it
	if (kind === 'json') return JSON.stringify(value);
	if (kind === 'time') return toIso(value as string);
	return value as string | number;
}

interface TxContext {
	active: boolean;
}

export class SqliteStore implements ReferralStore {
	readonly backend = 'sqlite' as const;

	private db: DatabaseSync | null;
	private readonly statements = new Map<string, StatementSync>();
	private readonly mutex = new AsyncMutex();
	private readonly context = new AsyncLocalStorage<TxContext>();
	private closing: Promise<void> | null = null;
	/** The single-row participant insert, kept apart because it returns arrays. */
	private insertParticipantStatement: StatementSync | null = null;

	constructor(
		db: DatabaseSync,
		private readonly onClose?: () => void,
	) {
		this.db = db;
	}

	transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
		return this.run(fn, true);
	}

	read<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
		return this.run(fn, false);
	}

	/**
	 * Copies the write-ahead log into the main file and truncates it to zero bytes: with
	 * secure_delete on, the erased row's old page images then exist nowhere. A reader in another
	 * process can hold the log for a moment; the checkpoint is retried while it does.
	 */
	async scrub(): Promise<void> {
		if (this.context.getStore()?.active) throw new TransactionStateError('scrub() cannot be called inside a transaction');
		const deadline = Date.now() + BUSY_TIMEOUT_MS;
		for (;;) {
			const busy = await this.mutex.run(async () => {
				const result = this.connection().prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
				return result.busy !== 0;
			});
			if (!busy || Date.now() > deadline) return;
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
	}

	close(): Promise<void> {
		if (this.context.getStore()?.active) {
			return Promise.reject(new TransactionStateError('close() cannot be called inside a transaction'));
		}
		if (!this.closing) {
			// Forgotten by the openStore cache at once, so an openStore call made while queued
			// transactions finish gets a new store rather than this closing one.
			this.onClose?.();
			this.closing = this.mutex.run(async () => {
				const db = this.db;
				this.db = null;
				this.statements.clear();
				this.insertParticipantStatement = null;
				db?.close();
			});
		}
		return this.closing;
	}

	/** The open connection, or a StoreClosedError. */
	connection(): DatabaseSync {
		if (this.db === null) throw new StoreClosedError();
		return this.db;
	}

	/** A prepared statement, cached per SQL text for the life of the connection. */
	prepare(sql: string): StatementSync {
		let statement = this.statements.get(sql);
		if (statement === undefined) {
			statement = this.connection().prepare(sql);
			this.statements.set(sql, statement);
		}
		return statement;
	}

	insertParticipantStmt(): StatementSync {
		if (this.insertParticipantStatement === null) {
			const statement = this.connection().prepare(INSERT_PARTICIPANT_SQL);
			statement.setReturnArrays(true);
			this.insertParticipantStatement = statement;
		}
		return this.insertParticipantStatement;
	}

	private async run<T>(fn: (tx: StoreTransaction) => Promise<T>, write: boolean): Promise<T> {
		if (this.context.getStore()?.active) {
			throw new TransactionStateError(
				'transactions cannot be nested: use the transaction object you were given',
			);
		}
		const release = await this.mutex.acquire();
		try {
			const db = this.connection();
			if (write) {
				db.exec('BEGIN IMMEDIATE');
			} else {
				db.exec('BEGIN');
				db.exec('PRAGMA query_only = ON');
			}
			const ctx: TxContext = { active: true };
			const tx = new SqliteTransaction(this, ctx);
			let result: T;
			try {
				result = await this.context.run(ctx, () => fn(tx));
			} catch (err) {
				ctx.active = false;
				this.rollback(db, write);
				throw err;
			}
			ctx.active = false;
			this.commit(db, write);
			return result;
		} finally {
			release();
		}
	}

	/** Rolls back after `fn` failed; a failing ROLLBACK must not hide the original error. */
	private rollback(db: DatabaseSync, write: boolean): void {
		try {
			if (!write) db.exec('PRAGMA query_only = OFF');
			if (db.isTransaction) db.exec('ROLLBACK');
		} catch {
			// the connection is unusable; the caller gets the error of `fn`
		}
	}

	private commit(db: DatabaseSync, write: boolean): void {
		if (!write) db.exec('PRAGMA query_only = OFF');
		if (!db.isTransaction) {
			// SQLite rolls a transaction back by itself after some errors (SQLITE_FULL, IOERR...).
			throw new StoreError('the transaction was rolled back by SQLite after an error inside it');
		}
		try {
			db.exec('COMMIT');
		} catch (err) {
			if (db.isTransaction) db.exec('ROLLBACK');
			throw err;
		}
	}
}

class SqliteTransaction implements StoreTransaction {
	constructor(
		private readonly store: SqliteStore,
		private readonly ctx: TxContext,
	) {}

	private stmt(sql: string): StatementSync {
		if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
		return this.store.prepare(sql);
	}

	async insertCampaign(row: CampaignInsert, now: string): Promise<Campaign | null> {
		const ts = toIso(now);
		const r = this.stmt(
			'INSERT INTO campaigns (slug, name, status, link_template, code_settings, fraud_settings, reward_rules, created_at, updated_at) ' +
				'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO NOTHING RETURNING *',
		).get(
			row.slug,
			row.name,
			row.status,
			row.linkTemplate,
			JSON.stringify(row.codeSettings),
			JSON.stringify(row.fraudSettings),
			JSON.stringify(row.rewardRules),
			ts,
			ts,
		);
		return r === undefined ? null : rowToCampaign(r);
	}

	async getCampaign(ref: { id: number } | { slug: string }): Promise<Campaign | null> {
		const r =
			'id' in ref
				? this.stmt('SELECT * FROM campaigns WHERE id = ?').get(ref.id)
				: this.stmt('SELECT * FROM campaigns WHERE slug = ?').get(ref.slug);
		return r === undefined ? null : rowToCampaign(r);
	}

	async listCampaigns(
		filter: { status?: CampaignStatus[]; search?: string },
		page: Page,
	): Promise<Campaign[]> {
		const where: string[] = [];
		const params: Array<string | number> = [];
		if (filter.status?.length) {
			where.push('status IN (SELECT value FROM json_each(?))');
			params.push(JSON.stringify(filter.status));
		}
		if (filter.search) {
			// instr, not LIKE: the search text may contain % or _; lower-casing is JavaScript's, so
			// it folds non-ASCII letters the way PostgreSQL's lower() does.
			where.push('(instr(referrals_lower(name), ?) > 0 OR instr(referrals_lower(slug), ?) > 0)');
			const needle = filter.search.toLowerCase();
			params.push(needle, needle);
		}
		if (page.afterId !== undefined) {
			where.push('id > ?');
			params.push(page.afterId);
		}
		params.push(toLimit(page.limit));
		const sql = `SELECT * FROM campaigns${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
		return this.stmt(sql).all(...params).map(rowToCampaign);
	}

	async updateCampaign(id: number, patch: CampaignPatch, now: string): Promise<Campaign | null> {
		const params: Array<string | number | null> = [];
		const sets = [...assignments(CAMPAIGN_PATCH_COLUMNS, patch, params), 'updated_at = ?'];
		params.push(toIso(now), id);
		const r = this.stmt(`UPDATE campaigns SET ${sets.join(', ')} WHERE id = ? RETURNING *`).get(...params);
		return r === undefined ? null : rowToCampaign(r);
	}

	async insertParticipants(rows: ParticipantInsert[], now: string): Promise<Participant[]> {
		const ts = toIso(now);
		if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
		const insert = this.store.insertParticipantStmt();
		const inserted: Participant[] = [];
		// One cached prepared statement per row: measured faster than multi-row VALUES with
		// RETURNING on node:sqlite (no SQL building, no per-chunk statements, no row-matching), and
		// within a few tens of percent of a bare `run()` loop. The returned objects are built
		// from the input, so nothing is read back but the new id.
		for (let i = 0; i < rows.length; i++) {
			const r = rows[i];
			const res = insert.get(
				r.campaignId,
				r.email,
				r.emailIdentity,
				r.firstName ?? null,
				r.lastName ?? null,
				r.source,
				r.code,
				r.link,
				r.referredBy ?? null,
				r.referralStatus,
				JSON.stringify(r.metadata ?? {}),
				r.pipedrivePersonId ?? null,
				ts,
				ts,
			) as unknown as [number] | undefined;
			if (res !== undefined) {
				inserted.push({
					id: res[0],
					campaignId: r.campaignId,
					email: r.email,
					firstName: r.firstName ?? null,
					lastName: r.lastName ?? null,
					source: r.source,
					code: r.code,
					link: r.link,
					referredBy: r.referredBy ?? null,
					referralStatus: r.referralStatus,
					qualifiedAt: null,
					saleValue: null,
					saleCurrency: null,
					pipedrivePersonId: r.pipedrivePersonId ?? null,
					pipedriveLeadId: null,
					pipedriveDealId: null,
					metadata: r.metadata ?? {},
					createdAt: ts,
					updatedAt: ts,
					erasedAt: null,
				});
			}
		}
		return inserted;
	}

	async getParticipant(id: number): Promise<Participant | null> {
		const r = this.stmt(`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE id = ?`).get(id);
		return r === undefined ? null : rowToParticipant(r);
	}

	async getParticipants(ids: number[]): Promise<Participant[]> {
		if (ids.length === 0) return [];
		return this.stmt(
			`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`,
		)
			.all(JSON.stringify(ids))
			.map(rowToParticipant);
	}

	async findParticipantsByEmail(campaignId: number, emails: string[], identities: string[]): Promise<Participant[]> {
		if (emails.length === 0 && identities.length === 0) return [];
		// Two lookups, each through its own (campaign, column) unique index.
		return this.stmt(
			`SELECT ${PARTICIPANT_COLUMNS} FROM participants ` +
				'WHERE campaign_id = ? AND email IN (SELECT value FROM json_each(?)) UNION ' +
				`SELECT ${PARTICIPANT_COLUMNS} FROM participants ` +
				'WHERE campaign_id = ? AND email_identity IN (SELECT value FROM json_each(?)) ORDER BY id',
		)
			.all(campaignId, JSON.stringify(emails), campaignId, JSON.stringify(identities))
			.map(rowToParticipant);
	}

	async findParticipantsByCode(codes: string[]): Promise<Participant[]> {
		if (codes.length === 0) return [];
		return this.stmt(
			`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE code IN (SELECT value FROM json_each(?)) ORDER BY id`,
		)
			.all(JSON.stringify(codes))
			.map(rowToParticipant);
	}

	async listParticipants(
		campaignId: number,
		filter: ParticipantFilter,
		page: Page,
	): Promise<Participant[]> {
		// A referrer's referrals: without statistics SQLite would rather scan the whole campaign
		// (campaign_id index) than use referred_by; `+` keeps the campaign term off the index.
		const where = [filter.referredBy !== undefined ? '+campaign_id = ?' : 'campaign_id = ?'];
		const params: Array<string | number> = [campaignId];
		if (filter.referralStatus?.length) {
			where.push('referral_status IN (SELECT value FROM json_each(?))');
			params.push(JSON.stringify(filter.referralStatus));
		}
		if (filter.source?.length) {
			where.push('source IN (SELECT value FROM json_each(?))');
			params.push(JSON.stringify(filter.source));
		}
		if (filter.referredBy !== undefined) {
			where.push('referred_by = ?');
			params.push(filter.referredBy);
		}
		if (filter.updatedSince !== undefined) {
			where.push('updated_at >= ?');
			params.push(toIso(filter.updatedSince));
		}
		if (!filter.includeErased) where.push('erased_at IS NULL');
		if (page.afterId !== undefined) {
			where.push('id > ?');
			params.push(page.afterId);
		}
		params.push(toLimit(page.limit));
		return this.stmt(
			`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`,
		)
			.all(...params)
			.map(rowToParticipant);
	}

	async updateParticipant(id: number, patch: ParticipantPatch, now: string): Promise<Participant | null> {
		const params: Array<string | number | null> = [];
		const sets = [...assignments(PARTICIPANT_PATCH_COLUMNS, patch, params), 'updated_at = ?'];
		params.push(toIso(now), id);
		const r = this.stmt(
			`UPDATE participants SET ${sets.join(', ')} WHERE id = ? RETURNING ${PARTICIPANT_COLUMNS}`,
		).get(...params);
		return r === undefined ? null : rowToParticipant(r);
	}

	async findParticipantsByPipedrive(ids: PipedriveIds, campaignId?: number): Promise<Participant[]> {
		const any: string[] = [];
		const params: Array<string | number> = [];
		for (const [column, values] of [
			['pipedrive_person_id', ids.personIds],
			['pipedrive_deal_id', ids.dealIds],
			['pipedrive_lead_id', ids.leadIds],
		] as const) {
			if (!values?.length) continue;
			any.push(`${column} IN (SELECT value FROM json_each(?))`);
			params.push(JSON.stringify(values));
		}
		if (any.length === 0) return [];
		let sql = `SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE (${any.join(' OR ')})`;
		if (campaignId !== undefined) {
			sql += ' AND campaign_id = ?';
			params.push(campaignId);
		}
		return this.stmt(`${sql} ORDER BY id`).all(...params).map(rowToParticipant);
	}

	async referralCounts(referrerIds: number[]): Promise<Map<number, ReferralCounts>> {
		const counts = new Map<number, ReferralCounts>();
		if (referrerIds.length === 0) return counts;
		const rows = this.stmt(
			"SELECT referred_by AS referrer, count(*) AS referrals, sum(referral_status = 'qualified') AS qualified " +
				'FROM participants WHERE referred_by IN (SELECT value FROM json_each(?)) GROUP BY referred_by',
		).all(JSON.stringify(referrerIds));
		for (const r of rows) counts.set(r.referrer as number, { referrals: r.referrals as number, qualified: r.qualified as number });
		return counts;
	}

	async claimIdempotencyKey(key: string, participantId: number, now: string): Promise<boolean> {
		const r = this.stmt(
			'INSERT INTO idempotency_keys (key, participant_id, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING key',
		).get(key, participantId, toIso(now));
		return r !== undefined;
	}

	async acquireLease(key: string, holder: string, until: string, now: string): Promise<boolean> {
		const r = this.stmt(
			`INSERT INTO leases (key, holder, lease_until) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
			WHERE leases.lease_until <= ? RETURNING key`,
		).get(key, holder, toIso(until), toIso(now));
		return r !== undefined;
	}

	async releaseLease(key: string, holder: string): Promise<void> {
		this.stmt('DELETE FROM leases WHERE key = ? AND holder = ?').run(key, holder);
	}

	async deleteExpiredLeases(prefix: string, now: string, limit: number): Promise<number> {
		// A key range, not LIKE: the primary key's index finds the prefix.
		return Number(this.stmt(
			'DELETE FROM leases WHERE key IN (SELECT key FROM leases WHERE key >= ? AND key < ? AND lease_until <= ? LIMIT ?)',
		).run(prefix, prefixEnd(prefix), toIso(now), limit).changes);
	}

	async insertRewards(rows: RewardInsert[], now: string): Promise<Reward[]> {
		const ts = toIso(now);
		const insert = this.stmt(INSERT_REWARD_SQL);
		const seen = new Set<string>();
		const out: Reward[] = [];
		for (let i = 0; i < rows.length; i++) {
			const r = rows[i];
			// The first of two equal identities in one batch wins, as on PostgreSQL.
			const identity = `${r.campaignId}:${r.beneficiaryId}:${r.rule}:${r.ordinal}`;
			if (seen.has(identity)) continue;
			seen.add(identity);
			const res = insert.get(
				r.campaignId,
				r.beneficiaryId,
				r.beneficiaryRole,
				r.rule,
				r.ordinal,
				r.referralId ?? null,
				r.kind,
				r.amount ?? null,
				r.currency ?? null,
				JSON.stringify(r.payload ?? {}),
				r.status,
				toIso(r.dueAt),
				ts,
				ts,
			);
			if (res !== undefined) out.push(rowToReward(res));
		}
		return out;
	}

	async getReward(id: number): Promise<Reward | null> {
		const r = this.stmt(`SELECT ${REWARD_COLUMNS} FROM rewards WHERE id = ?`).get(id);
		return r === undefined ? null : rowToReward(r);
	}

	async findRewards(identities: RewardIdentity[]): Promise<Reward[]> {
		const find = this.stmt(
			`SELECT ${REWARD_COLUMNS} FROM rewards WHERE campaign_id = ? AND beneficiary_id = ? AND rule = ? AND ordinal = ?`,
		);
		const out: Reward[] = [];
		for (const identity of identities) {
			const r = find.get(identity.campaignId, identity.beneficiaryId, identity.rule, identity.ordinal);
			if (r !== undefined) out.push(rowToReward(r));
		}
		return out;
	}

	async liveRewardsAbove(campaignId: number, beneficiaryId: number, rule: Reward['rule'], ordinal: number): Promise<Reward[]> {
		return this.stmt(
			`SELECT ${REWARD_COLUMNS} FROM rewards WHERE campaign_id = ? AND beneficiary_id = ? AND rule = ? AND ordinal > ? ` +
				"AND status <> 'cancelled' ORDER BY ordinal",
		)
			.all(campaignId, beneficiaryId, rule, ordinal)
			.map(rowToReward);
	}

	async listRewards(filter: RewardFilter, page: Page): Promise<Reward[]> {
		const where: string[] = [];
		const params: Array<string | number> = [];
		if (filter.campaignId !== undefined) {
			// As in listParticipants: a beneficiary's or a referral's rewards come from their own index.
			const narrower = filter.beneficiaryId !== undefined || filter.referralId !== undefined;
			where.push(narrower ? '+campaign_id = ?' : 'campaign_id = ?');
			params.push(filter.campaignId);
		}
		if (filter.beneficiaryId !== undefined) {
			where.push('beneficiary_id = ?');
			params.push(filter.beneficiaryId);
		}
		if (filter.referralId !== undefined) {
			where.push('referral_id = ?');
			params.push(filter.referralId);
		}
		if (filter.status?.length) {
			where.push('status IN (SELECT value FROM json_each(?))');
			params.push(JSON.stringify(filter.status));
		}
		if (page.afterId !== undefined) {
			where.push('id > ?');
			params.push(page.afterId);
		}
		params.push(toLimit(page.limit));
		return this.stmt(
			`SELECT ${REWARD_COLUMNS} FROM rewards${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`,
		)
			.all(...params)
			.map(rowToReward);
	}

	async updateReward(id: number, patch: RewardPatch, fromStatus: RewardStatus[], now: string): Promise<Reward | null> {
		const params: Array<string | number | null> = [];
		const sets = [...assignments(REWARD_PATCH_COLUMNS, patch, params), 'updated_at = ?'];
		params.push(toIso(now), id, JSON.stringify(fromStatus));
		const r = this.stmt(
			`UPDATE rewards SET ${sets.join(', ')} WHERE id = ? AND status IN (SELECT value FROM json_each(?)) ` +
				`RETURNING ${REWARD_COLUMNS}`,
		).get(...params);
		return r === undefined ? null : rowToReward(r);
	}

	async claimRewards(request: ClaimRequest, now: string): Promise<Reward[]> {
		const ts = toIso(now);
		const where = ["(status = 'due' OR (status = 'pending_hold' AND due_at <= ?))"];
		const params: Array<string | number> = [toIso(request.leaseUntil), ts, ts];
		if (request.campaignId !== undefined) {
			where.push('campaign_id = ?');
			params.push(request.campaignId);
		}
		if (request.beneficiaryId !== undefined) {
			where.push('beneficiary_id = ?');
			params.push(request.beneficiaryId);
		}
		params.push(toLimit(request.limit));
		// Write transactions are serial (BEGIN IMMEDIATE + the mutex): no two claimers see the same row.
		return this.stmt(
			"UPDATE rewards SET status = 'issuing', lease_until = ?, updated_at = ? " +
				`WHERE id IN (SELECT id FROM rewards WHERE ${where.join(' AND ')} ORDER BY due_at, id LIMIT ?) ` +
				`RETURNING ${REWARD_COLUMNS}`,
		)
			.all(...params)
			.map(rowToReward)
			.sort(byDueAtThenId);
	}

	async promoteHeldRewards(now: string): Promise<Reward[]> {
		const ts = toIso(now);
		return this.stmt(
			"UPDATE rewards SET status = 'due', updated_at = ? WHERE status = 'pending_hold' AND due_at <= ? " +
				`RETURNING ${REWARD_COLUMNS}`,
		)
			.all(ts, ts)
			.map(rowToReward)
			.sort(byDueAtThenId);
	}

	async releaseExpiredClaims(now: string): Promise<Reward[]> {
		const ts = toIso(now);
		return this.stmt(
			"UPDATE rewards SET status = 'due', lease_until = NULL, updated_at = ? WHERE status = 'issuing' AND lease_until <= ? " +
				`RETURNING ${REWARD_COLUMNS}`,
		)
			.all(ts, ts)
			.map(rowToReward)
			.sort(byDueAtThenId);
	}

	async addCoupons(campaignId: number, codes: string[], now: string): Promise<number> {
		const ts = toIso(now);
		const insert = this.stmt(
			'INSERT INTO coupons (campaign_id, code, added_at) VALUES (?, ?, ?) ON CONFLICT (campaign_id, code) DO NOTHING',
		);
		let added = 0;
		for (const raw of codes) {
			const code = typeof raw === 'string' ? raw.trim() : '';
			if (code === '') continue;
			added += Number(insert.run(campaignId, code, ts).changes);
		}
		return added;
	}

	async takeCoupon(campaignId: number, rewardId: number, now: string): Promise<string | null> {
		const ts = toIso(now);
		const current = this.stmt(
			'SELECT r.id, c.code FROM rewards AS r LEFT JOIN coupons AS c ON c.reward_id = r.id WHERE r.id = ?',
		).get(rewardId);
		if (current === undefined) throw new StoreError(`there is no reward ${rewardId}`);
		// A reward gets one coupon: asking again returns the same code.
		if (current.code !== null) return current.code as string;
		// Write transactions are serial, so the next free coupon cannot be taken by anyone else meanwhile.
		const taken = this.stmt(
			'UPDATE coupons SET reward_id = ?, taken_at = ? WHERE id = ' +
				'(SELECT id FROM coupons WHERE campaign_id = ? AND reward_id IS NULL ORDER BY id LIMIT 1) RETURNING code',
		).get(rewardId, ts, campaignId);
		if (taken === undefined) return null;
		this.stmt('UPDATE rewards SET coupon_code = ?, updated_at = ? WHERE id = ?').run(taken.code as string, ts, rewardId);
		return taken.code as string;
	}

	async couponPool(campaignId: number): Promise<{ total: number; available: number }> {
		const r = this.stmt(
			'SELECT count(*) AS total, count(*) - count(reward_id) AS available FROM coupons WHERE campaign_id = ?',
		).get(campaignId)!;
		return { total: r.total as number, available: r.available as number };
	}

	async getSyncState(campaignId: number, key: string): Promise<Record<string, unknown> | null> {
		const r = this.stmt('SELECT state FROM sync_state WHERE campaign_id = ? AND key = ?').get(campaignId, key);
		return r === undefined ? null : JSON.parse(r.state as string);
	}

	async setSyncState(campaignId: number, key: string, state: Record<string, unknown>, now: string): Promise<void> {
		this.stmt(
			'INSERT INTO sync_state (campaign_id, key, state, updated_at) VALUES (?, ?, ?, ?) ' +
				'ON CONFLICT (campaign_id, key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at',
		).run(campaignId, key, JSON.stringify(state), toIso(now));
	}

	async findIdempotencyKeys(keys: string[]): Promise<string[]> {
		return reconcile.findIdempotencyKeys((sql) => this.stmt(sql), keys);
	}

	async getReferralEventTime(participantId: number): Promise<string | null> {
		return reconcile.getReferralEventTime((sql) => this.stmt(sql), participantId);
	}

	async setReferralEventTime(participantId: number, occurredAt: string): Promise<void> {
		reconcile.setReferralEventTime((sql) => this.stmt(sql), participantId, toIso(occurredAt));
	}

	async savePipedriveSend(row: PipedriveSendRow, now: string): Promise<void> {
		sends.savePipedriveSend((sql) => this.stmt(sql), row, toIso(now));
	}

	async latestQueuedSendAt(): Promise<string | null> {
		return sends.latestQueuedSendAt((sql) => this.stmt(sql));
	}

	async deletePipedriveSend(participantId: number): Promise<void> {
		sends.deletePipedriveSend((sql) => this.stmt(sql), participantId);
	}

	async getPipedriveSends(participantIds: number[]): Promise<PipedriveSend[]> {
		return sends.getPipedriveSends((sql) => this.stmt(sql), participantIds);
	}

	async claimDueSends(now: string, leaseUntil: string, limit: number): Promise<PipedriveSend[]> {
		return sends.claimDueSends((sql) => this.stmt(sql), toIso(now), toIso(leaseUntil), toLimit(limit));
	}

	async listPipedriveSends(filter: PipedriveSendFilter, limit: number): Promise<PipedriveSend[]> {
		return sends.listPipedriveSends((sql) => this.stmt(sql), filter, toLimit(limit));
	}

	async lockParticipants(_ids: number[]): Promise<void> {
		// Write transactions are already serial (BEGIN IMMEDIATE + the in-process mutex).
		if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
	}

	async referrerTally(referrerId: number): Promise<ReferrerTally> {
		const r = this.stmt('SELECT qualified, live_rewards, settled_rules FROM referrer_tallies WHERE referrer_id = ?').get(referrerId);
		if (r === undefined) return { qualified: 0, liveRewards: 0, settledRules: null };
		return { qualified: r.qualified as number, liveRewards: r.live_rewards as number, settledRules: r.settled_rules as string | null };
	}

	async settleReferrerTally(referrerId: number, settledRules: string | null): Promise<void> {
		this.stmt(
			'INSERT INTO referrer_tallies (referrer_id, settled_rules) VALUES (?, ?) ' +
				'ON CONFLICT (referrer_id) DO UPDATE SET settled_rules = excluded.settled_rules',
		).run(referrerId, settledRules);
	}

	async countReferralsSince(referrerIds: number[], since: string): Promise<Map<number, number>> {
		const counts = new Map<number, number>();
		if (referrerIds.length === 0) return counts;
		const rows = this.stmt(
			'SELECT referred_by AS referrer, count(*) AS n FROM participants ' +
				'WHERE referred_by IN (SELECT value FROM json_each(?)) AND created_at >= ? GROUP BY referred_by',
		).all(JSON.stringify(referrerIds), toIso(since));
		for (const r of rows) counts.set(r.referrer as number, r.n as number);
		return counts;
	}

	async setSignupDevices(devices: Map<number, string>): Promise<void> {
		if (devices.size === 0) return;
		const update = this.stmt('UPDATE participants SET signup_device = ? WHERE id = ?');
		for (const [id, device] of devices) update.run(device, id);
	}

	async signupDevices(ids: number[]): Promise<Map<number, string>> {
		const devices = new Map<number, string>();
		if (ids.length === 0) return devices;
		const rows = this.stmt(
			'SELECT id, signup_device FROM participants WHERE id IN (SELECT value FROM json_each(?)) AND signup_device IS NOT NULL',
		).all(JSON.stringify(ids));
		for (const r of rows) devices.set(r.id as number, r.signup_device as string);
		return devices;
	}

	async eraseParticipant(id: number, now: string): Promise<Participant | null> {
		const ts = toIso(now);
		const r = this.stmt(
			"UPDATE participants SET email = NULL, email_identity = NULL, first_name = NULL, last_name = NULL, metadata = '{}', signup_device = NULL, " +
				`erased_at = coalesce(erased_at, ?), updated_at = ? WHERE id = ? RETURNING ${PARTICIPANT_COLUMNS}`,
		).get(ts, ts, id);
		return r === undefined ? null : rowToParticipant(r);
	}

	async campaignStats(campaignId: number, topReferrers: number): Promise<CampaignStats> {
		const bySource = Object.fromEntries(PARTICIPANT_SOURCES.map((s) => [s, 0])) as Record<
			ParticipantSource,
			number
		>;
		let participants = 0;
		for (const r of this.stmt(
			'SELECT source, count(*) AS n FROM participants WHERE campaign_id = ? GROUP BY source',
		).all(campaignId)) {
			bySource[r.source as ParticipantSource] = r.n as number;
			participants += r.n as number;
		}
		const referrals = { total: 0, pending: 0, qualified: 0, unqualified: 0 };
		for (const r of this.stmt(
			'SELECT referral_status AS status, count(*) AS n FROM participants ' +
				'WHERE campaign_id = ? AND referred_by IS NOT NULL GROUP BY referral_status',
		).all(campaignId)) {
			referrals.total += r.n as number;
			if (r.status === 'pending' || r.status === 'qualified' || r.status === 'unqualified') {
				referrals[r.status] = r.n as number;
			}
		}
		const top: TopReferrer[] =
			topReferrers > 0
				? this.stmt(
						'SELECT p.id, p.email, p.first_name, p.last_name, p.code, c.referrals, c.qualified ' +
							'FROM (SELECT referred_by, count(*) AS referrals, ' +
							"sum(CASE WHEN referral_status = 'qualified' THEN 1 ELSE 0 END) AS qualified " +
							'FROM participants WHERE campaign_id = ? AND referred_by IS NOT NULL GROUP BY referred_by) AS c ' +
							'JOIN participants AS p ON p.id = c.referred_by ' +
							'ORDER BY c.qualified DESC, c.referrals DESC, p.id ASC LIMIT ?',
					)
						.all(campaignId, toLimit(topReferrers))
						.map((r) => ({
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
		return dashboard.dashboardSeries((sql) => this.stmt(sql), campaignId, metrics, spans);
	}

	async dashboardFirstBucket(campaignId: number): Promise<number | null> {
		return dashboard.dashboardFirstBucket((sql) => this.stmt(sql), campaignId);
	}

	async dashboardTotals(campaignId: number, fromBucket: number | null, toBucket: number): Promise<TallyRow[]> {
		return dashboard.dashboardTotals((sql) => this.stmt(sql), campaignId, fromBucket, toBucket);
	}

	async foldDashboardTallies(): Promise<void> {}

	async referrerBoard(campaignId: number, limit: number): Promise<BoardRow[]> {
		return dashboard.referrerBoard((sql) => this.stmt(sql), campaignId, toLimit(limit));
	}

	async appendEvents(events: EventInsert[], now: string): Promise<void> {
		if (events.length === 0) return;
		const ts = toIso(now);
		const insert = this.stmt(
			'INSERT INTO events (type, campaign_id, participant_id, referrer_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)',
		);
		for (const e of events) {
			insert.run(
				e.type,
				e.campaignId,
				e.participantId ?? null,
				e.referrerId ?? null,
				JSON.stringify(e.payload ?? {}),
				ts,
			);
		}
	}

	async insertReferralReviews(rows: ReviewInsert[], now: string): Promise<void> {
		reviews.insertReferralReviews((sql) => this.stmt(sql), rows, toIso(now));
	}

	async getReferralReviews(participantIds: number[]): Promise<Map<number, ReferralReview>> {
		return reviews.getReferralReviews((sql) => this.stmt(sql), participantIds);
	}

	async decideReferralReview(participantId: number, decision: 'approved' | 'rejected', reason: string | null, now: string): Promise<void> {
		reviews.decideReferralReview((sql) => this.stmt(sql), participantId, decision, reason, toIso(now));
	}

	async listEvents(filter: EventFilter, limit: number, order: 'asc' | 'desc'): Promise<ReferralEvent[]> {
		const where: string[] = [];
		const params: Array<string | number> = [];
		if (filter.afterId !== undefined) {
			where.push('id > ?');
			params.push(filter.afterId);
		}
		if (filter.types?.length) {
			where.push('type IN (SELECT value FROM json_each(?))');
			params.push(JSON.stringify(filter.types));
		}
		if (filter.campaignId !== undefined) {
			where.push('campaign_id = ?');
			params.push(filter.campaignId);
		}
		params.push(toLimit(limit));
		const sql =
			`SELECT * FROM events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
			`ORDER BY id ${order === 'desc' ? 'DESC' : 'ASC'} LIMIT ?`;
		return this.stmt(sql).all(...params).map(rowToEvent);
	}
}
