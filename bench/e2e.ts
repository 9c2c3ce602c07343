// `npm run bench:e2e`: the bundled workflows inside a real n8n (the cached 2.41 install, this package
// packed and installed as a community package), driven over HTTP as shops, browsers and Pipedrive
// drive them, against the spec-validated Pipedrive sandbox. Not a test: it prints figures.
//
//   1. qualify-with-code-webhook on SQLite: requests/s and p50/p95/p99 at 1, 8 and 32 clients, each
//      request qualifying another pending referral; beside it a Webhook -> Respond to Webhook
//      workflow in the same n8n, measured in turns with it. Targets: p50 <= 2x the baseline's,
//      >= 50 requests/s at 8 clients. Twice: with n8n 2.41's default expression engine (isolated-vm)
//      and with N8N_EXPRESSION_ENGINE=legacy. Then, at 8 clients, referrals of a referrer with
//      50,000 qualified referrals against referrals of referrers with 10, in turns: requests/s and
//      p50 of both (target: the big referrer's requests/s >= 0.8x the small ones').
//   2. The same in queue mode: n8n main + 2 workers, n8n's data and the store on PostgreSQL, Redis.
//   3. Side by side with bench/peer/ (the same flows from n8n's built-in nodes: Pipedrive, HTTP
//      Request, Postgres, If, Form), each against its own sandbox, in the same n8n: SIGNUPS referred
//      signups through the form, then as many deals won, every form post and every webhook
//      delivered twice at once. Wall time, Pipedrive calls and token cost (x-token-cost of each
//      operation in Pipedrive's OpenAPI files), duplicate persons, deals and rewards.
//   4. A 50,000-person contact sync (sync-pipedrive-contacts, summary output) in a fresh n8n:
//      persons/s and the n8n process's peak RSS growth from a collected heap (target: <= 200 MB),
//      and the live heap after a full collection before and after (through the inspector). Twice:
//      as n8n starts by default, and with --max-old-space-size=512.
// n8n's built-in Pipedrive node only calls https://api.pipedrive.com: the peer's n8n traffic goes
// through bench/e2e/pipedrive-proxy.ts (HTTPS_PROXY) to the peer's sandbox. Rate limits are off in
// both sandboxes (the built-in node does not retry a 429; limits are measured by bench:sync).
//
// Env: BENCH_SIGNUPS (400), BENCH_SYNC_PERSONS (50000), BENCH_SECONDS per load level (15),
// BENCH_BIG_REFERRER (50000: the big referrer's qualified referrals),
// BENCH_SKIP=latency,bursts,queue,peer,sync (leave parts out while working on the others).
// The last line printed is one JSON object with every figure.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReferralProgram } from '../lib/referrals/program';
import { closeAllStores, openStore, type StoreConfig } from '../lib/store';
import { startSandbox, type Sandbox } from '../sandbox';
import { PERSON_FIELD_KEYS } from '../sandbox/seed';
import { BUNDLED_PATHS, bundledCredentialFiles } from '../scripts/n8n/bundle';
import { DEFAULT_N8N_VERSION } from '../scripts/n8n/install';
import { freePort, startWorker, type N8nProcess } from '../scripts/n8n/instance';
import { installCommunityPackage } from '../scripts/n8n/package';
import { log } from '../scripts/n8n/proc';
import type { WorkflowFile } from '../test/e2e/fixtures/workflows';
import { executeWorkflowNow, sqliteStorePath, submitForm, waitFor } from '../test/e2e/helpers/bundled';
import { prepareRealN8n, setUpOwner, type RealN8n } from '../test/e2e/helpers/real-n8n';
import { queueModeEnv, startRedis } from '../test/e2e/helpers/redis';
import { createTestDatabase, PG_HOST, PG_PASSWORD, PG_PORT, PG_USER } from '../test/helpers/postgres';
import {
	BASELINE_PATH,
	baselineWorkflow,
	bundled,
	CAMPAIGN_SLUG,
	createPeerTables,
	PEER_PATHS,
	PEER_WEBHOOK_AUTH,
	peerCredentials,
	peerWorkflows,
	referrerSignupWithoutLimits,
	seedBigReferrer,
	seedPendingReferrals,
} from './e2e/fixtures';
import { burstRun } from './e2e/bursts';
import { runLoad, type LoadResult } from './e2e/load';
import { collectGarbage, sampleRss, waitForExecutions } from './e2e/n8n';
import { startPipedriveProxy } from './e2e/pipedrive-proxy';

