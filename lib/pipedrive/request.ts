// The one seam between the Pipedrive client and the network. The client never does HTTP itself:
// it is handed a `PipedriveRequestFn`. In n8n that is a thin adapter over
// `this.helpers.httpRequestWithAuthentication` (with `returnFullResponse: true` and
// `ignoreHttpStatusErrors: true`, so credentials and OAuth refresh stay n8n's); scripts, tests and
// benchmarks use `createHttpRequest` (test/helpers/pipedrive-http.ts), which sends the API token
// in the `x-api-token` header.

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type QueryValue = string | number | boolean;

export interface PipedriveRequestOptions {
	method: HttpMethod;
	/** Absolute URL: base URL + path (`/v1/...` or `/api/v2/...`), without the query string. */
	url: string;
	/** Query parameters; the client never puts `undefined` values here. */
	qs?: Record<string, QueryValue>;
	/** JSON request body (POST/PUT/PATCH only). */
	body?: unknown;
	/** Milliseconds before the request is abandoned. */
	timeout?: number;
}

export interface PipedriveRawResponse {
	statusCode: number;
	/** Response headers; names may be in any case (the client looks them up case-insensitively). */
	headers: Record<string, string | string[] | undefined>;
	/** Parsed JSON when the answer was JSON, otherwise the raw text (e.g. an HTML error page). */
	body: unknown;
}

/**
 * Sends one HTTP request and resolves with the answer whatever its status code. It rejects only
 * when no answer came back (DNS failure, refused connection, reset, timeout); the rejection should
 * carry a Node-style `code` (ENOTFOUND, ECONNREFUSED, ECONNRESET, ETIMEDOUT...) on the error or on
 * its `cause` chain so the client can tell "never sent" from "outcome unknown".
 */
export type PipedriveRequestFn = (options: PipedriveRequestOptions) => Promise<PipedriveRawResponse>;

export interface BaseUrlInput {
	/** Company subdomain (`acme`), or `acme.pipedrive.com`, or a full `https://acme.pipedrive.com`. */
	companyDomain?: string;
	/** Explicit base URL (proxy, sandbox); wins over the company domain. */
	baseUrlOverride?: string;
	/** OAuth token answer's `api_domain`; wins over the company domain, loses to an override. */
	apiDomain?: string;
}

/**
 * The base URL requests go to, without trailing slash and without a `/v1` or `/api/v2` suffix
 * (paths carry their version). Throws a plain Error when nothing usable is given.
 */
export function resolveBaseUrl(input: BaseUrlInput): string {
	const override = input.baseUrlOverride?.trim();
	if (override) return normalizeBaseUrl(override);
	const apiDomain = input.apiDomain?.trim();
	if (apiDomain) return normalizeBaseUrl(apiDomain);
	let domain = (input.companyDomain ?? '').trim().toLowerCase();
	domain = domain.replace(/^https?:\/\//, '').replace(/\/.*$/, '').replace(/\.pipedrive\.com$/, '');
	if (!domain) throw new Error('A Pipedrive company domain (e.g. "acme" for acme.pipedrive.com) or a base URL is required');
	if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(domain)) {
		throw new Error(`"${input.companyDomain}" does not look like a Pipedrive company domain (expected e.g. "acme" for acme.pipedrive.com)`);
	}
	return `https://${domain}.pipedrive.com`;
}

/** Strips trailing slashes and a trailing `/v1` or `/api/v2`; adds `https://` when no scheme is given. */
export function normalizeBaseUrl(url: string): string {
	let out = url.trim();
	if (!/^https?:\/\//i.test(out)) out = `https://${out}`;
	out = out.replace(/\/+$/, '');
	out = out.replace(/\/(?:v1|api\/v[12])$/i, '');
	return out.replace(/\/+$/, '');
}

// ---------------------------------------------------------------- n8n adapter

/**
 * The options the n8n adapter hands to `this.helpers.httpRequestWithAuthentication` (a structural
 * subset of n8n's `IHttpRequestOptions`; lib/ does not import n8n-workflow).
 *
 * `ignoreHttpStatusErrors` is `{ ignore: true, except: [401] }`, not `true`: n8n refreshes an OAuth2
 * token only when the request *throws* a 401 (n8n-core `requestOAuth2`), so with `true` an expired
 * token would never be refreshed. Every other status comes back as a response for the client to read.
 */
export interface N8nHttpRequestOptions {
	method: HttpMethod;
	url: string;
	qs?: Record<string, QueryValue>;
	body?: Record<string, unknown>;
	json: true;
	timeout?: number;
	returnFullResponse: true;
	ignoreHttpStatusErrors: { ignore: true; except: number[] };
}

/** n8n's `IN8nHttpFullResponse`, structurally. */
export interface N8nFullResponse {
	body: unknown;
	headers: Record<string, unknown>;
	statusCode: number;
}

function plainHeaders(headers: unknown): Record<string, string | string[] | undefined> {
	const out: Record<string, string | string[] | undefined> = {};
	if (!headers || typeof headers !== 'object') return out;
	for (const [key, value] of Object.entries(headers as Record<string, unknown>)) {
		if (value === undefined || value === null) continue;
		out[key.toLowerCase()] = Array.isArray(value) ? value.map(String) : String(value);
	}
	return out;
}

/** Finds an HTTP answer (axios-style `response`) on a thrown error or its `cause` chain. */
function responseOf(error: unknown): PipedriveRawResponse | undefined {
	let cur: unknown = error;
	for (let depth = 0; cur && typeof cur === 'object' && depth < 6; depth += 1) {
		const response = (cur as { response?: { status?: unknown; headers?: unknown; data?: unknown } }).response;
		if (response && typeof response.status === 'number') {
			return { statusCode: response.status, headers: plainHeaders(response.headers), body: response.data };
		}
		cur = (cur as { cause?: unknown }).cause;
	}
	return undefined;
}

/**
 * A `PipedriveRequestFn` over n8n's request helper. In a node:
 *
 *     const request = createN8nRequest((options) =>
 *       this.helpers.httpRequestWithAuthentication.call(this, credentialType, options as IHttpRequestOptions));
 *
 * Credentials (API token header, OAuth bearer and its refresh), proxies and SSRF rules stay n8n's.
 * A 401 that n8n throws (after its refresh attempt) is turned back into a response; errors without
 * an HTTP answer (DNS, refused, timeout) are re-thrown as they are (their `code` sits on `cause`).
 */
export function createN8nRequest(send: (options: N8nHttpRequestOptions) => Promise<N8nFullResponse>): PipedriveRequestFn {
	return async (req) => {
		const options: N8nHttpRequestOptions = {
			method: req.method,
			url: req.url,
			json: true,
			returnFullResponse: true,
			ignoreHttpStatusErrors: { ignore: true, except: [401] },
		};
		if (req.qs) options.qs = req.qs;
		if (req.body !== undefined) options.body = req.body as Record<string, unknown>;
		if (req.timeout) options.timeout = req.timeout;
		try {
			const res = await send(options);
			return { statusCode: res.statusCode, headers: plainHeaders(res.headers), body: res.body };
		} catch (error) {
			const answer = responseOf(error);
			if (answer) return answer;
			throw error;
		}
	};
}
