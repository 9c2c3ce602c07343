/**
 * Pipedrive API test double ("the sandbox"): an in-memory HTTP server (node:http only) that
 * implements the endpoints the package uses, validates every request and every answer against
 * Pipedrive's OpenAPI files, emulates the burst limit and the daily token budget, injects faults
 * on demand and delivers webhooks with Pipedrive's retry schedule.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AdminHelpers, createAdmin, handleAdmin } from './admin';
import { type FaultConfig, FaultInjector, RateLimiter, type RateLimitConfig } from './limits';
import type { Handler, RouteContext, TokenInfo } from './routes/common';
import { v1Handlers, WEBHOOK_OPERATIONS } from './routes/v1';
import { v2Handlers } from './routes/v2';
import { type SeedOptions, seed } from './seed';
import type { CustomFieldFormat } from './serialize';
import { type ApiVersion, getSpec, type Operation, type Spec, type ValidationIssue } from './spec';
import { SandboxState } from './state';
import { ApiError, ERROR_INFO, hashKey } from './util';
import { WebhookEngine } from './webhooks';

/** Default API token (40 hex chars, like Pipedrive's). */
export const DEFAULT_API_TOKEN = hashKey('pipedrive-sandbox:api-token');
/** Default OAuth access token (all scopes). */
export const DEFAULT_OAUTH_TOKEN = `sandbox-oauth:${hashKey('pipedrive-sandbox:oauth-token')}`;

export interface TokenConfig {
	token: string;
	/** 'api' = API token (x-api-token header); 'oauth' = OAuth access token (Authorization: Bearer) */
	kind?: 'api' | 'oauth';
	/** OAuth scopes (default: all); e.g. leave out 'admin' to get 403 from the webhooks endpoints */
	scopes?: string[];
	userId?: number;
}

export interface SandboxOptions {
	/** default 0 (any free port) */
	port?: number;
	/** default 127.0.0.1 */
	host?: string;
	/** valid tokens; strings are API tokens. Default: DEFAULT_API_TOKEN and DEFAULT_OAUTH_TOKEN (all scopes). */
	tokens?: Array<string | TokenConfig>;
	/** burst limit per token per 2 s (default 40, Growth plan); 0 = off */
	rateLimit?: number;
	/** search endpoints per 2 s (default 10); 0 = off */
	searchRateLimit?: number;
	/** OAuth tokens get rateLimit x this (default 4) */
	oauthRateMultiplier?: number;
	/** daily token budget (sum of x-token-cost); default 0 = unlimited */
	dailyBudget?: number;
	faults?: FaultConfig | null;
	/** seed options: generated persons/leads on top of the fixed seed */
	seed?: SeedOptions;
	/** scales webhook retry delays (3 s, 30 s, 150 s), delivery timeout and ban time; default 1 */
	webhookTimeScale?: number;
	/** webhook delivery timeout in ms (default 10 s x webhookTimeScale, min 200 ms) */
	webhookTimeoutMs?: number;
	/**
	 * custom fields in v2 webhook data: 'sparse' (default: only fields holding a value, as {type, value},
	 * like Pipedrive's examples), 'typed' (every field, {type, value} or null) or 'plain' (every field as a bare value)
	 */
	webhookCustomFields?: CustomFieldFormat;
	/** lead conversion job duration; 0 (default) completes it within the POST */
	conversionDelayMs?: number;
	/** validate answers against the spec (default true) */
	validateResponses?: boolean;
	/** time source for entity timestamps, webhook bans and the rate limiter (default Date.now; advanceClock() adds to it) */
	clock?: () => number;
	/** directory holding v1.yaml and v2.yaml (default ../shared/pipedrive-openapi) */
	specDir?: string;
}

export interface Sandbox extends AdminHelpers {
	url: string;
	port: number;
	/** API token / OAuth token accepted by default */
	apiToken: string;
	oauthToken: string;
	state: SandboxState;
	spec: Spec;
	webhooks: WebhookEngine;
	limiter: RateLimiter;
	faults: FaultInjector;
	admin: AdminHelpers;
	close(): Promise<void>;
}

