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

/** Case-insensitive header lookup; the first value when repeated. */
export function getHeader(headers: ResponseHeaders | undefined, name: string): string | undefined {
	if (!headers) return undefined;
	const lower = name.toLowerCase();
	for (const [key, value] of Object.entries(headers)) {
		if (key.toLowerCase() !== lower || value === undefined) continue;
		const v = Array.isArray(value) ? value[0] : value;
		return v === undefined ? undefined : String(v).trim();
	}
	return undefined;
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
	/** When no more than this share of the limit is left, requests are spread out. Default 0.25. */
	lowWatermark?: number;
	/** Length of the rolling burst window. Default 2000 ms (Pipedrive's). */
	windowMs?: number;
	/** Added to the moment an own request leaves the window, against clock skew and latency jitter. Default 60 ms. */
	marginMs?: number;
	/** Called before every pacing wait (for logs and benchmarks). */
	onWait?: (bucket: string, ms: number) => void;
}

interface BucketState {
	limit?: number;
	remaining?: number;
	resetAt?: number;
	/** When the requests of other users of the same token (estimated from the last answer) leave the window. */
	foreignExits: number[];
	/** Sequence number of the request whose answer was observed last. */
	latestSeq: number;
	/** Requests dispatched so far in this bucket (also the last sequence number). */
	dispatched: number;
	lastDispatchAt?: number;
	/** Own dispatches of the last two windows, oldest first. */
	log: Array<{ t: number; seq: number }>;
	/** Set by a 429. */
	blockedUntil?: number;
}

export interface PacerBucketSnapshot {
	limit?: number;
	remaining?: number;
	resetAt?: number;
	blockedUntil?: number;
	dispatched: number;
	/** Own dispatches inside the current window. */
	inWindow: number;
	/** Estimated requests of others (same token) inside the current window. */
	foreign: number;
}

export interface PacerTicket {
	bucket: string;
	seq: number;
	release(): void;
}

/**
 * Paces the requests of one client. Per bucket it keeps a log of its own dispatches (the rolling
 * window is known: `windowMs`) and, from each answer's headers, how many requests of *others* on
 * the same token were in the window (`limit - remaining` minus its own at that moment). Before a
 * dispatch it computes what is left (`limit - own in window - others`):
 *   - nothing left: wait until enough requests leave the window (own ones `windowMs` + margin after
 *     they were sent; others' one window after the answer that revealed them);
 *   - little left (<= lowWatermark x limit): spread — at least `windowMs / limit` between dispatches,
 *     and when others share the token, the remainder evenly until `x-ratelimit-reset`;
 *   - otherwise: go.
 * Alone on a token this runs at about limit / (window + margin), i.e. ~97 % of the allowed rate,
 * whatever `x-ratelimit-reset` exactly means; a 429 blocks the bucket until its announced reset.
 */
export class Pacer {
	readonly concurrency: number;
	private readonly clock: Clock;
	private readonly sleepFn: Sleep;
	private readonly lowWatermark: number;
	private readonly windowMs: number;
	private readonly marginMs: number;
	private readonly onWait?: (bucket: string, ms: number) => void;
	private readonly buckets = new Map<string, BucketState>();
	private active = 0;
	private readonly queue: Array<() => void> = [];

