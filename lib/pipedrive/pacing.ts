// Rate-limit pacing and retry timing for the Pipedrive client.
//
// Pipedrive's burst limit is per token over a rolling 2 s window (search endpoints have their own,
// smaller one). Every answer carries `x-ratelimit-limit`, `x-ratelimit-remaining` and
// `x-ratelimit-reset` (seconds until the window frees up). One `Pacer` per client instance
// serialises requests through a small number of slots and delays each dispatch so the limit is not
// hit (see the Pacer class). A 429 blocks the bucket until the announced reset, so concurrent calls
// wait too.
//
// The daily token budget is different: a 429 caused by it lasts until midnight (server time), so it
// is never waited for. See `classifyRateLimit` for how it is told apart from a burst 429.

export interface Clock {
	/** Milliseconds, monotonic enough for pacing (Date.now by default). */
	now(): number;
}

/**
 * Waits `ms` milliseconds. Always injected: lib/ may not use timers itself (n8n's community-node
 * rules); the nodes pass `sleep` from n8n-workflow, scripts and tests their own.
 */
export type Sleep = (ms: number) => Promise<void>;

export const systemClock: Clock = { now: () => Date.now() };

export type ResponseHeaders = Record<string, string | string[] | undefined>;

const hasOwn = Object.prototype.hasOwnProperty;

/** Case-insensitive header lookup; the first value when repeated. Allocates nothing when the header is absent. */
export function getHeader(headers: ResponseHeaders | undefined, name: string): string | undefined {
	if (!headers) return undefined;
	const lower = name.toLowerCase();
	// Fast path: the fetch and n8n adapters hand over lower-case names (called on every answer).
	let value = hasOwn.call(headers, lower) ? headers[lower] : undefined;
	if (value === undefined) {
		for (const key in headers) {
			if (key.length !== lower.length || !hasOwn.call(headers, key) || key.toLowerCase() !== lower) continue;
			value = headers[key];
			if (value !== undefined) break;
		}
	}
	if (value === undefined) return undefined;
	const v = Array.isArray(value) ? value[0] : value;
	return v === undefined ? undefined : String(v).trim();
}

function headerNumber(headers: ResponseHeaders | undefined, name: string): number | undefined {
	const raw = getHeader(headers, name);
	if (raw === undefined || raw === '') return undefined;
	const n = Number(raw);
	return Number.isFinite(n) ? n : undefined;
}

export interface RateLimitHeaders {
	limit?: number;
	remaining?: number;
	/** Seconds until the window frees up (fractions allowed). */
	resetSeconds?: number;
}

export function readRateLimitHeaders(headers: ResponseHeaders | undefined): RateLimitHeaders {
	return {
		limit: headerNumber(headers, 'x-ratelimit-limit'),
		remaining: headerNumber(headers, 'x-ratelimit-remaining'),
		resetSeconds: headerNumber(headers, 'x-ratelimit-reset'),
	};
}

