// Shared helpers for the Pipedrive client tests: a fake clock/sleep, a client wired to nock
// through fetch, and a validator that checks recorded requests against Pipedrive's OpenAPI files.

import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import type NockType from 'nock';
import { PipedriveClient } from '../../lib/pipedrive';
import { createHttpRequest } from '../helpers/pipedrive-http';
import type { PipedriveClientOptions, PipedriveRequestFn, PipedriveRequestOptions } from '../../lib/pipedrive';

/**
 * nock 15 is ESM-only and this jest setup runs without --experimental-vm-modules, so jest's own
 * module system cannot load it; Node 24's native require (which loads ESM) can. nock then patches
 * the real http/https modules and fetch, which the tests use.
 */
function nativeRequire(id: string): unknown {
	// eslint-disable-next-line @typescript-eslint/no-require-imports
	const M = require('node:module') as {
		Module: new (id: string, parent: unknown) => { filename: string; paths: string[] };
		_nodeModulePaths(dir: string): string[];
		_load(request: string, parent: unknown, isMain: boolean): unknown;
	};
	const parent = new M.Module(__filename, null);
	parent.filename = __filename;
	parent.paths = M._nodeModulePaths(__dirname);
	return M._load(id, parent, false);
}

const nockModule = nativeRequire('nock') as { default?: typeof NockType } & typeof NockType;
export const nock: typeof NockType = nockModule.default ?? nockModule;

/**
 * Jest hooks for a suite that uses nock. nock is loaded outside jest's registry, so its patching of
 * http/fetch outlives the suite unless undone: afterAll restores them for the next suite in the worker.
 */
export function useNock(): void {
	beforeAll(() => {
		if (!nock.isActive()) nock.activate();
		nock.disableNetConnect();
	});
	afterEach(() => nock.cleanAll());
	afterAll(() => {
		nock.cleanAll();
		nock.enableNetConnect();
		nock.restore();
	});
}

export const BASE = 'https://acme.pipedrive.com';
export const TOKEN = 'test-token-123';

export interface FakeTime {
	clock: { now(): number };
	sleep: (ms: number) => Promise<void>;
	sleeps: number[];
	now(): number;
	advance(ms: number): void;
}

export function fakeTime(start = 1_700_000_000_000): FakeTime {
	let now = start;
	const sleeps: number[] = [];
	return {
		clock: { now: () => now },
		sleep: async (ms: number) => {
			sleeps.push(ms);
			now += ms;
		},
		sleeps,
		now: () => now,
		advance: (ms: number) => {
			now += ms;
		},
	};
}

/** Turns nock's "no match" answer (a 501 through fetch) into a thrown error, so a missing mock fails loudly. */
export function nockStrict(inner: PipedriveRequestFn): PipedriveRequestFn {
	return async (options) => {
		const res = await inner(options);
		const body = res.body as { code?: string; message?: string } | undefined;
		if (res.statusCode === 501 && body && body.code === 'ERR_NOCK_NO_MATCH') {
			throw new Error(`Unexpected request (no nock mock): ${options.method} ${options.url} ${JSON.stringify(options.qs ?? {})}`);
		}
		return res;
	};
}

export interface TestClient {
	client: PipedriveClient;
	time: FakeTime;
	requests: PipedriveRequestOptions[];
}

/** A client whose requests go through fetch (to nock), with a fake clock and recorded requests. */
export function makeClient(overrides: Partial<PipedriveClientOptions> = {}): TestClient {
	const time = fakeTime();
	const requests: PipedriveRequestOptions[] = [];
	const inner = nockStrict(createHttpRequest({ apiToken: TOKEN }));
	const client = new PipedriveClient({
		baseUrl: BASE,
		clock: time.clock,
		sleep: time.sleep,
		random: () => 0.5,
		...overrides,
		request:
			overrides.request ??
			((options) => {
				requests.push(options);
				return inner(options);
			}),
	});
	return { client, time, requests };
}

// ---------------------------------------------------------------- OpenAPI request validation

const SPEC_DIR = path.resolve(__dirname, '../../../shared/pipedrive-openapi');

type Json = Record<string, unknown>;
let specs: { v1: Json; v2: Json } | undefined;
let ajv: Ajv | undefined;

/** Parsing the 1.7 MB YAML takes seconds; a JSON copy keyed by size and mtime is kept in the temp dir. */
function loadSpec(name: 'v1' | 'v2'): Json {
	const file = path.join(SPEC_DIR, `${name}.yaml`);
	const st = statSync(file);
	const cache = path.join(tmpdir(), `pipedrive-openapi-${name}-${st.size}-${Math.floor(st.mtimeMs)}.json`);
	if (existsSync(cache)) {
		try {
			return JSON.parse(readFileSync(cache, 'utf8')) as Json;
		} catch {
			// Rebuild below.
		}
	}
	const doc = parse(readFileSync(file, 'utf8')) as Json;
	const tmp = `${cache}.${process.pid}.tmp`;
	writeFileSync(tmp, JSON.stringify(doc));
	renameSync(tmp, cache);
	return doc;
}

function loadSpecs(): { v1: Json; v2: Json } {
	if (!specs) specs = { v1: loadSpec('v1'), v2: loadSpec('v2') };
	return specs;
}

