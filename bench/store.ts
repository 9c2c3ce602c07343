// `npm run bench:store`: enrolments and referred registrations through the Referral Campaign
// node, executed by n8n-core's workflow engine, against a raw baseline that writes the same rows
// (participants and their events) as fast as each database allows, measured in the same run.
// Then qualification and un-qualification throughput for a referrer with 50,000 qualified
// referrals against one with 10, in the same run: the incremental ledger makes both cost the same.
// Prints a table, then one JSON line with every figure. Not a test: the machine is shared.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

import type { ICredentialDataDecryptedObject } from 'n8n-workflow';
import pg from 'pg';

import { ReferralStoreApi } from '../credentials/ReferralStoreApi.credentials';
import { seedReferrerOfSize } from './big-referrer';
import { DASHBOARD_BIG, DASHBOARD_SMALL, dashboardAtScale } from './dashboard';
import { ReferralProgram } from '../lib/referrals/program';
import { generateCode } from '../lib/referrals/codes';
import { closeAllStores, openStore } from '../lib/store';
import type { PostgresStoreConfig, StoreConfig } from '../lib/store/types';
import { QualifyWithCode } from '../nodes/QualifyWithCode/QualifyWithCode.node.js';
import { ReferralCampaign } from '../nodes/ReferralCampaign/ReferralCampaign.node.js';
import { runWorkflow, type WorkflowJson } from '../test/helpers/n8n';
import { createTestDatabase, probePostgres } from '../test/helpers/postgres';

const N = Number(process.env.BENCH_ITEMS ?? 10_000);
/** Qualifications are one transaction each (each is its own event), so fewer of them. */
const Q = Number(process.env.BENCH_QUALIFICATIONS ?? 2_000);
const CLAIM_BATCH = 50;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** The big referrer's qualified referrals (seeded in batches), the small one's, and how many of each are measured. */
const BIG_REFERRER = Number(process.env.BENCH_BIG_REFERRER ?? 50_000);
const SMALL_REFERRER = 10;
const SIZE_QUALIFICATIONS = Number(process.env.BENCH_SIZE_QUALIFICATIONS ?? 1_000);
/** Small and big referrer alternate in this many slices, so a noisy moment hits both alike. */
const SIZE_SLICES = 5;
const TEMPLATE = 'https://n8n.example.com/form/refer?ref={{code}}';
const NODE_TYPE = 'n8n-nodes-pipedrive-referrals.referralCampaign';

type Backend = 'sqlite' | 'postgres';

interface Rows {
	participants: Array<{ email: string; firstName: string; code: string; referredBy: number | null }>;
}

type InputMode = 'autoMap' | 'fields';

function workflow(operation: 'enrol' | 'registerReferred', campaignId: number, inputMode: InputMode): WorkflowJson {
	const expressions =
		operation === 'enrol'
			? { email: '={{ $json.email }}', additionalFields: { firstName: '={{ $json.firstName }}' } }
			: { code: '={{ $json.code }}', email: '={{ $json.email }}', additionalFields: { firstName: '={{ $json.firstName }}' } };
	const parameters = inputMode === 'fields' ? { inputMode, ...expressions } : { inputMode };
	return {
		nodes: [
			{ name: 'Start', type: 'test.start', typeVersion: 1, parameters: {} },
			{
				name: 'Referral Campaign',
				type: NODE_TYPE,
				typeVersion: 1,
				parameters: {
					resource: 'participant',
					operation,
					campaign: { __rl: true, mode: 'id', value: String(campaignId) },
					...parameters,
				},
				credentials: { referralStoreApi: { id: '1', name: 'store' } },
			},
		],
		connections: { Start: { main: [[{ node: 'Referral Campaign', type: 'main', index: 0 }]] } },
	};
}

function credentialOf(config: StoreConfig): ICredentialDataDecryptedObject {
	return config.backend === 'sqlite' ? { backend: 'sqlite', sqlitePath: config.path } : { ...config };
}

