// A PipedriveRequestFn over node:http(s) for tests, benchmarks and scripts; in n8n the nodes pass
// `createN8nRequest` instead. Not fetch: Node's fetch keeps every answer's body stream registered
// for finalization, which promotes each response to the old generation and made a 50,000-person
// sync grow RSS by ~200 MB where this client needs ~70 MB.
import * as http from 'node:http';
import * as https from 'node:https';

import type { PipedriveRequestFn, QueryValue } from '../../lib/pipedrive/request';

export interface HttpRequestOptions {
	/** Personal API token, sent as `x-api-token` (never in the URL). */
	apiToken?: string;
	/** OAuth access token, sent as `Authorization: Bearer ...`. */
	accessToken?: string;
	headers?: Record<string, string>;
}

export function createHttpRequest(options: HttpRequestOptions = {}): PipedriveRequestFn {
	const baseHeaders: Record<string, string> = { accept: 'application/json', ...(options.headers ?? {}) };
	if (options.apiToken) baseHeaders['x-api-token'] = options.apiToken;
	if (options.accessToken) baseHeaders.authorization = `Bearer ${options.accessToken}`;
	return (req) =>
		new Promise((resolve, reject) => {
			const url = new URL(buildUrl(req.url, req.qs));
			const headers: Record<string, string> = { ...baseHeaders };
			let body: string | undefined;
			if (req.body !== undefined && req.method !== 'GET' && req.method !== 'DELETE') {
				body = JSON.stringify(req.body);
				headers['content-type'] = 'application/json';
				headers['content-length'] = String(Buffer.byteLength(body));
			}
			const transport = url.protocol === 'https:' ? https : http;
			const request = transport.request(url, { method: req.method, headers }, (res) => {
				const chunks: Buffer[] = [];
				res.on('data', (chunk: Buffer) => chunks.push(chunk));
				res.on('end', () => {
					const text = Buffer.concat(chunks).toString('utf8');
					resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: parseBody(text) });
				});
				res.on('error', reject);
			});
			if (req.timeout && req.timeout > 0) {
				request.setTimeout(req.timeout, () => {
					request.destroy(Object.assign(new Error(`Request timed out after ${req.timeout} ms`), { code: 'ETIMEDOUT' }));
				});
			}
			request.on('error', reject);
			request.end(body);
		});
}

function buildUrl(url: string, qs?: Record<string, QueryValue>): string {
	if (!qs) return url;
	const params = new URLSearchParams();
	for (const [key, value] of Object.entries(qs)) params.append(key, String(value));
	const query = params.toString();
	if (!query) return url;
	return url.includes('?') ? `${url}&${query}` : `${url}?${query}`;
}

function parseBody(text: string): unknown {
	if (text === '') return undefined;
	try {
		return JSON.parse(text);
	} catch {
		return text;
	}
}
