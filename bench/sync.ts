// `npm run bench:sync`: the contact sync (lib/sync/contacts.ts) against the Pipedrive sandbox,
// with a real clock and real sleeps. The sandbox runs in a child process (bench/sync-sandbox.ts)
// so that its memory is not the benchmark's and its CPU is the other core's; the benchmark talks
// to it over HTTP only (the API through PipedriveClient + createHttpRequest, and `/__admin/`).
//
//   1. 10,000 persons, burst limit 200 per 2 s: a full sync (Referral link + Referral code) into a
//      fresh SQLite store with one campaign. Achieved request rate against the allowed 100/s, API
//      calls against the floor (pages + person writes needed + setup calls), 429s, token cost (sum
//      of x-token-cost in the sandbox's request log), wall time, persons/s.
//   2. The same sync again with nothing changed: writes (PATCH requests) and API calls.
//   3. 50,000 persons, limit off, summary mode (no per-person results kept): peak RSS growth of
//      this process during the sync (sampled every 50 ms, against the RSS right before it), persons/s.
//      Run first, so the figure is not hidden by heap grown in the other runs.
//   4. 1,000 persons at the Lite plan's limit (20 per 2 s), measured for real: against Referral
//      Factory's documented "up to 30 minutes" for a sync under 1,000 contacts.
// The sandbox validates every request and answer against Pipedrive's OpenAPI files; any violation
// fails the run (exit 1). Prints a table, then one JSON line with every figure. Not a test: the
// machine is shared.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { PipedriveClient } from '../lib/pipedrive/client';
import { createHttpRequest } from '../test/helpers/pipedrive-http';
import { ReferralProgram } from '../lib/referrals/program';
import { closeAllStores, openStore } from '../lib/store';
import { syncContacts, type ContactSyncSettings, type ContactSyncSummary } from '../lib/sync/contacts';

const PERSONS = Number(process.env.BENCH_PERSONS ?? 10_000);
const BIG_PERSONS = Number(process.env.BENCH_BIG_PERSONS ?? 50_000);
const LITE_PERSONS = Number(process.env.BENCH_LITE_PERSONS ?? 1_000);
const BURST = 200; // per 2 s
const LITE_BURST = 20; // per 2 s (Lite plan)
const WINDOW_S = 2;
const PAGE = 500;
const TEMPLATE = 'https://n8n.example.com/form/refer?ref={{code}}';
/** Referral Factory documents up to 30 minutes for a sync of under 1,000 contacts. */
const REFERRAL_FACTORY_MINUTES = 30;
const TARGETS = { rateRatio: 0.9, callsOverFloor: 10, secondRunWrites: 0, rssGrowthMb: 150 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 2) => Number(value.toFixed(digits));

// ---------------------------------------------------------------- the sandbox, in a child process

interface RemoteSandbox {
	url: string;
	apiToken: string;
	child: ChildProcess;
	admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

interface LogEntry {
	method: string;
	path: string;
	status: number;
	tokenCost: number;
}

interface Violation {
	method: string;
	path: string;
	operationId: string | null;
	where: string;
	message: string;
}

async function startRemoteSandbox(): Promise<RemoteSandbox> {
	const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'sync-sandbox.ts'), '0', '0'], {
		cwd: join(__dirname, '..'),
		stdio: ['pipe', 'pipe', 'inherit'],
	});
	const first = await new Promise<string>((resolve, reject) => {
		const lines = createInterface({ input: child.stdout! });
		lines.once('line', (line) => resolve(line));
		child.once('exit', (code) => reject(new Error(`The sandbox process exited (${code}) before listening`)));
		child.once('error', reject);
	});
	const { url, apiToken } = JSON.parse(first) as { url: string; apiToken: string };
	const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
		const res = await fetch(`${url}/__admin${path}`, {
			method,
			headers: body === undefined ? {} : { 'content-type': 'application/json' },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const json = (await res.json()) as { success: boolean; data?: T; error?: string };
		if (!res.ok || !json.success) throw new Error(`Sandbox admin ${method} ${path}: ${res.status} ${json.error ?? ''}`);
		return json.data as T;
	};
	return { url, apiToken, child, admin };
}

/** Violations seen so far (a reset clears the sandbox's list, so they are collected before each). */
const violations: Violation[] = [];