async function seconds(fn: () => Promise<void>): Promise<number> {
	const start = process.hrtime.bigint();
	await fn();
	return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Our path: the node, in a workflow run by n8n-core, in the given input mode. */
async function throughNode(config: StoreConfig, inputMode: InputMode): Promise<{ enrol: number; register: number }> {
	const program = new ReferralProgram(await openStore(config));
	const campaign = await program.createCampaign({ name: `Bench ${Date.now()}` }, TEMPLATE);
	const runNode = async (operation: 'enrol' | 'registerReferred', inputItems: object[]) => {
		const result = await runWorkflow({
			workflow: workflow(operation, campaign.id, inputMode),
			nodeTypes: { [NODE_TYPE]: new ReferralCampaign() },
			credentials: { referralStoreApi: credentialOf(config) },
			credentialTypes: [new ReferralStoreApi()],
			inputItems: inputItems as never,
		});
		if (result.error) throw result.error.error;
		const out = result.json('Referral Campaign');
		if (out.length !== N || out.some((item) => item.error)) throw new Error(`${operation}: unexpected output`);
		return out;
	};
	const referrers = Array.from({ length: N }, (_, i) => ({ email: `referrer${i}@example.com`, firstName: `R${i}` }));
	let enrolled: Array<{ code?: unknown }> = [];
	const enrol = await seconds(async () => {
		enrolled = await runNode('enrol', referrers);
	});
	const referred = Array.from({ length: N }, (_, i) => ({
		code: enrolled[i].code,
		email: `friend${i}@example.org`,
		firstName: `F${i}`,
	}));
	const register = await seconds(async () => {
		await runNode('registerReferred', referred);
	});
	await closeAllStores();
	return { enrol, register };
}

function sampleRows(referrerIds: number[] | null): Rows {
	return {
		participants: Array.from({ length: N }, (_, i) => ({
			email: `${referrerIds ? 'friend' : 'referrer'}${i}@example.com`,
			firstName: `P${i}`,
			code: generateCode({ length: 9, prefix: '' }),
			referredBy: referrerIds ? referrerIds[i] : null,
		})),
	};
}

/** SQLite baseline: one transaction, a prepared insert per row (participant, then its event). */
async function sqliteBaseline(path: string): Promise<{ enrol: number; register: number }> {
	const store = await openStore({ backend: 'sqlite', path });
	const campaign = await new ReferralProgram(store).createCampaign({ name: 'Baseline' }, TEMPLATE);
	await closeAllStores();
	const db = new DatabaseSync(path);
	db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON');
	const insertParticipant = db.prepare(
		`INSERT INTO participants (campaign_id, email, first_name, source, code, link, referred_by, referral_status, metadata, created_at, updated_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, ?) RETURNING id`,
	);
	const insertEvent = db.prepare(
		`INSERT INTO events (type, campaign_id, participant_id, referrer_id, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
	);
	const write = (rows: Rows) => {
		const now = new Date().toISOString();
		const ids: number[] = [];
		db.exec('BEGIN IMMEDIATE');
		for (const row of rows.participants) {
			const referred = row.referredBy !== null;
			const { id } = insertParticipant.get(
				campaign.id, row.email, row.firstName, referred ? 'referred' : 'direct', row.code,
				TEMPLATE.replace('{{code}}', row.code), row.referredBy, referred ? 'pending' : 'none', now, now,
			) as { id: number };
			insertEvent.run(referred ? 'referral.registered' : 'participant.enrolled', campaign.id, id, row.referredBy, JSON.stringify({ code: row.code }), now);
			ids.push(id);
		}
		db.exec('COMMIT');
		return ids;
	};
	const referrers = sampleRows(null);
	let ids: number[] = [];
	const enrol = await seconds(async () => {
		ids = write(referrers);
	});
	const referred = sampleRows(ids);
	const register = await seconds(async () => {
		write(referred);
	});
	db.close();
	return { enrol, register };
}

/** PostgreSQL baseline: one transaction, multi-row INSERTs of 1,000 rows. */
async function postgresBaseline(config: PostgresStoreConfig): Promise<{ enrol: number; register: number }> {
	const store = await openStore(config);
	const campaign = await new ReferralProgram(store).createCampaign({ name: 'Baseline' }, TEMPLATE);
	await closeAllStores();
	const client = new pg.Client({ ...config, ssl: false, options: `-c search_path=${config.schema}` });
	await client.connect();
	const write = async (rows: Rows) => {
		const now = new Date().toISOString();
		const ids: number[] = [];
		await client.query('BEGIN');
		for (let start = 0; start < rows.participants.length; start += 1000) {
			const batch = rows.participants.slice(start, start + 1000);
			const values: unknown[] = [];
			const tuples = batch.map((row, i) => {
				const referred = row.referredBy !== null;
				values.push(campaign.id, row.email, row.firstName, referred ? 'referred' : 'direct', row.code,
					TEMPLATE.replace('{{code}}', row.code), row.referredBy, referred ? 'pending' : 'none', now);
				const b = i * 9;
				return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, '{}', $${b + 9}, $${b + 9})`;
			});
			const inserted = await client.query<{ id: string }>(
				`INSERT INTO participants (campaign_id, email, first_name, source, code, link, referred_by, referral_status, metadata, created_at, updated_at)
				 VALUES ${tuples.join(', ')} RETURNING id`,
				values,
			);
			const eventValues: unknown[] = [];
			const eventTuples = inserted.rows.map((row, i) => {
				const referred = batch[i].referredBy !== null;
				eventValues.push(referred ? 'referral.registered' : 'participant.enrolled', campaign.id, row.id, batch[i].referredBy, JSON.stringify({ code: batch[i].code }), now);
				const b = i * 6;
				return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
			});
			await client.query(
				`INSERT INTO events (type, campaign_id, participant_id, referrer_id, payload, created_at) VALUES ${eventTuples.join(', ')}`,
				eventValues,
			);
			ids.push(...inserted.rows.map((row) => Number(row.id)));
		}
		await client.query('COMMIT');
		return ids;
	};
	const referrers = sampleRows(null);
	let ids: number[] = [];
	const enrol = await seconds(async () => {
		ids = await write(referrers);
	});
	const referred = sampleRows(ids);
	const register = await seconds(async () => {
		await write(referred);
	});
	await client.end();
	return { enrol, register };
}

