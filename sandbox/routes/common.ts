import type { Operation } from '../spec';
import type { SandboxState } from '../state';
import type { WebhookEngine } from '../webhooks';
import { ApiError, b64urlDecode, b64urlEncode, parseTime } from '../util';

export interface TokenInfo {
	token: string;
	kind: 'api' | 'oauth';
	scopes: string[] | null;
	userId: number;
}

export interface RouteContext {
	state: SandboxState;
	webhooks: WebhookEngine;
	op: Operation;
	path: Record<string, any>;
	query: Record<string, any>;
	body: any;
	token: TokenInfo;
	/** lead conversion delay (ms); 0 = the conversion completes within the POST */
	conversionDelayMs: number;
	schedule: (fn: () => void, ms: number) => void;
}

export interface RouteResult {
	status?: number;
	body: unknown;
}

export type Handler = (ctx: RouteContext) => RouteResult | Promise<RouteResult>;

export const MAX_LIMIT = 500;
export const DEFAULT_LIMIT = 100;

/** `limit` handling shared by v1 and v2 lists: default 100, at most 500. */
export function readLimit(q: Record<string, any>): number {
	if (q.limit === undefined) return DEFAULT_LIMIT;
	const n = Number(q.limit);
	if (!Number.isInteger(n) || n < 1)
		throw new ApiError(400, 'Validation failed: limit: Must be greater than or equal to 1', { code: 'ERR_SCHEMA_VALIDATION_FAILED' });
	if (n > MAX_LIMIT)
		throw new ApiError(400, `Validation failed: limit: Must be less than or equal to ${MAX_LIMIT}`, {
			code: 'ERR_SCHEMA_VALIDATION_FAILED',
			specViolation: true,
		});
	return n;
}

export function readTime(q: Record<string, any>, name: string): number | undefined {
	if (q[name] === undefined) return undefined;
	const t = parseTime(String(q[name]));
	if (t === undefined) throw new ApiError(400, `Validation failed: ${name}: Must be a valid RFC3339 date-time`, { code: 'ERR_SCHEMA_VALIDATION_FAILED' });
	return t;
}

/** Comma-separated list parameter (the specs type several of these as a single enum value). */
export function readList(q: Record<string, any>, name: string): string[] | undefined {
	const v = q[name];
	if (v === undefined || v === null || v === '') return undefined;
	return String(v)
		.split(',')
		.map((x) => x.trim())
		.filter(Boolean);
}

export interface SortSpec {
	field: string;
	dir: 'asc' | 'desc';
}

interface CursorKey {
	field: string;
	fieldValue: number;
	sortDirection: 'asc' | 'desc';
	id: number;
}

/**
 * Cursor pagination like Pipedrive API v2: the opaque cursor encodes the sort key of the first
 * item of the next page ({field, fieldValue, sortDirection, id}, base64url JSON).
 * `all` must be in ascending id order; the default sort (id asc) then needs no full scan.
 */
export function cursorPage<T extends { id: number }>(
	all: T[],
	pred: (t: T) => boolean,
	sort: SortSpec,
	valueOf: (t: T) => number,
	limit: number,
	cursor: string | undefined,
): { page: T[]; nextCursor?: string } {
	let key: CursorKey | undefined;
	if (cursor !== undefined) {
		key = b64urlDecode<CursorKey>(cursor);
		if (!key || key.field !== sort.field || key.sortDirection !== sort.dir || typeof key.id !== 'number') {
			throw new ApiError(400, 'Validation failed: cursor: Invalid cursor', { code: 'ERR_SCHEMA_VALIDATION_FAILED' });
		}
	}
	const mk = (t: T): string => b64urlEncode({ field: sort.field, fieldValue: valueOf(t), sortDirection: sort.dir, id: t.id });
	if (sort.field === 'id' && sort.dir === 'asc') {
		let lo = 0;
		if (key) {
			let hi = all.length;
			while (lo < hi) {
				const mid = (lo + hi) >> 1;
				if (all[mid].id < key.id) lo = mid + 1;
				else hi = mid;
			}
		}
		const page: T[] = [];
		for (let i = lo; i < all.length; i++) {
			const t = all[i];
			if (!pred(t)) continue;
			if (page.length === limit) return { page, nextCursor: mk(t) };
			page.push(t);
		}
		return { page };
	}
	const sign = sort.dir === 'asc' ? 1 : -1;
	const cmp = (av: number, aid: number, bv: number, bid: number): number => (av !== bv ? (av < bv ? -1 : 1) * sign : (aid - bid) * sign);
	const items = all.filter(pred).sort((a, b) => cmp(valueOf(a), a.id, valueOf(b), b.id));
	let start = 0;
	if (key) {
		let hi = items.length;
		while (start < hi) {
			const mid = (start + hi) >> 1;
			if (cmp(valueOf(items[mid]), items[mid].id, key.fieldValue, key.id) < 0) start = mid + 1;
			else hi = mid;
		}
	}
	const page = items.slice(start, start + limit);
	const next = items[start + limit];
	return { page, nextCursor: next ? mk(next) : undefined };
}

/** Offset-based cursor for small collections and search results. */
export function offsetCursorPage<T>(items: T[], limit: number, cursor: string | undefined): { page: T[]; nextCursor?: string } {
	let start = 0;
	if (cursor !== undefined) {
		const k = b64urlDecode<{ offset: number }>(cursor);
		if (!k || !Number.isInteger(k.offset) || k.offset < 0)
			throw new ApiError(400, 'Validation failed: cursor: Invalid cursor', { code: 'ERR_SCHEMA_VALIDATION_FAILED' });
		start = k.offset;
	}
	const page = items.slice(start, start + limit);
	return { page, nextCursor: start + limit < items.length ? b64urlEncode({ offset: start + limit }) : undefined };
}

/** v1 offset pagination (`start`/`limit`). */
export function offsetPage<T>(items: T[], q: Record<string, any>): { page: T[]; additional: Record<string, unknown> } {
	const start = q.start === undefined ? 0 : Number(q.start);
	if (!Number.isInteger(start) || start < 0) throw new ApiError(400, 'start must be a non-negative integer');
	// v1 caps the page size at 500 instead of refusing larger limits.
	const raw = q.limit === undefined ? DEFAULT_LIMIT : Number(q.limit);
	if (!Number.isInteger(raw) || raw < 1) throw new ApiError(400, 'limit must be a positive integer');
	const limit = Math.min(raw, MAX_LIMIT);
	const page = items.slice(start, start + limit);
	const more = start + limit < items.length;
	const pagination: Record<string, unknown> = { start, limit, more_items_in_collection: more };
	if (more) pagination.next_start = start + limit;
	// The spec declares start/limit/more_items_in_collection directly in additional_data; Pipedrive's
	// examples (and live API) nest them in additional_data.pagination. Both are sent.
	return { page, additional: { ...pagination, pagination } };
}