async function collectViolations(sandbox: RemoteSandbox): Promise<void> {
	violations.push(...(await sandbox.admin<Violation[]>('GET', '/violations')));
	await sandbox.admin('DELETE', '/violations');
}

/** Re-seeds the sandbox with exactly `persons` persons (the fixed seed's plus generated ones). */
async function prepareSandbox(sandbox: RemoteSandbox, persons: number, limit: number): Promise<void> {
	await collectViolations(sandbox);
	await sandbox.admin('POST', '/reset', { extraPersons: 0 });
	const fixed = (await sandbox.admin<{ counts: { persons: number } }>('GET', '/state')).counts.persons;
	await sandbox.admin('POST', '/seed/persons', { count: Math.max(0, persons - fixed) });
	await sandbox.admin('POST', '/rate-limit', { limit });
	await sandbox.admin('DELETE', '/requests');
	const total = (await sandbox.admin<{ counts: { persons: number } }>('GET', '/state')).counts.persons;
	if (total !== persons) throw new Error(`The sandbox holds ${total} persons, expected ${persons}`);
}

/** Persons with at least one non-empty e-mail: each gets a fresh code and link from a new store, so each needs one write. */
async function personsWithEmail(sandbox: RemoteSandbox): Promise<number> {
	const state = await sandbox.admin<{ persons: Array<{ emails?: Array<{ value?: string }> }> }>('GET', '/state?full=1');
	return state.persons.filter((p) => (p.emails ?? []).some((e) => typeof e.value === 'string' && e.value.trim() !== '')).length;
}

// ---------------------------------------------------------------- one sync run

interface RunFigures {
	summary: ContactSyncSummary;
	wallS: number;
	/** Requests the client sent (429s included), and their answers by kind. */
	requests: number;
	accepted: number;
	http429: number;
	patches: number;
	pages: number;
	/** From the sandbox's request log (null when the log, capped at 20,000 entries, is incomplete). */
	log: { calls: number; http429: number; patches: number; tokenCost: number } | null;
	tokenCostUsage: number;
	latencyMsMean: number;
	latencySumS: number;
	pacingWaitS: number;
	rssBaselineMb?: number;
	rssPeakGrowthMb?: number;
	/** V8's heap at the end of the sync (before any forced GC): new (young) and old space sizes. */
	newSpaceMb?: number;
	oldSpaceMb?: number;
	/** Heap still reachable after a full GC, against the same measure before the sync. */
	liveHeapGrowthMb?: number;
}

/** A full GC (for the live-heap figure only, never inside the RSS sampling). */
function fullGc(): void {
	setFlagsFromString('--expose-gc');
	(runInNewContext('gc') as () => void)();
}

function spaceMb(name: string): number {
	return (getHeapSpaceStatistics().find((s) => s.space_name === name)?.space_size ?? 0) / 2 ** 20;
}

async function tokenUsage(sandbox: RemoteSandbox): Promise<number> {
	return (await sandbox.admin<{ total: number }>('GET', '/usage')).total;
}

