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
		// The third took the next slot ((2000 + 50) / 3 ms after the second's); the fourth waits
		// until the first has left the window: 2000 ms after it, plus the 50 ms margin.
		expect(time.sleeps).toEqual([684]);
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

// ---------------------------------------------------------------- own requests at the window edge, slot schedule, catch-up

describe('Pacer: own requests near the window edge are not taken for another client', () => {
	it('counts an own request that arrived just inside the window as its own, not as a phantom other client', async () => {
		const time = fakeTime(0);
		const pacer = new Pacer({ clock: time.clock, sleep: time.sleep });
		// A is sent at 0 and answered 40 ms later (the server counted it on arrival, at ~5 ms).
		const a = await pacer.acquire('default');
		time.advance(40);
		pacer.observe('default', a.seq, rl(20, 19, 2));
		a.release();
		// B is sent at 2003 and arrives at 2004: the server's window (4, 2004] still holds A, so it
		// says 18 remain. Counting own requests by send time within one window before B (3, 2003]
		// finds B only, and used to infer one request of someone else.
		time.advance(2003 - 40);
		const b = await pacer.acquire('default');
		time.advance(2);
		pacer.observe('default', b.seq, rl(20, 18, 1));
		b.release();
		expect(pacer.snapshot('default')).toMatchObject({ limit: 20, remaining: 18, foreign: 0, foreignSure: 0 });
		expect(pacer.delayFor('default')).toBe(0);
	});

	it('still sees a real other client on the same token', async () => {
		const time = fakeTime(0);
		const pacer = new Pacer({ clock: time.clock, sleep: time.sleep });
		const a = await pacer.acquire('default');
		time.advance(40);
		pacer.observe('default', a.seq, rl(20, 19, 2));
		a.release();
		time.advance(2003 - 40);
		const b = await pacer.acquire('default');
		time.advance(2);
		// Three more requests in the window than this client's two.
		pacer.observe('default', b.seq, rl(20, 15, 1));
		b.release();
		expect(pacer.snapshot('default')).toMatchObject({ foreign: 3, foreignSure: 3 });
	});

	it('keeps an own request in the window until a window after its answer when it was slow', async () => {
		const time = fakeTime(0);
		const pacer = new Pacer({ clock: time.clock, sleep: time.sleep, concurrency: 2, marginMs: 60 });
		const a = await pacer.acquire('default');
		pacer.observe('default', a.seq, rl(2, 1, 2));
		time.advance(10);
		const b = await pacer.acquire('default');
		time.advance(1);
		pacer.observe('default', b.seq, rl(2, 0, 2));
		b.release();
		// A is answered only at 500: the server may have counted it as late as that.
		time.advance(489);
		pacer.observe('default', a.seq, rl(2, 0, 2));
		a.release();
		// B leaves at 10 + 2000 + 60; A not before 500 + 2000 + 1 (instead of 0 + 2000 + 60).
		time.advance(2060 - 500);
		expect(pacer.delayFor('default')).toBe(10);
		time.advance(10);
		const c = await pacer.acquire('default');
		pacer.observe('default', c.seq, rl(2, 0, 2));
		c.release();
		expect(pacer.delayFor('default')).toBe(2501 - 2070);
	});

	it('counts a request still in flight against the limit until it is answered', async () => {
		const time = fakeTime(0);
		const pacer = new Pacer({ clock: time.clock, sleep: time.sleep, concurrency: 2 });
		const first = await pacer.acquire('default');
		pacer.observe('default', first.seq, rl(1, 0, 2));
		first.release();
		const hanging = await pacer.acquire('default').catch(() => undefined);
		// The second waited for the first to leave (2060); now it hangs in flight.
		expect(time.now()).toBe(2060);
		time.advance(5000);
		// Unanswered: it may still arrive, so it counts for a whole window from now.
		expect(pacer.delayFor('default')).toBe(2001);
		pacer.observe('default', hanging!.seq, undefined); // failed without an answer
		hanging!.release();
		expect(pacer.delayFor('default')).toBe(2001);
		time.advance(2001);
		expect(pacer.delayFor('default')).toBe(0);
	});
});

describe('Pacer: slot schedule', () => {
	/** Limit 20 per 2 s with a 60 ms margin: one slot every 103 ms once 5 or fewer are left. */
	async function spreadPacer(options: { maxCatchUpMs?: number; overshootMs?: number } = {}) {
		const time = fakeTime(0);
		const sleep = async (ms: number) => time.sleep(ms + (options.overshootMs ?? 0));
		const pacer = new Pacer({ clock: time.clock, sleep, concurrency: 1, maxCatchUpMs: options.maxCatchUpMs });
		const dispatches: number[] = [];
		const send = async () => {
			const t = await pacer.acquire('default');
			dispatches.push(time.now());
			pacer.observe('default', t.seq, rl(20, 20 - pacer.snapshot('default').inWindow, 2));
			t.release();
		};
		// 15 go at once (limit 20, 5 left = the low watermark).
		for (let i = 0; i < 15; i += 1) await send();
		expect(dispatches.every((t) => t === 0)).toBe(true);
		dispatches.length = 0;
		return { time, pacer, send, dispatches };
	}

	it('places each slot after the previous slot, so late timers are made up', async () => {
		const { send, dispatches } = await spreadPacer({ overshootMs: 3 });
		for (let i = 0; i < 5; i += 1) await send();
		// Every wait ends 3 ms late, but the schedule stays at 103, 206, 309, ... (+ the 3 ms):
		// spacing after the previous dispatch would drift to 106 ms per request.
		expect(dispatches).toEqual([106, 209, 312, 415, 518]);
	});

	it('makes up missed slots after a pause, but no more than maxCatchUpMs of them', async () => {
		const { time, send, dispatches } = await spreadPacer();
		time.advance(1000); // e.g. writing a page to the store
		for (let i = 0; i < 5; i += 1) await send();
		// Default catch-up: 10 % of 2060 ms = 206 ms, two slots: the first three go at once (not
		// all five that are left), then one every 103 ms again.
		expect(dispatches).toEqual([1000, 1000, 1000, 1103, 1206]);
	});

	it('does not catch up at all with maxCatchUpMs 0', async () => {
		const { time, send, dispatches } = await spreadPacer({ maxCatchUpMs: 0 });
		time.advance(1000);
		for (let i = 0; i < 3; i += 1) await send();
		expect(dispatches).toEqual([1000, 1103, 1206]);
	});

	it('never sends more than the limit within a window (+ margin) by its own count', async () => {
		const { time, send, dispatches } = await spreadPacer({ overshootMs: 1 });
		time.advance(700);
		for (let i = 0; i < 60; i += 1) await send();
		const all = [...Array.from({ length: 15 }, () => 0), ...dispatches];
		for (let i = 20; i < all.length; i += 1) expect(all[i] - all[i - 20]).toBeGreaterThanOrEqual(2060);
		void time;
	});
});