const RULES = { perReferral: { every: 1, reward: { kind: 'amount', amount: 10, currency: 'EUR' } } };

/** Q referrals, each of its own referrer, ready to be qualified. */
async function referralsToQualify(config: StoreConfig): Promise<{ program: ReferralProgram; campaignId: number; codes: string[]; ids: number[] }> {
	const program = new ReferralProgram(await openStore(config));
	const campaign = await program.createCampaign({ name: `Rewards ${Date.now()}`, rewardRules: RULES }, TEMPLATE);
	const referrers = await program.enrol(campaign.id, Array.from({ length: Q }, (_, i) => ({ email: `ref${i}@example.com` })), { stopOnError: true });
	const referred = await program.registerReferred(
		campaign.id,
		referrers.map((o, i) => ({ code: o.ok ? o.value.participant.code : '', email: `q${i}@example.org` })),
		{ stopOnError: true },
	);
	const people = referred.map((o) => (o.ok ? o.value.participant : null)!);
	return { program, campaignId: campaign.id, codes: people.map((p) => p.code), ids: people.map((p) => p.id) };
}

/** Ours: Qualify With Code in a workflow run by n8n-core, then the Reward Issuer's claim path (the program). */
async function rewardsThroughPackage(config: StoreConfig): Promise<{ qualify: number; claim: number }> {
	const { program, codes } = await referralsToQualify(config);
	const workflow: WorkflowJson = {
		nodes: [
			{ name: 'Start', type: 'test.start', typeVersion: 1, parameters: {} },
			{
				name: 'Qualify',
				type: 'n8n-nodes-pipedrive-referrals.qualifyWithCode',
				typeVersion: 1,
				parameters: { action: 'qualify', findBy: 'code', code: '={{ $json.code }}', options: {} },
				credentials: { referralStoreApi: { id: '1', name: 'store' } },
			},
		],
		connections: { Start: { main: [[{ node: 'Qualify', type: 'main', index: 0 }]] } },
	};
	const qualify = await seconds(async () => {
		const result = await runWorkflow({
			workflow,
			nodeTypes: { 'n8n-nodes-pipedrive-referrals.qualifyWithCode': new QualifyWithCode() },
			credentials: { referralStoreApi: credentialOf(config) },
			credentialTypes: [new ReferralStoreApi()],
			inputItems: codes.map((code) => ({ code })),
		});
		if (result.error) throw result.error.error;
		if (result.json('Qualify').filter((item) => item.changed).length !== Q) throw new Error('qualify: unexpected output');
	});
	let claimed = 0;
	const claim = await seconds(async () => {
		for (;;) {
			const batch = await program.rewards.claim({ limit: CLAIM_BATCH, leaseSeconds: 600 });
			claimed += batch.claimed.length;
			if (batch.claimed.length === 0) break;
		}
	});
	if (claimed !== Q) throw new Error(`claim: ${claimed} of ${Q}`);
	await closeAllStores();
	return { qualify, claim };
}