/** `Retry-After` as milliseconds (delta-seconds or an HTTP date), else undefined. */
export function readRetryAfterMs(headers: ResponseHeaders | undefined, now: number): number | undefined {
	const raw = getHeader(headers, 'retry-after');
	if (raw === undefined || raw === '') return undefined;
	const seconds = Number(raw);
	if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
	const date = Date.parse(raw);
	return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** Headers that report what is left of the daily budget (first found wins). */
export const DAILY_BUDGET_HEADERS = [
	// Token budget, as reported by the live API for token-based limits (and emulated by the sandbox).
	'x-daily-ratelimit-token-remaining',
	'x-daily-ratelimit-remaining',
	'x-daily-token-budget-remaining',
	// Older POST/PUT daily fair-usage counter (API-token requests only), documented by Pipedrive.
	'x-daily-requests-left',
] as const;

/** A 429 announcing a wait this long cannot be the 2-second burst window: it is the daily budget. */
export const DAILY_BUDGET_MIN_WAIT_MS = 15 * 60 * 1000;

const DAILY_BUDGET_TEXT = /daily|budget|quota|midnight|top[- ]?up/i;

export interface RateLimitClassification {
	daily: boolean;
	/** Why it was classified as daily (for logs and the error message). */
	reason?: string;
	/** Wait announced by `retry-after` or `x-ratelimit-reset`, in ms. */
	waitMs?: number;
}

/**
 * Tells a daily-budget 429 from a burst 429. Pipedrive's OpenAPI files do not describe 429s at
 * all, and its rate-limit guide only says that past the daily budget "all further API requests will
 * be rejected with a 429" until the budget resets at midnight (server time). So a 429 counts as the
 * daily budget when any of these holds:
 *   1. the body's `error`/`error_info`/`message`/`code` mentions the daily limit, budget, quota or midnight;
 *   2. a daily-budget header (`x-daily-ratelimit-token-remaining`, `x-daily-ratelimit-remaining`,
 *      `x-daily-token-budget-remaining`, or the legacy `x-daily-requests-left`) is 0 or less;
 *   3. the announced wait (`retry-after` / `x-ratelimit-reset`) is 15 minutes or more.
 * Anything else is a burst 429 and is waited for and retried.
 */
export function classifyRateLimit(headers: ResponseHeaders | undefined, body: unknown, now: number): RateLimitClassification {
	const retryAfter = readRetryAfterMs(headers, now);
	const reset = headerNumber(headers, 'x-ratelimit-reset');
	const waitMs = retryAfter ?? (reset !== undefined ? Math.max(0, reset * 1000) : undefined);

	const texts: string[] = [];
	if (typeof body === 'string') texts.push(body.slice(0, 500));
	else if (body && typeof body === 'object') {
		const b = body as Record<string, unknown>;
		for (const key of ['error', 'error_info', 'message', 'code', 'error_code', 'errorCode']) {
			if (typeof b[key] === 'string') texts.push(b[key] as string);
		}
	}
	const text = texts.join(' ');
	if (text && DAILY_BUDGET_TEXT.test(text)) return { daily: true, reason: `body: ${text.slice(0, 160)}`, waitMs };

	for (const name of DAILY_BUDGET_HEADERS) {
		const left = headerNumber(headers, name);
		if (left !== undefined && left <= 0) return { daily: true, reason: `${name}: ${left}`, waitMs };
	}
	if (waitMs !== undefined && waitMs >= DAILY_BUDGET_MIN_WAIT_MS) {
		return { daily: true, reason: `announced wait of ${Math.round(waitMs / 1000)} s`, waitMs };
	}
	return { daily: false, waitMs };
}

/** Exponential backoff with "equal jitter": half fixed, half random. `attempt` starts at 1. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
	const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
	return Math.round(exp / 2 + (exp / 2) * random());
}

export interface PacerOptions {
	/** Requests in flight (or waiting for their turn to be sent) at once. Default 2. */
	concurrency?: number;
	clock?: Clock;
	sleep: Sleep;
	/** When no more than this share of the limit is left, requests follow the slot schedule. Default 0.25. */
	lowWatermark?: number;
	/** Length of the rolling burst window. Default 2000 ms (Pipedrive's). */
	windowMs?: number;
	/**
	 * An own request counts against the limit for at least `windowMs + marginMs` after it was sent
	 * (and a window after its answer, see Pacer): a safety margin against the server's clock and
	 * window differing a little from this client's. Default 60 ms.
	 */
	marginMs?: number;
	/**
	 * How far the slot schedule may fall behind the clock. Slots missed to latency, late timers or
	 * work between requests are made up back to back, but never more than this much of them (a
	 * burst that ends in a 429 costs 1–2 s). Default 10 % of `windowMs + marginMs`.
	 */
	maxCatchUpMs?: number;
	/** Called before every pacing wait (for logs and benchmarks). */
	onWait?: (bucket: string, ms: number) => void;
}

/**
 * Own dispatches of the last two windows, oldest first: a ring buffer of send times, sequence
 * numbers and answer times (Infinity while unanswered). Adding, trimming and counting allocate
 * nothing; the buffer only grows (doubling) when more requests fit in two windows than ever before.
 */
class DispatchLog {
	private times = new Float64Array(64);
	private seqs = new Float64Array(64);
	private answers = new Float64Array(64);
	private mask = 63;
	private head = 0;
	/** Entries held. */
	size = 0;

	private slot(i: number): number {
		return (this.head + i) & this.mask;
	}

	time(i: number): number {
		return this.times[this.slot(i)];
	}

