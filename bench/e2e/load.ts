// A closed-loop HTTP load: `clients` connections, each sending its next request as soon as the
// previous answer is in, for a fixed time. Keep-alive sockets, as a shop's backend calling a
// webhook would hold them. Latencies are measured per request, from write to the last byte.
import * as http from 'node:http';

export interface LoadRequest {
	path: string;
	headers: Record<string, string>;
	body: string;
}

export interface LoadResult {
	clients: number;
	requests: number;
	/** Answers other than the expected status. */
	errors: number;
	seconds: number;
	perSecond: number;
	p50: number;
	p95: number;
	p99: number;
}

/** The q-th quantile (0..1) of sorted values, nearest-rank. */
export function quantile(sorted: number[], q: number): number {
	if (sorted.length === 0) return Number.NaN;
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function send(agent: http.Agent, base: URL, request: LoadRequest): Promise<number> {
	return new Promise((resolve, reject) => {
		const req = http.request(
			{
				host: base.hostname,
				port: base.port,
				method: 'POST',
				path: request.path,
				agent,
				headers: { ...request.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(request.body) },
				timeout: 60_000,
			},
			(res) => {
				res.resume();
				res.on('end', () => resolve(res.statusCode ?? 0));
				res.on('error', reject);
			},
		);
		req.on('timeout', () => req.destroy(new Error(`no answer within 60 s from ${request.path}`)));
		req.on('error', reject);
		req.end(request.body);
	});
}

/**
 * Runs `clients` loops for `seconds` (after `warmupSeconds` not counted), each taking its next
 * request from `next()`. Counts answers other than `expectStatus` as errors.
 */
export async function runLoad(options: {
	baseUrl: string;
	clients: number;
	seconds: number;
	warmupSeconds: number;
	expectStatus: number;
	next: () => LoadRequest;
}): Promise<LoadResult> {
	const base = new URL(options.baseUrl);
	const agent = new http.Agent({ keepAlive: true, maxSockets: options.clients });
	const latencies: number[] = [];
	let errors = 0;
	const warmupEnd = Date.now() + options.warmupSeconds * 1000;
	const end = warmupEnd + options.seconds * 1000;
	const loop = async () => {
		while (Date.now() < end) {
			const started = performance.now();
			const startedAt = Date.now();
			let status = 0;
			try {
				status = await send(agent, base, options.next());
			} catch {
				status = 0;
			}
			if (startedAt < warmupEnd) continue;
			latencies.push(performance.now() - started);
			if (status !== options.expectStatus) errors++;
		}
	};
	await Promise.all(Array.from({ length: options.clients }, loop));
	const seconds = (Date.now() - warmupEnd) / 1000;
	agent.destroy();
	latencies.sort((a, b) => a - b);
	return {
		clients: options.clients,
		requests: latencies.length,
		errors,
		seconds,
		perSecond: latencies.length / seconds,
		p50: quantile(latencies, 0.5),
		p95: quantile(latencies, 0.95),
		p99: quantile(latencies, 0.99),
	};
}
