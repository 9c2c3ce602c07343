import { PipedriveApiError, PipedriveClient } from '../../lib/pipedrive';
import type { PipedriveRequestOptions } from '../../lib/pipedrive';
import { BASE, fakeTime, makeClient, nock, useNock } from './helpers';

useNock();

const deal = { id: 42, title: 'ACME', stage_id: 3, pipeline_id: 1, status: 'open', custom_fields: {} };
const person = { id: 7, name: 'Ann', emails: [{ value: 'ann@example.com', primary: true, label: 'work' }], custom_fields: {} };
const serverError = { success: false, error: 'Internal server error', error_info: 'Please check developers.pipedrive.com' };

describe('5xx and network errors on reads and updates', () => {
	it('retries a GET after 5xx with backoff and returns the answer', async () => {
		const { client, time } = makeClient();
		nock(BASE).get('/api/v2/deals/42').reply(502, 'Bad gateway').get('/api/v2/deals/42').reply(503, serverError).get('/api/v2/deals/42').reply(200, { success: true, data: deal });
		expect(await client.getDeal(42)).toEqual(deal);
		// random() = 0.5: 375 ms then 750 ms (equal jitter over 500 ms, 1000 ms)
		expect(time.sleeps).toEqual([375, 750]);
		expect(client.stats.retries).toBe(2);
	});

	it('gives up after a bounded number of attempts, with kind server', async () => {
		const { client, time } = makeClient({ maxRetries: 4 });
		const scope = nock(BASE).get('/api/v2/deals/42').times(5).reply(500, serverError);
		const error = await client.getDeal(42).catch((e) => e);
		expect(scope.isDone()).toBe(true);
		expect(error).toBeInstanceOf(PipedriveApiError);
		expect(error).toMatchObject({ kind: 'server', status: 500, attempts: 5, method: 'GET', path: '/api/v2/deals/42', outcomeUnknown: false });
		expect(error.message).toBe('Pipedrive had a server error (500): Internal server error after 5 attempts [GET /api/v2/deals/42]');
		expect(time.sleeps).toEqual([375, 750, 1500, 3000]);
	});

	it('retries a PATCH (an update cannot duplicate)', async () => {
		const { client } = makeClient();
		nock(BASE)
			.patch('/api/v2/deals/42', { stage_id: 4 })
			.reply(504, 'Gateway timeout')
			.patch('/api/v2/deals/42', { stage_id: 4 })
			.reply(200, { success: true, data: { ...deal, stage_id: 4 } });
		expect((await client.updateDeal(42, { stage_id: 4 })).stage_id).toBe(4);
	});

	it('retries a GET after a network error and after a timeout', async () => {
		const time = fakeTime();
		const calls: string[] = [];
		const failures = [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), Object.assign(new Error('Request timed out'), { code: 'ETIMEDOUT' })];
		const client = new PipedriveClient({
			baseUrl: BASE,
			clock: time.clock,
			sleep: time.sleep,
			random: () => 0.5,
			request: async (o: PipedriveRequestOptions) => {
				calls.push(`${o.method} ${o.url} timeout=${o.timeout}`);
				const failure = failures.shift();
				if (failure) throw failure;
				return { statusCode: 200, headers: {}, body: { success: true, data: deal } };
			},
			timeoutMs: 5000,
		});
		expect(await client.getDeal(42)).toEqual(deal);
		expect(calls).toEqual(Array(3).fill(`GET ${BASE}/api/v2/deals/42 timeout=5000`));
	});

	it('says the company domain looks wrong on a DNS failure, without retrying', async () => {
		const time = fakeTime();
		let calls = 0;
		const client = new PipedriveClient({
			baseUrl: 'https://acmee.pipedrive.com',
			clock: time.clock,
			sleep: time.sleep,
			request: async () => {
				calls += 1;
				throw new TypeError('fetch failed', { cause: Object.assign(new Error('getaddrinfo ENOTFOUND acmee.pipedrive.com'), { code: 'ENOTFOUND' }) });
			},
		});
		const error = await client.getCurrentUser().catch((e) => e);
		expect(error).toMatchObject({ kind: 'network', path: '/v1/users/me' });
		expect(error.message).toMatch(/Could not resolve acmee\.pipedrive\.com: the company domain looks wrong/);
		expect(calls).toBe(1);
	});
});

