/**
 * Burst rate limit (rolling 2-second window per token; search endpoints have their own bucket of
 * 10 per 2 s), daily token budget, and fault injection.
 */
import { prng } from './util';

export const WINDOW_MS = 2000;

export interface RateLimitConfig {
	/** requests per 2 s per API token; 0 turns the burst limit off */
	limit: number;
	/** requests per 2 s for search endpoints (any token kind); 0 = off */
	searchLimit: number;
	/** OAuth tokens get limit x this (Pipedrive: 4) */
	oauthMultiplier: number;
	/** daily token budget for the company (sum of x-token-cost); 0 = off */
	dailyBudget: number;
}

export interface BurstResult {
	allowed: boolean;
	limit: number;
	remaining: number;
	resetSeconds: number;
}

export class RateLimiter {
	private windows = new Map<string, number[]>();
	dailyUsed = 0;
	private day: string;

	constructor(
		public config: RateLimitConfig,
		private readonly clock: () => number,
	) {
		this.day = this.dayOf(clock());
	}

	private dayOf(ms: number): string {
		return new Date(ms).toISOString().slice(0, 10);
	}

	reset(): void {
		this.windows.clear();
		this.dailyUsed = 0;
	}

	/** Counts a request against the token's bucket; answers whether it may proceed. */
	hit(token: string, kind: 'api' | 'oauth', search: boolean): BurstResult {
		const base = search ? this.config.searchLimit : this.config.limit;
		const limit = search || kind === 'api' ? base : base * this.config.oauthMultiplier;
		const now = this.clock();
		const key = `${search ? 'search' : 'general'}:${token}`;
		let w = this.windows.get(key);
		if (!w) this.windows.set(key, (w = []));
		while (w.length && w[0] <= now - WINDOW_MS) w.shift();
		if (limit <= 0) return { allowed: true, limit: 0, remaining: 0, resetSeconds: 0 };
		const allowed = w.length < limit;
		if (allowed) w.push(now);
		const oldest = w.length ? w[0] : now;
		return {
			allowed,
			limit,
			remaining: Math.max(0, limit - w.length),
			resetSeconds: Math.max(1, Math.ceil((oldest + WINDOW_MS - now) / 1000)),
		};
	}

	/** Daily budget: true when the request (costing `cost`) is still within budget. */
	chargeDaily(cost: number): boolean {
		const today = this.dayOf(this.clock());
		if (today !== this.day) {
			this.day = today;
			this.dailyUsed = 0;
		}
		if (this.config.dailyBudget > 0 && this.dailyUsed >= this.config.dailyBudget) return false;
		this.dailyUsed += cost;
		return true;
	}

	dailyRemaining(): number | null {
		return this.config.dailyBudget > 0 ? Math.max(0, this.config.dailyBudget - this.dailyUsed) : null;
	}

	secondsToMidnight(): number {
		const now = this.clock();
		const d = new Date(now);
		const midnight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
		return Math.ceil((midnight - now) / 1000);
	}
}

export type FaultKind = '500' | '502' | '503' | '429' | 'timeout';

export interface FaultConfig {
	/** probability 0..1 that an eligible request fails */
	rate: number;
	/** kinds to pick from (uniformly); default all */
	kinds?: FaultKind[];
	/** only requests whose path (e.g. /api/v2/persons) matches one of these: substring, or glob with `*` */
	paths?: string[];
	/** only requests with one of these methods (e.g. the writes: POST, PATCH, PUT, DELETE); default all */
	methods?: string[];
	/** PRNG seed; the same seed and request order give the same faults */
	seed?: number;
	/**
	 * For `timeout`: 0/undefined = hang until the client gives up (or the sandbox closes);
	 * > 0 = delay the answer by this many ms, then answer normally.
	 */
	timeoutMs?: number;
}

export class FaultInjector {
	private rng: () => number = () => 1;
	private matchers: Array<(p: string) => boolean> = [];
	config: FaultConfig = { rate: 0 };

	set(config: FaultConfig | null): void {
		this.config = config ? { ...config } : { rate: 0 };
		this.rng = prng(this.config.seed ?? 1);
		this.matchers = (this.config.paths ?? []).map((p) => {
			if (p.includes('*')) {
				const re = new RegExp(
					`^${p
						.split('*')
						.map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
						.join('.*')}$`,
				);
				return (path: string) => re.test(path);
			}
			return (path: string) => path.includes(p);
		});
	}

	/** Decides the fault (if any) for a request. Consumes PRNG draws only for eligible requests. */
	pick(path: string, method = 'GET'): FaultKind | null {
		if (!(this.config.rate > 0)) return null;
		if (this.config.methods?.length && !this.config.methods.some((m) => m.toUpperCase() === method.toUpperCase())) return null;
		if (this.matchers.length && !this.matchers.some((m) => m(path))) return null;
		const r = this.rng();
		const k = this.rng();
		if (r >= this.config.rate) return null;
		const kinds = this.config.kinds?.length ? this.config.kinds : (['500', '502', '503', '429', 'timeout'] as FaultKind[]);
		return kinds[Math.min(kinds.length - 1, Math.floor(k * kinds.length))];
	}
}