// 400, not 1,000: each of the peer's form executions waits 15 minutes on its ending page (ours answer
// in the submission's response), and n8n 2.41 on SQLite stopped answering (database ping timeouts,
// 503) at about 1,900 waiting executions, twice.
const SIGNUPS = Number(process.env.BENCH_SIGNUPS ?? 400);
const SYNC_PERSONS = Number(process.env.BENCH_SYNC_PERSONS ?? 50_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const SKIP = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
const LEVELS = [1, 8, 32];
const WARMUP_SECONDS = 2;
/** Pending referrals seeded for the qualify load: more than the fastest level can use up. */
const PENDING = 30_000;
/** People signing up at the same moment (each posts twice): n8n on two cores is the limit either way. */
const CONCURRENT_SIGNUPS = 4;
/** A form's execution may queue behind many others on a loaded n8n. */
const FORM_TIMEOUT_MS = 300_000;
const CONCURRENT_DEALS = 8;
const REFERRERS = 10;
const QUALIFY_KEY = 'bench-qualify-key-4c7f0a9e2b';
/** The big referrer's qualified referrals, and the pending referrals seeded per side of the size comparison. */
const BIG_REFERRER = Number(process.env.BENCH_BIG_REFERRER ?? 50_000);
const SIZE_PENDING = 5_000;
const SIZE_CLIENTS = 8;
const SIZE_TURNS = 2;
const TARGETS = { p50Ratio: 2, perSecondAt8: 50, rssGrowthMb: 200, bigReferrerRatio: 0.8 };
const MB = 1024 * 1024;
const round = (value: number, digits = 1) => Number(value.toFixed(digits));

// ------------------------------------------------------------------ 1 and 2: webhook throughput

interface LatencyRun {
	ours: LoadResult[];
	baseline: LoadResult[];
}

/** Ours and the baseline in turns, level by level, each request qualifying the next code. */
async function measureQualify(url: string, codes: string[]): Promise<LatencyRun> {
	let next = 0;
	const request = (webhookPath: string) => () => {
		const code = codes[next++ % codes.length];
		return {
			path: `/webhook/${webhookPath}`,
			headers: { 'x-referral-key': QUALIFY_KEY },
			body: JSON.stringify({ code, saleValue: 120, currency: 'EUR', idempotencyKey: `order-${code}` }),
		};
	};
	const run: LatencyRun = { ours: [], baseline: [] };
	for (const clients of LEVELS) {
		const common = { baseUrl: url, clients, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, expectStatus: 200 };
		run.baseline.push(await runLoad({ ...common, next: request(BASELINE_PATH) }));
		run.ours.push(await runLoad({ ...common, next: request(BUNDLED_PATHS.qualifyWebhook) }));
		const last = run.ours[run.ours.length - 1];
		log(`qualify webhook, ${clients} client(s): ${round(last.perSecond)} req/s, p50 ${round(last.p50)} ms (baseline ${round(run.baseline[run.baseline.length - 1].p50)} ms)`);
	}
	if (next > codes.length) log(`note: ${next} requests for ${codes.length} codes; the later ones found referrals already qualified`);
	return run;
}

interface ReferrerSizeRun {
	small: LoadResult[];
	big: LoadResult[];
}

/**
 * The qualify webhook for referrals of referrers with 10 referrals, then of the big referrer, in
 * turns at the same load: a qualification must cost the same whatever its referrer's size.
 */
async function measureReferrerSizes(url: string, smallCodes: string[], bigCodes: string[]): Promise<ReferrerSizeRun> {
	const cursors = { small: 0, big: 0 };
	const request = (side: 'small' | 'big', codes: string[]) => () => {
		const code = codes[cursors[side]++ % codes.length];
		return {
			path: `/webhook/${BUNDLED_PATHS.qualifyWebhook}`,
			headers: { 'x-referral-key': QUALIFY_KEY },
			body: JSON.stringify({ code, saleValue: 120, currency: 'EUR', idempotencyKey: `order-${code}` }),
		};
	};
	const run: ReferrerSizeRun = { small: [], big: [] };
	const common = { baseUrl: url, clients: SIZE_CLIENTS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, expectStatus: 200 };
	for (let turn = 0; turn < SIZE_TURNS; turn++) {
		run.small.push(await runLoad({ ...common, next: request('small', smallCodes) }));
		run.big.push(await runLoad({ ...common, next: request('big', bigCodes) }));
		log(`qualify webhook by referrer size, turn ${turn + 1}: small ${round(run.small[turn].perSecond)} req/s, big ${round(run.big[turn].perSecond)} req/s`);
	}
	if (cursors.small > smallCodes.length || cursors.big > bigCodes.length) log('note: more requests than seeded codes; the later ones found referrals already qualified');
	return run;
}

function referrerSizeFigures(run: ReferrerSizeRun): Record<string, unknown> {
	const side = (results: LoadResult[]) => {
		const requests = results.reduce((sum, r) => sum + r.requests, 0);
		return {
			requests,
			errors: results.reduce((sum, r) => sum + r.errors, 0),
			perSecond: round(results.reduce((sum, r) => sum + r.perSecond, 0) / results.length),
			p50: round(results.reduce((sum, r) => sum + r.p50, 0) / results.length),
			p95: round(results.reduce((sum, r) => sum + r.p95, 0) / results.length),
		};
	};
	const small = side(run.small);
	const big = side(run.big);
	return {
		clients: SIZE_CLIENTS,
		bigReferrerQualified: BIG_REFERRER,
		small,
		big,
		perSecondRatio: round(big.perSecond / small.perSecond, 3),
		p50Ratio: round(big.p50 / small.p50, 3),
	};
}

// ------------------------------------------------------------------ 3: side by side with the peer

interface SideFigures {
	wallSeconds: number;
	perSecond: number;
	pipedriveCalls: number;
	tokenCost: number;
	callsPerItem: number;
	tokensPerItem: number;
	/** Calls and tokens per Pipedrive operation (operationId). */
	byOperation: Record<string, { calls: number; tokens: number }>;
	executions: Record<string, number>;
}

interface Usage {
	calls: number;
	tokens: number;
	byOperation: Record<string, { calls: number; tokens: number }>;
}

interface Duplicates {
	persons: number;
	deals: number;
	rewards: number;
}

/** Pipedrive calls and token cost in a sandbox's request log since the last clear. */
function usageSince(sandbox: Sandbox): Usage {
	const requests = sandbox.requests();
	const byOperation: Record<string, { calls: number; tokens: number }> = {};
	for (const request of requests) {
		const entry = (byOperation[request.operationId ?? `${request.method} ${request.path}`] ??= { calls: 0, tokens: 0 });
		entry.calls++;
		entry.tokens += request.tokenCost;
	}
	return { calls: requests.length, tokens: requests.reduce((sum, request) => sum + request.tokenCost, 0), byOperation };
}

/** Runs `task` for 0..count-1 with `concurrency` at a time. */
async function pool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
	let next = 0;
	await Promise.all(
		Array.from({ length: concurrency }, async () => {
			while (next < count) await task(next++);
		}),
	);
}

