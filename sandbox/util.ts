import * as crypto from 'node:crypto';

/** Error a handler throws to answer with a Pipedrive-shaped error. */
export class ApiError extends Error {
	constructor(
		readonly status: number,
		message: string,
		readonly extra: Record<string, unknown> = {},
	) {
		super(message);
	}
}

export const ERROR_INFO = 'Please check developers.pipedrive.com for more information about Pipedrive API.';

/** 40 hex characters derived from a label, like Pipedrive's custom field keys. */
export function hashKey(label: string): string {
	return crypto.createHash('sha1').update(label).digest('hex');
}

/** Deterministic RFC 4122 v4-shaped UUID derived from a label. */
export function uuidFrom(label: string): string {
	const h = crypto.createHash('sha1').update(label).digest('hex');
	const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** 2026-01-05T09:00:00Z (API v2 style, seconds precision). */
export function isoSec(ms: number): string {
	return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** 2026-01-05T09:00:00.000Z (v1 leads, webhooks). */
export function isoMs(ms: number): string {
	return new Date(ms).toISOString();
}

/** 2026-01-05 09:00:00 (classic v1 style). */
export function v1Time(ms: number): string {
	return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/** Small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

export function deepEqual(a: unknown, b: unknown): boolean {
	return JSON.stringify(a) === JSON.stringify(b);
}

export function clone<T>(v: T): T {
	return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

export function b64urlEncode(obj: unknown): string {
	return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

export function b64urlDecode<T>(s: string): T | undefined {
	try {
		return JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as T;
	} catch {
		return undefined;
	}
}

/** Parses an RFC 3339 / ISO 8601 timestamp (also "YYYY-MM-DD HH:MM:SS"); undefined when invalid. */
export function parseTime(s: string): number | undefined {
	const norm = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$/.test(s) ? `${s.replace(' ', 'T')}Z` : s;
	const t = Date.parse(norm);
	return Number.isNaN(t) ? undefined : t;
}
