/**
 * OpenAPI loading and validation for the Pipedrive sandbox.
 *
 * - Loads Pipedrive's official v1.yaml / v2.yaml (OpenAPI 3.0.1) once per process. Parsed
 *   documents are cached as JSON in the OS temp dir (keyed by file size + mtime), so a second
 *   process starts in milliseconds instead of ~2 s of YAML parsing.
 * - Indexes every operation (method + path template) for routing.
 * - Converts OpenAPI 3.0 schemas to JSON Schema for ajv (`nullable`, `$ref` to components,
 *   OpenAPI-only keywords and formats) and compiles validators lazily, per operation and part.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

export type ApiVersion = 'v1' | 'v2';

export interface OpenApiParameter {
	name: string;
	in: 'path' | 'query' | 'header' | 'cookie';
	required?: boolean;
	schema?: Record<string, unknown>;
	description?: string;
}

export interface Operation {
	version: ApiVersion;
	method: string; // upper case
	pathTemplate: string; // as in the spec, e.g. /leads/{id}
	operationId: string;
	tokenCost: number;
	/** OAuth scopes that grant access (any one of them suffices); null when the op allows no OAuth. */
	oauthScopes: string[] | null;
	parameters: OpenApiParameter[];
	requestBody?: { required?: boolean; schema?: Record<string, unknown> };
	responses: Record<string, Record<string, unknown> | undefined>;
	/** Declared success status (first 2xx in the spec). */
	successStatus: number;
	regex: RegExp;
	paramNames: string[];
	literalSegments: number;
	raw: Record<string, unknown>;
}

export interface ValidationIssue {
	message: string;
}

const KNOWN_FORMATS = new Set(['date', 'date-time', 'time', 'uuid', 'email', 'uri', 'uri-reference', 'hostname', 'ipv4', 'ipv6', 'regex']);
const STRIP_KEYS = new Set([
	'nullable',
	'example',
	'examples',
	'description',
	'discriminator',
	'xml',
	'externalDocs',
	'readOnly',
	'writeOnly',
	'deprecated',
	'title',
]);

export function defaultSpecDir(): string {
	const candidates = [
		process.env.PIPEDRIVE_OPENAPI_DIR,
		path.resolve(__dirname, '..', '..', 'shared', 'pipedrive-openapi'),
		path.resolve(process.cwd(), '..', 'shared', 'pipedrive-openapi'),
		path.resolve(process.cwd(), 'shared', 'pipedrive-openapi'),
	].filter((p): p is string => !!p);
	for (const dir of candidates) {
		if (fs.existsSync(path.join(dir, 'v1.yaml')) && fs.existsSync(path.join(dir, 'v2.yaml'))) return dir;
	}
	throw new Error(`Pipedrive OpenAPI files not found (looked in ${candidates.join(', ')}); set PIPEDRIVE_OPENAPI_DIR`);
}

function loadDocument(file: string): Record<string, any> {
	const st = fs.statSync(file);
	const key = crypto
		.createHash('sha1')
		.update(`${path.resolve(file)}|${st.size}|${st.mtimeMs}|1`)
		.digest('hex')
		.slice(0, 16);
	const cacheFile = path.join(os.tmpdir(), `pipedrive-sandbox-${path.basename(file, '.yaml')}-${key}.json`);
	try {
		return JSON.parse(fs.readFileSync(cacheFile, 'utf8'));
	} catch {
		/* not cached yet */
	}
	const doc = YAML.parse(fs.readFileSync(file, 'utf8'), { maxAliasCount: -1 });
	try {
		const tmp = `${cacheFile}.${process.pid}.tmp`;
		fs.writeFileSync(tmp, JSON.stringify(doc));
		fs.renameSync(tmp, cacheFile);
	} catch {
		/* cache is best effort */
	}
	return doc;
}

const HTTP_METHODS = ['get', 'post', 'put', 'patch', 'delete'];

