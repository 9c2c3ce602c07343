import { Pacer, PipedriveApiError, PipedriveClient, classifyRateLimit } from '../../lib/pipedrive';
import type { PipedriveRawResponse, PipedriveRequestOptions } from '../../lib/pipedrive';
import { BASE, fakeTime, makeClient, nock, useNock } from './helpers';

useNock();

const me = { success: true, data: { id: 1, name: 'Me', company_domain: 'acme' } };
const rl = (limit: number, remaining: number, reset: number) => ({
	'x-ratelimit-limit': String(limit),
	'x-ratelimit-remaining': String(remaining),
	'x-ratelimit-reset': String(reset),
});

describe('Pacer delays computed from the rate-limit headers', () => {
	it('does not wait while plenty remains', async () => {
		const time = fakeTime(0);
		const pacer = new Pacer({ clock: time.clock, sleep: time.sleep });
		const t = await pacer.acquire('default');
		pacer.observe('default', t.seq, rl(20, 15, 2));
		t.release();
		expect(pacer.delayFor('default')).toBe(0);
	});

	it('spreads the last requests until the reset when others use up the same token', async () => {
		const time = fakeTime(0);
		const pacer = new Pacer({ clock: time.clock, sleep: time.sleep });
		let t = await pacer.acquire('default');
		t.release();
		t = await pacer.acquire('default');
		// 2 of 20 left, 16 of them used by someone else: the 2 are spread over the 2 s until the reset.
		pacer.observe('default', t.seq, rl(20, 2, 2));
		t.release();
		expect(pacer.snapshot('default')).toMatchObject({ limit: 20, remaining: 2, inWindow: 2, foreign: 16 });
		expect(pacer.delayFor('default')).toBe(1000);
		time.advance(400);
		expect(pacer.delayFor('default')).toBe(600);
		t = await pacer.acquire('default');
		t.release();
		expect(time.sleeps).toEqual([600]);
	});

	it('waits a window when others have used everything', async () => {
		const time = fakeTime(0);
		const pacer = new Pacer({ clock: time.clock, sleep: time.sleep });
		const t = await pacer.acquire('default');
		time.advance(30);
		pacer.observe('default', t.seq, rl(20, 0, 1.5));
		t.release();
		// 19 of the 20 are someone else's: assumed in the window until one window after this answer.
		expect(pacer.snapshot('default').foreign).toBe(19);
		expect(pacer.delayFor('default')).toBe(2000);
	});

	it('counts requests sent after the answer that reported the remaining budget', async () => {
		const time = fakeTime(0);
		const pacer = new Pacer({ clock: time.clock, sleep: time.sleep, concurrency: 4 });
		const first = await pacer.acquire('default');
		const second = await pacer.acquire('default');
		const third = await pacer.acquire('default');
		// The answer to the first says 2 remain, but two more were already sent: nothing is left.
		pacer.observe('default', first.seq, rl(20, 2, 2));
		expect(pacer.delayFor('default')).toBe(2000);
		// An older answer arriving late does not overwrite newer knowledge.
		pacer.observe('default', third.seq, rl(20, 10, 2));
		pacer.observe('default', second.seq, rl(20, 1, 2));
		expect(pacer.delayFor('default')).toBe(0);
		[first, second, third].forEach((x) => x.release());
	});

	it('never lets its own dispatches exceed the limit inside one window', async () => {
		const time = fakeTime(0);
		const pacer = new Pacer({ clock: time.clock, sleep: time.sleep, concurrency: 4, marginMs: 50 });
		for (let i = 0; i < 3; i += 1) {
			const t = await pacer.acquire('default');
			pacer.observe('default', t.seq, rl(3, 100, 0));
			t.release();
		}
		// The third was spread (2000 / 3 ms after the second); the fourth waits until the first has
		// left the window: 2000 ms after it, plus the 50 ms margin.
		expect(time.sleeps).toEqual([667]);
		expect(time.now() + pacer.delayFor('default')).toBe(2050);
	});

	it('keeps separate buckets (search has its own burst limit)', async () => {
		const time = fakeTime(0);
		const pacer = new Pacer({ clock: time.clock, sleep: time.sleep });
		const t = await pacer.acquire('search');
		pacer.observe('search', t.seq, rl(10, 0, 2));
		t.release();
		expect(pacer.delayFor('search')).toBe(2000);
		expect(pacer.delayFor('default')).toBe(0);
	});
});