	/** Adds a dispatch; the time is never before the previous one (a clock stepping back). Returns the time recorded. */
	push(t: number, seq: number): number {
		if (this.size > 0) t = Math.max(t, this.time(this.size - 1));
		if (this.size === this.times.length) this.grow();
		const j = this.slot(this.size);
		this.times[j] = t;
		this.seqs[j] = seq;
		this.answers[j] = Infinity;
		this.size += 1;
		return t;
	}

	private grow(): void {
		const capacity = this.times.length * 2;
		const copy = (from: Float64Array) => {
			const to = new Float64Array(capacity);
			for (let i = 0; i < this.size; i += 1) to[i] = from[this.slot(i)];
			return to;
		};
		this.times = copy(this.times);
		this.seqs = copy(this.seqs);
		this.answers = copy(this.answers);
		this.head = 0;
		this.mask = capacity - 1;
	}

	/**
	 * Drops, from the front and in place, the entries sent at or before `sentBy` and answered at or
	 * before `answeredBy` (an unanswered one stays, and keeps the later ones).
	 */
	trim(sentBy: number, answeredBy: number): void {
		while (this.size > 0 && this.times[this.head] <= sentBy && this.answers[this.head] <= answeredBy) {
			this.head = (this.head + 1) & this.mask;
			this.size -= 1;
		}
	}

	/**
	 * When each entry stops counting against the limit: `span` after it was sent, and never before
	 * `windowMs + 1` after its answer (the server counted it on arrival, at the latest when it
	 * answered; an unanswered one may arrive any moment). Writes those still ahead of `now` into
	 * `out` (oldest entries first) and returns how many there are.
	 */
	exits(now: number, span: number, windowMs: number, out: Float64Array): number {
		let n = 0;
		for (let i = 0; i < this.size; i += 1) {
			const j = this.slot(i);
			const exit = Math.max(this.times[j] + span, Math.min(this.answers[j], now) + windowMs + 1);
			if (exit > now) out[n++] = exit;
		}
		return n;
	}

	/** Index of the last entry whose sequence number is at most `seq` (-1 when none). */
	lastUpTo(seq: number): number {
		let lo = 0;
		let hi = this.size;
		while (lo < hi) {
			const mid = (lo + hi) >>> 1;
			if (this.seqs[this.slot(mid)] <= seq) lo = mid + 1;
			else hi = mid;
		}
		return lo - 1;
	}

	/** Index of the entry of request `seq`, or -1. */
	indexOf(seq: number): number {
		const i = this.lastUpTo(seq);
		return i >= 0 && this.seqs[this.slot(i)] === seq ? i : -1;
	}

	answeredAt(i: number, t: number): void {
		this.answers[this.slot(i)] = t;
	}

	/** Entries 0..`last` that were not answered by `t` (still in flight, or answered after it). */
	countAnsweredAfter(last: number, t: number): number {
		let n = 0;
		for (let i = 0; i <= last; i += 1) if (this.answers[this.slot(i)] > t) n += 1;
		return n;
	}

	/**
	 * Entries 0..`last` whose arrival at the server, estimated halfway between send and answer
	 * (`now` for those still in flight), came after `t`.
	 */
	countArrivedAfter(last: number, now: number, t: number): number {
		let n = 0;
		for (let i = 0; i <= last; i += 1) {
			const j = this.slot(i);
			if ((this.times[j] + Math.min(this.answers[j], now)) / 2 > t) n += 1;
		}
		return n;
	}

	/** Removes entry `i` (rare: a request refused with a 429). */
	remove(i: number): void {
		for (let k = i; k < this.size - 1; k += 1) {
			const to = this.slot(k);
			const from = this.slot(k + 1);
			this.times[to] = this.times[from];
			this.seqs[to] = this.seqs[from];
			this.answers[to] = this.answers[from];
		}
		this.size -= 1;
	}
}

interface BucketState {
	limit?: number;
	remaining?: number;
	resetAt?: number;
	/**
	 * Requests of other users of the same token, from the last answer: the best estimate (counted
	 * against the limit), a lower bound (only when it is above 0 is the token known to be shared),
	 * and when they are assumed gone.
	 */
	foreign: number;
	foreignSure: number;
	foreignUntil: number;
	/** Sequence number of the request whose answer was observed last. */
	latestSeq: number;
	/** Requests dispatched so far in this bucket (also the last sequence number). */
	dispatched: number;
	lastDispatchAt?: number;
	/** When the next slot of the schedule opens (see Pacer). */
	nextSlotAt: number;
	log: DispatchLog;
	/** Scratch space for the exit times of the log (reused: pacing allocates nothing per request). */
	exits: Float64Array;
	/** Set by a 429. */
	blockedUntil?: number;
}