const HANDLERS: Record<string, Handler> = {};
for (const [k, v] of Object.entries(v1Handlers)) HANDLERS[`v1:${k}`] = v;
for (const [k, v] of Object.entries(v2Handlers)) HANDLERS[`v2:${k}`] = v;

/** operationIds the sandbox implements, per API version. */
export function implementedOperations(): Array<{ version: ApiVersion; operationId: string }> {
	return Object.keys(HANDLERS).map((k) => {
		const [version, operationId] = k.split(':');
		return { version: version as ApiVersion, operationId };
	});
}

const MAX_BODY = 5 * 1024 * 1024;

function readBody(req: http.IncomingMessage): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		let size = 0;
		req.on('data', (c: Buffer) => {
			size += c.length;
			if (size > MAX_BODY) {
				reject(new ApiError(413, 'Request body too large'));
				req.destroy();
				return;
			}
			chunks.push(c);
		});
		req.on('end', () => resolve(Buffer.concat(chunks)));
		req.on('error', reject);
	});
}

function allScopes(spec: Spec): string[] {
	const flows = spec.docs.v1.components?.securitySchemes?.oauth2?.flows ?? {};
	const scopes = new Set<string>();
	for (const f of Object.values<any>(flows)) for (const s of Object.keys(f.scopes ?? {})) scopes.add(s);
	return [...scopes];
}

