/** Burst rate limit (429 + x-ratelimit-* headers), search limit, daily budget, fault injection. */
import * as http from 'node:http';
import { type Sandbox, startSandbox } from '../../sandbox';

let sb: Sandbox;

function get(path: string, token = sb.apiToken): Promise<Response> {
	return fetch(sb.url + path, { headers: { 'x-api-token': token } });
}

beforeAll(async () => {
	sb = await startSandbox({ rateLimit: 5, searchRateLimit: 3, tokens: ['token-a', 'token-b'] });
});

afterAll(async () => {
	await sb.close();
});

beforeEach(() => {
	sb.limiter.reset();
	sb.setFaults(null);
	sb.setRateLimit({ limit: 5, searchLimit: 3, dailyBudget: 0 });
});

test('burst limit: x-ratelimit-* headers on every answer, 429 over the limit, per token', async () => {
	const answers = [];
	for (let i = 0; i < 7; i++) answers.push(await get('/api/v2/deals'));
	expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
	expect(answers.map((r) => r.headers.get('x-ratelimit-remaining'))).toEqual(['4', '3', '2', '1', '0', '0', '0']);
	for (const r of answers) {
		expect(r.headers.get('x-ratelimit-limit')).toBe('5');
		expect(Number(r.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(1);
	}
	const body: any = await answers[5].json();
	expect(body).toMatchObject({ success: false, error: 'Request over limit', errorCode: 429 });
	expect(answers[5].headers.get('retry-after')).not.toBeNull();
	// another token has its own window
	expect((await get('/api/v2/deals', 'token-b')).status).toBe(200);
	// rolling 2 s window
	await new Promise((r) => setTimeout(r, 2050));
	expect((await get('/api/v2/deals')).status).toBe(200);
	expect(sb.requests().filter((e) => e.rateLimited === 'burst')).toHaveLength(2);
});

test('search endpoints have their own, smaller bucket', async () => {
	const statuses = [];
	for (let i = 0; i < 4; i++) statuses.push((await get('/api/v2/persons/search?term=anna')).status);
	expect(statuses).toEqual([200, 200, 200, 429]);
	expect((await get('/api/v2/persons?limit=1')).status).toBe(200);
});

test('limit 0 turns the burst limit off', async () => {
	sb.setRateLimit({ limit: 0 });
	const statuses = await Promise.all(Array.from({ length: 30 }, () => get('/v1/leadLabels').then((r) => r.status)));
	expect(statuses.every((s) => s === 200)).toBe(true);
});

test('daily budget: x-token-cost is charged; past the budget 429 says the daily limit is exhausted', async () => {
	sb.setRateLimit({ limit: 0, dailyBudget: 25 });
	const before = sb.usage().total as number;
	expect((await get('/api/v2/persons')).status).toBe(200); // 10
	expect((await get('/api/v2/deals')).status).toBe(200); // 10 -> 20
	expect((await get('/v1/users/me')).status).toBe(200); // 2 -> 22
	expect((await get('/v1/leads')).status).toBe(200); // 20 -> 42 (allowed: budget not yet reached before the call)
	const over = await get('/v1/users/me');
	expect(over.status).toBe(429);
	const body: any = await over.json();
	expect(body.error).toMatch(/Daily API token budget exhausted/);
	expect((sb.usage().total as number) - before).toBe(42);
	expect(sb.usage().dailyRemaining).toBe(0);
	expect(sb.requests().slice(-1)[0]).toMatchObject({ status: 429, rateLimited: 'daily', tokenCost: 0 });
});

test('faults at a rate are deterministic for a seed and can target paths', async () => {
	sb.setRateLimit({ limit: 0 });
	const run = async () => {
		sb.setFaults({ rate: 0.3, kinds: ['500', '503', '429'], seed: 42, paths: ['/api/v2/persons*'] });
		const out: number[] = [];
		for (let i = 0; i < 60; i++) out.push((await get('/api/v2/persons?limit=1')).status);
		return out;
	};
	const a = await run();
	const b = await run();
	expect(a).toEqual(b);
	const failures = a.filter((s) => s !== 200);
	expect(failures.length).toBeGreaterThan(8);
	expect(failures.length).toBeLessThan(30);
	expect(new Set(failures)).toEqual(new Set([500, 503, 429]));
	// paths outside the filter are untouched
	for (let i = 0; i < 20; i++) expect((await get('/api/v2/deals')).status).toBe(200);
	expect(sb.requests().filter((e) => e.fault).length).toBe(failures.length * 2);
	expect(sb.state.violations).toEqual([]);
});

test('timeout faults: hang until the client gives up, or delay the answer', async () => {
	sb.setRateLimit({ limit: 0 });
	sb.setFaults({ rate: 1, kinds: ['timeout'], paths: ['/v1/users/me'] });
	const url = new URL(`${sb.url}/v1/users/me`);
	const outcome = await new Promise<string>((resolve) => {
		const req = http.get(url, { headers: { 'x-api-token': sb.apiToken }, timeout: 300 }, () => resolve('answered'));
		req.on('timeout', () => {
			req.destroy();
			resolve('client timeout');
		});
		req.on('error', () => undefined);
	});
	expect(outcome).toBe('client timeout');
	sb.setFaults({ rate: 1, kinds: ['timeout'], timeoutMs: 250, paths: ['/v1/users/me'] });
	const t0 = Date.now();
	const res = await get('/v1/users/me');
	expect(res.status).toBe(200);
	expect(Date.now() - t0).toBeGreaterThanOrEqual(240);
	await new Promise((r) => setTimeout(r, 20));
	expect(
		sb
			.requests()
			.filter((e) => e.fault === 'timeout')
			.map((e) => e.status),
	).toEqual([0, 200]);
});

test('admin endpoints set the rate limit and faults over HTTP', async () => {
	const post = (p: string, body: unknown) =>
		fetch(sb.url + p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>);
	expect((await post('/__admin/rate-limit', { limit: 2 })).data.limit).toBe(2);
	expect([(await get('/v1/leadLabels')).status, (await get('/v1/leadLabels')).status, (await get('/v1/leadLabels')).status]).toEqual([200, 200, 429]);
	expect((await post('/__admin/faults', { rate: 1, kinds: ['502'] })).data.rate).toBe(1);
	sb.limiter.reset();
	expect((await get('/v1/leadLabels')).status).toBe(502);
	await fetch(`${sb.url}/__admin/faults`, { method: 'DELETE' });
	sb.limiter.reset();
	expect((await get('/v1/leadLabels')).status).toBe(200);
});
