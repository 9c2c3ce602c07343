// The Pipedrive API client used by the nodes, the sandbox tests and the benchmarks.
//
// It never does HTTP itself (see request.ts): every call goes through the injected request
// function, paced by one `Pacer` per client (pacing.ts), retried within bounds, and turned into a
// `PipedriveApiError` when it fails (errors.ts). Paths, parameters and bodies follow Pipedrive's
// OpenAPI files (shared/pipedrive-openapi): v2 for persons, deals, pipelines, stages and
// person/deal fields; v1 for leads, lead labels, lead fields, filters, webhooks and users.
//
// Retries:
//   - 429 (burst): wait for `retry-after` / `x-ratelimit-reset` (else backoff), bounded attempts;
//     429 (daily budget): stop at once with kind 'daily_budget' and fail every later call fast.
//   - 5xx, network errors, timeouts: GET/PATCH/PUT/DELETE are retried (bounded, backoff + jitter).
//     A POST (create) is retried only when the request provably never left (DNS, refused
//     connection), or after the call's `findExisting()` said the create did not happen; when
//     `findExisting()` finds the entity, that entity is returned instead of creating it twice.
//     Without `findExisting`, the error is raised with `outcomeUnknown: true`.

import { type AccountListsCache, FieldsCache, applyCustomFieldValues, fieldFromV1, fieldFromV2 } from './fields';
import type { FieldEntity, PipedriveField } from './fields';
import { PipedriveApiError, readErrorBody } from './errors';
import type { PipedriveErrorKind } from './errors';
import { Pacer, backoffDelay, classifyRateLimit, systemClock } from './pacing';
import type { Clock, Sleep } from './pacing';
import { clampPageSize, collectPages, paginateCursor, paginateOffset } from './pagination';
import type { CursorPage, OffsetPage } from './pagination';
import { normalizeBaseUrl } from './request';
import type { HttpMethod, PipedriveRawResponse, PipedriveRequestFn, PipedriveRequestOptions, QueryValue } from './request';
import type {
	CreateDealBody,
	CreateLeadBody,
	CreateWebhookBody,
	Deal,
	DealBody,
	FieldV1,
	FieldV2,
	Filter,
	FilterType,
	Lead,
	LeadBody,
	LeadLabel,
	Person,
	PersonBody,
	PersonSearchItem,
	Pipeline,
	Stage,
	UpdateLeadBody,
	User,
	Webhook,
} from './types';

export const V1 = '/v1';
export const V2 = '/api/v2';

export type PipedriveAuthType = 'apiToken' | 'oauth2';

export type PipedriveClientEvent =
	| { type: 'response'; method: HttpMethod; path: string; status: number; attempt: number; durationMs: number }
	| { type: 'network_error'; method: HttpMethod; path: string; code: string | undefined; attempt: number }
	| { type: 'pacing_wait'; bucket: string; ms: number }
	| { type: 'rate_limited'; method: HttpMethod; path: string; waitMs: number; attempt: number }
	| { type: 'retry'; method: HttpMethod; path: string; attempt: number; delayMs: number; reason: string }
	| { type: 'create_recovered'; method: HttpMethod; path: string };

export interface PipedriveClientOptions {
	/** Sends one request (the n8n adapter `createN8nRequest`, or an HTTP client in scripts and tests). */
	request: PipedriveRequestFn;
	/** `https://<company>.pipedrive.com`, an override, or the OAuth `api_domain` (see `resolveBaseUrl`). */
	baseUrl: string;
	/** Only changes the wording of 401 messages. Default 'apiToken'. */
	authType?: PipedriveAuthType;
	/** Requests in flight at once through this client's pacer. Default 2. */
	concurrency?: number;
	/** Per-request timeout. Default 30 000 ms. */
	timeoutMs?: number;
	/** Retries after 5xx / network errors. Default 4. */
	maxRetries?: number;
	/** Retries after burst 429s. Default 6. */
	maxRateLimitRetries?: number;
	/** A 429 asking for a longer wait fails instead (kind 'rate_limit'). Default 120 000 ms. */
	maxRateLimitWaitMs?: number;
	/** Backoff base and cap for 5xx / network retries. Defaults 500 ms and 8 000 ms. */
	retryBaseMs?: number;
	retryMaxMs?: number;
	/** Pacing tuning (see Pacer). */
	lowWatermark?: number;
	windowMs?: number;
	clock?: Clock;
	/** Waits between retries and for pacing: n8n-workflow's `sleep` in the nodes (lib/ uses no timers itself). */
	sleep: Sleep;
	random?: () => number;
	onEvent?: (event: PipedriveClientEvent) => void;
	/** Keeps fields, pipelines, stages and labels across clients of the same account (`scope`). */
	accountLists?: { cache: AccountListsCache; scope: string };
}

export interface CallOptions {
	qs?: Record<string, QueryValue | undefined | null>;
	body?: unknown;
	timeoutMs?: number;
}

export interface CreateOptions<T> {
	/**
	 * Called before re-sending a create whose outcome is unknown (5xx, timeout, reset connection):
	 * return the entity if the first attempt did create it (it is returned instead of creating a
	 * second one), or null/undefined to create it again.
	 */
	findExisting?: () => Promise<T | null | undefined>;
	/** Custom field values by field key or name (labels of option fields are turned into ids). */
	customFields?: Record<string, unknown>;
	timeoutMs?: number;
}

export interface UpdateOptions {
	customFields?: Record<string, unknown>;
	timeoutMs?: number;
}

export interface IteratePersonsOptions {
	filterId?: number;
	/** Only persons updated at or after this time (`updated_since`, RFC 3339). */
	updatedSince?: Date | string;
	/** Items per page, at most 500. Default 500. */
	pageSize?: number;
	/** Up to 15 custom field keys to include (`custom_fields`), for smaller answers. */
	customFieldKeys?: string[];
	sortBy?: 'id' | 'update_time' | 'add_time';
	sortDirection?: 'asc' | 'desc';
}