describe('creates (POST) are never duplicated', () => {
	it('does not retry a create after a 5xx without findExisting: the outcome is unknown', async () => {
		const { client, time } = makeClient();
		const scope = nock(BASE).post('/api/v2/deals').once().reply(503, serverError);
		const error = await client.createDeal({ title: 'ACME' }).catch((e) => e);
		expect(scope.isDone()).toBe(true);
		expect(error).toMatchObject({ kind: 'server', status: 503, outcomeUnknown: true, attempts: 1, method: 'POST', path: '/api/v2/deals' });
		expect(error.message).toMatch(/may or may not have happened \(outcome unknown\)/);
		expect(time.sleeps).toEqual([]);
	});

	it('does not retry a create after a timeout without findExisting', async () => {
		let calls = 0;
		const client = new PipedriveClient({
			baseUrl: BASE,
			sleep: async () => undefined,
			request: async () => {
				calls += 1;
				throw Object.assign(new Error('Request timed out after 30000 ms'), { code: 'ETIMEDOUT' });
			},
		});
		const error = await client.createPerson({ name: 'Ann' }).catch((e) => e);
		expect(error).toMatchObject({ kind: 'network', outcomeUnknown: true });
		expect(error.message).toMatch(/did not answer in time.*outcome unknown/);
		expect(calls).toBe(1);
	});

	it('re-sends a create that provably never left (connection refused)', async () => {
		const outcomes: Array<Error | null> = [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), null];
		const bodies: unknown[] = [];
		const client = new PipedriveClient({
			baseUrl: BASE,
			sleep: async () => undefined,
			request: async (o) => {
				bodies.push(o.body);
				const failure = outcomes.shift();
				if (failure) throw failure;
				return { statusCode: 200, headers: {}, body: { success: true, data: person } };
			},
		});
		expect(await client.createPerson({ name: 'Ann' })).toEqual(person);
		expect(bodies).toEqual([{ name: 'Ann' }, { name: 'Ann' }]);
	});

	it('returns what findExisting finds instead of creating twice', async () => {
		const { client } = makeClient();
		const post = nock(BASE).post('/api/v2/persons').once().reply(500, serverError);
		const findExisting = jest.fn(async () => person);
		const created = await client.createPerson(
			{ name: 'Ann', emails: [{ value: 'ann@example.com', primary: true, label: 'work' }] },
			{ findExisting },
		);
		expect(created).toEqual(person);
		expect(findExisting).toHaveBeenCalledTimes(1);
		expect(post.isDone()).toBe(true);
		// nock would have thrown on a second POST (no interceptor left).
	});

	it('creates again when findExisting finds nothing', async () => {
		const { client } = makeClient();
		nock(BASE).post('/api/v2/deals', { title: 'ACME' }).reply(502, 'Bad gateway').post('/api/v2/deals', { title: 'ACME' }).reply(200, { success: true, data: deal });
		const findExisting = jest.fn(async () => null);
		expect(await client.createDeal({ title: 'ACME' }, { findExisting })).toEqual(deal);
		expect(findExisting).toHaveBeenCalledTimes(1);
	});

	it('uses searchPersonsByEmail as a findExisting for persons', async () => {
		const { client } = makeClient();
		nock(BASE)
			.post('/api/v2/persons')
			.reply(503, serverError)
			.get('/api/v2/persons/search')
			.query({ term: 'ann@example.com', fields: 'email', exact_match: 'true', limit: '100' })
			.reply(200, { success: true, data: { items: [{ result_score: 1, item: { id: 7, type: 'person', name: 'Ann', emails: ['Ann@Example.com'] } }] }, additional_data: { next_cursor: null } })
			.get('/api/v2/persons/7')
			.reply(200, { success: true, data: person });
		const created = await client.createPerson({ name: 'Ann', emails: [{ value: 'ann@example.com', primary: true }] }, { findExisting: () => client.findPersonByEmail('ann@example.com') });
		expect(created.id).toBe(7);
	});

	it('checks for an identical webhook before re-creating one', async () => {
		const { client } = makeClient();
		const hook = { id: 9, subscription_url: 'https://n8n.example.com/webhook/pd', event_action: 'change', event_object: 'deal', version: '2.0', is_active: 1 };
		nock(BASE)
			.post('/v1/webhooks')
			.reply(502, 'Bad gateway')
			.get('/v1/webhooks')
			.reply(200, { status: 'ok', success: true, data: [hook] });
		const created = await client.createWebhook({ subscription_url: hook.subscription_url, event_action: 'change', event_object: 'deal', name: 'Referrals' });
		expect(created).toEqual(hook);
	});

	it('reports an unknown outcome when findExisting itself fails', async () => {
		const { client } = makeClient();
		nock(BASE).post('/api/v2/deals').reply(500, serverError);
		const error = await client
			.createDeal({ title: 'ACME' }, { findExisting: async () => Promise.reject(new Error('search down')) })
			.catch((e) => e);
		expect(error).toMatchObject({ kind: 'server', outcomeUnknown: true });
		expect(error.message).toMatch(/checking whether the create happened failed too: search down/);
	});
});