/** Persons sharing an email beyond the first, and deals beyond the first per person email. */
function pipedriveDuplicates(sandbox: Sandbox, emailDomain: string): { persons: number; deals: number } {
	const dump = sandbox.dump({ full: true }) as { persons: Array<{ id: number; emails?: Array<{ value: string }> }>; deals: Array<{ person_id: number | null }> };
	const emailOf = new Map<number, string>();
	const personsByEmail = new Map<string, number>();
	for (const person of dump.persons) {
		const email = person.emails?.[0]?.value?.toLowerCase();
		if (!email?.endsWith(emailDomain)) continue;
		emailOf.set(person.id, email);
		personsByEmail.set(email, (personsByEmail.get(email) ?? 0) + 1);
	}
	const dealsByEmail = new Map<string, number>();
	for (const deal of dump.deals) {
		const email = deal.person_id === null ? undefined : emailOf.get(deal.person_id);
		if (email) dealsByEmail.set(email, (dealsByEmail.get(email) ?? 0) + 1);
	}
	const beyondFirst = (counts: Map<string, number>) => [...counts.values()].reduce((sum, count) => sum + count - 1, 0);
	return { persons: beyondFirst(personsByEmail), deals: beyondFirst(dealsByEmail) };
}

/** Distinct signup emails that are a Pipedrive person with a deal. */
function personsWithDeals(sandbox: Sandbox, emailDomain: string): number {
	const dump = sandbox.dump({ full: true }) as { persons: Array<{ id: number; emails?: Array<{ value: string }> }>; deals: Array<{ person_id: number | null }> };
	const withDeal = new Set(dump.deals.map((deal) => deal.person_id));
	const emails = new Set<string>();
	for (const person of dump.persons) {
		const email = person.emails?.[0]?.value?.toLowerCase();
		if (email?.endsWith(emailDomain) && withDeal.has(person.id)) emails.add(email);
	}
	return emails.size;
}

interface Side {
	name: 'ours' | 'peer';
	sandbox: Sandbox;
	formPath: string;
	emailDomain: string;
	qualifyWorkflowId: string;
	/** Referral codes of the referrers the signups name. */
	referrerCodes: string[];
	/** Waits until every signup is over, Pipedrive included; answers the signup executions n8n kept, by status. */
	signupsDone: () => Promise<Record<string, number>>;
	/** Referrals rewarded, and rewards beyond the first per referral. */
	rewards: () => Promise<{ rewarded: number; beyondFirst: number }>;
}