export interface PipedriveClientStats {
	requests: number;
	retries: number;
	rateLimited: number;
	pacingWaitMs: number;
	/** Sum of the operations' `x-token-cost` from the OpenAPI files (known operations only). */
	tokenCost: number;
}

interface OperationInfo {
	method: HttpMethod;
	pattern: RegExp;
	/** OAuth scopes that allow the operation (any one of them), from the spec's `security`. */
	scopes: string[];
	/** `x-token-cost`. */
	cost: number;
}

function op(method: HttpMethod, path: string, scopes: string, cost: number): OperationInfo {
	const pattern = new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`);
	return { method, pattern, scopes: scopes.split('|'), cost };
}

/** The operations this client uses, with their OAuth scopes and token cost as v1.yaml / v2.yaml give them. */
export const OPERATIONS: readonly OperationInfo[] = [
	op('GET', '/v1/users/me', 'base', 2),
	op('GET', '/v1/users', 'users:read', 20),
	op('GET', '/api/v2/pipelines', 'deals:read|deals:full|admin', 5),
	op('GET', '/api/v2/stages', 'deals:read|deals:full|admin', 5),
	op('GET', '/api/v2/personFields', 'contacts:read|contacts:full|admin|contact-fields:full', 10),
	op('GET', '/api/v2/dealFields', 'deals:read|deals:full|admin|deal-fields:full', 10),
	op('POST', '/api/v2/personFields', 'admin|contact-fields:full', 5),
	op('POST', '/api/v2/dealFields', 'admin|deal-fields:full', 5),
	op('GET', '/v1/leadFields', 'leads:read|leads:full|admin', 20),
	op('GET', '/v1/leadLabels', 'leads:read|leads:full', 10),
	op('GET', '/v1/filters', 'deals:read|deals:full|activities:read|activities:full|contacts:read|contacts:full', 20),
	op('GET', '/api/v2/persons/search', 'contacts:read|contacts:full|search:read', 20),
	op('GET', '/api/v2/persons', 'contacts:read|contacts:full', 10),
	op('POST', '/api/v2/persons', 'contacts:full', 5),
	op('GET', '/api/v2/persons/{id}', 'contacts:read|contacts:full', 1),
	op('PATCH', '/api/v2/persons/{id}', 'contacts:full', 5),
	op('POST', '/api/v2/deals', 'deals:full', 5),
	op('GET', '/api/v2/deals/{id}', 'deals:read|deals:full', 1),
	op('PATCH', '/api/v2/deals/{id}', 'deals:full', 5),
	op('POST', '/v1/leads', 'leads:full', 10),
	op('GET', '/v1/leads/{id}', 'leads:read|leads:full', 2),
	op('PATCH', '/v1/leads/{id}', 'leads:full', 10),
	op('GET', '/v1/webhooks', 'admin', 10),
	op('POST', '/v1/webhooks', 'admin', 10),
	op('DELETE', '/v1/webhooks/{id}', 'admin', 6),
];

function findOperation(method: HttpMethod, path: string): OperationInfo | undefined {
	return OPERATIONS.find((o) => o.method === method && o.pattern.test(path));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GENERIC_ERROR_INFO = /^please check (?:\[?developers\.pipedrive\.com|https?:\/\/developers\.pipedrive\.com)/i;

/** Node-style error codes that mean the request never reached Pipedrive (safe to re-send a POST). */
const NEVER_SENT_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_INVALID_URL', 'UND_ERR_CONNECT_TIMEOUT']);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ECONNABORTED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

interface NetworkInfo {
	code?: string;
	message: string;
	neverSent: boolean;
	/** Retrying cannot help (the host does not exist). */
	permanent: boolean;
	httpStatus?: number;
}

function networkInfo(error: unknown): NetworkInfo {
	let code: string | undefined;
	let httpStatus: number | undefined;
	const messages: string[] = [];
	let cur: unknown = error;
	for (let depth = 0; cur && depth < 6; depth += 1) {
		const e = cur as { code?: unknown; message?: unknown; cause?: unknown; httpCode?: unknown; statusCode?: unknown; name?: unknown };
		if (!code && typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code)) code = e.code;
		if (httpStatus === undefined) {
			const s = Number(e.httpCode ?? e.statusCode);
			if (Number.isInteger(s) && s >= 400) httpStatus = s;
		}
		if (typeof e.message === 'string' && e.message) messages.push(e.message);
		if (!code && (e.name === 'TimeoutError' || e.name === 'AbortError')) code = 'ETIMEDOUT';
		cur = e.cause;
	}
	const joined = messages.join(': ');
	if (!code) {
		const m = /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ESOCKETTIMEDOUT|ECONNABORTED|EHOSTUNREACH|ENETUNREACH|EPIPE)\b/.exec(joined);
		if (m) code = m[1];
		else if (/timed? ?out/i.test(joined)) code = 'ETIMEDOUT';
	}
	return {
		code,
		message: joined || String(error),
		neverSent: code !== undefined && NEVER_SENT_CODES.has(code),
		permanent: code === 'ENOTFOUND' || code === 'ERR_INVALID_URL',
		httpStatus,
	};
}

function cleanQs(qs: CallOptions['qs']): Record<string, QueryValue> | undefined {
	if (!qs) return undefined;
	const out: Record<string, QueryValue> = {};
	for (const [k, v] of Object.entries(qs)) if (v !== undefined && v !== null) out[k] = v;
	return Object.keys(out).length ? out : undefined;
}

/** `{ method, url, qs?, body?, timeout }` without the throwaway objects of spreading optional parts. */
function requestOptions(method: HttpMethod, url: string, qs: Record<string, QueryValue> | undefined, body: unknown, timeout: number): PipedriveRequestOptions {
	if (qs) return body !== undefined ? { method, url, qs, body, timeout } : { method, url, qs, timeout };
	return body !== undefined ? { method, url, body, timeout } : { method, url, timeout };
}

function validationError(message: string, method?: HttpMethod, path?: string): PipedriveApiError {
	return new PipedriveApiError({ kind: 'validation', message, method, path });
}

function toId(id: number | string, what: string): number {
	const n = typeof id === 'string' && /^\d+$/.test(id.trim()) ? Number(id) : id;
	if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
		throw validationError(`${what} must be a positive integer, got ${JSON.stringify(id)}`);
	}
	return n;
}

function toLeadId(id: string): string {
	if (typeof id !== 'string' || !UUID.test(id.trim())) throw validationError(`A lead id is a UUID, got ${JSON.stringify(id)}`);
	return id.trim();
}

function toRfc3339(value: Date | string): string {
	const d = value instanceof Date ? value : new Date(value);
	if (Number.isNaN(d.getTime())) throw validationError(`updatedSince must be a date, got ${JSON.stringify(value)}`);
	return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `[{ value, primary: true, label: 'work' }]` for a v2 person body. */
export function personEmailItems(email: string, label = 'work'): Array<{ value: string; primary: boolean; label: string }> {
	return [{ value: email.trim(), primary: true, label }];
}

type Outcome = { kind: 'body'; body: Record<string, unknown> } | { kind: 'recovered'; value: unknown };

export class PipedriveClient {
	readonly baseUrl: string;
	readonly authType: PipedriveAuthType;
	readonly pacer: Pacer;
	/** Field definitions, pipelines, stages and lead labels, each fetched once per client. */
	readonly fieldsCache: FieldsCache;
	readonly stats: PipedriveClientStats = { requests: 0, retries: 0, rateLimited: 0, pacingWaitMs: 0, tokenCost: 0 };

	private readonly requestFn: PipedriveRequestFn;
	private readonly clock: Clock;
	/** The injected wait (also for callers that pace around the client, e.g. waiting for a lease). */
	readonly sleep: Sleep;
	private readonly random: () => number;
	private readonly timeoutMs: number;
	private readonly maxRetries: number;
	private readonly maxRateLimitRetries: number;
	private readonly maxRateLimitWaitMs: number;
	private readonly retryBaseMs: number;
	private readonly retryMaxMs: number;
	private readonly onEvent?: (event: PipedriveClientEvent) => void;
	/** Set once the daily budget is known to be exhausted: later calls fail without a request. */
	private dailyBudgetError?: PipedriveApiError;

	constructor(options: PipedriveClientOptions) {
		if (typeof options.request !== 'function') throw new Error('PipedriveClient needs a request function');
		this.baseUrl = normalizeBaseUrl(options.baseUrl);
		this.authType = options.authType ?? 'apiToken';
		this.requestFn = options.request;
		this.clock = options.clock ?? systemClock;
		if (typeof options.sleep !== 'function') throw new Error('PipedriveClient needs a sleep function (n8n-workflow\'s sleep in the nodes)');
		this.sleep = options.sleep;
		this.random = options.random ?? Math.random;
		this.timeoutMs = options.timeoutMs ?? 30_000;
		this.maxRetries = options.maxRetries ?? 4;
		this.maxRateLimitRetries = options.maxRateLimitRetries ?? 6;
		this.maxRateLimitWaitMs = options.maxRateLimitWaitMs ?? 120_000;
		this.retryBaseMs = options.retryBaseMs ?? 500;
		this.retryMaxMs = options.retryMaxMs ?? 8_000;
		this.onEvent = options.onEvent;
		this.pacer = new Pacer({
			concurrency: options.concurrency ?? 2,
			clock: this.clock,
			sleep: this.sleep,
			lowWatermark: options.lowWatermark,
			windowMs: options.windowMs,
			onWait: (bucket, ms) => {
				this.stats.pacingWaitMs += ms;
				this.emit({ type: 'pacing_wait', bucket, ms });
			},
		});
		this.fieldsCache = new FieldsCache({
			personFields: async () => (await collectPages(this.iterateV2<FieldV2>(`${V2}/personFields`))).map((f) => fieldFromV2('person', f)),
			dealFields: async () => (await collectPages(this.iterateV2<FieldV2>(`${V2}/dealFields`))).map((f) => fieldFromV2('deal', f)),
			leadFields: async () => (await collectPages(this.iterateV1<FieldV1>(`${V1}/leadFields`))).map((f) => fieldFromV1('lead', f)),
			pipelines: () => collectPages(this.iterateV2<Pipeline>(`${V2}/pipelines`)),
			stages: (pipelineId) => collectPages(this.iterateV2<Stage>(`${V2}/stages`, { pipeline_id: pipelineId })),
			leadLabels: async () => ((await this.getData<LeadLabel[]>('GET', `${V1}/leadLabels`)) ?? []) as LeadLabel[],
		}, options.accountLists);
	}

	private emit(event: PipedriveClientEvent): void {
		try {
			this.onEvent?.(event);
		} catch {
			// A logging hook must never break a request.
		}
	}

	// ---------------------------------------------------------------- generic calls

	/**
	 * Sends one API call (with pacing, retries and error mapping) and returns Pipedrive's whole JSON
	 * answer (`{ success, data, additional_data }`). `path` starts with `/v1/` or `/api/v2/`.
	 */
	async request<T = Record<string, unknown>>(method: HttpMethod, path: string, options: CallOptions = {}): Promise<T> {
		const outcome = await this.execute(method, path, options, undefined);
		return (outcome.kind === 'body' ? outcome.body : outcome.value) as T;
	}

	/** Like `request`, but returns the answer's `data`. */
	async getData<T>(method: HttpMethod, path: string, options: CallOptions = {}): Promise<T> {
		const body = await this.request<Record<string, unknown>>(method, path, options);
		return body.data as T;
	}

	/** Like `getData`, for calls answering one entity: a missing `data` is an 'invalid_response' error. */
	private async entity<T>(method: HttpMethod, path: string, options: CallOptions = {}): Promise<T> {
		const body = await this.request<Record<string, unknown>>(method, path, options);
		return this.dataOf<T>(body, method, path);
	}

	/** Pages of a v2 (cursor-paginated) list; `limit` defaults to 500. */
	iterateV2<T>(path: string, qs: CallOptions['qs'] = {}, pageSize?: number): AsyncGenerator<T[], void, undefined> {
		const limit = clampPageSize(pageSize);
		return paginateCursor<T>((cursor) => this.request<CursorPage<T>>('GET', path, { qs: { ...qs, limit, cursor } }));
	}

	/** Pages of a v1 (offset-paginated) list; `limit` defaults to 500. */
	iterateV1<T>(path: string, qs: CallOptions['qs'] = {}, pageSize?: number): AsyncGenerator<T[], void, undefined> {
		const limit = clampPageSize(pageSize);
		return paginateOffset<T>((start) => this.request<OffsetPage<T>>('GET', path, { qs: { ...qs, start, limit } }));
	}

	/** A POST that creates something, with the duplicate-safe retry rule (see the file header). */
	private async create<T>(path: string, body: unknown, options: CreateOptions<T>): Promise<T> {
		const outcome = await this.execute('POST', path, { body, timeoutMs: options.timeoutMs }, options.findExisting);
		if (outcome.kind === 'recovered') return outcome.value as T;
		return this.dataOf<T>(outcome.body, 'POST', path);
	}

	private dataOf<T>(body: Record<string, unknown>, method: HttpMethod, path: string): T {
		if (body.data === undefined || body.data === null) {
			throw new PipedriveApiError({
				kind: 'invalid_response',
				message: `Pipedrive answered without "data" [${method} ${path}]`,
				method,
				path,
			});
		}
		return body.data as T;
	}

	// ---------------------------------------------------------------- users, pipelines, stages, fields, filters

	/** `GET /v1/users/me`: the user the credential belongs to (also a cheap credential check). */
	async getCurrentUser(): Promise<User> {
		return this.entity<User>('GET', `${V1}/users/me`);
	}

	/** `GET /v1/users`. */
	async listUsers(): Promise<User[]> {
		return (await this.getData<User[] | null>('GET', `${V1}/users`)) ?? [];
	}

	/** `GET /api/v2/pipelines` (all pages; cached per client). */
	listPipelines(): Promise<Pipeline[]> {
		return this.fieldsCache.pipelines();
	}

	/** `GET /api/v2/stages?pipeline_id=` (all pages; cached per client and pipeline). */
	async listStages(pipelineId?: number): Promise<Stage[]> {
		return this.fieldsCache.stages(pipelineId === undefined ? undefined : toId(pipelineId, 'pipelineId'));
	}

	/** `GET /api/v2/personFields` (all pages; cached per client). */
	listPersonFields(): Promise<PipedriveField[]> {
		return this.fieldsCache.personFields();
	}

	/** `GET /api/v2/dealFields` (all pages; cached per client). */
	listDealFields(): Promise<PipedriveField[]> {
		return this.fieldsCache.dealFields();
	}

	/** `GET /v1/leadFields` (all pages; cached per client). Lead custom fields are the deal custom fields. */
	listLeadFields(): Promise<PipedriveField[]> {
		return this.fieldsCache.leadFields();
	}

	/** `GET /v1/leadLabels` (cached per client). */
	listLeadLabels(): Promise<LeadLabel[]> {
		return this.fieldsCache.leadLabels();
	}

	/** `GET /v1/filters?type=`. */
	async listFilters(type?: FilterType): Promise<Filter[]> {
		return (await this.getData<Filter[] | null>('GET', `${V1}/filters`, { qs: { type } })) ?? [];
	}

	// ---------------------------------------------------------------- persons (v2)

	/**
	 * Persons whose e-mail is exactly `email`: `GET /api/v2/persons/search` with `fields=email` and
	 * `exact_match=true`, then each hit is checked again (case-insensitively) against the person's
	 * e-mails, since search matching is Pipedrive's. Oldest (lowest id) first.
	 */
	async searchPersonsByEmail(email: string): Promise<PersonSearchItem[]> {
		const term = typeof email === 'string' ? email.trim() : '';
		if (!term || !term.includes('@')) throw validationError(`searchPersonsByEmail needs an e-mail address, got ${JSON.stringify(email)}`);
		const wanted = term.toLowerCase();
		const found = new Map<number, PersonSearchItem>();
		const pages = paginateCursor<{ item: PersonSearchItem }>(
			async (cursor) => {
				const body = await this.request<{ data?: { items?: Array<{ item: PersonSearchItem }> }; additional_data?: { next_cursor?: string | null } }>(
					'GET',
					`${V2}/persons/search`,
					{ qs: { term, fields: 'email', exact_match: true, limit: 100, cursor } },
				);
				return { data: body.data?.items ?? [], additional_data: body.additional_data };
			},
			{ maxPages: 5 },
		);
		for await (const page of pages) {
			for (const hit of page) {
				const item = hit?.item;
				if (!item || typeof item.id !== 'number') continue;
				const emails = Array.isArray(item.emails) ? item.emails : [];
				if (emails.some((e) => typeof e === 'string' && e.trim().toLowerCase() === wanted)) found.set(item.id, item);
			}
		}
		return [...found.values()].sort((a, b) => a.id - b.id);
	}

	/** The oldest person whose e-mail is exactly `email` (full v2 person), or null. */
	async findPersonByEmail(email: string): Promise<Person | null> {
		const [first] = await this.searchPersonsByEmail(email);
		return first ? this.getPerson(first.id) : null;
	}

	/** `GET /api/v2/persons/{id}`. */
	async getPerson(id: number): Promise<Person> {
		return this.entity<Person>('GET', `${V2}/persons/${toId(id, 'Person id')}`);
	}

	/** `POST /api/v2/persons`. */
	async createPerson(body: PersonBody, options: CreateOptions<Person> = {}): Promise<Person> {
		checkPersonBody(body);
		const full = await this.withCustomFields('person', body, options.customFields);
		return this.create<Person>(`${V2}/persons`, full, options);
	}

	/** `PATCH /api/v2/persons/{id}`. */
	async updatePerson(id: number, body: PersonBody, options: UpdateOptions = {}): Promise<Person> {
		const path = `${V2}/persons/${toId(id, 'Person id')}`;
		checkPersonBody(body);
		const full = await this.withCustomFields('person', body, options.customFields);
		return this.entity<Person>('PATCH', path, { body: full, timeoutMs: options.timeoutMs });
	}

	/**
	 * Pages of persons (`GET /api/v2/persons`, cursor-paginated, 500 per page by default), optionally
	 * limited to a filter and/or to persons updated since a time. Yields one page at a time.
	 */
	async *iteratePersons(options: IteratePersonsOptions = {}): AsyncGenerator<Person[], void, undefined> {
		yield* this.iterateV2<Person>(`${V2}/persons`, personsQuery(options), options.pageSize);
	}

	/**
	 * One page of persons and the cursor of the next one (null after the last page), for long runs
	 * that save their place and resume after a stop.
	 */
	async personsPage(options: IteratePersonsOptions & { cursor?: string }): Promise<{ persons: Person[]; nextCursor: string | null }> {
		const body = await this.request<CursorPage<Person>>('GET', `${V2}/persons`, {
			qs: { ...personsQuery(options), limit: clampPageSize(options.pageSize), cursor: options.cursor },
		});
		const next = body?.additional_data?.next_cursor;
		return { persons: Array.isArray(body?.data) ? body.data : [], nextCursor: typeof next === 'string' && next !== '' ? next : null };
	}


	// ---------------------------------------------------------------- deals (v2)

	/** `POST /api/v2/deals` (`title` required). */
	/** A person's deals (not deleted), with up to 15 custom fields; small lists, collected. */
	async listPersonDeals(personId: number, customFieldKeys: string[] = []): Promise<Deal[]> {
		return await collectPages(
			this.iterateV2<Deal>(`${V2}/deals`, {
				person_id: toId(personId, 'personId'),
				custom_fields: customFieldKeys.length ? customFieldKeys.slice(0, 15).join(',') : undefined,
			}),
		);
	}

	/** A person's leads (not archived). */
	async listPersonLeads(personId: number): Promise<Lead[]> {
		return await collectPages(this.iterateV1<Lead>(`${V1}/leads`, { person_id: toId(personId, 'personId') }));
	}

	async createDeal(body: CreateDealBody, options: CreateOptions<Deal> = {}): Promise<Deal> {
		if (!body || typeof body.title !== 'string' || body.title.trim() === '') throw validationError('A deal needs a title', 'POST', `${V2}/deals`);
		checkDealBody(body);
		const full = await this.withCustomFields('deal', body, options.customFields);
		return this.create<Deal>(`${V2}/deals`, full, options);
	}

	/** `GET /api/v2/deals/{id}`. */
	async getDeal(id: number): Promise<Deal> {
		return this.entity<Deal>('GET', `${V2}/deals/${toId(id, 'Deal id')}`);
	}

	/** `PATCH /api/v2/deals/{id}`. */
	async updateDeal(id: number, body: DealBody, options: UpdateOptions = {}): Promise<Deal> {
		const path = `${V2}/deals/${toId(id, 'Deal id')}`;
		checkDealBody(body);
		const full = await this.withCustomFields('deal', body, options.customFields);
		return this.entity<Deal>('PATCH', path, { body: full, timeoutMs: options.timeoutMs });
	}

	// ---------------------------------------------------------------- leads (v1)

	/** `POST /v1/leads` (`title` and a `person_id` or `organization_id` required). */
	async createLead(body: CreateLeadBody, options: CreateOptions<Lead> = {}): Promise<Lead> {
		const path = `${V1}/leads`;
		if (!body || typeof body.title !== 'string' || body.title.trim() === '') throw validationError('A lead needs a title', 'POST', path);
		if ((body.person_id === undefined || body.person_id === null) && (body.organization_id === undefined || body.organization_id === null)) {
			throw validationError('A lead must be linked to a person (person_id) or an organization (organization_id)', 'POST', path);
		}
		const full = await this.withCustomFields('lead', checkLeadBody(body), options.customFields);
		return this.create<Lead>(path, full, options);
	}

	/** `GET /v1/leads/{id}`. */
	async getLead(id: string): Promise<Lead> {
		return this.entity<Lead>('GET', `${V1}/leads/${toLeadId(id)}`);
	}

	/** `PATCH /v1/leads/{id}`. */
	async updateLead(id: string, body: UpdateLeadBody, options: UpdateOptions = {}): Promise<Lead> {
		const path = `${V1}/leads/${toLeadId(id)}`;
		if ('origin_id' in (body ?? {})) throw validationError('origin_id can only be set when the lead is created', 'PATCH', path);
		const full = await this.withCustomFields('lead', checkLeadBody(body), options.customFields);
		return this.entity<Lead>('PATCH', path, { body: full, timeoutMs: options.timeoutMs });
	}

	// ---------------------------------------------------------------- webhooks (v1)

	/** `GET /v1/webhooks`. */
	async listWebhooks(): Promise<Webhook[]> {
		return (await this.getData<Webhook[] | null>('GET', `${V1}/webhooks`)) ?? [];
	}

	/**
	 * `POST /v1/webhooks` (version "2.0" unless told otherwise). Unless `findExisting` is given,
	 * a create of unknown outcome is checked by looking for a webhook with the same URL, event and version.
	 */
	async createWebhook(body: CreateWebhookBody, options: CreateOptions<Webhook> = {}): Promise<Webhook> {
		const path = `${V1}/webhooks`;
		checkWebhookBody(body, path);
		const full: CreateWebhookBody = { ...body, version: body.version ?? '2.0' };
		const findExisting =
			options.findExisting ??
			(async () =>
				(await this.listWebhooks()).find(
					(w) =>
						w.subscription_url === full.subscription_url &&
						w.event_action === full.event_action &&
						w.event_object === full.event_object &&
						(w.version ?? '2.0') === full.version,
				) ?? null);
		return this.create<Webhook>(path, full, { ...options, findExisting, customFields: undefined });
	}

	/** `DELETE /v1/webhooks/{id}`. */
	async deleteWebhook(id: number): Promise<void> {
		await this.request('DELETE', `${V1}/webhooks/${toId(id, 'Webhook id')}`);
	}

	// ---------------------------------------------------------------- custom fields

	/**
	 * `POST /api/v2/personFields` or `/api/v2/dealFields`: a custom field. A create of unknown outcome
	 * is checked by listing the fields again for one of that name. The account's cached lists are
	 * forgotten, so the next node (of any execution) sees the new field.
	 */
	async createCustomField(entity: 'person' | 'deal', body: { field_name: string; field_type: string }): Promise<PipedriveField> {
		const path = `${V2}/${entity}Fields`;
		const findExisting = async () => {
			this.fieldsCache.clear();
			const fields = await this.fieldsCache.fieldsFor(entity);
			return fields.find((f) => f.isCustom && f.name === body.field_name)?.raw as FieldV2 | undefined;
		};
		try {
			return fieldFromV2(entity, await this.create<FieldV2>(path, body, { findExisting }));
		} finally {
			this.fieldsCache.clear();
		}
	}

	private async withCustomFields<T extends Record<string, unknown>>(entity: FieldEntity, body: T, values?: Record<string, unknown>): Promise<T> {
		if (!values || Object.keys(values).length === 0) return body;
		const resolved = await this.fieldsCache.customFieldValues(entity, values);
		return applyCustomFieldValues(entity, body, resolved);
	}

	// ---------------------------------------------------------------- the request loop

	private async execute(
		method: HttpMethod,
		path: string,
		options: CallOptions,
		findExisting: (() => Promise<unknown>) | undefined,
	): Promise<Outcome> {
		if (!path.startsWith(`${V1}/`) && !path.startsWith(`${V2}/`)) {
			throw new Error(`Pipedrive paths start with ${V1}/ or ${V2}/, got ${path}`);
		}
		const bucket = /\/search$/.test(path) || path.startsWith(`${V2}/itemSearch`) ? 'search' : 'default';
		const url = `${this.baseUrl}${path}`;
		const qs = cleanQs(options.qs);
		const timeout = options.timeoutMs ?? this.timeoutMs;
		const operation = findOperation(method, path);
		let attempt = 0;
		let failures = 0;
		let rateLimits = 0;

		for (;;) {
			if (this.dailyBudgetError) throw this.dailyBudgetError;
			const ticket = await this.pacer.acquire(bucket);
			attempt += 1;
			this.stats.requests += 1;
			this.stats.tokenCost += operation?.cost ?? 0;
			const started = this.clock.now();
			let res: PipedriveRawResponse | undefined;
			let thrown: unknown;
			try {
				res = await this.requestFn(requestOptions(method, url, qs, options.body, timeout));
			} catch (error) {
				thrown = error;
			} finally {
				// Also without an answer: the pacer learns when the request stopped being in flight.
				this.pacer.observe(bucket, ticket.seq, res?.headers);
				ticket.release();
			}

			// ---- no answer
			if (!res) {
				const info = networkInfo(thrown);
				this.emit({ type: 'network_error', method, path, code: info.code, attempt });
				if (info.httpStatus === 401 || info.httpStatus === 403) {
					throw this.httpError(info.httpStatus, info.message, method, path, attempt, operation);
				}
				const error = (outcomeUnknown: boolean) => this.networkError(info, method, path, attempt, outcomeUnknown, thrown);
				if (info.permanent) throw error(false);
				const safe = method !== 'POST' || info.neverSent;
				const recovered = await this.retryOrRecover(safe, ++failures, method, path, `network error ${info.code ?? ''}`.trim(), findExisting, error);
				if (recovered) return recovered;
				continue;
			}

			const status = res.statusCode;
			if (this.onEvent) this.emit({ type: 'response', method, path, status, attempt, durationMs: this.clock.now() - started });

			// ---- success
			if (status >= 200 && status < 300) {
				const body = res.body;
				if (body === undefined || body === '') return { kind: 'body', body: {} };
				if (typeof body !== 'object' || body === null || Array.isArray(body)) {
					const excerpt = readErrorBody(body);
					throw new PipedriveApiError({
						kind: 'invalid_response',
						status,
						message: `Pipedrive answered ${status} with ${excerpt.html ? 'a web page' : 'something'} that is not the API's JSON: the base URL (${this.baseUrl}) looks wrong [${method} ${path}]`,
						method,
						path,
						attempts: attempt,
					});
				}
				const obj = body as Record<string, unknown>;
				if (obj.success === false) throw this.httpError(status, body, method, path, attempt, operation);
				return { kind: 'body', body: obj };
			}

			// ---- 429
			if (status === 429) {
				this.stats.rateLimited += 1;
				const now = this.clock.now();
				const c = classifyRateLimit(res.headers, res.body, now);
				const said = readErrorBody(res.body);
				if (c.daily) {
					this.dailyBudgetError = new PipedriveApiError({
						kind: 'daily_budget',
						status,
						message:
							`Pipedrive's daily API token budget for this company is used up (429${said.error ? `: ${said.error}` : ''}): ` +
							`requests are refused until the budget resets at midnight (Pipedrive resets it at midnight in its server's time zone, which may differ from the company's). ` +
							`Admins can check Company settings > API usage, buy a top-up or upgrade the plan. [${method} ${path}]`,
						pipedriveError: said.error,
						pipedriveErrorInfo: said.errorInfo,
						pipedriveCode: said.code,
						method,
						path,
						attempts: attempt,
						retryAfterMs: c.waitMs,
					});
					throw this.dailyBudgetError;
				}
				rateLimits += 1;
				const wait = c.waitMs && c.waitMs > 0 ? c.waitMs : backoffDelay(rateLimits, 1000, 30_000, this.random);
				if (rateLimits > this.maxRateLimitRetries || wait > this.maxRateLimitWaitMs) {
					throw new PipedriveApiError({
						kind: 'rate_limit',
						status,
						message:
							rateLimits > this.maxRateLimitRetries
								? `Pipedrive's rate limit was still hit after ${this.maxRateLimitRetries} retries (429${said.error ? `: ${said.error}` : ''}) [${method} ${path}]`
								: `Pipedrive's rate limit asks to wait ${Math.ceil(wait / 1000)} s, longer than the ${Math.ceil(this.maxRateLimitWaitMs / 1000)} s allowed (429) [${method} ${path}]`,
						pipedriveError: said.error,
						pipedriveErrorInfo: said.errorInfo,
						pipedriveCode: said.code,
						method,
						path,
						attempts: attempt,
						retryAfterMs: wait,
					});
				}
				this.emit({ type: 'rate_limited', method, path, waitMs: wait, attempt });
				this.stats.retries += 1;
				this.pacer.block(bucket, now + wait, ticket.seq);
				continue;
			}

			// ---- 5xx
			if (status >= 500) {
				const error = (outcomeUnknown: boolean) => this.httpError(status, res.body, method, path, attempt, operation, outcomeUnknown);
				const recovered = await this.retryOrRecover(method !== 'POST', ++failures, method, path, `HTTP ${status}`, findExisting, error);
				if (recovered) return recovered;
				continue;
			}

			// ---- other 4xx: never retried
			throw this.httpError(status, res.body, method, path, attempt, operation);
		}
	}

	/**
	 * After a failure whose outcome may be unknown: sleeps and returns undefined to retry, returns
	 * the recovered entity for a create that did happen, or throws.
	 */
	private async retryOrRecover(
		safe: boolean,
		failures: number,
		method: HttpMethod,
		path: string,
		reason: string,
		findExisting: (() => Promise<unknown>) | undefined,
		error: (outcomeUnknown: boolean) => PipedriveApiError,
	): Promise<Outcome | undefined> {
		if (!safe && !findExisting) throw error(true);
		if (failures > this.maxRetries) throw error(!safe);
		const delay = backoffDelay(failures, this.retryBaseMs, this.retryMaxMs, this.random);
		this.emit({ type: 'retry', method, path, attempt: failures + 1, delayMs: delay, reason });
		this.stats.retries += 1;
		await this.sleep(delay);
		if (safe) return undefined;
		let existing: unknown;
		try {
			existing = await findExisting!();
		} catch (cause) {
			const original = error(true);
			throw new PipedriveApiError({
				...original,
				kind: original.kind,
				message: `${original.message}; checking whether the create happened failed too: ${(cause as Error)?.message ?? String(cause)}`,
				outcomeUnknown: true,
				cause,
			});
		}
		if (existing !== null && existing !== undefined) {
			this.emit({ type: 'create_recovered', method, path });
			return { kind: 'recovered', value: existing };
		}
		return undefined;
	}

	private networkError(info: NetworkInfo, method: HttpMethod, path: string, attempts: number, outcomeUnknown: boolean, cause: unknown): PipedriveApiError {
		const host = (() => {
			try {
				return new URL(this.baseUrl).host;
			} catch {
				return this.baseUrl;
			}
		})();
		let message: string;
		if (info.code === 'ENOTFOUND') {
			message = `Could not resolve ${host}: the company domain looks wrong (check the company domain or base URL in the credential)`;
		} else if (info.code && TIMEOUT_CODES.has(info.code)) {
			message = `Pipedrive did not answer in time (${info.code})`;
		} else {
			message = `Could not reach Pipedrive at ${host}: ${info.message}`;
		}
		if (attempts > 1) message += ` after ${attempts} attempts`;
		if (outcomeUnknown) message += '. The create may or may not have happened (outcome unknown); it was not re-sent, to avoid a duplicate';
		return new PipedriveApiError({ kind: 'network', message: `${message} [${method} ${path}]`, method, path, attempts, outcomeUnknown, cause });
	}

	private httpError(
		status: number,
		body: unknown,
		method: HttpMethod,
		path: string,
		attempts: number,
		operation: OperationInfo | undefined,
		outcomeUnknown = false,
	): PipedriveApiError {
		const said = readErrorBody(body);
		const what = said.error ?? said.text;
		const info = said.errorInfo && !GENERIC_ERROR_INFO.test(said.errorInfo) ? ` (${said.errorInfo})` : '';
		const detail = `${what ? `: ${what}` : ''}${info}`;
		const where = ` [${method} ${path}]`;
		let kind: PipedriveErrorKind;
		let message: string;
		let requiredScopes: string[] | undefined;

		if (status === 401) {
			kind = 'auth';
			message =
				this.authType === 'oauth2'
					? `Pipedrive refused the OAuth access token (401)${detail}. Reconnect the Pipedrive OAuth2 credential`
					: `Pipedrive refused the API token (401)${detail}. Check the API token in the credential (Pipedrive: Personal preferences > API)`;
		} else if (status === 403) {
			const text = `${what ?? ''} ${said.code ?? ''}`;
			if (said.html && /cloudflare|access denied|error 10\d\d/i.test(said.text ?? '')) {
				kind = 'rate_limit';
				message = `Pipedrive's firewall blocked the requests (403 from Cloudflare), which happens after repeated 429s; wait before trying again and lower the request rate`;
			} else if (/scope/i.test(text)) {
				kind = 'scope';
				requiredScopes = operation?.scopes;
				const named = /scope[s]?[^a-z]*([a-z-]+:(?:read|full)|base|admin)/i.exec(text)?.[1];
				const needs = named ? ` The missing scope is ${named}.` : requiredScopes ? ` This call needs one of the OAuth scopes: ${requiredScopes.join(', ')}.` : '';
				message = `Pipedrive refused the request for lack of an OAuth scope (403)${detail}.${needs} Add the scope to the Pipedrive app and reconnect the credential`;
			} else {
				kind = 'forbidden';
				message = `Pipedrive refused the request (403)${detail}${said.code && !what?.includes(String(said.code)) ? ` [code ${said.code}]` : ''}`;
			}
		} else if (status === 404) {
			kind = 'not_found';
			message =
				typeof body === 'string'
					? `Pipedrive answered 404 with ${said.html ? 'a web page' : 'text'} instead of the API's JSON: the company domain or base URL looks wrong (${this.baseUrl})`
					: `Not found in Pipedrive (404)${detail}`;
		} else if (status === 400 || status === 422) {
			kind = 'validation';
			message = `Pipedrive rejected the request (${status})${detail}`;
		} else if (status >= 500) {
			kind = 'server';
			message = `Pipedrive had a server error (${status})${detail}`;
			if (attempts > 1) message += ` after ${attempts} attempts`;
			if (outcomeUnknown) message += '. The create may or may not have happened (outcome unknown); it was not re-sent, to avoid a duplicate';
		} else if (status >= 200 && status < 300) {
			kind = 'validation';
			message = `Pipedrive reported a failure (${status})${detail}`;
		} else {
			kind = 'conflict';
			message = `Pipedrive refused the request (${status})${detail}`;
		}
		return new PipedriveApiError({
			kind,
			status,
			message: message + where,
			pipedriveError: said.error,
			pipedriveErrorInfo: said.errorInfo,
			pipedriveCode: said.code,
			method,
			path,
			attempts,
			outcomeUnknown,
			requiredScopes,
			fieldErrors: said.fieldErrors,
		});
	}
}