export interface PacerBucketSnapshot {
	limit?: number;
	remaining?: number;
	resetAt?: number;
	blockedUntil?: number;
	dispatched: number;
	/** Own requests that still count against the limit (see Pacer). */
	inWindow: number;
	/** Estimated requests of others (same token) inside the current window. */
	foreign: number;
	/** Requests of others that are certain (a lower bound of `foreign`). */
	foreignSure: number;
	/** When the next slot of the schedule opens. */
	nextSlotAt: number;
}

export interface PacerTicket {
	bucket: string;
	seq: number;
	release(): void;
}

/** A dispatch's ticket; `release()` frees its concurrency slot once (later calls do nothing). */
class Ticket implements PacerTicket {
	private released = false;

	constructor(
		private readonly freeSlot: () => void,
		readonly bucket: string,
		readonly seq: number,
	) {}

	release(): void {
		if (this.released) return;
		this.released = true;
		this.freeSlot();
	}
}

/** Slack on the answer times used to tell own requests from others' (clock granularity). */
const EDGE_SLACK_MS = 5;

/**
 * Paces the requests of one client. Per bucket it keeps a log of its own dispatches (send and
 * answer times) and, from each answer's headers, how many requests of *others* on the same token
 * were in the window. Before a dispatch it computes what is left: `limit - own - others`.
 *
 * An own request counts against the limit from its send until `windowMs + marginMs` after it, and
 * never less than `windowMs` (+ 1 ms) after its answer: Pipedrive counts a request when it arrives,
 * which is somewhere between the send and the answer, so a request held up on the way (a busy
 * server) cannot make the next window overfull. One still in flight counts until it is answered.
 *   - nothing left: wait until enough requests leave the window (others one window after the
 *     answer that revealed them). This is the hard limit: by its own count the pacer never sends
 *     more than `limit` within `windowMs + marginMs`.
 *   - little left (<= lowWatermark x limit): follow the slot schedule, one slot every
 *     `(windowMs + marginMs) / limit`. Each slot is placed after the previous *slot*, not after the
 *     previous dispatch, so time lost to latency and late timers is made up, by at most
 *     `maxCatchUpMs` of slots. When the token is known to be shared, there is no catch-up and the
 *     remainder is also spread evenly until `x-ratelimit-reset`.
 *   - otherwise: go.
 *
 * Others = `limit - remaining - own requests the server counted`. The server counted those that
 * arrived within one window before the observed request did; counting own requests by send time
 * instead turns one that arrived just inside the window into a phantom other client (which then
 * spread the last slots until a whole-second reset). So two figures are kept: an estimate (arrival
 * taken halfway between send and answer), counted against the limit, and a lower bound (every own
 * request that may have been counted, i.e. was not answered before the window began), which alone
 * decides that the token is shared. Alone on a token this runs at about limit / (window + margin),
 * ~97 % of the allowed rate; a 429 blocks the bucket until its announced reset.
 */
export class Pacer {
	readonly concurrency: number;
	private readonly clock: Clock;
	private readonly sleepFn: Sleep;
	private readonly lowWatermark: number;
	private readonly windowMs: number;
	private readonly marginMs: number;
	private readonly maxCatchUpMs: number;
	private readonly onWait?: (bucket: string, ms: number) => void;
	private readonly buckets = new Map<string, BucketState>();
	private active = 0;
	private readonly queue: Array<() => void> = [];
	/** `freeSlot`, bound once for the tickets. */
	private readonly releaseSlot = () => this.freeSlot();

