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
	/**
	 * Text replacements in a table's stored definition, for a change that leaves every stored row
	 * valid (widening a CHECK list): SQLite's documented writable_schema procedure, which keeps the
	 * table, its rows, indexes, triggers and foreign keys as they are. Applied before `statements`.
	 */
	schemaEdits?: Array<{ table: string; from: string; to: string }>;
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
	{
		version: 4,
		name: 'reward rules, rewards and coupon pools',
		statements: [
			// Existing campaigns get the empty rule set (no rewards).
			`ALTER TABLE campaigns ADD COLUMN reward_rules TEXT NOT NULL
				DEFAULT '{"perReferral":null,"milestones":[],"commission":null,"maxPerReferrer":null,"referred":null,"holdDays":0,"approval":false}'
				CHECK (json_valid(reward_rules))`,
			// (campaign, beneficiary, rule, ordinal) is a reward's identity: creating it twice is a no-op.
			`CREATE TABLE rewards (
				id INTEGER PRIMARY KEY,
				campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
				beneficiary_id INTEGER NOT NULL REFERENCES participants (id),
				beneficiary_role TEXT NOT NULL CHECK (beneficiary_role IN ('referrer', 'referred')),
				rule TEXT NOT NULL CHECK (rule IN ('per_referral', 'milestone', 'commission', 'referred')),
				ordinal INTEGER NOT NULL,
				referral_id INTEGER,
				kind TEXT NOT NULL CHECK (kind IN ('amount', 'coupon', 'custom')),
				amount REAL,
				currency TEXT,
				coupon_code TEXT,
				payload TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
				status TEXT NOT NULL CHECK (status IN
					('pending_approval', 'pending_hold', 'due', 'issuing', 'issued', 'failed', 'cancelled')),
				due_at TEXT NOT NULL,
				lease_until TEXT,
				attempts INTEGER NOT NULL DEFAULT 0,
				external_ref TEXT,
				failure_reason TEXT,
				issued_at TEXT,
				created_at TEXT NOT NULL,
				updated_at TEXT NOT NULL,
				UNIQUE (campaign_id, beneficiary_id, rule, ordinal)
			) STRICT`,
			// claimRewards, promoteHeldRewards and releaseExpiredClaims: by status, oldest first.
			`CREATE INDEX rewards_claim ON rewards (status, due_at, id)`,
			`CREATE INDEX rewards_beneficiary ON rewards (beneficiary_id, id)`,
			`CREATE INDEX rewards_referral ON rewards (referral_id, id) WHERE referral_id IS NOT NULL`,
			`CREATE INDEX rewards_campaign ON rewards (campaign_id, id)`,
			`CREATE TABLE coupons (
				id INTEGER PRIMARY KEY,
				campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
				code TEXT NOT NULL,
				reward_id INTEGER REFERENCES rewards (id),
				added_at TEXT NOT NULL,
				taken_at TEXT,
				UNIQUE (campaign_id, code)
			) STRICT`,
			// A reward gets at most one coupon, a coupon goes to at most one reward.
			`CREATE UNIQUE INDEX coupons_reward ON coupons (reward_id) WHERE reward_id IS NOT NULL`,
			// takeCoupon: the campaign's next free coupon (reward_id IS NULL), in upload order.
			`CREATE INDEX coupons_free ON coupons (campaign_id, reward_id, id)`,
		],
	},
	{
		version: 5,
		name: 'leases: work outside the store done by one holder at a time',
		statements: [
			`CREATE TABLE leases (
				key TEXT PRIMARY KEY,
				holder TEXT NOT NULL,
				lease_until TEXT NOT NULL
			) STRICT`,
		],
	},
	{
		version: 6,
		name: 'one participant per person: the email identity (plus-tags, Gmail dots) is unique per campaign',
		statements: [
			`ALTER TABLE participants ADD COLUMN email_identity TEXT`,
			// The identity of lib/referrals/email.ts emailIdentity(), in SQL for the rows already
			// there (emails are stored trimmed and lower-cased, with exactly one @). The first of
			// several participants with one identity keeps it; later ones (registered before this
			// rule) keep their email as their identity, so nothing is merged or lost.
			`WITH parts AS (
				SELECT id, campaign_id, email,
					substr(email, 1, instr(email, '@') - 1) AS local,
					substr(email, instr(email, '@') + 1) AS domain
				FROM participants WHERE email IS NOT NULL
			), based AS (
				SELECT id, campaign_id, email, domain,
					CASE WHEN instr(local, '+') > 1 THEN substr(local, 1, instr(local, '+') - 1) ELSE local END AS base
				FROM parts
			), identities AS (
				SELECT id, email,
					CASE WHEN domain IN ('gmail.com', 'googlemail.com') THEN replace(base, '.', '') || '@gmail.com'
						ELSE base || '@' || domain END AS identity,
					campaign_id
				FROM based
			), ranked AS (
				SELECT id, email, identity,
					row_number() OVER (PARTITION BY campaign_id, identity ORDER BY id) AS n
				FROM identities
			)
			UPDATE participants SET email_identity = (
				SELECT CASE WHEN ranked.n = 1 THEN ranked.identity ELSE ranked.email END FROM ranked WHERE ranked.id = participants.id
			) WHERE email IS NOT NULL`,
			// NULLs are distinct: erased participants (identity NULL) never collide.
			`CREATE UNIQUE INDEX participants_campaign_identity ON participants (campaign_id, email_identity)`,
		],
	},
	{
		version: 7,
		name: 'links made from n8n\'s unconfigured URL (localhost) follow the configured public URL',
		statements: [
			// A worker without WEBHOOK_URL built the default template from http://localhost:5678; the
			// {{n8nUrl}} placeholder is resolved with each process's configured URL when a link is shown.
			// Matched: http://localhost or http://127.0.0.1, an optional :port (at most 5 digits), then
			// exactly /form/refer?ref={{code}} (40 characters without the port).
			`UPDATE participants SET link = '{{n8nUrl}}' || substr(link, instr(link, '/form/refer?ref='))
				WHERE campaign_id IN (SELECT id FROM campaigns WHERE link_template GLOB 'http://*/form/refer[?]ref={{code}}'
					AND substr(link_template, 1, 16) IN ('http://localhost', 'http://127.0.0.1')
					AND (length(link_template) = 40 OR (substr(link_template, 17, 1) = ':'
						AND length(link_template) BETWEEN 42 AND 46
						AND NOT substr(link_template, 18, length(link_template) - 41) GLOB '*[^0-9]*')))`,
			`UPDATE campaigns SET link_template = '{{n8nUrl}}/form/refer?ref={{code}}'
				WHERE link_template GLOB 'http://*/form/refer[?]ref={{code}}'
					AND substr(link_template, 1, 16) IN ('http://localhost', 'http://127.0.0.1')
					AND (length(link_template) = 40 OR (substr(link_template, 17, 1) = ':'
						AND length(link_template) BETWEEN 42 AND 46
						AND NOT substr(link_template, 18, length(link_template) - 41) GLOB '*[^0-9]*'))`,
		],
	},
	{
		version: 8,
		name: 'referrer tallies: qualified referrals and live rewards per referrer, kept by triggers',
		statements: [
			// What the reward rules need about a referrer, kept per referrer so that a qualification
			// costs the same whatever their size. The triggers below keep the two counts in the same
			// transaction as the write that changes them, whichever code path makes it.
			`CREATE TABLE referrer_tallies (
				referrer_id INTEGER PRIMARY KEY REFERENCES participants (id),
				qualified INTEGER NOT NULL DEFAULT 0 CHECK (qualified >= 0),
				live_rewards INTEGER NOT NULL DEFAULT 0 CHECK (live_rewards >= 0),
				settled_rules TEXT
			) STRICT`,
			// The figures of the rows already there; settled_rules stays NULL, so each referrer's next
			// qualification recomputes their rewards in full once.
			`INSERT INTO referrer_tallies (referrer_id, qualified, live_rewards)
			SELECT referrer_id, sum(qualified), sum(live) FROM (
				SELECT referred_by AS referrer_id, referral_status = 'qualified' AS qualified, 0 AS live
				FROM participants WHERE referred_by IS NOT NULL
				UNION ALL
				SELECT beneficiary_id, 0, 1 FROM rewards WHERE beneficiary_role = 'referrer' AND status <> 'cancelled'
			) GROUP BY referrer_id`,
			// An upsert would check the CHECK constraint on the proposed row (-1) first: insert, then add.
			`CREATE TRIGGER referrer_tallies_on_referral_insert AFTER INSERT ON participants
			WHEN NEW.referred_by IS NOT NULL AND NEW.referral_status = 'qualified'
			BEGIN
				INSERT INTO referrer_tallies (referrer_id) VALUES (NEW.referred_by) ON CONFLICT DO NOTHING;
				UPDATE referrer_tallies SET qualified = qualified + 1 WHERE referrer_id = NEW.referred_by;
			END`,
			`CREATE TRIGGER referrer_tallies_on_referral_status AFTER UPDATE OF referral_status ON participants
			WHEN NEW.referred_by IS NOT NULL AND (OLD.referral_status = 'qualified') <> (NEW.referral_status = 'qualified')
			BEGIN
				INSERT INTO referrer_tallies (referrer_id) VALUES (NEW.referred_by) ON CONFLICT DO NOTHING;
				UPDATE referrer_tallies SET qualified = qualified + (CASE WHEN NEW.referral_status = 'qualified' THEN 1 ELSE -1 END)
				WHERE referrer_id = NEW.referred_by;
			END`,
			`CREATE TRIGGER referrer_tallies_on_reward_insert AFTER INSERT ON rewards
			WHEN NEW.beneficiary_role = 'referrer' AND NEW.status <> 'cancelled'
			BEGIN
				INSERT INTO referrer_tallies (referrer_id) VALUES (NEW.beneficiary_id) ON CONFLICT DO NOTHING;
				UPDATE referrer_tallies SET live_rewards = live_rewards + 1 WHERE referrer_id = NEW.beneficiary_id;
			END`,
			// Also fired by insertRewards reviving a cancelled identity (an upsert's DO UPDATE).
			`CREATE TRIGGER referrer_tallies_on_reward_status AFTER UPDATE OF status ON rewards
			WHEN NEW.beneficiary_role = 'referrer' AND (OLD.status = 'cancelled') <> (NEW.status = 'cancelled')
			BEGIN
				INSERT INTO referrer_tallies (referrer_id) VALUES (NEW.beneficiary_id) ON CONFLICT DO NOTHING;
				UPDATE referrer_tallies SET live_rewards = live_rewards + (CASE WHEN NEW.status = 'cancelled' THEN -1 ELSE 1 END)
				WHERE referrer_id = NEW.beneficiary_id;
			END`,
		],
	},
	{
		version: 9,
		name: 'referrals held for review: statuses flagged and rejected, and the reasons and decisions',
		schemaEdits: [
			{
				table: 'participants',
				from: "CHECK (referral_status IN ('none', 'pending', 'qualified', 'unqualified'))",
				to: "CHECK (referral_status IN ('none', 'flagged', 'pending', 'qualified', 'unqualified', 'rejected'))",
			},
		],
		statements: [
			`CREATE TABLE referral_reviews (
				participant_id INTEGER PRIMARY KEY REFERENCES participants (id),
				campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
				reasons TEXT NOT NULL CHECK (json_valid(reasons)),
				decision TEXT CHECK (decision IN ('approved', 'rejected')),
				decision_reason TEXT,
				decided_at TEXT,
				flagged_at TEXT NOT NULL
			) STRICT`,
		],
	},
	{
		version: 10,
		name: 'dashboard tallies: figures per campaign and quarter hour, and a leaderboard, kept by triggers',
		statements: [
			// The dashboard's figures cost the same whatever the campaign's size: counts per campaign,
			// metric, currency and quarter hour (bucket = Unix seconds / 900; a quarter hour divides
			// every time zone's offset, so any zone's days are whole buckets). Participants count at
			// their sign-up (cohort metrics follow the referral's later state), qualifications at
			// qualified_at, rewards at their creation by current status. See lib/dashboard/metrics.ts.
			`CREATE TABLE dashboard_tallies (
				campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
				metric TEXT NOT NULL,
				currency TEXT NOT NULL,
				bucket INTEGER NOT NULL,
				n INTEGER NOT NULL,
				amount REAL NOT NULL,
				PRIMARY KEY (campaign_id, bucket, metric, currency)
			) STRICT, WITHOUT ROWID`,
			// The same figures per UTC day (bucket / 96), kept from the tallies by the triggers below:
			// a period's totals read whole days here and only the ragged ends from the quarter hours.
			`CREATE TABLE dashboard_days (
				campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
				day INTEGER NOT NULL,
				metric TEXT NOT NULL,
				currency TEXT NOT NULL,
				n INTEGER NOT NULL,
				amount REAL NOT NULL,
				PRIMARY KEY (campaign_id, day, metric, currency)
			) STRICT, WITHOUT ROWID`,
			// Referrals and qualified referrals per referrer, sorted by an index: the top N is N rows.
			`CREATE TABLE referrer_board (
				referrer_id INTEGER PRIMARY KEY REFERENCES participants (id),
				campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
				referrals INTEGER NOT NULL,
				qualified INTEGER NOT NULL
			) STRICT`,
			`CREATE INDEX referrer_board_rank ON referrer_board (campaign_id, qualified DESC, referrals DESC, referrer_id)`,
			// The lists of rewards needing a person, and the reversal-needed events, per campaign.
			`CREATE INDEX rewards_campaign_status ON rewards (campaign_id, status, id)`,
			`CREATE INDEX events_campaign_type ON events (campaign_id, type, id)`,
			// Figures of the rows already there.
			`INSERT INTO dashboard_tallies (campaign_id, metric, currency, bucket, n, amount)
			SELECT campaign_id, metric, '', bucket, count(*), 0 FROM (
				SELECT campaign_id, 'signup' AS metric, unixepoch(created_at) / 900 AS bucket FROM participants
				UNION ALL SELECT campaign_id, 'referrer', unixepoch(created_at) / 900 FROM participants WHERE referred_by IS NULL
				UNION ALL SELECT campaign_id, 'referral', unixepoch(created_at) / 900 FROM participants WHERE referred_by IS NOT NULL
				UNION ALL SELECT campaign_id, 'referral_sent', unixepoch(created_at) / 900 FROM participants WHERE referred_by IS NOT NULL
					AND (pipedrive_person_id IS NOT NULL OR pipedrive_lead_id IS NOT NULL OR pipedrive_deal_id IS NOT NULL)
				UNION ALL SELECT campaign_id, 'referral_qualified', unixepoch(created_at) / 900 FROM participants
					WHERE referred_by IS NOT NULL AND referral_status = 'qualified'
				UNION ALL SELECT campaign_id, 'qualification', unixepoch(qualified_at) / 900 FROM participants
					WHERE referred_by IS NOT NULL AND referral_status = 'qualified' AND qualified_at IS NOT NULL
				UNION ALL SELECT p.campaign_id, 'referral_rewarded', unixepoch(p.created_at) / 900 FROM participants AS p
					WHERE p.referred_by IS NOT NULL AND EXISTS (SELECT 1 FROM rewards AS r WHERE r.referral_id = p.id AND r.status = 'issued')
			) GROUP BY campaign_id, metric, bucket`,
			`INSERT INTO dashboard_tallies (campaign_id, metric, currency, bucket, n, amount)
			SELECT campaign_id, 'reward:' || status, coalesce(currency, ''), unixepoch(created_at) / 900, count(*), coalesce(sum(amount), 0)
			FROM rewards GROUP BY 1, 2, 3, 4`,
			`INSERT INTO referrer_board (referrer_id, campaign_id, referrals, qualified)
			SELECT referred_by, campaign_id, count(*), sum(referral_status = 'qualified') FROM participants
			WHERE referred_by IS NOT NULL GROUP BY referred_by, campaign_id`,
			`INSERT INTO dashboard_days (campaign_id, day, metric, currency, n, amount)
			SELECT campaign_id, bucket / 96, metric, currency, sum(n), sum(amount) FROM dashboard_tallies GROUP BY 1, 2, 3, 4`,
			// Fired by the tallies' own inserts and upserts (an upsert's DO UPDATE fires UPDATE triggers).
			`CREATE TRIGGER dashboard_days_on_insert AFTER INSERT ON dashboard_tallies
			BEGIN
				INSERT INTO dashboard_days (campaign_id, day, metric, currency, n, amount)
				VALUES (NEW.campaign_id, NEW.bucket / 96, NEW.metric, NEW.currency, NEW.n, NEW.amount)
				ON CONFLICT (campaign_id, day, metric, currency) DO UPDATE SET n = n + excluded.n, amount = amount + excluded.amount;
			END`,
			`CREATE TRIGGER dashboard_days_on_update AFTER UPDATE ON dashboard_tallies
			BEGIN
				UPDATE dashboard_days SET n = n + NEW.n - OLD.n, amount = amount + NEW.amount - OLD.amount
				WHERE campaign_id = NEW.campaign_id AND day = NEW.bucket / 96 AND metric = NEW.metric AND currency = NEW.currency;
			END`,
			`CREATE TRIGGER dashboard_on_participant_insert AFTER INSERT ON participants
			BEGIN
				INSERT INTO dashboard_tallies (campaign_id, metric, currency, bucket, n, amount)
				SELECT NEW.campaign_id, metric, '', bucket, 1, 0 FROM (
					SELECT 'signup' AS metric, unixepoch(NEW.created_at) / 900 AS bucket
					UNION ALL SELECT CASE WHEN NEW.referred_by IS NULL THEN 'referrer' ELSE 'referral' END, unixepoch(NEW.created_at) / 900
					UNION ALL SELECT 'referral_sent', unixepoch(NEW.created_at) / 900 WHERE NEW.referred_by IS NOT NULL
						AND (NEW.pipedrive_person_id IS NOT NULL OR NEW.pipedrive_lead_id IS NOT NULL OR NEW.pipedrive_deal_id IS NOT NULL)
					UNION ALL SELECT 'referral_qualified', unixepoch(NEW.created_at) / 900
						WHERE NEW.referred_by IS NOT NULL AND NEW.referral_status = 'qualified'
					UNION ALL SELECT 'qualification', unixepoch(NEW.qualified_at) / 900
						WHERE NEW.referred_by IS NOT NULL AND NEW.referral_status = 'qualified' AND NEW.qualified_at IS NOT NULL
				) WHERE true
				ON CONFLICT (campaign_id, bucket, metric, currency) DO UPDATE SET n = n + 1;
				INSERT INTO referrer_board (referrer_id, campaign_id, referrals, qualified)
				SELECT NEW.referred_by, NEW.campaign_id, 1, NEW.referral_status = 'qualified' WHERE NEW.referred_by IS NOT NULL
				ON CONFLICT (referrer_id) DO UPDATE SET referrals = referrals + 1, qualified = qualified + excluded.qualified;
			END`,
			`CREATE TRIGGER dashboard_on_referral_sent AFTER UPDATE OF pipedrive_person_id, pipedrive_lead_id, pipedrive_deal_id ON participants
			WHEN NEW.referred_by IS NOT NULL
				AND (OLD.pipedrive_person_id IS NOT NULL OR OLD.pipedrive_lead_id IS NOT NULL OR OLD.pipedrive_deal_id IS NOT NULL)
					<> (NEW.pipedrive_person_id IS NOT NULL OR NEW.pipedrive_lead_id IS NOT NULL OR NEW.pipedrive_deal_id IS NOT NULL)
			BEGIN
				INSERT INTO dashboard_tallies (campaign_id, metric, currency, bucket, n, amount)
				VALUES (NEW.campaign_id, 'referral_sent', '', unixepoch(NEW.created_at) / 900,
					CASE WHEN NEW.pipedrive_person_id IS NOT NULL OR NEW.pipedrive_lead_id IS NOT NULL OR NEW.pipedrive_deal_id IS NOT NULL THEN 1 ELSE -1 END, 0)
				ON CONFLICT (campaign_id, bucket, metric, currency) DO UPDATE SET n = n + excluded.n;
			END`,
			`CREATE TRIGGER dashboard_on_referral_status AFTER UPDATE OF referral_status, qualified_at ON participants
			WHEN NEW.referred_by IS NOT NULL AND (OLD.referral_status IS NOT NEW.referral_status OR OLD.qualified_at IS NOT NEW.qualified_at)
			BEGIN
				INSERT INTO dashboard_tallies (campaign_id, metric, currency, bucket, n, amount)
				SELECT NEW.campaign_id, metric, '', bucket, delta, 0 FROM (
					SELECT 'referral_qualified' AS metric, unixepoch(NEW.created_at) / 900 AS bucket,
						(NEW.referral_status = 'qualified') - (OLD.referral_status = 'qualified') AS delta
					UNION ALL SELECT 'qualification', unixepoch(OLD.qualified_at) / 900, -1
						WHERE OLD.referral_status = 'qualified' AND OLD.qualified_at IS NOT NULL
					UNION ALL SELECT 'qualification', unixepoch(NEW.qualified_at) / 900, 1
						WHERE NEW.referral_status = 'qualified' AND NEW.qualified_at IS NOT NULL
				) WHERE delta <> 0
				ON CONFLICT (campaign_id, bucket, metric, currency) DO UPDATE SET n = n + excluded.n;
				UPDATE referrer_board SET qualified = qualified + (NEW.referral_status = 'qualified') - (OLD.referral_status = 'qualified')
				WHERE referrer_id = NEW.referred_by AND (NEW.referral_status = 'qualified') <> (OLD.referral_status = 'qualified');
			END`,
			`CREATE TRIGGER dashboard_on_reward_insert AFTER INSERT ON rewards
			BEGIN
				INSERT INTO dashboard_tallies (campaign_id, metric, currency, bucket, n, amount)
				VALUES (NEW.campaign_id, 'reward:' || NEW.status, coalesce(NEW.currency, ''), unixepoch(NEW.created_at) / 900, 1, coalesce(NEW.amount, 0))
				ON CONFLICT (campaign_id, bucket, metric, currency) DO UPDATE SET n = n + 1, amount = amount + excluded.amount;
				INSERT INTO dashboard_tallies (campaign_id, metric, currency, bucket, n, amount)
				SELECT NEW.campaign_id, 'referral_rewarded', '', unixepoch(p.created_at) / 900, 1, 0 FROM participants AS p
				WHERE NEW.status = 'issued' AND p.id = NEW.referral_id
					AND NOT EXISTS (SELECT 1 FROM rewards AS r WHERE r.referral_id = NEW.referral_id AND r.status = 'issued' AND r.id <> NEW.id)
				ON CONFLICT (campaign_id, bucket, metric, currency) DO UPDATE SET n = n + 1;
			END`,
			// Also fired by insertRewards reviving a cancelled identity (an upsert's DO UPDATE).
			`CREATE TRIGGER dashboard_on_reward_update AFTER UPDATE OF status, amount, currency, created_at ON rewards
			WHEN OLD.status IS NOT NEW.status OR OLD.amount IS NOT NEW.amount OR OLD.currency IS NOT NEW.currency OR OLD.created_at IS NOT NEW.created_at
			BEGIN
				INSERT INTO dashboard_tallies (campaign_id, metric, currency, bucket, n, amount)
				VALUES (OLD.campaign_id, 'reward:' || OLD.status, coalesce(OLD.currency, ''), unixepoch(OLD.created_at) / 900, -1, -coalesce(OLD.amount, 0))
				ON CONFLICT (campaign_id, bucket, metric, currency) DO UPDATE SET n = n - 1, amount = amount + excluded.amount;
				INSERT INTO dashboard_tallies (campaign_id, metric, currency, bucket, n, amount)
				VALUES (NEW.campaign_id, 'reward:' || NEW.status, coalesce(NEW.currency, ''), unixepoch(NEW.created_at) / 900, 1, coalesce(NEW.amount, 0))
				ON CONFLICT (campaign_id, bucket, metric, currency) DO UPDATE SET n = n + 1, amount = amount + excluded.amount;
				-- A referral counts as rewarded while at least one of its rewards is issued.
				INSERT INTO dashboard_tallies (campaign_id, metric, currency, bucket, n, amount)
				SELECT NEW.campaign_id, 'referral_rewarded', '', unixepoch(p.created_at) / 900, CASE WHEN NEW.status = 'issued' THEN 1 ELSE -1 END, 0
				FROM participants AS p
				WHERE (OLD.status = 'issued') <> (NEW.status = 'issued') AND p.id = NEW.referral_id
					AND NOT EXISTS (SELECT 1 FROM rewards AS r WHERE r.referral_id = NEW.referral_id AND r.status = 'issued' AND r.id <> NEW.id)
				ON CONFLICT (campaign_id, bucket, metric, currency) DO UPDATE SET n = n + excluded.n;
			END`,
		],
	},
	{
		version: 11,
		name: 'pipedrive sends queued for a sweep; the time of the latest Pipedrive change applied to a referral',
		statements: [
			`CREATE TABLE pipedrive_sends (
				participant_id INTEGER PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
				campaign_id INTEGER NOT NULL,
				state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
				attempts INTEGER NOT NULL,
				next_attempt_at TEXT,
				last_error TEXT,
				request TEXT NOT NULL,
				updated_at TEXT NOT NULL
			) STRICT`,
			`CREATE INDEX pipedrive_sends_due ON pipedrive_sends (next_attempt_at) WHERE state = 'queued'`,
			// The time in Pipedrive of the latest qualification change applied to a referral: a change
			// that happened before it (a webhook retried late, after reconciliation) is stale.
			`CREATE TABLE referral_event_times (
				participant_id INTEGER PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
				occurred_at TEXT NOT NULL
			) STRICT`,
		],
	},
	{
		version: 12,
		name: 'the sign-up device of a participant (a fingerprint of IP and user agent) for the same-device fraud rule',
		statements: [`ALTER TABLE participants ADD COLUMN signup_device TEXT`],
	},
];