// ---------------------------------------------------------------- body checks (before sending)

function checkContactItems(items: unknown, what: string): void {
	if (items === undefined) return;
	if (!Array.isArray(items)) throw validationError(`${what} must be an array of { value, primary?, label? }`);
	for (const item of items) {
		if (!item || typeof item !== 'object' || typeof (item as { value?: unknown }).value !== 'string') {
			throw validationError(`${what} must be an array of { value, primary?, label? } objects (v2 format), got ${JSON.stringify(item)}`);
		}
	}
}

function checkCustomFieldsObject(body: { custom_fields?: unknown }): void {
	const cf = body.custom_fields;
	if (cf === undefined) return;
	if (!cf || typeof cf !== 'object' || Array.isArray(cf)) throw validationError('custom_fields must be an object of { <field key>: value }');
	for (const [key, value] of Object.entries(cf)) {
		if (Array.isArray(value) && value.length === 0) {
			throw validationError(`custom_fields.${key}: Pipedrive rejects [] for multiple-option fields; send null to clear`);
		}
	}
}

function checkPersonBody(body: PersonBody): void {
	if (!body || typeof body !== 'object') throw validationError('A person body must be an object');
	checkContactItems(body.emails, 'emails');
	checkContactItems(body.phones, 'phones');
	checkCustomFieldsObject(body);
}