	constructor(options: PacerOptions) {
		this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 2));
		this.clock = options.clock ?? systemClock;
		if (typeof options.sleep !== 'function') throw new Error('Pacer needs a sleep function');
		this.sleepFn = options.sleep;
		this.lowWatermark = options.lowWatermark ?? 0.25;
		this.windowMs = options.windowMs ?? 2000;
		this.marginMs = options.marginMs ?? 60;
		this.maxCatchUpMs = Math.max(0, options.maxCatchUpMs ?? (this.windowMs + this.marginMs) / 10);
		this.onWait = options.onWait;
	}

	private state(bucket: string): BucketState {
		let s = this.buckets.get(bucket);
		if (!s) {
			s = { foreign: 0, foreignSure: 0, foreignUntil: 0, latestSeq: 0, dispatched: 0, nextSlotAt: -Infinity, log: new DispatchLog(), exits: new Float64Array(64) };
			this.buckets.set(bucket, s);
		}
		return s;
	}

	/** What the pacer knows about a bucket (for logs, tests and benchmarks). */
	snapshot(bucket: string): PacerBucketSnapshot {
		const s = this.state(bucket);
		const now = this.clock.now();
		return {
			limit: s.limit,
			remaining: s.remaining,
			resetAt: s.resetAt,
			blockedUntil: s.blockedUntil,
			dispatched: s.dispatched,
			inWindow: this.collectExits(s, now),
			foreign: s.foreignUntil > now ? s.foreign : 0,
			foreignSure: s.foreignUntil > now ? s.foreignSure : 0,
			nextSlotAt: s.nextSlotAt,
		};
	}

	/** Milliseconds the next request in `bucket` should wait before being sent. Pure. */
	delayFor(bucket: string, now: number = this.clock.now()): number {
		const s = this.state(bucket);
		let delay = 0;
		if (s.blockedUntil !== undefined && s.blockedUntil > now) delay = s.blockedUntil - now;
		const limit = s.limit;
		if (limit === undefined || !(limit > 0)) return Math.max(0, Math.ceil(delay));

		const own = this.collectExits(s, now);
		const foreign = s.foreignUntil > now ? s.foreign : 0;
		const used = own + foreign;
		const left = limit - used;
		if (left <= 0) {
			delay = Math.max(delay, this.exit(s, own, foreign, used - limit) - now);
		} else if (left <= Math.max(1, Math.ceil(limit * this.lowWatermark))) {
			let next = s.nextSlotAt;
			if (s.foreignSure > 0 && foreign > 0 && s.resetAt !== undefined && s.lastDispatchAt !== undefined && s.resetAt > s.lastDispatchAt) {
				next = Math.max(next, s.lastDispatchAt + (s.resetAt - s.lastDispatchAt) / left);
			}
			delay = Math.max(delay, next - now);
		}
		return Math.max(0, Math.ceil(delay));
	}

	/** Own requests still counting against the limit at `now`; their exit times go to `s.exits`. */
	private collectExits(s: BucketState, now: number): number {
		if (s.exits.length < s.log.size) s.exits = new Float64Array(Math.max(s.log.size, s.exits.length * 2));
		return s.log.exits(now, this.windowMs + this.marginMs, this.windowMs, s.exits);
	}

	/**
	 * The `k`-th (from 0) moment at which a request leaves the window: the `own` exits collected in
	 * `s.exits`, and the `foreign` others all at `foreignUntil`.
	 */
	private exit(s: BucketState, own: number, foreign: number, k: number): number {
		const exits = s.exits;
		// Nearly in order already (by send time); insertion sort, in place.
		for (let i = 1; i < own; i += 1) {
			const v = exits[i];
			let j = i - 1;
			while (j >= 0 && exits[j] > v) {
				exits[j + 1] = exits[j];
				j -= 1;
			}
			exits[j + 1] = v;
		}
		if (foreign === 0) return exits[Math.min(k, own - 1)];
		// Own exits up to the others' exit come first.
		let before = 0;
		while (before < own && exits[before] <= s.foreignUntil) before += 1;
		if (k < before) return exits[k];
		if (k < before + foreign || own === 0) return s.foreignUntil;
		return exits[Math.min(own - 1, k - foreign)];
	}

	/** Waits for a slot and for the pacing delay, then records the dispatch. Call `release()` after the answer. */
	async acquire(bucket: string): Promise<PacerTicket> {
		if (this.active < this.concurrency) this.active += 1;
		else await new Promise<void>((resolve) => this.queue.push(resolve));
		try {
			for (;;) {
				const delay = this.delayFor(bucket);
				if (delay <= 0) break;
				this.onWait?.(bucket, delay);
				await this.sleepFn(delay);
			}
		} catch (error) {
			this.freeSlot();
			throw error;
		}
		const s = this.state(bucket);
		const now = this.clock.now();
		s.log.trim(now - 2 * this.windowMs - this.marginMs, now - 2 * this.windowMs);
		s.dispatched += 1;
		const t = s.log.push(now, s.dispatched);
		s.lastDispatchAt = t;
		if (s.limit !== undefined && s.limit > 0) {
			// This dispatch takes the pending slot, or a later one when it comes late: the schedule
			// never lags more than maxCatchUpMs behind, and a dispatch made early (while plenty was
			// left) does not push it ahead. When the token is known to be shared there is no catch-up
			// (the others may take the slots that look free) and slots are never taken early.
			const shared = s.foreignSure > 0 && s.foreignUntil > t;
			const slot = shared ? Math.max(s.nextSlotAt, t) : Math.max(Math.min(s.nextSlotAt, t), t - this.maxCatchUpMs);
			s.nextSlotAt = slot + (this.windowMs + this.marginMs) / s.limit;
		} else {
			s.nextSlotAt = t;
		}
		return new Ticket(this.releaseSlot, bucket, s.dispatched);
	}

	/**
	 * Records that request `seq` was answered (or failed: call it without headers then), and feeds
	 * the rate-limit headers of the answer. Headers older than the last ones observed are ignored.
	 */
	observe(bucket: string, seq: number, headers: ResponseHeaders | undefined): void {
		const s = this.state(bucket);
		const now = this.clock.now();
		const index = s.log.indexOf(seq);
		if (index >= 0) s.log.answeredAt(index, now);
		const limit = headerNumber(headers, 'x-ratelimit-limit');
		const remaining = headerNumber(headers, 'x-ratelimit-remaining');
		if (limit === undefined && remaining === undefined) return;
		if (seq < s.latestSeq) return;
		s.latestSeq = seq;
		if (limit !== undefined) s.limit = limit;
		if (remaining !== undefined) s.remaining = remaining;
		const reset = headerNumber(headers, 'x-ratelimit-reset');
		s.resetAt = now + (reset !== undefined ? Math.max(0, reset * 1000) : this.windowMs);
		if (s.limit === undefined || !(s.limit > 0)) {
			// The limit is off (or unknown): there is nothing to estimate.
			s.foreign = 0;
			s.foreignSure = 0;
			return;
		}
		if (remaining === undefined) return;
		// The server counted the requests that *arrived* within one window before `seq` did; an
		// arrival lies somewhere between the send and the answer. Counting own requests by send
		// time only (within one window before `seq` was sent) turns an own request that arrived
		// just inside the window into another client's, and a phantom other client would spread
		// the last slots until the (whole-second) reset.
		//   - estimate: own requests (up to `seq`) whose arrival, taken halfway between send and
		//     answer, lies within one window before `seq`'s;
		//   - lower bound of the others: count every own request that may have been counted, i.e.
		//     all but those answered before `seq`'s window can have begun.
		const sentAt = index >= 0 ? s.log.time(index) : now;
		const last = s.log.lastUpTo(seq);
		const ownEstimate = s.log.countArrivedAfter(last, now, (sentAt + now) / 2 - this.windowMs);
		const ownAtMost = s.log.countAnsweredAfter(last, sentAt - this.windowMs - EDGE_SLACK_MS);
		// Others are assumed to stay a whole window: with a rolling window the reset only says when
		// the oldest request of all leaves, not when the others' do (tried: trusting the reset
		// doubles 429s when two clients share a token, see test/pipedrive/pacing.test.ts).
		s.foreign = Math.max(0, s.limit - remaining - ownEstimate);
		s.foreignSure = Math.min(s.foreign, Math.max(0, s.limit - remaining - ownAtMost));
		s.foreignUntil = now + this.windowMs;
	}

	/**
	 * After a 429 to request `seq`: it was not counted by Pipedrive, so it leaves the own log; the
	 * bucket is blocked until `until` for every caller of this pacer.
	 */
	block(bucket: string, until: number, seq?: number): void {
		const s = this.state(bucket);
		s.blockedUntil = Math.max(s.blockedUntil ?? 0, until);
		if (seq !== undefined) {
			const index = s.log.indexOf(seq);
			if (index >= 0) s.log.remove(index);
		}
	}

	/** Hands the concurrency slot to the next waiting caller, or frees it. */
	private freeSlot(): void {
		const next = this.queue.shift();
		if (next) next();
		else this.active -= 1;
	}
}
