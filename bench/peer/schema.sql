-- The tables of the do-it-yourself flows: what an n8n user keeps next to Pipedrive to know who
-- referred whom and which rewards were given. No unique constraints beyond the ids: the flows check
-- before they insert, as the Postgres node's operations invite.
CREATE TABLE IF NOT EXISTS peer_referrers (
	code text PRIMARY KEY,
	name text NOT NULL,
	email text NOT NULL,
	link text NOT NULL
);
CREATE TABLE IF NOT EXISTS peer_referrals (
	id bigserial PRIMARY KEY,
	email text NOT NULL,
	deal_id bigint NOT NULL,
	referrer_code text,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS peer_rewards (
	id bigserial PRIMARY KEY,
	deal_id bigint NOT NULL,
	referrer_email text NOT NULL,
	amount numeric NOT NULL,
	currency text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