	constructor(options: PacerOptions) {
		this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 2));
		this.clock = options.clock ?? systemClock;
		if (typeof options.sleep !== 'function') throw new Error('Pacer needs a sleep function');
		this.sleepFn = options.sleep;
		this.lowWatermark = options.lowWatermark ?? 0.25;
		this.windowMs = options.windowMs ?? 2000;
		this.marginMs = options.marginMs ?? 60;
		this.onWait = options.onWait;
	}

	private state(bucket: string): BucketState {
		let s = this.buckets.get(bucket);
		if (!s) {
			s = { foreignExits: [], latestSeq: 0, dispatched: 0, log: [] };
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
			inWindow: s.log.filter((e) => e.t > now - this.windowMs).length,
			foreign: s.foreignExits.filter((t) => t > now).length,
		};
	}

	/** Milliseconds the next request in `bucket` should wait before being sent. Pure. */
	delayFor(bucket: string, now: number = this.clock.now()): number {
		const s = this.state(bucket);
		let delay = 0;
		if (s.blockedUntil !== undefined && s.blockedUntil > now) delay = s.blockedUntil - now;
		if (s.limit === undefined || s.limit <= 0) return Math.max(0, Math.ceil(delay));

		const own = s.log.filter((e) => e.t > now - this.windowMs);
		const foreignExits = s.foreignExits.filter((t) => t > now);
		const foreign = foreignExits.length;
		const used = own.length + foreign;
		const left = s.limit - used;
		if (left <= 0) {
			// Moments at which a request leaves the window; the (used - limit)-th frees the slot we need.
			const exits = own.map((e) => e.t + this.windowMs + this.marginMs).concat(foreignExits);
			exits.sort((a, b) => a - b);
			const exit = exits[Math.min(exits.length - 1, used - s.limit)];
			delay = Math.max(delay, exit - now);
		} else if (left <= Math.max(1, Math.ceil(s.limit * this.lowWatermark)) && s.lastDispatchAt !== undefined) {
			let spacing = this.windowMs / s.limit;
			if (foreign > 0 && s.resetAt !== undefined && s.resetAt > s.lastDispatchAt) {
				spacing = Math.max(spacing, (s.resetAt - s.lastDispatchAt) / left);
			}
			delay = Math.max(delay, s.lastDispatchAt + spacing - now);
		}
		return Math.max(0, Math.ceil(delay));
	}

	/** Waits for a slot and for the pacing delay, then records the dispatch. Call `release()` after the answer. */
	async acquire(bucket: string): Promise<PacerTicket> {
		await this.takeSlot();
		let released = false;
		const release = () => {
			if (released) return;
			released = true;
			this.freeSlot();
		};
		try {
			for (;;) {
				const delay = this.delayFor(bucket);
				if (delay <= 0) break;
				this.onWait?.(bucket, delay);
				await this.sleepFn(delay);
			}
		} catch (error) {
			release();
			throw error;
		}
		const s = this.state(bucket);
		const now = this.clock.now();
		s.dispatched += 1;
		s.lastDispatchAt = now;
		s.log = s.log.filter((e) => e.t > now - 2 * this.windowMs);
		s.log.push({ t: now, seq: s.dispatched });
		return { bucket, seq: s.dispatched, release };
	}

	/** Feeds the rate-limit headers of the answer to request `seq`. Answers older than the last one observed are ignored. */
	observe(bucket: string, seq: number, headers: ResponseHeaders | undefined): void {
		const h = readRateLimitHeaders(headers);
		if (h.limit === undefined && h.remaining === undefined) return;
		const s = this.state(bucket);
		if (seq < s.latestSeq) return;
		const now = this.clock.now();
		s.latestSeq = seq;
		if (h.limit !== undefined) s.limit = h.limit;
		if (h.remaining !== undefined) s.remaining = h.remaining;
		const resetMs = h.resetSeconds !== undefined ? Math.max(0, h.resetSeconds * 1000) : undefined;
		s.resetAt = now + (resetMs ?? this.windowMs);
		if (s.limit !== undefined && h.remaining !== undefined) {
			// Own requests the server had counted when it answered `seq`: those sent up to it, within one window.
			const sentAt = s.log.find((e) => e.seq === seq)?.t ?? now;
			const ownThen = s.log.filter((e) => e.seq <= seq && e.t > sentAt - this.windowMs).length;
			const foreign = Math.max(0, s.limit - h.remaining - ownThen);
			// Assume they stay a whole window: with a rolling window the reset only says when the oldest
			// request of all leaves, not when the others' do (tried: trusting the reset doubles 429s
			// when two clients share a token, see test/pipedrive/pacing.test.ts).
			s.foreignExits = Array.from({ length: foreign }, () => now + this.windowMs);
		}
	}

	/**
	 * After a 429 to request `seq`: it was not counted by Pipedrive, so it leaves the own log; the
	 * bucket is blocked until `until` for every caller of this pacer.
	 */
	block(bucket: string, until: number, seq?: number): void {
		const s = this.state(bucket);
		s.blockedUntil = Math.max(s.blockedUntil ?? 0, until);
		if (seq !== undefined) s.log = s.log.filter((e) => e.seq !== seq);
	}

	private takeSlot(): Promise<void> {
		if (this.active < this.concurrency) {
			this.active += 1;
			return Promise.resolve();
		}
		return new Promise((resolve) => this.queue.push(resolve));
	}

	private freeSlot(): void {
		const next = this.queue.shift();
		if (next) next();
		else this.active -= 1;
	}
}