function checkDealBody(body: DealBody): void {
	if (!body || typeof body !== 'object') throw validationError('A deal body must be an object');
	for (const key of ['owner_id', 'person_id', 'org_id', 'pipeline_id', 'stage_id'] as const) {
		const v = body[key];
		if (v !== undefined && !Number.isInteger(v)) throw validationError(`${key} must be an integer, got ${JSON.stringify(v)}`);
	}
	if (body.value !== undefined && typeof body.value !== 'number') throw validationError(`A v2 deal value is a number (with a separate currency), got ${JSON.stringify(body.value)}`);
	checkCustomFieldsObject(body);
}

function checkLeadBody<T extends LeadBody>(body: T): T {
	if (!body || typeof body !== 'object') throw validationError('A lead body must be an object');
	if ('custom_fields' in body) throw validationError('Lead custom fields are top-level field keys in v1, not custom_fields; pass them as customFields');
	const value = body.value;
	if (value !== undefined && value !== null) {
		if (typeof value !== 'object' || typeof value.amount !== 'number' || typeof value.currency !== 'string' || !value.currency) {
			throw validationError(`A lead value is { amount: number, currency: string } (both required), got ${JSON.stringify(value)}`);
		}
	}
	if (body.label_ids !== undefined) {
		if (!Array.isArray(body.label_ids) || body.label_ids.some((id) => typeof id !== 'string' || !UUID.test(id))) {
			throw validationError(`Lead label_ids are UUID strings, got ${JSON.stringify(body.label_ids)}`);
		}
	}
	let out = body;
	if (body.visible_to !== undefined) {
		const v = String(body.visible_to);
		if (!['1', '3', '5', '7'].includes(v)) throw validationError(`A lead's visible_to is "1", "3", "5" or "7", got ${JSON.stringify(body.visible_to)}`);
		out = { ...body, visible_to: v };
	}
	return out;
}