function isSearch(op: Operation): boolean {
	return op.pathTemplate.endsWith('/search') || op.pathTemplate.startsWith('/itemSearch');
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
	const spec = getSpec(options.specDir);
	const clock = options.clock ?? Date.now;
	const format = options.webhookCustomFields ?? 'sparse';
	if (!['sparse', 'typed', 'plain'].includes(format)) throw new Error(`webhookCustomFields must be sparse, typed or plain (got ${String(format)})`);
	const state = new SandboxState(clock);
	const seedOptions: SeedOptions = options.seed ?? {};
	seed(state, seedOptions);
	const webhooks = new WebhookEngine(state, {
		timeScale: options.webhookTimeScale ?? 1,
		timeoutMs: options.webhookTimeoutMs,
		customFieldFormat: format,
	});
	const rateConfig: RateLimitConfig = {
		limit: options.rateLimit ?? 40,
		searchLimit: options.searchRateLimit ?? 10,
		oauthMultiplier: options.oauthRateMultiplier ?? 4,
		dailyBudget: options.dailyBudget ?? 0,
	};
	// The limiter shares the state's now, so advanceClock() also moves the burst window and the daily budget.
	const limiter = new RateLimiter(rateConfig, () => state.now());
	const faults = new FaultInjector();
	faults.set(options.faults ?? null);
	const validateResponses = options.validateResponses !== false;
	const conversionDelayMs = options.conversionDelayMs ?? 0;

	const scopes = allScopes(spec);
	const tokens = new Map<string, TokenInfo>();
	const tokenList = options.tokens ?? [DEFAULT_API_TOKEN, { token: DEFAULT_OAUTH_TOKEN, kind: 'oauth' as const }];
	for (const t of tokenList) {
		const cfg: TokenConfig = typeof t === 'string' ? { token: t, kind: 'api' } : t;
		const kind = cfg.kind ?? 'api';
		tokens.set(cfg.token, { token: cfg.token, kind, scopes: kind === 'oauth' ? (cfg.scopes ?? scopes) : null, userId: cfg.userId ?? state.me.id });
	}

	const timers = new Set<NodeJS.Timeout>();
	const schedule = (fn: () => void, ms: number) => {
		const t = setTimeout(() => {
			timers.delete(t);
			try {
				fn();
			} catch {
				/* conversion target vanished */
			}
		}, ms);
		timers.add(t);
	};
	const hanging = new Set<http.ServerResponse>();
	const admin = createAdmin({
		state,
		webhooks,
		limiter,
		faults,
		seedOptions,
		onReset: () => {
			for (const t of timers) clearTimeout(t);
			timers.clear();
		},
	});

	const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string | number> = {}) => {
		if (res.writableEnded || res.destroyed) return;
		const payload = Buffer.from(JSON.stringify(body));
		res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': payload.length, ...headers });
		res.end(payload);
	};

	const errorBody = (
		version: ApiVersion | null,
		op: Operation | undefined,
		status: number,
		message: string,
		extra: Record<string, unknown> = {},
	): Record<string, unknown> => {
		const isWebhookOp = !!op && op.version === 'v1' && WEBHOOK_OPERATIONS.has(op.operationId);
		if (isWebhookOp && (status === 400 || status === 404)) {
			return { status: 'error', success: false, errors: (extra.webhookErrors as Record<string, string[]>) ?? { request: [message] } };
		}
		const body: Record<string, unknown> = { success: false, error: message };
		if (status === 401 || status === 403 || status === 429) body.errorCode = status;
		if (isWebhookOp && status === 403) body.message = message;
		body.error_info = extra.error_info ?? ERROR_INFO;
		body.data = null;
		body.additional_data = null;
		if (version === 'v2' && typeof extra.code === 'string') body.code = extra.code;
		return body;
	};

	async function handleApi(req: http.IncomingMessage, res: http.ServerResponse, url: URL, version: ApiVersion, subPath: string): Promise<void> {
		const started = Date.now();
		const method = (req.method ?? 'GET').toUpperCase();
		const fullPath = url.pathname;
		const headers: Record<string, string | number> = {};
		let operationId: string | null = null;
		let tokenCost = 0;
		let tokenName: string | null = null;
		let fault: string | undefined;
		let rateLimited: 'burst' | 'daily' | undefined;
		const violation = (where: 'request' | 'response', message: string) => state.recordViolation({ method, path: fullPath, operationId, where, message });
		const finish = (status: number, body: unknown) => {
			send(res, status, body, headers);
			state.logRequest({
				method,
				path: fullPath,
				query: url.search,
				operationId,
				status,
				tokenCost,
				token: tokenName,
				durationMs: Date.now() - started,
				fault,
				rateLimited,
			});
		};
		// x-ratelimit-* on every answer; refined once the token is known.
		headers['x-ratelimit-limit'] = limiter.config.limit;
		headers['x-ratelimit-remaining'] = limiter.config.limit;
		headers['x-ratelimit-reset'] = 2;

		let raw: Buffer;
		try {
			raw = await readBody(req);
		} catch (e) {
			finish(e instanceof ApiError ? e.status : 400, errorBody(version, undefined, 413, 'Request body too large'));
			return;
		}
		const matched = spec.match(version, method, subPath);
		if (!('op' in matched)) {
			violation(
				'request',
				matched.pathMatched
					? `${method} is not an operation of ${subPath} in the ${version} spec`
					: `${method} ${subPath} is not an operation in the ${version} spec`,
			);
			finish(404, errorBody(version, undefined, 404, 'Unknown method .'));
			return;
		}
		const op = matched.op;
		operationId = op.operationId;

		// ---- authentication ----
		if (url.searchParams.has('api_token')) {
			violation('request', 'API token sent in the query string (api_token); send it in the x-api-token header (or Authorization: Bearer for OAuth)');
			finish(401, errorBody(version, op, 401, 'API token in the query string is not accepted; use the x-api-token header'));
			return;
		}
		const apiHeader = req.headers['x-api-token'];
		const auth = req.headers.authorization;
		let token: TokenInfo | undefined;
		if (typeof apiHeader === 'string' && apiHeader) {
			const t = tokens.get(apiHeader);
			if (t && t.kind === 'api') token = t;
		} else if (typeof auth === 'string' && /^Bearer\s+/i.test(auth)) {
			const t = tokens.get(auth.replace(/^Bearer\s+/i, '').trim());
			if (t && t.kind === 'oauth') token = t;
		}
		if (!token) {
			finish(401, errorBody(version, op, 401, 'unauthorized access'));
			return;
		}
		tokenName = token.kind === 'api' ? `api:${token.token.slice(0, 6)}…` : `oauth:${token.token.slice(0, 12)}…`;
		if (token.kind === 'oauth' && (!op.oauthScopes || !op.oauthScopes.some((s) => token!.scopes!.includes(s)))) {
			finish(403, errorBody(version, op, 403, 'Scope and URL mismatch'));
			return;
		}

		// ---- burst limit & daily budget ----
		const burst = limiter.hit(token.token, token.kind, isSearch(op));
		if (burst.limit > 0) {
			headers['x-ratelimit-limit'] = burst.limit;
			headers['x-ratelimit-remaining'] = burst.remaining;
			headers['x-ratelimit-reset'] = burst.resetSeconds;
		}
		if (!burst.allowed) {
			rateLimited = 'burst';
			headers['retry-after'] = burst.resetSeconds;
			finish(429, errorBody(version, op, 429, 'Request over limit'));
			return;
		}
		if (!limiter.chargeDaily(op.tokenCost)) {
			rateLimited = 'daily';
			headers['retry-after'] = limiter.secondsToMidnight();
			finish(
				429,
				errorBody(
					version,
					op,
					429,
					'Daily API token budget exhausted: the company has used all of its API tokens for today. Requests are blocked until the budget resets at midnight (server time).',
				),
			);
			return;
		}
		tokenCost = op.tokenCost;
		state.tokenUsage.total += tokenCost;
		state.tokenUsage.byToken[tokenName] = (state.tokenUsage.byToken[tokenName] ?? 0) + tokenCost;
		const daily = limiter.dailyRemaining();
		if (daily !== null) headers['x-sandbox-daily-budget-remaining'] = daily;

		// ---- faults ----
		const picked = faults.pick(fullPath, method);
		if (picked) {
			fault = picked;
			if (picked === 'timeout') {
				const ms = faults.config.timeoutMs ?? 0;
				if (ms > 0) {
					await new Promise((r) => setTimeout(r, ms));
				} else {
					hanging.add(res);
					res.on('close', () => {
						hanging.delete(res);
						state.logRequest({
							method,
							path: fullPath,
							query: url.search,
							operationId,
							status: 0,
							tokenCost,
							token: tokenName,
							durationMs: Date.now() - started,
							fault,
						});
					});
					return;
				}
			} else if (picked === '429') {
				rateLimited = 'burst';
				headers['x-ratelimit-remaining'] = 0;
				headers['retry-after'] = 2;
				finish(429, errorBody(version, op, 429, 'Request over limit'));
				return;
			} else {
				const messages: Record<string, string> = { '500': 'Internal server error', '502': 'Bad gateway', '503': 'Service unavailable' };
				finish(Number(picked), errorBody(version, op, Number(picked), messages[picked]));
				return;
			}
		}

		// ---- request validation ----
		const issues: ValidationIssue[] = [];
		const pathValues = spec.coerceParams(op, 'path', matched.pathParams);
		issues.push(...spec.validateParams(op, 'path', pathValues));
		const rawQuery: Record<string, string | string[]> = {};
		for (const key of new Set(url.searchParams.keys())) {
			const all = url.searchParams.getAll(key);
			rawQuery[key] = all.length > 1 ? all : all[0];
		}
		const known = new Set(op.parameters.filter((p) => p.in === 'query').map((p) => p.name));
		for (const key of Object.keys(rawQuery)) {
			if (!known.has(key)) {
				violation('request', `query parameter '${key}' is not defined for ${op.operationId} in the spec (ignored)`);
				delete rawQuery[key];
			}
		}
		const queryValues = spec.coerceParams(op, 'query', rawQuery);
		issues.push(...spec.validateParams(op, 'query', queryValues));
		let body: unknown;
		const text = raw.toString('utf8').trim();
		if (op.requestBody) {
			if (text) {
				const ct = String(req.headers['content-type'] ?? '');
				if (!/application\/json/i.test(ct)) issues.push({ message: `body must be sent as application/json (got '${ct || 'no content-type'}')` });
				try {
					body = JSON.parse(text);
				} catch {
					issues.push({ message: 'body is not valid JSON' });
				}
			} else if (op.requestBody.required) {
				issues.push({ message: 'body is required' });
			}
			if (body !== undefined) issues.push(...spec.validateBody(op, body));
		} else if (text && text !== '{}') {
			violation('request', `${op.operationId} takes no request body (body ignored)`);
		}
		if (issues.length) {
			for (const i of issues) violation('request', i.message);
			const errors: Record<string, string[]> = {};
			for (const i of issues) {
				const [where] = i.message.split(' ');
				(errors[where.replace(/^(body|query|path)\./, '')] ??= []).push(i.message);
			}
			finish(
				400,
				errorBody(version, op, 400, `Validation failed: ${issues.map((i) => i.message).join('; ')}`, {
					code: 'ERR_SCHEMA_VALIDATION_FAILED',
					webhookErrors: errors,
				}),
			);
			return;
		}

		// ---- handler ----
		const handler = HANDLERS[`${version}:${op.operationId}`];
		if (!handler) {
			finish(501, errorBody(version, op, 501, `${op.operationId} (${method} ${op.pathTemplate}) is in the spec but not implemented by the sandbox`));
			return;
		}
		let status: number;
		let resBody: unknown;
		try {
			const ctx: RouteContext = { state, webhooks, op, path: pathValues, query: queryValues, body, token, conversionDelayMs, schedule };
			const result = await handler(ctx);
			status = result.status ?? op.successStatus;
			resBody = result.body;
		} catch (e) {
			if (e instanceof ApiError) {
				if (e.extra.specViolation) violation('request', e.message);
				status = e.status;
				resBody = errorBody(version, op, e.status, e.message, e.extra);
			} else {
				console.error('[sandbox] handler error', e);
				status = 500;
				resBody = errorBody(version, op, 500, 'Internal server error');
			}
		}
		if (validateResponses) {
			const problems = spec.validateResponse(op, status, resBody);
			if (problems) for (const p of problems) violation('response', `${status}: ${p.message}`);
			else if (status >= 200 && status < 300) violation('response', `status ${status} is not declared for ${op.operationId} in the spec`);
		}
		finish(status, resBody);
	}

	const server = http.createServer((req, res) => {
		const url = new URL(req.url ?? '/', 'http://sandbox.local');
		const path = url.pathname;
		if (path === '/__admin' || path.startsWith('/__admin/')) {
			readBody(req)
				.then(async (raw) => {
					let body: unknown;
					const text = raw.toString('utf8').trim();
					if (text) body = JSON.parse(text);
					const r = await handleAdmin(admin, (req.method ?? 'GET').toUpperCase(), path, url.searchParams, body);
					send(res, r.status, r.body);
				})
				.catch((e) => send(res, e instanceof ApiError ? e.status : 400, { success: false, error: e instanceof Error ? e.message : String(e) }));
			return;
		}
		const m = /^\/(?:api\/)?v1(\/.*)$/.exec(path) ?? null;
		const m2 = /^\/api\/v2(\/.*)$/.exec(path);
		if (m) {
			handleApi(req, res, url, 'v1', m[1]).catch((e) => send(res, 500, { success: false, error: String(e) }));
		} else if (m2) {
			handleApi(req, res, url, 'v2', m2[1]).catch((e) => send(res, 500, { success: false, error: String(e) }));
		} else {
			state.recordViolation({
				method: req.method ?? 'GET',
				path,
				operationId: null,
				where: 'request',
				message: `${path} is not under /v1, /api/v1 or /api/v2`,
			});
			send(
				res,
				404,
				{ success: false, error: 'Unknown method .', error_info: ERROR_INFO, data: null, additional_data: null },
				{ 'x-ratelimit-limit': limiter.config.limit, 'x-ratelimit-remaining': limiter.config.limit, 'x-ratelimit-reset': 2 },
			);
		}
	});
	server.keepAliveTimeout = 5000;

	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
	});
	const addr = server.address() as AddressInfo;
	const host = options.host && options.host !== '0.0.0.0' && options.host !== '::' ? options.host : '127.0.0.1';
	const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;

	let closed = false;
	const sandbox: Sandbox = {
		...admin,
		admin,
		url,
		port: addr.port,
		apiToken: [...tokens.values()].find((t) => t.kind === 'api')?.token ?? '',
		oauthToken: [...tokens.values()].find((t) => t.kind === 'oauth')?.token ?? '',
		state,
		spec,
		webhooks,
		limiter,
		faults,
		async close() {
			if (closed) return;
			closed = true;
			webhooks.close();
			for (const t of timers) clearTimeout(t);
			timers.clear();
			for (const res of hanging) res.destroy();
			hanging.clear();
			await new Promise<void>((resolve) => {
				server.close(() => resolve());
				server.closeAllConnections();
			});
		},
	};
	return sandbox;
}