describe('client pacing and 429', () => {
	it('slows down before the limit, using the headers of each answer', async () => {
		const { client, time } = makeClient();
		nock(BASE)
			.get('/v1/users/me')
			.reply(200, me, rl(20, 10, 2))
			.get('/v1/users/me')
			.reply(200, me, rl(20, 2, 2))
			.get('/v1/users/me')
			.reply(200, me, rl(20, 1, 1));
		await client.getCurrentUser();
		await client.getCurrentUser();
		expect(time.sleeps).toEqual([]);
		await client.getCurrentUser();
		expect(time.sleeps).toEqual([1000]);
		expect(client.stats.pacingWaitMs).toBe(1000);
		expect(client.stats.tokenCost).toBe(6); // x-token-cost of GET /v1/users/me is 2
	});

	it('waits for x-ratelimit-reset after a 429, then succeeds', async () => {
		const { client, time } = makeClient();
		nock(BASE)
			.get('/v1/users/me')
			.reply(429, { success: false, error: 'Request over limit', errorCode: 429 }, rl(20, 0, 2))
			.get('/v1/users/me')
			.reply(200, me, rl(20, 19, 2));
		const events: string[] = [];
		const user = await client.getCurrentUser();
		expect(user.id).toBe(1);
		expect(time.sleeps).toEqual([2000]);
		expect(client.stats.rateLimited).toBe(1);
		void events;
	});

	it('prefers retry-after when present', async () => {
		const { client, time } = makeClient();
		nock(BASE)
			.get('/v1/users/me')
			.reply(429, { success: false, error: 'Too many requests' }, { 'retry-after': '3' })
			.get('/v1/users/me')
			.reply(200, me);
		await client.getCurrentUser();
		expect(time.sleeps).toEqual([3000]);
	});

	it('backs off exponentially when a 429 says nothing, and gives up after the bounded retries', async () => {
		const { client, time } = makeClient({ maxRateLimitRetries: 3 });
		nock(BASE).get('/v1/users/me').times(4).reply(429, { success: false, error: 'Too many requests' });
		const error = await client.getCurrentUser().catch((e) => e);
		expect(error).toBeInstanceOf(PipedriveApiError);
		expect(error.kind).toBe('rate_limit');
		expect(error.attempts).toBe(4);
		// random() = 0.5: 750, 1500, 3000 (equal jitter over 1 s, 2 s, 4 s)
		expect(time.sleeps).toEqual([750, 1500, 3000]);
	});

	it('stops at once on a daily-budget 429, says so, and fails later calls without a request', async () => {
		const { client, time, requests } = makeClient();
		nock(BASE)
			.get('/api/v2/deals/5')
			.reply(
				429,
				{ success: false, error: 'Daily API token budget exceeded', error_info: 'Please check developers.pipedrive.com' },
				{ ...rl(40, 39, 2), 'x-daily-ratelimit-token-remaining': '0' },
			);
		const error = await client.getDeal(5).catch((e) => e);
		expect(error).toBeInstanceOf(PipedriveApiError);
		expect(error.kind).toBe('daily_budget');
		expect(error.status).toBe(429);
		expect(error.message).toMatch(/daily API token budget/);
		expect(error.message).toMatch(/midnight/);
		expect(error.message).toContain('[GET /api/v2/deals/5]');
		expect(time.sleeps).toEqual([]);
		const again = await client.getCurrentUser().catch((e) => e);
		expect(again.kind).toBe('daily_budget');
		expect(requests).toHaveLength(1);
	});

	it('classifies daily-budget 429s from the body, the daily headers or a very long wait', () => {
		expect(classifyRateLimit({}, { success: false, error: 'Request over limit' }, 0).daily).toBe(false);
		expect(classifyRateLimit({ 'x-ratelimit-reset': '2' }, {}, 0)).toEqual({ daily: false, waitMs: 2000 });
		expect(classifyRateLimit({}, { error: 'You have reached your daily API token budget' }, 0).daily).toBe(true);
		expect(classifyRateLimit({ 'X-Daily-Requests-Left': '0' }, {}, 0).daily).toBe(true);
		expect(classifyRateLimit({ 'x-daily-ratelimit-token-remaining': '120' }, {}, 0).daily).toBe(false);
		expect(classifyRateLimit({ 'retry-after': String(6 * 3600) }, {}, 0).daily).toBe(true);
	});
});

// ---------------------------------------------------------------- simulation: >= 90 % of the allowed rate, no 429

/** Virtual time: `sleep` registers a timer; `run` advances to the next timer whenever everything is idle. */
class VirtualTime {
	now = 0;
	private timers: Array<{ at: number; seq: number; resolve: () => void }> = [];
	private seq = 0;
	readonly clock = { now: () => this.now };
	readonly sleep = (ms: number) =>
		new Promise<void>((resolve) => {
			this.timers.push({ at: this.now + Math.max(0, ms), seq: this.seq++, resolve });
		});