const WEBHOOK_ACTIONS = ['create', 'change', 'delete', '*'];
const WEBHOOK_OBJECTS = ['activity', 'deal', 'lead', 'note', 'organization', 'person', 'pipeline', 'product', 'stage', 'user', '*'];

function checkWebhookBody(body: CreateWebhookBody, path: string): void {
	if (!body || typeof body !== 'object') throw validationError('A webhook body must be an object', 'POST', path);
	if (typeof body.subscription_url !== 'string' || !/^https?:\/\//i.test(body.subscription_url)) {
		throw validationError(`subscription_url must be a full http(s) URL, got ${JSON.stringify(body.subscription_url)}`, 'POST', path);
	}
	if (!WEBHOOK_ACTIONS.includes(body.event_action)) throw validationError(`event_action must be one of ${WEBHOOK_ACTIONS.join(', ')}`, 'POST', path);
	if (!WEBHOOK_OBJECTS.includes(body.event_object)) throw validationError(`event_object must be one of ${WEBHOOK_OBJECTS.join(', ')}`, 'POST', path);
	if (typeof body.name !== 'string' || body.name.trim() === '' || body.name.length > 255) {
		throw validationError('A webhook needs a name of at most 255 characters', 'POST', path);
	}
	if (body.version !== undefined && body.version !== '1.0' && body.version !== '2.0') {
		throw validationError('version must be "1.0" or "2.0"', 'POST', path);
	}
}

function personsQuery(options: IteratePersonsOptions): CallOptions['qs'] {
	if (options.customFieldKeys && options.customFieldKeys.length > 15) {
		throw validationError('Pipedrive accepts at most 15 custom field keys in custom_fields');
	}
	return {
		filter_id: options.filterId === undefined ? undefined : toId(options.filterId, 'filterId'),
		updated_since: options.updatedSince === undefined ? undefined : toRfc3339(options.updatedSince),
		custom_fields: options.customFieldKeys?.length ? options.customFieldKeys.join(',') : undefined,
		sort_by: options.sortBy,
		sort_direction: options.sortDirection,
	};
}