export class Spec {
	readonly docs: Record<ApiVersion, Record<string, any>>;
	readonly operations: Operation[] = [];
	private readonly byId = new Map<string, Operation>();
	private readonly ajv: Ajv;
	private readonly validators = new Map<string, ValidateFunction | null>();
	private readonly converted = new WeakMap<object, unknown>();

	constructor(dir: string = defaultSpecDir()) {
		this.docs = { v1: loadDocument(path.join(dir, 'v1.yaml')), v2: loadDocument(path.join(dir, 'v2.yaml')) };
		for (const version of ['v1', 'v2'] as const) this.indexOperations(version);
		this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true, logger: false });
		addFormats(this.ajv);
	}

	private indexOperations(version: ApiVersion): void {
		const doc = this.docs[version];
		for (const [pathTemplate, item] of Object.entries<any>(doc.paths ?? {})) {
			for (const method of HTTP_METHODS) {
				const op = item?.[method];
				if (!op || typeof op !== 'object') continue;
				const parameters: OpenApiParameter[] = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: any) => this.deref(version, p));
				const paramNames: string[] = [];
				const segments = pathTemplate.split('/').filter(Boolean);
				let literalSegments = 0;
				const pattern = segments
					.map((seg) => {
						const m = /^\{(.+)\}$/.exec(seg);
						if (m) {
							paramNames.push(m[1]);
							return '([^/]+)';
						}
						literalSegments++;
						return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
					})
					.join('/');
				const oauth = (op.security ?? doc.security ?? []).find((s: any) => s && s.oauth2);
				const responses: Record<string, Record<string, unknown> | undefined> = {};
				for (const [code, resp] of Object.entries<any>(op.responses ?? {})) {
					const r = this.deref(version, resp);
					responses[code] = r?.content?.['application/json']?.schema;
				}
				const success = Object.keys(responses).find((c) => /^2\d\d$/.test(c));
				const body = op.requestBody ? this.deref(version, op.requestBody) : undefined;
				const operation: Operation = {
					version,
					method: method.toUpperCase(),
					pathTemplate,
					operationId: op.operationId ?? `${method} ${pathTemplate}`,
					tokenCost: Number(op['x-token-cost'] ?? 0),
					oauthScopes: oauth ? (oauth.oauth2 as string[]) : null,
					parameters,
					requestBody: body ? { required: body.required, schema: body.content?.['application/json']?.schema } : undefined,
					responses,
					successStatus: success ? Number(success) : 200,
					regex: new RegExp(`^/${pattern}/?$`),
					paramNames,
					literalSegments,
					raw: op,
				};
				this.operations.push(operation);
				this.byId.set(`${version}:${operation.operationId}`, operation);
			}
		}
		// More literal segments first so /persons/search wins over /persons/{id}.
		this.operations.sort((a, b) => b.literalSegments - a.literalSegments);
	}

	private deref(version: ApiVersion, obj: any): any {
		let cur = obj;
		let guard = 0;
		while (cur && typeof cur === 'object' && typeof cur.$ref === 'string' && guard++ < 20) cur = this.resolveRef(version, cur.$ref);
		return cur;
	}

	private resolveRef(version: ApiVersion, ref: string): any {
		if (!ref.startsWith('#/')) throw new Error(`Unsupported $ref ${ref}`);
		let cur: any = this.docs[version];
		for (const part of ref.slice(2).split('/')) cur = cur?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
		if (cur === undefined) throw new Error(`Unresolvable $ref ${ref}`);
		return cur;
	}

	getOperation(version: ApiVersion, operationId: string): Operation | undefined {
		return this.byId.get(`${version}:${operationId}`);
	}

	/** Finds the spec operation for a request path (without the /v1 or /api/v2 prefix). */
	match(version: ApiVersion, method: string, subPath: string): { op: Operation; pathParams: Record<string, string> } | { pathMatched: boolean } {
		let pathMatched = false;
		for (const op of this.operations) {
			if (op.version !== version) continue;
			const m = op.regex.exec(subPath);
			if (!m) continue;
			pathMatched = true;
			if (op.method !== method) continue;
			const pathParams: Record<string, string> = {};
			op.paramNames.forEach((n, i) => {
				pathParams[n] = safeDecode(m[i + 1]);
			});
			return { op, pathParams };
		}
		return { pathMatched };
	}

	/** OpenAPI 3.0 schema -> JSON Schema (draft-07 flavour understood by ajv). */
	toJsonSchema(version: ApiVersion, schema: unknown, depth = 0): any {
		if (depth > 64) return {};
		if (Array.isArray(schema)) return schema.map((s) => this.toJsonSchema(version, s, depth + 1));
		if (!schema || typeof schema !== 'object') return schema;
		const cached = this.converted.get(schema as object);
		if (cached !== undefined) return cached;
		const s = schema as Record<string, any>;
		if (typeof s.$ref === 'string') return this.toJsonSchema(version, this.resolveRef(version, s.$ref), depth + 1);
		const out: Record<string, any> = {};
		for (const [k, v] of Object.entries(s)) {
			if (STRIP_KEYS.has(k) || k.startsWith('x-')) continue;
			switch (k) {
				case 'properties':
				case 'patternProperties': {
					const props: Record<string, unknown> = {};
					for (const [pk, pv] of Object.entries<any>(v ?? {})) props[pk] = this.toJsonSchema(version, pv, depth + 1);
					out[k] = props;
					break;
				}
				case 'items':
				case 'not':
				case 'additionalProperties':
					out[k] = typeof v === 'object' ? this.toJsonSchema(version, v, depth + 1) : v;
					break;
				case 'allOf':
				case 'oneOf':
				case 'anyOf':
					out[k] = (v as unknown[]).map((x) => this.toJsonSchema(version, x, depth + 1));
					break;
				case 'format':
					if (KNOWN_FORMATS.has(v)) out.format = v;
					break;
				case 'exclusiveMinimum':
					if (v === true && typeof s.minimum === 'number') out.exclusiveMinimum = s.minimum;
					else if (typeof v === 'number') out.exclusiveMinimum = v;
					break;
				case 'exclusiveMaximum':
					if (v === true && typeof s.maximum === 'number') out.exclusiveMaximum = s.maximum;
					else if (typeof v === 'number') out.exclusiveMaximum = v;
					break;
				case 'minimum':
					if (s.exclusiveMinimum !== true) out.minimum = v;
					break;
				case 'maximum':
					if (s.exclusiveMaximum !== true) out.maximum = v;
					break;
				default:
					out[k] = v;
			}
		}
		let result: any = out;
		if (s.nullable === true) {
			if (out.type && !out.allOf && !out.oneOf && !out.anyOf && !out.enum) {
				result = { ...out, type: [...new Set([...(Array.isArray(out.type) ? out.type : [out.type]), 'null'])] };
			} else {
				result = { anyOf: [{ type: 'null' }, out] };
			}
		}
		this.converted.set(schema as object, result);
		return result;
	}

	private compile(key: string, build: () => unknown): ValidateFunction | null {
		if (this.validators.has(key)) return this.validators.get(key)!;
		const schema = build();
		const fn = schema === undefined ? null : this.ajv.compile(schema as object);
		this.validators.set(key, fn);
		return fn;
	}

	/** Validates path+query parameters (already coerced) against the operation's parameter list. */
	validateParams(op: Operation, location: 'path' | 'query', values: Record<string, unknown>): ValidationIssue[] {
		const fn = this.compile(`${op.version}:${op.operationId}:${location}`, () => {
			const params = op.parameters.filter((p) => p.in === location);
			const properties: Record<string, unknown> = {};
			const required: string[] = [];
			for (const p of params) {
				properties[p.name] = p.schema ? this.toJsonSchema(op.version, p.schema) : {};
				if (p.required) required.push(p.name);
			}
			return { type: 'object', properties, required };
		});
		return run(fn, values, location);
	}

	validateBody(op: Operation, body: unknown): ValidationIssue[] {
		const fn = this.compile(`${op.version}:${op.operationId}:body`, () =>
			op.requestBody?.schema ? this.toJsonSchema(op.version, op.requestBody.schema) : undefined,
		);
		return run(fn, body, 'body');
	}

	/** Returns null when the spec declares no JSON schema for this status (nothing to validate). */
	validateResponse(op: Operation, status: number, body: unknown): ValidationIssue[] | null {
		const code =
			op.responses[String(status)] !== undefined
				? String(status)
				: op.responses[`${String(status)[0]}XX`] !== undefined
					? `${String(status)[0]}XX`
					: op.responses.default !== undefined
						? 'default'
						: null;
		if (code === null) return null;
		const fn = this.compile(`${op.version}:${op.operationId}:response:${code}`, () => this.toJsonSchema(op.version, op.responses[code]));
		return run(fn, body, 'response');
	}

	/** Coerces raw query/path strings to the types their schema declares (before validation). */
	coerceParams(op: Operation, location: 'path' | 'query', raw: Record<string, string | string[]>): Record<string, unknown> {
		const out: Record<string, unknown> = {};
		for (const [name, value] of Object.entries(raw)) {
			const param = op.parameters.find((p) => p.in === location && p.name === name);
			const schema = param?.schema ? this.toJsonSchema(op.version, param.schema) : undefined;
			out[name] = coerce(value, schema);
		}
		return out;
	}
}