/** The same rows written raw: per qualification one transaction (status, reward, two events); claims in batches. */
async function rewardsRaw(config: StoreConfig): Promise<{ qualify: number; claim: number }> {
	const { campaignId, ids } = await referralsToQualify(config);
	await closeAllStores();
	const rewardSql = (p: (n: number) => string) =>
		`INSERT INTO rewards (campaign_id, beneficiary_id, beneficiary_role, rule, ordinal, referral_id, kind, amount, currency, payload, status, due_at, created_at, updated_at)
		 SELECT campaign_id, referred_by, 'referrer', 'per_referral', 1, id, 'amount', 10, 'EUR', '{}', 'due', ${p(2)}, ${p(2)}, ${p(2)} FROM participants WHERE id = ${p(1)}`;
	const eventSql = (p: (n: number) => string) =>
		`INSERT INTO events (type, campaign_id, participant_id, referrer_id, payload, created_at) VALUES (${p(1)}, ${p(2)}, ${p(3)}, NULL, '{}', ${p(4)})`;
	if (config.backend === 'sqlite') {
		const db = new DatabaseSync(config.path);
		db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON');
		const q = () => '?';
		const update = db.prepare("UPDATE participants SET referral_status = 'qualified', qualified_at = ?, updated_at = ? WHERE id = ?");
		const reward = db.prepare(rewardSql(q));
		const event = db.prepare(eventSql(q));
		const claimStmt = db.prepare(
			"UPDATE rewards SET status = 'issuing', lease_until = ?, updated_at = ? WHERE id IN (SELECT id FROM rewards WHERE status = 'due' ORDER BY due_at, id LIMIT ?) RETURNING *",
		);
		const qualify = await seconds(async () => {
			for (const id of ids) {
				const now = new Date().toISOString();
				db.exec('BEGIN IMMEDIATE');
				update.run(now, now, id);
				reward.run(now, now, now, id);
				event.run('referral.qualified', campaignId, id, now);
				event.run('reward.due', campaignId, id, now);
				db.exec('COMMIT');
			}
		});
		const claim = await seconds(async () => {
			for (;;) {
				db.exec('BEGIN IMMEDIATE');
				const rows = claimStmt.all(new Date(Date.now() + 600_000).toISOString(), new Date().toISOString(), CLAIM_BATCH);
				db.exec('COMMIT');
				if (rows.length === 0) break;
			}
		});
		db.close();
		return { qualify, claim };
	}
	const client = new pg.Client({ ...config, ssl: false, options: `-c search_path=${config.schema}` });
	await client.connect();
	const d = (n: number) => `$${n}`;
	const qualify = await seconds(async () => {
		for (const id of ids) {
			const now = new Date().toISOString();
			await client.query('BEGIN');
			await client.query("UPDATE participants SET referral_status = 'qualified', qualified_at = $1, updated_at = $1 WHERE id = $2", [now, id]);
			await client.query(rewardSql(d), [id, now]);
			await client.query(eventSql(d), ['referral.qualified', campaignId, id, now]);
			await client.query(eventSql(d), ['reward.due', campaignId, id, now]);
			await client.query('COMMIT');
		}
	});
	const claim = await seconds(async () => {
		for (;;) {
			const { rows } = await client.query(
				"UPDATE rewards SET status = 'issuing', lease_until = $1, updated_at = now() WHERE id IN (SELECT id FROM rewards WHERE status = 'due' ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING *",
				[new Date(Date.now() + 600_000).toISOString(), CLAIM_BATCH],
			);
			if (rows.length === 0) break;
		}
	});
	await client.end();
	return { qualify, claim };
}