async function runSync(
	sandbox: RemoteSandbox,
	program: ReferralProgram,
	settings: ContactSyncSettings,
	options: { sampleRss?: boolean } = {},
): Promise<RunFigures> {
	await sandbox.admin('DELETE', '/requests');
	const usageBefore = await tokenUsage(sandbox);
	const counts = { requests: 0, accepted: 0, http429: 0, patches: 0, pages: 0, latencyMs: 0 };
	const client = new PipedriveClient({
		request: createHttpRequest({ apiToken: sandbox.apiToken }),
		baseUrl: sandbox.url,
		sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
		onEvent: (event) => {
			if (event.type !== 'response') return;
			counts.requests += 1;
			counts.latencyMs += event.durationMs;
			if (event.status === 429) counts.http429 += 1;
			else counts.accepted += 1;
			if (event.method === 'PATCH' && event.status !== 429) counts.patches += 1;
			if (event.method === 'GET' && event.path === '/api/v2/persons' && event.status !== 429) counts.pages += 1;
		},
	});

	let sampler: NodeJS.Timeout | undefined;
	let rssBase = 0;
	let rssPeak = 0;
	let liveBefore = 0;
	if (options.sampleRss) {
		fullGc();
		liveBefore = process.memoryUsage().heapUsed;
		rssBase = process.memoryUsage().rss;
		rssPeak = rssBase;
		sampler = setInterval(() => {
			rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
		}, 50);
	}
	const started = performance.now();
	let summary: ContactSyncSummary;
	try {
		summary = await syncContacts(program, client, settings);
	} finally {
		if (sampler) {
			clearInterval(sampler);
			rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
		}
	}
	const wallS = (performance.now() - started) / 1000;
	const heap: Partial<RunFigures> = {};
	if (options.sampleRss) {
		heap.newSpaceMb = spaceMb('new_space');
		heap.oldSpaceMb = spaceMb('old_space');
		fullGc();
		heap.liveHeapGrowthMb = (process.memoryUsage().heapUsed - liveBefore) / 2 ** 20;
	}

	const entries = await sandbox.admin<LogEntry[]>('GET', '/requests');
	const complete = entries.length === client.stats.requests;
	const log = complete
		? {
				calls: entries.length,
				http429: entries.filter((e) => e.status === 429).length,
				patches: entries.filter((e) => e.method === 'PATCH' && e.status !== 429).length,
				tokenCost: entries.reduce((sum, e) => sum + (e.tokenCost ?? 0), 0),
			}
		: null;
	return {
		summary,
		wallS,
		requests: counts.requests,
		accepted: counts.accepted,
		http429: counts.http429,
		patches: counts.patches,
		pages: counts.pages,
		log,
		tokenCostUsage: (await tokenUsage(sandbox)) - usageBefore,
		latencyMsMean: counts.requests ? counts.latencyMs / counts.requests : 0,
		latencySumS: counts.latencyMs / 1000,
		pacingWaitS: client.stats.pacingWaitMs / 1000,
		...(options.sampleRss ? { rssBaselineMb: rssBase / 2 ** 20, rssPeakGrowthMb: (rssPeak - rssBase) / 2 ** 20, ...heap } : {}),
	};
}

async function freshProgram(folder: string, name: string): Promise<{ program: ReferralProgram; campaignId: number }> {
	const program = new ReferralProgram(await openStore({ backend: 'sqlite', path: join(folder, `${name}.sqlite`) }));
	const campaign = await program.createCampaign({ name: `Bench ${name}` }, TEMPLATE);
	return { program, campaignId: campaign.id };
}

function settingsFor(campaignId: number): ContactSyncSettings {
	return {
		campaignId,
		mode: 'full',
		// The sandbox seed's person fields, by name as a user would pick them.
		fields: [
			{ role: 'link', label: 'Referral Link Field', field: 'Referral link' },
			{ role: 'code', label: 'Referral Code Field', field: 'Referral code' },
		],
	};
}