/** Every signup posted twice at once (a double click, a retried request), CONCURRENT_SIGNUPS people at a time. */
async function runSignups(n8n: RealN8n, side: Side): Promise<SideFigures> {
	side.sandbox.clearRequests();
	const started = Date.now();
	await pool(SIGNUPS, CONCURRENT_SIGNUPS, async (i) => {
		const code = side.referrerCodes[i % side.referrerCodes.length];
		const fields = ['Friend', `Number ${i}`, `friend-${i}${side.emailDomain}`, code];
		await Promise.all([0, 1].map(() => submitForm(n8n.instance, side.formPath, fields, `ref=${code}`, FORM_TIMEOUT_MS, false)));
	});
	const executions = await side.signupsDone();
	return sideFigures(started, SIGNUPS, usageSince(side.sandbox), executions);
}

/** Each deal the signups made is won; Pipedrive's delivery and a duplicate of it go out together. */
async function runQualifications(n8n: RealN8n, cookie: string, side: Side, dealIds: number[]): Promise<SideFigures> {
	const webhook = [...side.sandbox.state.webhooks.values()].find((w) => w.event_object === 'deal')!;
	side.sandbox.clearRequests();
	const started = Date.now();
	await pool(dealIds.length, CONCURRENT_DEALS, async (i) => {
		side.sandbox.markDealWon(dealIds[i]);
		const duplicate = side.sandbox.redeliverLast(webhook.id)!;
		const ids = new Set([duplicate.id, duplicate.duplicateOf]);
		await waitFor(
			() => side.sandbox.deliveries({ webhookId: webhook.id }).filter((d) => ids.has(d.id) && d.state !== 'pending').length === 2,
			120_000,
			`the deliveries of deal ${dealIds[i]}`,
		);
	});
	const executions = await waitForExecutions(n8n.instance, cookie, side.qualifyWorkflowId, 2 * dealIds.length, { timeoutMs: 900_000 });
	return sideFigures(started, dealIds.length, usageSince(side.sandbox), executions);
}

function sideFigures(started: number, items: number, usage: Usage, executions: Record<string, number>): SideFigures {
	const wallSeconds = (Date.now() - started) / 1000;
	return {
		wallSeconds: round(wallSeconds),
		perSecond: round(items / wallSeconds, 2),
		pipedriveCalls: usage.calls,
		tokenCost: usage.tokens,
		callsPerItem: round(usage.calls / items, 2),
		tokensPerItem: round(usage.tokens / items, 1),
		byOperation: usage.byOperation,
		executions,
	};
}

// ------------------------------------------------------------------ the runs

/** The bundled credentials: the store on SQLite in n8n's user folder, Pipedrive in the sandbox. */
function sqliteSetupCredentials(userFolder: string, sandbox: Sandbox): unknown[] {
	return bundledCredentialFiles({
		store: { backend: 'sqlite', sqlitePath: sqliteStorePath(userFolder) },
		pipedrive: { apiToken: sandbox.apiToken, companyDomain: 'referral-sandbox', baseUrl: sandbox.url },
		qualifyKey: QUALIFY_KEY,
	});
}

/** n8n 2.41 evaluates expressions in isolated-vm by default ('vm'); 'legacy' is its in-process evaluator. */
const ENGINES: Array<{ name: string; env: Record<string, string> }> = [
	{ name: 'vm', env: {} },
	{ name: 'legacy', env: { N8N_EXPRESSION_ENGINE: 'legacy' } },
];

async function sqliteLatencyRun(engine: { name: string; env: Record<string, string> }): Promise<Record<string, unknown>> {
	const sandbox = await startSandbox({ rateLimit: 0 });
	let n8n: RealN8n | undefined;
	let codes: string[] = [];
	let smallCodes: string[] = [];
	let bigCodes: string[] = [];
	try {
		n8n = await prepareRealN8n({
			env: engine.env,
			credentials: (userFolder) => sqliteSetupCredentials(userFolder, sandbox),
			beforeImport: async (userFolder) => {
				const config: StoreConfig = { backend: 'sqlite', path: sqliteStorePath(userFolder) };
				codes = await seedPendingReferrals(config, PENDING);
				smallCodes = await seedPendingReferrals(config, SIZE_PENDING, 'size-');
				bigCodes = await seedBigReferrer(config, BIG_REFERRER, SIZE_PENDING);
			},
			workflows: [...bundled('qualify-with-code-webhook'), baselineWorkflow()] as unknown as WorkflowFile[],
		});
		log(`SQLite, expression engine ${engine.name}:`);
		const figures = latencyFigures(await measureQualify(n8n.instance.url, codes));
		return { ...figures, referrerSize: referrerSizeFigures(await measureReferrerSizes(n8n.instance.url, smallCodes, bigCodes)) };
	} finally {
		await n8n?.dispose();
		await sandbox.close();
	}
}