/** Every rule a count or a referral drives: a reward per referral, milestones, commission. */
const SIZE_RULES = {
	perReferral: { every: 1, reward: { kind: 'amount', amount: 10, currency: 'EUR' } },
	milestones: [
		{ at: 10, reward: { kind: 'coupon' } },
		{ at: 60_000, reward: { kind: 'custom', payload: { gift: 'trip' } } },
	],
	commission: { percent: 10, cap: 50, currency: 'EUR' },
};

type SizeTimings = Record<'qualifyBig' | 'qualifySmall' | 'unqualifyBig' | 'unqualifySmall', number>;

/** Qualifies, then un-qualifies, the big and the small referrer's referrals, alternating slices. */
async function referrerSizes(config: StoreConfig): Promise<SizeTimings> {
	const store = await openStore(config);
	const program = new ReferralProgram(store);
	const campaign = await program.createCampaign({ name: `Sizes ${Date.now()}`, rewardRules: SIZE_RULES }, TEMPLATE);
	const seed = async (name: string, qualified: number) =>
		(await seedReferrerOfSize(program, store, campaign.id, { name, qualified, pending: SIZE_QUALIFICATIONS, linkTemplate: TEMPLATE })).map((r) => r.id);
	const big = await seed('big', BIG_REFERRER);
	const small = await seed('small', SMALL_REFERRER);
	const timings: SizeTimings = { qualifyBig: 0, qualifySmall: 0, unqualifyBig: 0, unqualifySmall: 0 };
	const slice = Math.ceil(SIZE_QUALIFICATIONS / SIZE_SLICES);
	for (const action of ['qualify', 'unqualify'] as const) {
		for (let start = 0; start < SIZE_QUALIFICATIONS; start += slice) {
			for (const [side, ids] of [['Small', small], ['Big', big]] as const) {
				timings[`${action}${side}`] += await seconds(async () => {
					for (const id of ids.slice(start, start + slice)) {
						const result = await program.qualify({ id }, { action, saleValue: 120 });
						if (!result.changed) throw new Error(`${action}: referral ${id} unchanged`);
					}
				});
			}
		}
	}
	await closeAllStores();
	return timings;
}

function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.floor(sorted.length / 2)];
}

type Timings = Array<{ enrol: number; register: number }>;

