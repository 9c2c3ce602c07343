// Versioned schema migrations of the SQLite backend.
//
// To change the schema, append an entry with the next version number; never edit an entry that
// has shipped. Each migration runs once, inside the same `BEGIN IMMEDIATE` transaction as its
// `schema_migrations` row, so a crash leaves either all of it or none of it. Statements run in
// order through `DatabaseSync#exec`.

export interface SqliteMigration {
	version: number;
	name: string;
	statements: string[];
}

export const SQLITE_MIGRATIONS: SqliteMigration[] = [
	{
		version: 1,
		name: 'campaigns, participants, events',
		statements: [
			`CREATE TABLE campaigns (
				id INTEGER PRIMARY KEY,
				slug TEXT NOT NULL UNIQUE,
				name TEXT NOT NULL,
				status TEXT NOT NULL CHECK (status IN ('active', 'paused', 'archived')),
				link_template TEXT NOT NULL,
				code_settings TEXT NOT NULL CHECK (json_valid(code_settings)),
				fraud_settings TEXT NOT NULL CHECK (json_valid(fraud_settings)),
				created_at TEXT NOT NULL,
				updated_at TEXT NOT NULL
			) STRICT`,
			`CREATE TABLE participants (
				id INTEGER PRIMARY KEY,
				campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
				email TEXT,
				first_name TEXT,
				last_name TEXT,
				source TEXT NOT NULL CHECK (source IN ('direct', 'referred', 'synced', 'manual', 'api')),
				code TEXT NOT NULL UNIQUE,
				link TEXT NOT NULL,
				referred_by INTEGER REFERENCES participants (id),
				referral_status TEXT NOT NULL DEFAULT 'none'
					CHECK (referral_status IN ('none', 'pending', 'qualified', 'unqualified')),
				qualified_at TEXT,
				sale_value REAL,
				sale_currency TEXT,
				pipedrive_person_id INTEGER,
				pipedrive_lead_id TEXT,
				pipedrive_deal_id INTEGER,
				metadata TEXT NOT NULL DEFAULT '{}',
				created_at TEXT NOT NULL,
				updated_at TEXT NOT NULL,
				erased_at TEXT,
				-- NULLs are distinct in a UNIQUE constraint: erased participants (email NULL) never collide.
				UNIQUE (campaign_id, email)
			) STRICT`,
			// (referred_by, created_at) serves lookups by referrer and countReferralsSince.
			`CREATE INDEX participants_referred_by ON participants (referred_by, created_at)
				WHERE referred_by IS NOT NULL`,
			`CREATE INDEX participants_campaign_updated ON participants (campaign_id, updated_at)`,
			`CREATE INDEX participants_pipedrive_person ON participants (pipedrive_person_id)
				WHERE pipedrive_person_id IS NOT NULL`,
			`CREATE INDEX participants_pipedrive_lead ON participants (pipedrive_lead_id)
				WHERE pipedrive_lead_id IS NOT NULL`,
			`CREATE INDEX participants_pipedrive_deal ON participants (pipedrive_deal_id)
				WHERE pipedrive_deal_id IS NOT NULL`,
			// AUTOINCREMENT: event ids are never reused, even if the newest rows were ever deleted.
			`CREATE TABLE events (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				type TEXT NOT NULL,
				campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
				participant_id INTEGER,
				referrer_id INTEGER,
				payload TEXT NOT NULL DEFAULT '{}',
				created_at TEXT NOT NULL
			) STRICT`,
			`CREATE INDEX events_campaign ON events (campaign_id, id)`,
			`CREATE INDEX events_type ON events (type, id)`,
		],
	},
	{
		version: 2,
		name: 'sync state per campaign (contact sync cursors)',
		statements: [
			`CREATE TABLE sync_state (
				campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
				key TEXT NOT NULL,
				state TEXT NOT NULL CHECK (json_valid(state)),
				updated_at TEXT NOT NULL,
				PRIMARY KEY (campaign_id, key)
			) STRICT`,
		],
	},
	{
		version: 3,
		name: 'idempotency keys of applied qualifications',
		statements: [
			`CREATE TABLE idempotency_keys (
				key TEXT PRIMARY KEY,
				participant_id INTEGER NOT NULL REFERENCES participants (id),
				created_at TEXT NOT NULL
			) STRICT`,
		],
	},
];