/** Registers a webhook in the peer's Pipedrive, as its user does under Settings > Webhooks. */
async function addPeerWebhook(peer: Sandbox, subscriptionUrl: string): Promise<void> {
	const response = await fetch(`${peer.url}/v1/webhooks`, {
		method: 'POST',
		headers: { authorization: `Bearer ${peer.oauthToken}`, 'content-type': 'application/json' },
		body: JSON.stringify({
			name: 'Deals to n8n',
			subscription_url: subscriptionUrl,
			event_action: 'change',
			event_object: 'deal',
			version: '2.0',
			http_auth_user: PEER_WEBHOOK_AUTH.user,
			http_auth_password: PEER_WEBHOOK_AUTH.password,
		}),
	});
	if (!response.ok) throw new Error(`adding the peer's webhook: ${response.status} ${await response.text()}`);
}

async function sideBySideRun(): Promise<Record<string, unknown>> {
	const ours = await startSandbox({ rateLimit: 0, searchRateLimit: 0, webhookTimeScale: 0.01, webhookTimeoutMs: 30_000 });
	const peer = await startSandbox({ rateLimit: 0, searchRateLimit: 0, webhookTimeScale: 0.01, webhookTimeoutMs: 30_000 });
	const proxy = await startPipedriveProxy(peer.url);
	const peerDb = await createTestDatabase('bench_peer');
	let n8n: RealN8n | undefined;
	try {
		await createPeerTables(peerDb);
		n8n = await prepareRealN8n({
			env: { HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1,localhost', NODE_EXTRA_CA_CERTS: proxy.caFile },
			credentials: (userFolder) => [
				...sqliteSetupCredentials(userFolder, ours),
				...peerCredentials({ oauthToken: peer.oauthToken, database: peerDb.database, host: PG_HOST, port: PG_PORT, user: PG_USER, password: PG_PASSWORD }),
			],
			workflows: [referrerSignupWithoutLimits(), ...bundled('referred-signup', 'qualify-on-deal-stage'), ...peerWorkflows()] as unknown as WorkflowFile[],
		});
		const cookie = await setUpOwner(n8n.instance);
		await addPeerWebhook(peer, `${n8n.instance.url}/webhook/${PEER_PATHS.dealWebhook}`);

		// Referrers: through our referrer form on our side; as persons and table rows on the peer's.
		const ourCodes: string[] = [];
		for (let i = 0; i < REFERRERS; i++) {
			const page = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Referrer', `${i}`, `referrer-${i}@ours.example`]);
			const code = /\/form\/refer\?ref=(\S+)/.exec(page.text)?.[1];
			if (!code) throw new Error(`referrer form: no link on the ending page: ${page.text.slice(0, 300)}`);
			ourCodes.push(code);
		}
		const peerCodes: string[] = [];
		for (let i = 0; i < REFERRERS; i++) {
			const email = `referrer-${i}@peer.example`;
			peer.createPerson({ name: `Referrer ${i}`, emails: [{ value: email, primary: true, label: 'work' }] });
			const code = `PEER${String(i).padStart(4, '0')}`;
			const link = `${n8n.instance.url}/form/${PEER_PATHS.form}?ref=${code}`;
			await peerDb.query('INSERT INTO peer_referrers (code, name, email, link) VALUES ($1, $2, $3, $4)', [code, `Referrer ${i}`, email, link]);
			peerCodes.push(code);
		}
		const storeConfig: StoreConfig = { backend: 'sqlite', path: sqliteStorePath(n8n.userFolder) };
		const sides: Side[] = [
			{
				name: 'ours',
				sandbox: ours,
				formPath: BUNDLED_PATHS.referredForm,
				emailDomain: '@ours.example',
				qualifyWorkflowId: 'qualifyDealStage',
				referrerCodes: ourCodes,
				// The bundled forms keep no successful execution: done when every friend is a person with a
				// deal in Pipedrive (sent after the visitor's answer) and no execution still runs.
				signupsDone: async () => {
					await waitFor(() => personsWithDeals(ours, '@ours.example') >= SIGNUPS, 600_000, 'every signup in Pipedrive');
					return await waitForExecutions(n8n!.instance, cookie, 'referredSignup01', 0, { timeoutMs: 600_000 });
				},
				rewards: async () => {
					try {
						const program = new ReferralProgram(await openStore(storeConfig));
						const campaign = await program.getCampaign({ slug: CAMPAIGN_SLUG });
						const perReferral = new Map<number, number>();
						for (let afterId = 0; ; ) {
							const page = await program.rewards.list({ campaignId: campaign.id }, { limit: 500, afterId });
							if (page.length === 0) break;
							for (const { reward } of page) perReferral.set(reward.referralId!, (perReferral.get(reward.referralId!) ?? 0) + 1);
							afterId = page[page.length - 1].reward.id;
						}
						const counts = [...perReferral.values()];
						return { rewarded: counts.length, beyondFirst: counts.reduce((sum, count) => sum + count - 1, 0) };
					} finally {
						await closeAllStores();
					}
				},
			},
			{
				name: 'peer',
				sandbox: peer,
				formPath: PEER_PATHS.form,
				emailDomain: '@peer.example',
				qualifyWorkflowId: 'peerQualifyDeal1',
				referrerCodes: peerCodes,
				signupsDone: async () => await waitForExecutions(n8n!.instance, cookie, 'peerReferredSgup', 2 * SIGNUPS, { timeoutMs: 600_000, waitingIsDone: true }),
				rewards: async () => {
					const [row] = await peerDb.query<{ deals: number; rewards: number }>(
						'SELECT count(DISTINCT deal_id)::int AS deals, count(*)::int AS rewards FROM peer_rewards',
					);
					return { rewarded: row.deals, beyondFirst: row.rewards - row.deals };
				},
			},
		];
		const results: Record<string, unknown> = {};
		for (const side of sides) {
			const dealsBefore = new Set(side.sandbox.state.dealList.map((deal) => deal.id));
			log(`${side.name}: ${SIGNUPS} signups, each posted twice at once ...`);
			const signups = await runSignups(n8n, side);
			const deals = side.sandbox.state.dealList.filter((deal) => !deal.is_deleted && !dealsBefore.has(deal.id));
			// One deal per person to win: the duplicates a flow made are counted, not qualified.
			const toWin = [...new Map(deals.map((deal) => [deal.person_id, deal.id])).values()];
			log(`${side.name}: ${signups.wallSeconds} s, ${deals.length} deals; ${toWin.length} deals won, each delivered twice at once ...`);
			const qualifications = await runQualifications(n8n, cookie, side, toWin);
			const rewards = await side.rewards();
			results[side.name] = {
				signups,
				qualifications,
				duplicates: { ...pipedriveDuplicates(side.sandbox, side.emailDomain), rewards: rewards.beyondFirst } satisfies Duplicates,
				rewarded: rewards.rewarded,
				violations: side.sandbox.state.violations.length,
			};
			log(`${side.name}: ${JSON.stringify(results[side.name])}`);
		}
		return results;
	} finally {
		await n8n?.dispose();
		await proxy.close();
		await ours.close();
		await peer.close();
		await peerDb.drop();
	}
}

async function queueRun(results: Record<string, unknown>): Promise<void> {
	const redis = await startRedis();
	const db = await createTestDatabase('bench_queue');
	const sandbox = await startSandbox({ rateLimit: 0 });
	const workers: Array<{ process: N8nProcess; folder: string }> = [];
	let n8n: RealN8n | undefined;
	try {
		const env = queueModeEnv(redis, db.database);
		const store = { backend: 'postgres' as const, host: PG_HOST, port: PG_PORT, database: db.database, user: PG_USER, password: PG_PASSWORD, schema: 'referrals' };
		const codes = await seedPendingReferrals({ ...store, ssl: 'disable' }, PENDING);
		n8n = await prepareRealN8n({
			env,
			credentials: bundledCredentialFiles({
				store,
				pipedrive: { apiToken: sandbox.apiToken, companyDomain: 'referral-sandbox', baseUrl: sandbox.url },
				qualifyKey: QUALIFY_KEY,
			}),
			workflows: [...bundled('qualify-with-code-webhook'), baselineWorkflow()] as unknown as WorkflowFile[],
		});
		for (const name of ['a', 'b']) {
			const folder = fs.mkdtempSync(path.join(os.tmpdir(), `bench-worker-${name}-`));
			await installCommunityPackage(folder, n8n.tarball);
			const worker = await startWorker({ n8nDir: n8n.n8nDir, userFolder: folder, env, mainUrl: n8n.instance.url, logFile: path.join(folder, 'n8n-worker.log') });
			workers.push({ process: worker, folder });
		}
		results.queue = latencyFigures(await measureQualify(n8n.instance.url, codes));
	} finally {
		await closeAllStores();
		for (const worker of workers) {
			await worker.process.stop();
			fs.rmSync(worker.folder, { recursive: true, force: true });
		}
		await n8n?.dispose();
		await sandbox.close();
		await db.drop();
		await redis.stop();
	}
}

/**
 * n8n as it starts by default, and with a heap limit as a container with little memory is given
 * (`--max-old-space-size`, which n8n's docs suggest): V8 then collects sooner.
 */
const HEAP_LIMITS: Array<number | undefined> = [undefined, 512];

async function syncRun(heapLimitMb: number | undefined): Promise<Record<string, unknown>> {
	const sandbox = await startSandbox({ rateLimit: 0, searchRateLimit: 0, seed: { extraPersons: SYNC_PERSONS } });
	const inspectorPort = await freePort();
	let n8n: RealN8n | undefined;
	try {
		n8n = await prepareRealN8n({
			// The inspector, to read the live heap after a full collection (the task runner, a child
			// process, inherits the flag and finds the port taken: it runs without an inspector).
			env: { NODE_OPTIONS: `--inspect=127.0.0.1:${inspectorPort}${heapLimitMb ? ` --max-old-space-size=${heapLimitMb}` : ''}` },
			credentials: (userFolder) => sqliteSetupCredentials(userFolder, sandbox),
			beforeImport: async (userFolder) => {
				await seedPendingReferrals({ backend: 'sqlite', path: sqliteStorePath(userFolder) }, 0);
			},
			workflows: bundled('sync-pipedrive-contacts') as unknown as WorkflowFile[],
		});
		const cookie = await setUpOwner(n8n.instance);
		const persons = sandbox.state.personList.length;
		sandbox.clearRequests();
		// From a collected heap, so that garbage left by n8n's start is not counted as the sync's.
		const before = await collectGarbage(inspectorPort, n8n.instance.pid);
		const sampler = sampleRss(n8n.instance.pid);
		const started = Date.now();
		const execution = await executeWorkflowNow(n8n.instance, cookie, 'syncPipedriveCon', 'Run Now', 3_600_000);
		const seconds = (Date.now() - started) / 1000;
		const peak = sampler.stop();
		const after = await collectGarbage(inspectorPort, n8n.instance.pid);
		if (execution.status !== 'success') throw new Error(`the contact sync ended ${execution.status}`);
		const figures = {
			heapLimitMb: heapLimitMb ?? null,
			persons,
			seconds: round(seconds),
			personsPerSecond: round(persons / seconds),
			personsWithLink: sandbox.state.personList.filter((person) => person.custom[PERSON_FIELD_KEYS.referralLink]).length,
			rssBeforeMb: round(before.rssBytes / MB),
			rssPeakMb: round(peak / MB),
			rssGrowthMb: round((peak - before.rssBytes) / MB),
			liveHeapBeforeMb: round(before.liveBytes / MB),
			liveHeapAfterMb: round(after.liveBytes / MB),
			liveHeapGrowthMb: round((after.liveBytes - before.liveBytes) / MB),
			violations: sandbox.state.violations.length,
		};
		log(`sync: ${JSON.stringify(figures)}`);
		return figures;
	} finally {
		await n8n?.dispose();
		await sandbox.close();
	}
}

function latencyFigures(run: LatencyRun): Record<string, unknown> {
	const level = (result: LoadResult, baseline: LoadResult) => ({
		clients: result.clients,
		requests: result.requests,
		errors: result.errors,
		perSecond: round(result.perSecond),
		p50: round(result.p50),
		p95: round(result.p95),
		p99: round(result.p99),
		baselinePerSecond: round(baseline.perSecond),
		baselineP50: round(baseline.p50),
		baselineP95: round(baseline.p95),
		baselineP99: round(baseline.p99),
		baselineErrors: baseline.errors,
		p50Ratio: round(result.p50 / baseline.p50, 2),
	});
	return { levels: run.ours.map((result, i) => level(result, run.baseline[i])) };
}

// ------------------------------------------------------------------ report

function printReport(results: Record<string, any>): void {
	const lines: string[] = [];
	const runs: Array<[string, any]> = [
		['SQLite, regular mode, n8n\'s default expression engine (vm)', results.sqlite?.vm],
		['SQLite, regular mode, N8N_EXPRESSION_ENGINE=legacy', results.sqlite?.legacy],
		['queue mode: main + 2 workers, PostgreSQL, Redis (default engine)', results.queue],
	];
	for (const [title, run] of runs) {
		if (!run) continue;
		lines.push(`\nqualify-with-code-webhook vs Webhook -> Respond to Webhook, ${title}`, 'clients | req/s | p50 ms | p95 ms | p99 ms | errors | baseline req/s | baseline p50/p95/p99 ms | p50 ratio');
		for (const l of run.levels) {
			lines.push(
				`${l.clients} | ${l.perSecond} | ${l.p50} | ${l.p95} | ${l.p99} | ${l.errors} | ${l.baselinePerSecond} | ${l.baselineP50}/${l.baselineP95}/${l.baselineP99} | ${l.p50Ratio}x`,
			);
		}
		const size = run.referrerSize;
		if (size) {
			lines.push(
				`by referrer size, ${size.clients} clients: referrers of 10 ${size.small.perSecond} req/s (p50 ${size.small.p50} ms), ` +
					`a referrer of ${size.bigReferrerQualified} ${size.big.perSecond} req/s (p50 ${size.big.p50} ms): ` +
					`${size.perSecondRatio}x the requests/s (target >= ${TARGETS.bigReferrerRatio}), ${size.p50Ratio}x the p50`,
			);
		}
	}
	if (results.sideBySide) {
		lines.push(`\nSide by side, ${SIGNUPS} signups and ${SIGNUPS} deals won, every form post and webhook delivered twice`);
		lines.push('flow | phase | wall s | per s | Pipedrive calls | per item | tokens | per item | dup persons | dup deals | dup rewards');
		for (const name of ['ours', 'peer']) {
			const side = results.sideBySide[name];
			if (!side) continue;
			for (const phase of ['signups', 'qualifications'] as const) {
				const f = side[phase];
				const d = side.duplicates;
				lines.push(
					`${name} | ${phase} | ${f.wallSeconds} | ${f.perSecond} | ${f.pipedriveCalls} | ${f.callsPerItem} | ${f.tokenCost} | ${f.tokensPerItem} | ${phase === 'signups' ? d.persons : ''} | ${phase === 'signups' ? d.deals : ''} | ${phase === 'qualifications' ? d.rewards : ''}`,
				);
			}
		}
	}
	for (const s of results.sync ?? []) {
		lines.push(
			`\nContact sync in n8n${s.heapLimitMb ? ` started with --max-old-space-size=${s.heapLimitMb}` : ''}: ${s.persons} persons in ${s.seconds} s (${s.personsPerSecond}/s), ${s.personsWithLink} got their link`,
			`n8n RSS ${s.rssBeforeMb} MB (after a full GC) -> peak ${s.rssPeakMb} MB: growth ${s.rssGrowthMb} MB (target <= ${TARGETS.rssGrowthMb})`,
			`live heap after a full GC: ${s.liveHeapBeforeMb} MB before, ${s.liveHeapAfterMb} MB after (${s.liveHeapGrowthMb} MB kept)`,
		);
	}
	process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
	const results: Record<string, any> = {
		date: new Date().toISOString(),
		machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGb: round(os.totalmem() / 1024 ** 3), platform: `${os.platform()} ${os.release()}` },
		n8nVersion: process.env.N8N_VERSION || DEFAULT_N8N_VERSION,
		node: process.version,
		settings: { seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, levels: LEVELS, signups: SIGNUPS, syncPersons: SYNC_PERSONS },
		targets: TARGETS,
	};
	results.sqlite = {};
	if (!SKIP.has('latency')) for (const engine of ENGINES) results.sqlite[engine.name] = await sqliteLatencyRun(engine);
	if (!SKIP.has('bursts')) {
		results.bursts = {};
		for (const engine of ENGINES) results.bursts[engine.name] = await burstRun(engine, QUALIFY_KEY);
	}
	if (!SKIP.has('peer')) results.sideBySide = await sideBySideRun();
	if (!SKIP.has('queue')) await queueRun(results);
	if (!SKIP.has('sync')) {
		results.sync = [];
		for (const limit of HEAP_LIMITS) results.sync.push(await syncRun(limit));
	}
	const latencyVerdict = (run: { levels: Array<{ clients: number; p50Ratio: number; perSecond: number }>; referrerSize?: { perSecondRatio: number } }) => ({
		p50WithinRatio: run.levels.every((l) => l.p50Ratio <= TARGETS.p50Ratio),
		perSecondAt8: (run.levels.find((l) => l.clients === 8)?.perSecond ?? 0) >= TARGETS.perSecondAt8,
		bigReferrer: (run.referrerSize?.perSecondRatio ?? 0) >= TARGETS.bigReferrerRatio,
	});
	results.verdict = {
		...(results.sqlite.vm ? { sqliteVm: latencyVerdict(results.sqlite.vm), sqliteLegacy: latencyVerdict(results.sqlite.legacy) } : {}),
		...(results.sync ? { rssGrowth: results.sync.map((run: { rssGrowthMb: number }) => run.rssGrowthMb <= TARGETS.rssGrowthMb) } : {}),
		...(results.sideBySide?.peer
			? {
					noSlower: results.sideBySide.ours.signups.wallSeconds <= results.sideBySide.peer.signups.wallSeconds &&
						results.sideBySide.ours.qualifications.wallSeconds <= results.sideBySide.peer.qualifications.wallSeconds,
					fewerOrEqualTokens:
						results.sideBySide.ours.signups.tokenCost + results.sideBySide.ours.qualifications.tokenCost <=
						results.sideBySide.peer.signups.tokenCost + results.sideBySide.peer.qualifications.tokenCost,
					zeroDuplicates: Object.values(results.sideBySide.ours.duplicates as Duplicates).every((count) => count === 0),
				}
			: {}),
	};
	printReport(results);
	process.stdout.write(`${JSON.stringify(results)}\n`);
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