async function benchBackend(backend: Backend) {
	const ours: Record<InputMode, Timings> = { autoMap: [], fields: [] };
	const baseline: Timings = [];
	const rewardsOurs: Array<{ qualify: number; claim: number }> = [];
	const rewardsBaseline: Array<{ qualify: number; claim: number }> = [];
	const sizes: SizeTimings[] = [];
	// Alternating runs, so that a noisy moment on the shared machine hits both sides alike.
	for (let run = 0; run < RUNS; run++) {
		if (backend === 'sqlite') {
			const folder = mkdtempSync(join(tmpdir(), 'bench-store-'));
			try {
				ours.autoMap.push(await throughNode({ backend: 'sqlite', path: join(folder, 'auto.sqlite') }, 'autoMap'));
				baseline.push(await sqliteBaseline(join(folder, 'baseline.sqlite')));
				ours.fields.push(await throughNode({ backend: 'sqlite', path: join(folder, 'fields.sqlite') }, 'fields'));
				rewardsOurs.push(await rewardsThroughPackage({ backend: 'sqlite', path: join(folder, 'rewards.sqlite') }));
				rewardsBaseline.push(await rewardsRaw({ backend: 'sqlite', path: join(folder, 'rewards-raw.sqlite') }));
				sizes.push(await referrerSizes({ backend: 'sqlite', path: join(folder, 'sizes.sqlite') }));
			} finally {
				rmSync(folder, { recursive: true, force: true });
			}
		} else {
			const database = await createTestDatabase('bench');
			try {
				ours.autoMap.push(await throughNode(database.config(database.freshSchema()), 'autoMap'));
				baseline.push(await postgresBaseline(database.config(database.freshSchema())));
				ours.fields.push(await throughNode(database.config(database.freshSchema()), 'fields'));
				rewardsOurs.push(await rewardsThroughPackage(database.config(database.freshSchema())));
				rewardsBaseline.push(await rewardsRaw(database.config(database.freshSchema())));
				sizes.push(await referrerSizes(database.config(database.freshSchema())));
			} finally {
				await closeAllStores();
				await database.drop();
			}
		}
	}
	const figures: Record<string, number> = {};
	for (const operation of ['enrol', 'register'] as const) {
		const baselinePerSecond = N / median(baseline.map((r) => r[operation]));
		const automatic = N / median(ours.autoMap.map((r) => r[operation]));
		const withExpressions = N / median(ours.fields.map((r) => r[operation]));
		figures[`${backend}_${operation}_baseline_per_s`] = Math.round(baselinePerSecond);
		figures[`${backend}_${operation}_items_per_s`] = Math.round(automatic);
		figures[`${backend}_${operation}_ratio`] = Number((automatic / baselinePerSecond).toFixed(3));
		figures[`${backend}_${operation}_expressions_items_per_s`] = Math.round(withExpressions);
		figures[`${backend}_${operation}_expressions_ratio`] = Number((withExpressions / baselinePerSecond).toFixed(3));
	}
	for (const operation of ['qualify', 'claim'] as const) {
		const oursPerSecond = Q / median(rewardsOurs.map((r) => r[operation]));
		const baselinePerSecond = Q / median(rewardsBaseline.map((r) => r[operation]));
		figures[`${backend}_${operation}_items_per_s`] = Math.round(oursPerSecond);
		figures[`${backend}_${operation}_baseline_per_s`] = Math.round(baselinePerSecond);
		figures[`${backend}_${operation}_ratio`] = Number((oursPerSecond / baselinePerSecond).toFixed(3));
	}
	for (const action of ['qualify', 'unqualify'] as const) {
		const big = SIZE_QUALIFICATIONS / median(sizes.map((t) => t[`${action}Big`]));
		const small = SIZE_QUALIFICATIONS / median(sizes.map((t) => t[`${action}Small`]));
		figures[`${backend}_${action}_big_referrer_per_s`] = Math.round(big);
		figures[`${backend}_${action}_small_referrer_per_s`] = Math.round(small);
		figures[`${action}_big_referrer_ratio_${backend}`] = Number((big / small).toFixed(3));
	}
	return figures;
}

async function dashboardBackend(backend: Backend): Promise<Record<string, number>> {
	let result: Awaited<ReturnType<typeof dashboardAtScale>>;
	if (backend === 'sqlite') {
		const folder = mkdtempSync(join(tmpdir(), 'bench-dashboard-'));
		try {
			result = await dashboardAtScale({ backend: 'sqlite', path: join(folder, 'dashboard.sqlite') });
		} finally {
			rmSync(folder, { recursive: true, force: true });
		}
	} else {
		const database = await createTestDatabase('bench_dashboard');
		try {
			result = await dashboardAtScale(database.config(database.freshSchema()));
		} finally {
			await closeAllStores();
			await database.drop();
		}
	}
	return {
		[`dashboard_small_ms_${backend}`]: Number((result.small * 1000).toFixed(2)),
		[`dashboard_big_ms_${backend}`]: Number((result.big * 1000).toFixed(2)),
		[`dashboard_growth_${backend}`]: Number((result.big / result.small).toFixed(3)),
		[`dashboard_seed_s_${backend}`]: Number(result.seedSeconds.toFixed(1)),
	};
}