	async run<T>(work: Promise<T>): Promise<T> {
		let done = false;
		let failure: unknown;
		let result: T | undefined;
		work.then(
			(v) => {
				done = true;
				result = v;
			},
			(e) => {
				done = true;
				failure = e;
			},
		);
		for (;;) {
			await new Promise((r) => setImmediate(r));
			if (done) break;
			if (this.timers.length === 0) throw new Error('virtual time: nothing left to wait for');
			this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
			const next = this.timers.shift()!;
			this.now = Math.max(this.now, next.at);
			next.resolve();
		}
		if (failure) throw failure;
		return result as T;
	}
}

type ResetStyle = 'oldest-expires' | 'oldest-expires-ceil' | 'window-clears';

/** A Pipedrive-like burst limiter: `limit` requests per rolling 2 s window, counted on arrival. */
function simulatedPipedrive(time: VirtualTime, limit: number, latencyMs: number, style: ResetStyle) {
	const arrivals: number[] = [];
	let rejected = 0;
	let accepted = 0;
	const request = async (_options: PipedriveRequestOptions): Promise<PipedriveRawResponse> => {
		await time.sleep(latencyMs / 2);
		const now = time.now;
		while (arrivals.length && arrivals[0] <= now - 2000) arrivals.shift();
		const ok = arrivals.length < limit;
		if (ok) {
			arrivals.push(now);
			accepted += 1;
		} else rejected += 1;
		const untilOldest = arrivals.length ? (arrivals[0] + 2000 - now) / 1000 : 0;
		const untilClear = arrivals.length ? (arrivals[arrivals.length - 1] + 2000 - now) / 1000 : 0;
		const reset = style === 'oldest-expires' ? untilOldest : style === 'oldest-expires-ceil' ? Math.ceil(untilOldest) : untilClear;
		const headers = { 'x-ratelimit-limit': String(limit), 'x-ratelimit-remaining': String(Math.max(0, limit - arrivals.length)), 'x-ratelimit-reset': String(reset) };
		await time.sleep(latencyMs / 2);
		return ok
			? { statusCode: 200, headers, body: me }
			: { statusCode: 429, headers, body: { success: false, error: 'Request over limit' } };
	};
	return { request, stats: () => ({ rejected, accepted }) };
}

describe.each<[ResetStyle, number]>([
	['oldest-expires', 1],
	['oldest-expires', 4],
	['oldest-expires-ceil', 2],
	['window-clears', 4],
])('one client alone against a rolling 2 s burst limit (reset = %s, concurrency %i)', (style, concurrency) => {
	it('uses at least 90 % of the allowed rate without a single 429', async () => {
		const time = new VirtualTime();
		const limit = 20;
		const server = simulatedPipedrive(time, limit, 30, style);
		const client = new PipedriveClient({ baseUrl: BASE, request: server.request, clock: time.clock, sleep: time.sleep, concurrency, random: () => 0.5 });
		const total = 600;
		const work = Promise.all(Array.from({ length: total }, () => client.getCurrentUser()));
		await time.run(work);
		expect(server.stats()).toEqual({ rejected: 0, accepted: total });
		// The first `limit` requests may go at once; after that the ceiling is limit / 2 s.
		const ideal = ((total - limit) / limit) * 2000;
		const utilisation = ideal / time.now;
		if (process.env.PACING_REPORT) console.log(`${style} x${concurrency}: ${(utilisation * 100).toFixed(1)} %`);
		expect(utilisation).toBeGreaterThanOrEqual(0.9);
	});
});

describe.each<[ResetStyle]>([['oldest-expires'], ['oldest-expires-ceil'], ['window-clears']])('two clients sharing one token (reset = %s)', (style) => {
	it('both finish; the header-based estimate of the other keeps 429s rare', async () => {
		const time = new VirtualTime();
		const server = simulatedPipedrive(time, 20, 30, style);
		const make = () => new PipedriveClient({ baseUrl: BASE, request: server.request, clock: time.clock, sleep: time.sleep, concurrency: 2, random: () => 0.5 });
		const a = make();
		const b = make();
		const total = 200;
		const work = Promise.all([
			...Array.from({ length: total }, () => a.getCurrentUser()),
			...Array.from({ length: total }, () => b.getCurrentUser()),
		]);
		await time.run(work);
		const { rejected, accepted } = server.stats();
		expect(accepted).toBe(2 * total);
		if (process.env.PACING_REPORT) console.log(`shared ${style}: ${rejected} 429s, ${(((2 * total - 20) / 20) * 2000 / time.now * 100).toFixed(1)} %`);
		expect(rejected / (2 * total)).toBeLessThan(0.1);
	});
});