function schemaTypes(schema: any): string[] {
	if (!schema) return [];
	if (schema.type) return Array.isArray(schema.type) ? schema.type : [schema.type];
	for (const k of ['allOf', 'anyOf', 'oneOf']) {
		if (Array.isArray(schema[k])) {
			const t = schema[k].flatMap((s: any) => schemaTypes(s)).filter((x: string) => x !== 'null');
			if (t.length) return t;
		}
	}
	return [];
}

function coerceScalar(value: string, types: string[]): unknown {
	if ((types.includes('integer') || types.includes('number')) && /^-?\d+(\.\d+)?$/.test(value)) {
		const n = Number(value);
		if (types.includes('number') || Number.isInteger(n)) return n;
	}
	if (types.includes('boolean')) {
		if (value === 'true') return true;
		if (value === 'false') return false;
	}
	return value;
}

function coerce(value: string | string[], schema: any): unknown {
	const types = schemaTypes(schema);
	if (types.includes('array')) {
		const parts = Array.isArray(value) ? value : value.split(',');
		const itemTypes = schemaTypes(schema.items);
		return parts.map((p) => coerceScalar(p, itemTypes));
	}
	if (Array.isArray(value)) return value; // repeated scalar parameter: left as an array, fails validation
	return coerceScalar(value, types);
}