async function main(): Promise<void> {
	const figures: Record<string, number | string> = { items: N, runs: RUNS };
	const backends: Backend[] = ['sqlite'];
	const probe = probePostgres();
	if (probe.ok) backends.push('postgres');
	else console.log(`PostgreSQL unreachable, skipped: ${probe.reason}`);
	// BENCH_PARTS=dashboard runs only the dashboard figures at scale.
	const parts = (process.env.BENCH_PARTS ?? 'all').split(',');
	if (parts.includes('all')) for (const backend of backends) Object.assign(figures, await benchBackend(backend));
	for (const backend of backends) Object.assign(figures, await dashboardBackend(backend));
	console.log(`\nDashboard figures (30 days + all time, ${DASHBOARD_BIG.toLocaleString('en')} participants and ${(DASHBOARD_BIG / 5).toLocaleString('en')} rewards`);
	console.log(`vs ${DASHBOARD_SMALL.toLocaleString('en')} and ${(DASHBOARD_SMALL / 5).toLocaleString('en')}, seeded in bulk over 90 days), median per view:\n`);
	console.log('backend    small ms   big ms   growth   (target: <= 3)');
	for (const backend of backends) {
		console.log(`${backend.padEnd(10)} ${String(figures[`dashboard_small_ms_${backend}`]).padStart(8)} ${String(figures[`dashboard_big_ms_${backend}`]).padStart(8)} ${String(figures[`dashboard_growth_${backend}`]).padStart(8)}`);
	}
	if (!parts.includes('all')) {
		console.log(JSON.stringify(figures));
		return;
	}

	console.log(`\nReferral store: ${N.toLocaleString('en')} items per operation, median of ${RUNS} runs`);
	console.log('Ours: the Referral Campaign node in a workflow run by n8n-core, writing participants and their events;');
	console.log('  "auto" = Input Mode "Map Automatically", "expr" = "Define Below" with a {{ $json.x }} expression per field.');
	console.log('Baseline: the same rows written raw (SQLite: prepared inserts in one transaction; PostgreSQL: 1,000-row INSERTs in one transaction).\n');
	console.log('backend    operation  baseline rows/s  auto items/s  auto ratio  expr items/s  expr ratio   (target: ratio >= 0.25)');
	const cell = (value: number | string, width: number) => String(value).padStart(width);
	for (const backend of backends) {
		for (const operation of ['enrol', 'register']) {
			const key = `${backend}_${operation}`;
			console.log(
				`${backend.padEnd(10)} ${operation.padEnd(10)} ${cell(figures[`${key}_baseline_per_s`], 15)} ${cell(figures[`${key}_items_per_s`], 13)} ${cell(figures[`${key}_ratio`], 11)} ${cell(figures[`${key}_expressions_items_per_s`], 13)} ${cell(figures[`${key}_expressions_ratio`], 11)}`,
			);
		}
	}
	console.log(`\nRewards: ${Q.toLocaleString('en')} qualifications (each earning a reward) and claims of the rewards, ${CLAIM_BATCH} per claim`);
	console.log('Ours: Qualify With Code in a workflow run by n8n-core (reward evaluation in the same transaction); claims through the program.');
	console.log('Baseline: the same rows raw, one transaction per qualification and per claim batch.\n');
	console.log('backend    operation  baseline/s  ours/s   ratio');
	for (const backend of backends) {
		for (const operation of ['qualify', 'claim']) {
			const key = `${backend}_${operation}`;
			console.log(`${backend.padEnd(10)} ${operation.padEnd(10)} ${cell(figures[`${key}_baseline_per_s`], 10)} ${cell(figures[`${key}_items_per_s`], 7)} ${cell(figures[`${key}_ratio`], 7)}`);
		}
	}
	console.log(`\nReferrer size: ${SIZE_QUALIFICATIONS.toLocaleString('en')} qualifications, then as many un-qualifications, through the program,`);
	console.log(`for a referrer with ${BIG_REFERRER.toLocaleString('en')} qualified referrals (seeded in batches) and one with ${SMALL_REFERRER},`);
	console.log(`alternating in ${SIZE_SLICES} slices. Rules: a reward per referral, two milestones, a capped commission.\n`);
	console.log('backend    action      small/s   big/s   big ÷ small   (target: >= 0.8)');
	for (const backend of backends) {
		for (const action of ['qualify', 'unqualify']) {
			console.log(
				`${backend.padEnd(10)} ${action.padEnd(10)} ${cell(figures[`${backend}_${action}_small_referrer_per_s`], 8)} ${cell(figures[`${backend}_${action}_big_referrer_per_s`], 7)} ${cell(figures[`${action}_big_referrer_ratio_${backend}`], 13)}`,
			);
		}
	}
	figures.qualifications = Q;
	figures.big_referrer_referrals = BIG_REFERRER;
	figures.small_referrer_referrals = SMALL_REFERRER;
	figures.size_qualifications = SIZE_QUALIFICATIONS;
	figures.dashboard_participants = DASHBOARD_BIG;
	console.log(JSON.stringify(figures));
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
