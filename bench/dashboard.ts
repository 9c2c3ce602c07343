// The dashboard's figures at scale, for bench:store: a campaign of 1,000,000 participants and
// 200,000 rewards against one of 10,000 and 2,000, both seeded with bulk SQL over the same 90 days
// (triggers keep the tallies, as on any write), then the figures a dashboard view computes (30 days
// and all time, in a non-UTC zone) timed alternately on both. Growth = big ÷ small; target <= 3.
import { DatabaseSync } from 'node:sqlite';

import pg from 'pg';

import { ReferralProgram } from '../lib/referrals/program';
import { closeAllStores, openStore } from '../lib/store';
import type { PostgresStoreConfig, StoreConfig } from '../lib/store/types';

export const DASHBOARD_BIG = Number(process.env.BENCH_DASHBOARD_PARTICIPANTS ?? 1_000_000);
export const DASHBOARD_SMALL = 10_000;
const VIEWS = Number(process.env.BENCH_DASHBOARD_VIEWS ?? 20);
const SPAN_SECONDS = 90 * 86_400;
const ZONE = 'America/New_York';

/**
 * One campaign's rows: a fifth referrers, the rest referred by them; 60% of referrals in Pipedrive,
 * 30% qualified a day after signing up; rewards for a fifth of the participants in four states and
 * two currencies. Spread evenly over the 90 days before `endEpoch`.
 */
function seedSql(backend: 'sqlite' | 'postgres', campaignId: number, participants: number, endEpoch: number) {
	const referrers = Math.floor(participants / 5);
	const rewards = Math.floor(participants / 5);
	const step = SPAN_SECONDS / participants;
	const start = endEpoch - SPAN_SECONDS;
	const sqlite = backend === 'sqlite';
	const series = (n: number) => (sqlite ? `(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${n - 1}) SELECT i FROM s)` : `(SELECT generate_series(0, ${n - 1}) AS i)`);
	const at = (seconds: string) => (sqlite ? `strftime('%Y-%m-%dT%H:%M:%fZ', ${seconds}, 'unixepoch')` : `to_timestamp(${seconds})`);
	const json = sqlite ? "'{}'" : "'{}'::jsonb";
	const code = (prefix: string) => (sqlite ? `'${prefix}${campaignId}-' || i` : `'${prefix}${campaignId}-' || i`);
	const base = `(SELECT min(id) FROM participants WHERE campaign_id = ${campaignId})`;
	return [
		`INSERT INTO participants (campaign_id, email, email_identity, first_name, source, code, link, referred_by, referral_status, metadata, created_at, updated_at)
		SELECT ${campaignId}, ${code('r')} || '@bench.example', ${code('r')} || '@bench.example', 'R' || i, 'direct', ${code('R')}, 'https://x.test/?ref=' || ${code('R')},
			NULL, 'none', ${json}, ${at(`${start} + i * ${step * 5}`)}, ${at(`${start} + i * ${step * 5}`)} FROM ${series(referrers)} AS s`,
		`INSERT INTO participants (campaign_id, email, email_identity, first_name, source, code, link, referred_by, referral_status, qualified_at,
			pipedrive_person_id, metadata, created_at, updated_at)
		SELECT ${campaignId}, ${code('f')} || '@bench.example', ${code('f')} || '@bench.example', 'F' || i, 'referred', ${code('F')}, 'https://x.test/?ref=' || ${code('F')},
			${base} + (i % ${referrers}), CASE WHEN i % 10 < 3 THEN 'qualified' ELSE 'pending' END,
			CASE WHEN i % 10 < 3 THEN ${at(`${start} + i * ${step} + 86400`)} END, CASE WHEN i % 10 < 6 THEN i + 1 END,
			${json}, ${at(`${start} + i * ${step}`)}, ${at(`${start} + i * ${step}`)} FROM ${series(participants - referrers)} AS s`,
		`INSERT INTO rewards (campaign_id, beneficiary_id, beneficiary_role, rule, ordinal, referral_id, kind, amount, currency, status, due_at, created_at, updated_at)
		SELECT ${campaignId}, ${base} + (i % ${referrers}), 'referrer', 'per_referral', i + 1, ${base} + ${referrers} + i, 'amount', 25,
			CASE WHEN i % 2 = 0 THEN 'EUR' ELSE 'USD' END,
			CASE i % 4 WHEN 0 THEN 'issued' WHEN 1 THEN 'due' WHEN 2 THEN 'pending_approval' ELSE 'cancelled' END,
			${at(`${start} + i * ${SPAN_SECONDS / rewards}`)}, ${at(`${start} + i * ${SPAN_SECONDS / rewards}`)}, ${at(`${start} + i * ${SPAN_SECONDS / rewards}`)}
		FROM ${series(rewards)} AS s`,
	];
}

async function execute(config: StoreConfig, statements: string[]): Promise<void> {
	if (config.backend === 'sqlite') {
		const db = new DatabaseSync(config.path);
		try {
			db.exec('BEGIN');
			for (const sql of statements) db.exec(sql);
			db.exec('COMMIT');
		} finally {
			db.close();
		}
		return;
	}
	const { host, port, database, user, password, schema } = config as PostgresStoreConfig;
	const client = new pg.Client({ host, port, database, user, password, options: `-c search_path=${schema}` });
	await client.connect();
	try {
		await client.query('BEGIN');
		for (const sql of statements) await client.query(sql);
		await client.query('COMMIT');
	} finally {
		await client.end();
	}
}

/** Seconds per dashboard view (30 days and all time) for the small and the big campaign, and the seeding time. */
export async function dashboardAtScale(config: StoreConfig): Promise<{ small: number; big: number; seedSeconds: number }> {
	const store = await openStore(config);
	const program = new ReferralProgram(store);
	const small = await program.createCampaign({ name: `Dashboard small ${Date.now()}` }, 'https://x.test/?ref={{code}}');
	const big = await program.createCampaign({ name: `Dashboard big ${Date.now()}` }, 'https://x.test/?ref={{code}}');
	const endEpoch = Math.floor(Date.now() / 1000);
	const seedStart = Date.now();
	await execute(config, [...seedSql(config.backend, small.id, DASHBOARD_SMALL, endEpoch), ...seedSql(config.backend, big.id, DASHBOARD_BIG, endEpoch)]);
	const seedSeconds = (Date.now() - seedStart) / 1000;
	const view = async (campaignId: number) => {
		const started = process.hrtime.bigint();
		const month = await program.getDashboardFigures(campaignId, { period: '30', timeZone: ZONE });
		const all = await program.getDashboardFigures(campaignId, { period: 'all', timeZone: ZONE });
		if (all.referredSignups === 0 || month.daily.length !== 30) throw new Error('dashboard bench: the seeded figures are missing');
		return Number(process.hrtime.bigint() - started) / 1e9;
	};
	// The first view of each folds what seeding appended (PostgreSQL); then views alternate.
	await view(small.id);
	await view(big.id);
	const times = { small: [] as number[], big: [] as number[] };
	for (let i = 0; i < VIEWS; i++) {
		times.small.push(await view(small.id));
		times.big.push(await view(big.id));
	}
	await closeAllStores();
	const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
	return { small: median(times.small), big: median(times.big), seedSeconds };
}