function checkComplete(what: string, run: RunFigures, persons: number): void {
	const s = run.summary;
	if (!s.complete || s.seen !== persons || s.failed > 0) {
		throw new Error(`${what}: incomplete sync ${JSON.stringify(s)}`);
	}
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
	const benchStarted = performance.now();
	const folder = mkdtempSync(join(tmpdir(), 'bench-sync-'));
	const sandbox = await startRemoteSandbox();
	const figures: Record<string, number | string | boolean | null> = {};
	try {
		// ---- 3. 50,000 persons, limit off, summary mode: memory and throughput (first: clean heap)
		await prepareSandbox(sandbox, BIG_PERSONS, 0);
		{
			const { program, campaignId } = await freshProgram(folder, 'big');
			const run = await runSync(sandbox, program, settingsFor(campaignId), { sampleRss: true });
			checkComplete('50k sync', run, BIG_PERSONS);
			Object.assign(figures, {
				persons_50k: BIG_PERSONS,
				wall_s_50k: round(run.wallS, 1),
				persons_per_s_50k: Math.round(BIG_PERSONS / run.wallS),
				calls_50k: run.requests,
				writes_50k: run.patches,
				rss_baseline_mb_50k: round(run.rssBaselineMb!, 1),
				rss_growth_mb_50k: round(run.rssPeakGrowthMb!, 1),
				new_space_mb_50k: round(run.newSpaceMb!, 1),
				old_space_mb_50k: round(run.oldSpaceMb!, 1),
				live_heap_growth_mb_50k: round(run.liveHeapGrowthMb!, 1),
				latency_ms_mean_50k: round(run.latencyMsMean, 2),
			});
			await closeAllStores();
		}

		// ---- 1. 10,000 persons at 200 per 2 s: a full sync into a fresh store
		await prepareSandbox(sandbox, PERSONS, BURST);
		const writesNeeded = await personsWithEmail(sandbox);
		const pages = Math.ceil(PERSONS / PAGE);
		const setupCalls = 1; // GET /api/v2/personFields (one page)
		const { program, campaignId } = await freshProgram(folder, 'main');
		const first = await runSync(sandbox, program, settingsFor(campaignId));
		checkComplete('10k sync', first, PERSONS);
		const allowedPerS = BURST / WINDOW_S;
		const calls = first.log?.calls ?? first.requests;
		const http429 = first.log?.http429 ?? first.http429;
		const accepted = calls - http429;
		Object.assign(figures, {
			persons: PERSONS,
			burst_limit_per_2s: BURST,
			allowed_per_s: allowedPerS,
			wall_s: round(first.wallS, 1),
			requests_per_s: round(accepted / first.wallS, 1),
			rate_ratio: round(accepted / first.wallS / allowedPerS, 3),
			calls,
			calls_floor: pages + writesNeeded + setupCalls,
			pages,
			writes_needed: writesNeeded,
			setup_calls: setupCalls,
			writes: first.log?.patches ?? first.patches,
			http_429: http429,
			token_cost: first.log?.tokenCost ?? null,
			token_cost_usage: first.tokenCostUsage,
			persons_per_s: Math.round(PERSONS / first.wallS),
			latency_ms_mean: round(first.latencyMsMean, 2),
			latency_sum_s: round(first.latencySumS, 1),
			pacing_wait_s: round(first.pacingWaitS, 1),
			enrolled: first.summary.enrolled,
			skipped_no_email: first.summary.skipped,
		});

		// ---- 2. The same sync again, nothing changed (a new client, as a new n8n execution would have).
		await sleep(WINDOW_S * 1000 + 100); // a scheduled run comes later: let the burst window empty
		const second = await runSync(sandbox, program, settingsFor(campaignId));
		checkComplete('second sync', second, PERSONS);
		Object.assign(figures, {
			second_run_writes: second.log?.patches ?? second.patches,
			second_run_calls: second.log?.calls ?? second.requests,
			second_run_calls_floor: pages + setupCalls,
			second_run_http_429: second.log?.http429 ?? second.http429,
			second_run_token_cost: second.log?.tokenCost ?? null,
			second_run_wall_s: round(second.wallS, 2),
		});
		await closeAllStores();

		// ---- 4. 1,000 persons at the Lite limit (20 per 2 s), measured
		await prepareSandbox(sandbox, LITE_PERSONS, LITE_BURST);
		const liteWritesNeeded = await personsWithEmail(sandbox);
		{
			const lite = await freshProgram(folder, 'lite');
			const run = await runSync(sandbox, lite.program, settingsFor(lite.campaignId));
			checkComplete('lite sync', run, LITE_PERSONS);
			const liteCalls = run.log?.calls ?? run.requests;
			const lite429 = run.log?.http429 ?? run.http429;
			Object.assign(figures, {
				lite_persons: LITE_PERSONS,
				lite_burst_limit_per_2s: LITE_BURST,
				lite_1000_seconds: round(run.wallS, 1),
				lite_expected_seconds: round((Math.ceil(LITE_PERSONS / PAGE) + setupCalls + liteWritesNeeded) / (LITE_BURST / WINDOW_S), 1),
				lite_calls: liteCalls,
				lite_calls_floor: Math.ceil(LITE_PERSONS / PAGE) + setupCalls + liteWritesNeeded,
				lite_http_429: lite429,
				lite_rate_ratio: round((liteCalls - lite429) / run.wallS / (LITE_BURST / WINDOW_S), 3),
				lite_token_cost: run.log?.tokenCost ?? null,
				referral_factory_minutes: REFERRAL_FACTORY_MINUTES,
			});
			await closeAllStores();
		}

		await collectViolations(sandbox);
	} finally {
		await closeAllStores();
		sandbox.child.kill('SIGTERM');
		rmSync(folder, { recursive: true, force: true });
	}
	figures.violations = violations.length;
	figures.bench_total_s = round((performance.now() - benchStarted) / 1000, 1);
	printTable(figures);
	if (violations.length > 0) {
		for (const v of violations.slice(0, 20)) console.error(`violation: ${v.where} ${v.method} ${v.path} (${v.operationId}): ${v.message}`);
	}
	console.log(JSON.stringify(figures));
	if (violations.length > 0) process.exitCode = 1;
}

