// Opening the SQLite file: connection settings, migrations, and closing every connection when the
// process exits, so the file is complete on its own after n8n stops.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

import { StoreError } from '../errors';
import type { SqliteMigration } from './migrations';

/** How long a statement waits for another process's lock before failing with SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 10_000;

/**
 * Opens (creating when missing) the database file, configures the connection and applies the
 * missing migrations; the connection is closed again when any of it fails.
 */
export function openDatabase(file: string, migrations: SqliteMigration[]): DatabaseSync {
	let db: DatabaseSync | undefined;
	try {
		mkdirSync(dirname(file), { recursive: true });
		db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS, enableForeignKeyConstraints: true });
		configureConnection(db);
		const applied = migrate(db, migrations);
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
		throw err;
	}
	return db;
}

/** A connection the store closed itself: nothing left to close at exit. */
export function forgetConnection(db: DatabaseSync): void {
	openConnections.delete(db);
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