function safeDecode(s: string): string {
	try {
		return decodeURIComponent(s);
	} catch {
		return s;
	}
}

function run(fn: ValidateFunction | null, data: unknown, where: string): ValidationIssue[] {
	if (!fn) return [];
	if (fn(data)) return [];
	return formatErrors(fn.errors ?? [], where);
}

export function formatErrors(errors: ErrorObject[], where: string): ValidationIssue[] {
	// anyOf/oneOf produce one error per branch plus a summary; keep the output short and useful.
	const out: ValidationIssue[] = [];
	const seen = new Set<string>();
	for (const e of errors) {
		let msg = `${where}${e.instancePath ? e.instancePath.replace(/\//g, '.') : ''} ${e.message ?? 'is invalid'}`;
		if (e.keyword === 'enum') msg += `: ${JSON.stringify((e.params as any).allowedValues)}`;
		if (e.keyword === 'additionalProperties') msg += `: '${(e.params as any).additionalProperty}'`;
		if (seen.has(msg)) continue;
		seen.add(msg);
		out.push({ message: msg });
		if (out.length >= 8) break;
	}
	return out;
}

let shared: Spec | undefined;
/** One parsed spec per process (and per directory); validators compile lazily inside it. */
export function getSpec(dir?: string): Spec {
	if (dir) return new Spec(dir);
	if (!shared) shared = new Spec();
	return shared;
}