describe('one client alone, sequential like the contact sync, with latency, late timers and stalls', () => {
	it('reaches at least 90 % of the allowed rate at 200 per 2 s without a 429', async () => {
		const time = new VirtualTime();
		const limit = 200;
		const arrivals: number[] = [];
		let accepted = 0;
		let rejected = 0;
		let n = 0;
		// Arrival 0.5 ms after the send, answer 2 ms after that; every 97th request waits 80 ms at
		// the server before it is counted (a busy server), every 131st answer takes 40 ms more.
		const request = async (_options: PipedriveRequestOptions): Promise<PipedriveRawResponse> => {
			n += 1;
			await time.sleep(0.5 + (n % 97 === 0 ? 80 : 0));
			const now = time.now;
			while (arrivals.length && arrivals[0] <= now - 2000) arrivals.shift();
			const ok = arrivals.length < limit;
			if (ok) {
				arrivals.push(now);
				accepted += 1;
			} else rejected += 1;
			const reset = arrivals.length ? Math.max(1, Math.ceil((arrivals[0] + 2000 - now) / 1000)) : 1;
			const headers = { 'x-ratelimit-limit': String(limit), 'x-ratelimit-remaining': String(Math.max(0, limit - arrivals.length)), 'x-ratelimit-reset': String(reset) };
			await time.sleep(2 + (n % 131 === 0 ? 40 : 0));
			return ok ? { statusCode: 200, headers, body: me } : { statusCode: 429, headers: { ...headers, 'retry-after': String(reset) }, body: { success: false, error: 'Request over limit' } };
		};
		// Timers fire 1.5 ms late, as they do under load.
		const sleep = (ms: number) => time.sleep(ms + 1.5);
		const client = new PipedriveClient({ baseUrl: BASE, request, clock: time.clock, sleep, concurrency: 2, random: () => 0.5 });
		const total = 3000;
		await time.run(
			(async () => {
				for (let i = 0; i < total; i += 1) await client.getCurrentUser();
			})(),
		);
		expect({ rejected, accepted }).toEqual({ rejected: 0, accepted: total });
		const ideal = ((total - limit) / limit) * 2000;
		const utilisation = ideal / time.now;
		if (process.env.PACING_REPORT) console.log(`sequential 200/2 s: ${(utilisation * 100).toFixed(1)} %, ${client.pacer.snapshot('default').foreignSure} sure others`);
		expect(utilisation).toBeGreaterThanOrEqual(0.9);
		expect(client.pacer.snapshot('default').foreignSure).toBe(0);
	});
});

describe('Pacer: the dispatch log', () => {
	it('keeps the limit through many windows, bursts and 429s (ring buffer wrapping and growing)', async () => {
		const time = fakeTime(0);
		const pacer = new Pacer({ clock: time.clock, sleep: time.sleep, concurrency: 1, windowMs: 100, marginMs: 0, lowWatermark: 0 });
		const sent: number[] = [];
		let x = 7;
		const random = () => ((x = (x * 48271) % 2147483647) / 2147483647);
		for (let i = 0; i < 3000; i += 1) {
			// Phases with and without a limit, so the log both grows large and wraps.
			const limit = Math.floor(i / 500) % 2 === 0 ? 5 : 0;
			const t = await pacer.acquire('default');
			const at = time.now();
			time.advance(random() < 0.3 ? 1 : 0);
			if (limit > 0 && random() < 0.05) {
				pacer.observe('default', t.seq, rl(limit, 0, 1));
				pacer.block('default', time.now(), t.seq); // refused: it does not count
			} else {
				pacer.observe('default', t.seq, rl(limit, limit, 1));
				if (limit > 0) sent.push(at);
			}
			t.release();
			// Unlimited phases send hundreds of requests within the retained two windows.
			time.advance(limit > 0 ? Math.floor(random() * 30) : random() < 0.02 ? 50 : 0);
		}
		// Never more than 5 accepted ones in any 100 ms.
		const tooClose = sent.filter((t, i) => i >= 5 && t - sent[i - 5] < 100);
		expect(tooClose).toEqual([]);
		expect(sent.length).toBeGreaterThan(1000);
		expect(pacer.snapshot('default').dispatched).toBe(3000);
	});
});
