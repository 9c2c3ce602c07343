// Pagination for Pipedrive lists, as async generators yielding one page at a time, so a whole
// account is never held in memory.
//   v2: cursor — `cursor` + `limit` (<= 500) in, `additional_data.next_cursor` (null at the end) out.
//   v1: offset — `start` + `limit` in, `additional_data.pagination.more_items_in_collection` and
//       `next_start` out.

/** Largest page Pipedrive serves (both versions). */
export const MAX_PAGE_SIZE = 500;

export interface CursorPage<T> {
	data?: T[] | null;
	additional_data?: { next_cursor?: string | null } | null;
}

export interface OffsetPage<T> {
	data?: T[] | null;
	additional_data?: {
		pagination?: { start?: number; limit?: number; more_items_in_collection?: boolean; next_start?: number } | null;
	} | null;
}

export interface PaginateOptions {
	/** Stop after this many pages (a guard; default unlimited). */
	maxPages?: number;
}

export function clampPageSize(size: number | undefined, fallback = MAX_PAGE_SIZE): number {
	if (size === undefined || !Number.isFinite(size)) return fallback;
	return Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(size)));
}

/** Follows `next_cursor` until it is null/absent. Throws if Pipedrive hands the same cursor back twice. */
export async function* paginateCursor<T>(
	fetchPage: (cursor: string | undefined) => Promise<CursorPage<T>>,
	options: PaginateOptions = {},
): AsyncGenerator<T[], void, undefined> {
	let cursor: string | undefined;
	const seen = new Set<string>();
	let pages = 0;
	for (;;) {
		const page = await fetchPage(cursor);
		pages += 1;
		const items = Array.isArray(page?.data) ? page.data : [];
		if (items.length > 0) yield items;
		const next = page?.additional_data?.next_cursor;
		if (typeof next !== 'string' || next === '') return;
		if (seen.has(next)) throw new Error(`Pipedrive returned the same pagination cursor twice (${next.slice(0, 24)}...)`);
		seen.add(next);
		if (options.maxPages !== undefined && pages >= options.maxPages) return;
		cursor = next;
	}
}

/** Follows `start`/`limit` while `more_items_in_collection` is true. */
export async function* paginateOffset<T>(
	fetchPage: (start: number) => Promise<OffsetPage<T>>,
	options: PaginateOptions = {},
): AsyncGenerator<T[], void, undefined> {
	let start = 0;
	let pages = 0;
	for (;;) {
		const page = await fetchPage(start);
		pages += 1;
		const items = Array.isArray(page?.data) ? page.data : [];
		if (items.length > 0) yield items;
		const pagination = page?.additional_data?.pagination;
		if (!pagination?.more_items_in_collection) return;
		const next = typeof pagination.next_start === 'number' ? pagination.next_start : start + items.length;
		if (next <= start) throw new Error(`Pipedrive pagination did not advance (start ${start}, next ${next})`);
		if (options.maxPages !== undefined && pages >= options.maxPages) return;
		start = next;
	}
}

/** Drains a page generator into one array (only for small, bounded lists such as fields or stages). */
export async function collectPages<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
	const out: T[] = [];
	for await (const page of pages) out.push(...page);
	return out;
}
