// Errors the Pipedrive client throws. Every failure becomes a `PipedriveApiError` with a `kind` the
// nodes can branch on, the HTTP status, Pipedrive's own message/code, and the method and path of the
// request (never the token, never the query string: it may hold e-mail addresses).

import type { HttpMethod } from './request';

export type PipedriveErrorKind =
	/** 401: the API token / OAuth token was refused. */
	| 'auth'
	/** 403 because the OAuth token lacks a scope. */
	| 'scope'
	/** 403 for other reasons (permissions, plan limits such as `feature_capping_deals_limit`). */
	| 'forbidden'
	/** 404, or an HTML 404 page (wrong company domain / base URL). */
	| 'not_found'
	/** 429 burst limit still hit after the bounded retries, or a wait longer than allowed. */
	| 'rate_limit'
	/** 429 because the company's daily API token budget is used up. Not retried. */
	| 'daily_budget'
	/** 400/422 (and the client's own checks before sending). */
	| 'validation'
	/** 409 and other 4xx not listed above. */
	| 'conflict'
	/** 5xx after the bounded retries. */
	| 'server'
	/** No answer: DNS failure, refused/reset connection, timeout. */
	| 'network'
	/** A 2xx answer the client cannot use (not JSON, no `data`). */
	| 'invalid_response';

export interface PipedriveApiErrorInit {
	kind: PipedriveErrorKind;
	message: string;
	status?: number;
	/** Pipedrive's `error` (or `message`) field. */
	pipedriveError?: string;
	/** Pipedrive's `error_info` field. */
	pipedriveErrorInfo?: string;
	/** Pipedrive's `code` / `errorCode` field (e.g. `feature_capping_deals_limit`, 403). */
	pipedriveCode?: string | number;
	method?: HttpMethod;
	/** Path without the query string, e.g. `/api/v2/persons/12`. */
	path?: string;
	/** Requests sent for this call (1 + retries). */
	attempts?: number;
	/** True when a create may or may not have happened (5xx/timeout on POST, not retried). */
	outcomeUnknown?: boolean;
	/** Milliseconds Pipedrive asked to wait (429). */
	retryAfterMs?: number;
	/** OAuth scopes the operation accepts (from the OpenAPI `security` section), on 'scope' errors. */
	requiredScopes?: string[];
	/** Field-level validation messages (`errors` object of some v1 endpoints). */
	fieldErrors?: Record<string, string[]>;
	cause?: unknown;
}

export class PipedriveApiError extends Error {
	readonly kind: PipedriveErrorKind;
	readonly status?: number;
	readonly pipedriveError?: string;
	readonly pipedriveErrorInfo?: string;
	readonly pipedriveCode?: string | number;
	readonly method?: HttpMethod;
	readonly path?: string;
	readonly attempts?: number;
	readonly outcomeUnknown: boolean;
	readonly retryAfterMs?: number;
	readonly requiredScopes?: string[];
	readonly fieldErrors?: Record<string, string[]>;

	constructor(init: PipedriveApiErrorInit) {
		super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
		this.name = 'PipedriveApiError';
		this.kind = init.kind;
		this.status = init.status;
		this.pipedriveError = init.pipedriveError;
		this.pipedriveErrorInfo = init.pipedriveErrorInfo;
		this.pipedriveCode = init.pipedriveCode;
		this.method = init.method;
		this.path = init.path;
		this.attempts = init.attempts;
		this.outcomeUnknown = init.outcomeUnknown ?? false;
		this.retryAfterMs = init.retryAfterMs;
		this.requiredScopes = init.requiredScopes;
		this.fieldErrors = init.fieldErrors;
	}

	/** Whether trying the same call again later could succeed without a change by the user. */
	get transient(): boolean {
		return this.kind === 'rate_limit' || this.kind === 'server' || this.kind === 'network';
	}

	toJSON(): Record<string, unknown> {
		return {
			name: this.name,
			kind: this.kind,
			message: this.message,
			status: this.status,
			pipedriveError: this.pipedriveError,
			pipedriveErrorInfo: this.pipedriveErrorInfo,
			pipedriveCode: this.pipedriveCode,
			method: this.method,
			path: this.path,
			attempts: this.attempts,
			outcomeUnknown: this.outcomeUnknown,
			retryAfterMs: this.retryAfterMs,
			requiredScopes: this.requiredScopes,
			fieldErrors: this.fieldErrors,
		};
	}
}

export function isPipedriveApiError(error: unknown): error is PipedriveApiError {
	return error instanceof PipedriveApiError;
}

/** What Pipedrive said in an error body, whichever of its error shapes it used. */
export interface PipedriveErrorBody {
	error?: string;
	errorInfo?: string;
	code?: string | number;
	fieldErrors?: Record<string, string[]>;
	/** True when the body was an HTML page rather than JSON. */
	html: boolean;
	/** A short plain-text excerpt when the body was not JSON. */
	text?: string;
}

/**
 * Reads Pipedrive's error shapes: `{success:false, error, error_info, errorCode|code}` (most
 * endpoints), `{success:false, message}` (some 403s), `{status:'error', errors:{field:[msg]}}`
 * (webhooks), and non-JSON bodies (Cloudflare / HTML 404 pages).
 */
export function readErrorBody(body: unknown): PipedriveErrorBody {
	if (typeof body === 'string') {
		const html = /^\s*</.test(body) || /<html|<!doctype/i.test(body);
		const text = html
			? body.replace(/<script[\s\S]*?<\/script>/gi, ' ').replace(/<style[\s\S]*?<\/style>/gi, ' ').replace(/<[^>]+>/g, ' ')
			: body;
		return { html, text: text.replace(/\s+/g, ' ').trim().slice(0, 200) || undefined };
	}
	if (!body || typeof body !== 'object') return { html: false };
	const b = body as Record<string, unknown>;
	const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
	const out: PipedriveErrorBody = { html: false };
	out.error = str(b.error) ?? str(b.message) ?? (typeof b.error === 'object' && b.error ? str((b.error as Record<string, unknown>).message) : undefined);
	out.errorInfo = str(b.error_info);
	const code = b.code ?? b.error_code ?? b.errorCode;
	if (typeof code === 'string' || typeof code === 'number') out.code = code;
	if (b.errors && typeof b.errors === 'object' && !Array.isArray(b.errors)) {
		const fieldErrors: Record<string, string[]> = {};
		for (const [field, msgs] of Object.entries(b.errors as Record<string, unknown>)) {
			const list = Array.isArray(msgs) ? msgs.map(String) : [String(msgs)];
			fieldErrors[field] = list;
		}
		out.fieldErrors = fieldErrors;
		if (!out.error) {
			out.error = Object.entries(fieldErrors)
				.map(([field, msgs]) => `${field}: ${msgs.join(', ')}`)
				.join('; ');
		}
	}
	return out;
}