function deref(doc: Json, node: unknown, depth = 0): unknown {
	if (depth > 60) return {};
	if (Array.isArray(node)) return node.map((n) => deref(doc, n, depth + 1));
	if (!node || typeof node !== 'object') return node;
	const obj = node as Json;
	if (typeof obj.$ref === 'string') {
		let target: unknown = doc;
		for (const part of obj.$ref.replace(/^#\//, '').split('/')) target = (target as Json)[part];
		return deref(doc, target, depth + 1);
	}
	const out: Json = {};
	for (const [k, v] of Object.entries(obj)) {
		if (k === 'example' || k === 'examples') continue;
		out[k] = deref(doc, v, depth + 1);
	}
	return out;
}

function findOperation(method: string, urlPath: string): { doc: Json; op: Json; pathParams: Record<string, string> } {
	const { v1, v2 } = loadSpecs();
	let doc: Json;
	let rest: string;
	if (urlPath.startsWith('/api/v2/')) {
		doc = v2;
		rest = urlPath.slice('/api/v2'.length);
	} else if (urlPath.startsWith('/v1/')) {
		doc = v1;
		rest = urlPath.slice('/v1'.length);
	} else throw new Error(`Not a Pipedrive API path: ${urlPath}`);
	const paths = doc.paths as Record<string, Json>;
	// Prefer literal paths over templated ones (e.g. /persons/search over /persons/{id}).
	const candidates = Object.keys(paths).sort((a, b) => (a.match(/\{/g)?.length ?? 0) - (b.match(/\{/g)?.length ?? 0));
	for (const template of candidates) {
		const names: string[] = [];
		const re = new RegExp(
			`^${template.replace(/\{([^}]+)\}/g, (_m, name: string) => {
				names.push(name);
				return '([^/]+)';
			})}$`,
		);
		const m = re.exec(rest);
		if (!m) continue;
		const op = paths[template][method.toLowerCase()] as Json | undefined;
		if (!op) continue;
		const pathParams: Record<string, string> = {};
		names.forEach((n, i) => (pathParams[n] = m[i + 1]));
		return { doc, op, pathParams };
	}
	throw new Error(`No operation ${method} ${urlPath} in the OpenAPI files`);
}

function checkValue(schema: Json, raw: string, where: string, errors: string[]): void {
	const type = schema.type as string | undefined;
	if (type === 'integer' && !/^-?\d+$/.test(raw)) errors.push(`${where}: "${raw}" is not an integer`);
	if (type === 'number' && !Number.isFinite(Number(raw))) errors.push(`${where}: "${raw}" is not a number`);
	if (type === 'boolean' && raw !== 'true' && raw !== 'false') errors.push(`${where}: "${raw}" is not a boolean`);
	if (Array.isArray(schema.enum) && !schema.enum.map(String).includes(raw)) errors.push(`${where}: "${raw}" is not one of ${schema.enum.join(', ')}`);
	if (schema.format === 'uuid' && !/^[0-9a-f-]{36}$/i.test(raw)) errors.push(`${where}: "${raw}" is not a uuid`);
}

/** Validates one recorded request (path, path and query parameters, JSON body) against the spec; returns problems. */
export function specProblems(req: PipedriveRequestOptions): string[] {
	const url = new URL(req.url);
	const { doc, op, pathParams } = findOperation(req.method, url.pathname);
	const errors: string[] = [];
	const params = ((deref(doc, op.parameters ?? []) as Json[]) ?? []).filter(Boolean);
	for (const [name, value] of Object.entries(pathParams)) {
		const p = params.find((x) => x.in === 'path' && x.name === name);
		if (!p) errors.push(`path parameter ${name} is not declared`);
		else checkValue(p.schema as Json, decodeURIComponent(value), `path ${name}`, errors);
	}
	for (const [name, value] of Object.entries(req.qs ?? {})) {
		const p = params.find((x) => x.in === 'query' && x.name === name);
		if (!p) errors.push(`query parameter ${name} is not declared for ${req.method} ${url.pathname}`);
		else checkValue(p.schema as Json, String(value), `query ${name}`, errors);
	}
	for (const p of params) {
		if (p.in === 'query' && p.required && !(req.qs && (p.name as string) in req.qs)) errors.push(`required query parameter ${p.name} missing`);
	}
	const requestBody = deref(doc, op.requestBody) as Json | undefined;
	if (requestBody) {
		const schema = ((requestBody.content as Json)?.['application/json'] as Json)?.schema as Json | undefined;
		if (req.body === undefined) {
			if (requestBody.required) errors.push('request body required');
		} else if (schema) {
			if (!ajv) {
				ajv = new Ajv({ strict: false, allErrors: true });
				addFormats(ajv);
			}
			const validate = ajv.compile(schema);
			if (!validate(req.body)) {
				for (const e of validate.errors ?? []) errors.push(`body${e.instancePath} ${e.message}`);
			}
		}
	} else if (req.body !== undefined) {
		errors.push(`${req.method} ${url.pathname} takes no body`);
	}
	return errors;
}

export function expectValidAgainstSpec(requests: PipedriveRequestOptions[]): void {
	const problems = requests.flatMap((r) => specProblems(r).map((p) => `${r.method} ${new URL(r.url).pathname}: ${p}`));
	expect(problems).toEqual([]);
}