function printTable(f: Record<string, number | string | boolean | null>): void {
	const n = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en') : String(v));
	const rows: Array<[string, string, string, string, boolean | null]> = [];
	const row = (scenario: string, metric: string, value: unknown, target = '', ok: boolean | null = null) =>
		rows.push([scenario, metric, n(value), target, ok]);
	const a = `${n(f.persons)} persons, ${f.burst_limit_per_2s}/2 s`;
	row(a, 'requests/s (accepted)', f.requests_per_s, `allowed ${f.allowed_per_s}/s`);
	row(a, 'rate ratio', f.rate_ratio, `>= ${TARGETS.rateRatio}`, (f.rate_ratio as number) >= TARGETS.rateRatio);
	row(a, 'API calls', f.calls, `<= floor + ${TARGETS.callsOverFloor}`, (f.calls as number) <= (f.calls_floor as number) + TARGETS.callsOverFloor);
	row(a, '  floor (pages + writes + setup)', `${n(f.calls_floor)} (${f.pages} + ${n(f.writes_needed)} + ${f.setup_calls})`);
	row(a, '429s received', f.http_429);
	row(a, 'token cost (request log)', f.token_cost);
	row(a, 'wall time (s)', f.wall_s);
	row(a, 'persons/s', f.persons_per_s);
	row(a, '  mean latency (ms) / pacing wait (s)', `${f.latency_ms_mean} / ${f.pacing_wait_s}`);
	const b = 'second run, nothing changed';
	row(b, 'writes (PATCH)', f.second_run_writes, `${TARGETS.secondRunWrites}`, f.second_run_writes === TARGETS.secondRunWrites);
	row(b, 'API calls', f.second_run_calls, `floor ${f.second_run_calls_floor}`);
	row(b, 'wall time (s)', f.second_run_wall_s);
	const c = `${n(f.persons_50k)} persons, limit off, summary`;
	row(c, 'peak RSS growth (MB)', f.rss_growth_mb_50k, `<= ${TARGETS.rssGrowthMb}`, (f.rss_growth_mb_50k as number) <= TARGETS.rssGrowthMb);
	row(c, '  V8 new / old space at end (MB)', `${f.new_space_mb_50k} / ${f.old_space_mb_50k}`);
	row(c, '  live heap growth after full GC (MB)', f.live_heap_growth_mb_50k);
	row(c, 'persons/s', f.persons_per_s_50k);
	row(c, 'wall time (s) / API calls', `${f.wall_s_50k} / ${n(f.calls_50k)}`);
	const d = `${n(f.lite_persons)} persons, Lite ${f.lite_burst_limit_per_2s}/2 s`;
	row(d, 'wall time (s)', f.lite_1000_seconds, `Referral Factory: up to ${f.referral_factory_minutes} min`, (f.lite_1000_seconds as number) <= (f.referral_factory_minutes as number) * 60);
	row(d, '  expected (pages + setup + writes) / 10/s', f.lite_expected_seconds);
	row(d, 'API calls / 429s', `${n(f.lite_calls)} / ${n(f.lite_http_429)}`, `floor ${n(f.lite_calls_floor)}`);
	row(d, 'rate ratio', f.lite_rate_ratio);
	row('all', 'OpenAPI violations', f.violations, '0', f.violations === 0);

	const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => String(r[i]).length), ['scenario', 'metric', 'value', 'target'][i].length));
	const line = (cells: string[], status: string) =>
		`${cells[0].padEnd(widths[0])}  ${cells[1].padEnd(widths[1])}  ${cells[2].padStart(widths[2])}  ${cells[3].padEnd(widths[3])}  ${status}`.trimEnd();
	console.log('\nContact sync against the Pipedrive sandbox (child process), real clock; SQLite store; fields Referral link + Referral code\n');
	console.log(line(['scenario', 'metric', 'value', 'target'], ''));
	for (const r of rows) console.log(line([r[0], r[1], r[2], r[3]], r[4] === null ? '' : r[4] ? 'ok' : 'MISSED'));
	console.log(`\nWhole benchmark: ${f.bench_total_s} s`);
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
