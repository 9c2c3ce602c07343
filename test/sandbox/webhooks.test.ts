/**
 * Webhook deliveries: v2 payloads with basic auth, `previous` holding only changed fields, retries
 * with attempts 1..4 on a failing receiver (shortened schedule), v1 payload mode, duplicate
 * redelivery, and lead conversion (deal carries the origin lead).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEAL_FIELD_KEYS, LEAD_LABEL_IDS, type Sandbox, startSandbox } from '../../sandbox';

interface Received {
	at: number;
	path: string;
	auth: string | undefined;
	body: any;
}

let sb: Sandbox;
let receiver: http.Server;
let base: string;
let received: Received[] = [];
/** per path: statuses to answer in order (then 200); 'hang' = never answer */
const script = new Map<string, Array<number | 'hang'>>();

async function api(method: string, path: string, body?: unknown): Promise<any> {
	const res = await fetch(sb.url + path, {
		method,
		headers: { 'x-api-token': sb.apiToken, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
		body: body !== undefined ? JSON.stringify(body) : undefined,
	});
	const json: any = await res.json();
	if (res.status >= 300) throw new Error(`${method} ${path} -> ${res.status} ${JSON.stringify(json)}`);
	return json;
}

async function addWebhook(path: string, extra: Record<string, unknown> = {}): Promise<number> {
	const json = await api('POST', '/v1/webhooks', { subscription_url: `${base}${path}`, event_action: '*', event_object: '*', name: `hook ${path}`, ...extra });
	return json.data.id;
}

function at(path: string): Received[] {
	return received.filter((r) => r.path === path);
}

beforeAll(async () => {
	receiver = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			const path = req.url ?? '/';
			received.push({ at: Date.now(), path, auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
			const next = script.get(path)?.shift() ?? 200;
			if (next === 'hang') return;
			res.writeHead(next).end();
		});
	});
	await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
	base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
	// 3 s / 30 s / 150 s become 30 ms / 300 ms / 1.5 s
	// The delivery timeout stays long enough for a loaded machine; the "hang" case waits it out.
	sb = await startSandbox({ rateLimit: 0, webhookTimeScale: 0.01, webhookTimeoutMs: 1_500 });
});

beforeEach(() => {
	sb.reset();
	received = [];
	script.clear();
});

afterAll(async () => {
	await sb.close();
	receiver.closeAllConnections();
	await new Promise((r) => receiver.close(r));
});

test('v2 payloads with basic auth; previous holds only the changed fields', async () => {
	await addWebhook('/v2', { http_auth_user: 'hook-user', http_auth_password: 's3cret' });
	const person = await api('POST', '/api/v2/persons', { name: 'Vera Novak', emails: [{ value: 'vera@example.com' }] });
	await api('PATCH', '/api/v2/deals/2', { stage_id: 8 });
	await api('PATCH', '/api/v2/deals/2', { status: 'won' });
	const lead = sb.state.leadList[1];
	await api('PATCH', `/v1/leads/${lead.id}`, { label_ids: [LEAD_LABEL_IDS.hot, LEAD_LABEL_IDS.referral] });
	await api('DELETE', `/api/v2/persons/${person.data.id}`);
	await sb.waitForWebhooks();

	const got = at('/v2');
	expect(got).toHaveLength(5);
	for (const r of got) expect(r.auth).toBe(`Basic ${Buffer.from('hook-user:s3cret').toString('base64')}`);
	expect(got.map((r) => `${r.body.meta.action}.${r.body.meta.entity}`)).toEqual([
		'create.person',
		'change.deal',
		'change.deal',
		'change.lead',
		'delete.person',
	]);
	const ids = got.map((r) => r.body.meta.id);
	expect(new Set(ids).size).toBe(5);
	for (const r of got) {
		expect(r.body.meta).toMatchObject({
			version: '2.0',
			attempt: 1,
			type: 'general',
			change_source: 'api',
			company_id: String(sb.state.company.id),
			host: 'referral-sandbox.pipedrive.com',
		});
		expect(r.body.meta.id).toMatch(/^[0-9a-f-]{36}$/);
		expect(Date.parse(r.body.meta.timestamp)).not.toBeNaN();
	}
	const [created, stage, won, labels, deleted] = got.map((r) => r.body);
	expect(created.meta.entity_id).toBe(String(person.data.id));
	expect(created.data).toMatchObject({ id: person.data.id, name: 'Vera Novak' });
	expect(created.previous).toBeNull();
	expect(stage.data).toMatchObject({ id: 2, stage_id: 8, pipeline_id: 2 });
	expect(Object.keys(stage.previous).sort()).toEqual(['stage_change_time', 'stage_id', 'update_time']);
	expect(stage.previous.stage_id).toBe(6);
	expect(stage.data.custom_fields[DEAL_FIELD_KEYS.referralCode]).toEqual({ type: 'varchar', value: 'ANNA-7K2Q' });
	expect(won.data.status).toBe('won');
	expect(won.previous).toMatchObject({ status: 'open', won_time: null, close_time: null });
	expect(won.previous.stage_id).toBeUndefined();
	expect(labels.meta.entity_id).toBe(lead.id);
	expect(labels.data.label_ids).toEqual([LEAD_LABEL_IDS.hot, LEAD_LABEL_IDS.referral]);
	expect(labels.previous.label_ids).toEqual([LEAD_LABEL_IDS.hot]);
	expect(deleted.data).toBeNull();
	expect(deleted.previous).toMatchObject({ id: person.data.id, name: 'Vera Novak' });
	expect(sb.state.violations).toEqual([]);
});

test('admin changes arrive with change_source "app"; event filters apply', async () => {
	await addWebhook('/deals-only', { event_object: 'deal', event_action: 'change' });
	sb.moveDealToStage(1, 3);
	sb.markDealLost(1, 'Too expensive');
	sb.setLeadLabels(sb.state.leadList[0].id, ['Referral']);
	sb.createPerson({ name: 'Ignored Person' });
	await sb.waitForWebhooks();
	const got = at('/deals-only').map((r) => r.body);
	expect(got.map((b) => [b.meta.entity, b.meta.action, b.meta.change_source])).toEqual([
		['deal', 'change', 'app'],
		['deal', 'change', 'app'],
	]);
	expect(got[1].data).toMatchObject({ status: 'lost', lost_reason: 'Too expensive' });
});

test('a failing receiver gets retries at the (scaled) 3 s / 30 s / 150 s schedule, meta.attempt 1..4', async () => {
	script.set('/fail', [500, 503, 502, 500]);
	script.set('/flaky', [500, 'hang']);
	const failId = await addWebhook('/fail', { event_object: 'deal' });
	const flakyId = await addWebhook('/flaky', { event_object: 'deal' });
	sb.markDealWon(1);
	await sb.waitForWebhooks(10000);
	const fail = at('/fail');
	expect(fail.map((r) => r.body.meta.attempt)).toEqual([1, 2, 3, 4]);
	expect(new Set(fail.map((r) => r.body.meta.id)).size).toBe(1);
	const gaps = fail.slice(1).map((r, i) => r.at - fail[i].at);
	expect(gaps[0]).toBeGreaterThanOrEqual(25);
	expect(gaps[1]).toBeGreaterThanOrEqual(280);
	expect(gaps[2]).toBeGreaterThanOrEqual(1400);
	const [failed] = sb.deliveries({ webhookId: failId });
	expect(failed.state).toBe('failed');
	expect(failed.attempts.map((a) => a.status)).toEqual([500, 503, 502, 500]);
	// flaky: 500, then a hang past the 1.5 s timeout, then success on attempt 3
	expect(at('/flaky').map((r) => r.body.meta.attempt)).toEqual([1, 2, 3]);
	const [flaky] = sb.deliveries({ webhookId: flakyId });
	expect(flaky.state).toBe('delivered');
	expect(flaky.attempts.map((a) => a.status)).toEqual([500, null, 200]);
	expect(flaky.attempts[1].error).toMatch(/timeout/);
	const hooks: any = await api('GET', '/v1/webhooks');
	expect(hooks.data.find((w: any) => w.id === flakyId).last_http_status).toBe(200);
});

test('v1 payload mode for webhooks created with version "1.0"', async () => {
	await addWebhook('/v1', { version: '1.0', http_auth_user: 'legacy', http_auth_password: 'pw' });
	await api('PATCH', '/api/v2/deals/2', { stage_id: 9 });
	await api('PATCH', `/v1/leads/${sb.state.leadList[0].id}`, { title: 'Renamed lead' }); // no v1 lead webhooks
	await api('POST', '/api/v2/persons', { name: 'Walter Frei' });
	await sb.waitForWebhooks();
	const got = at('/v1');
	expect(got.map((r) => r.body.event)).toEqual(['updated.deal', 'added.person']);
	expect(got[0].auth).toBe(`Basic ${Buffer.from('legacy:pw').toString('base64')}`);
	const deal = got[0].body;
	expect(deal).toMatchObject({ v: 1, retry: 0, meta: { v: 1, action: 'updated', object: 'deal', id: 2, company_id: sb.state.company.id } });
	expect(deal.current).toMatchObject({ id: 2, stage_id: 9, status: 'open', [DEAL_FIELD_KEYS.referralCode]: 'ANNA-7K2Q' });
	expect(deal.previous).toMatchObject({ id: 2, stage_id: 6, title: deal.current.title });
	expect(typeof deal.meta.timestamp).toBe('number');
	const person = got[1].body;
	expect(person.current.email).toEqual([{ value: '', primary: true }]);
	expect(person.previous).toBeNull();
});

test('redelivering the last delivery sends a duplicate with the same event id', async () => {
	await addWebhook('/dup');
	sb.markDealWon(1);
	await sb.waitForWebhooks();
	const res = await fetch(`${sb.url}/__admin/webhooks/redeliver-last`, { method: 'POST' });
	expect(res.status).toBe(200);
	await sb.waitForWebhooks();
	const got = at('/dup');
	expect(got).toHaveLength(2);
	expect(got[1].body).toEqual(got[0].body);
	const deliveries: any = await (await fetch(`${sb.url}/__admin/webhooks/deliveries`)).json();
	expect(deliveries.data.map((d: any) => [d.state, d.duplicateOf ?? null])).toEqual([
		['delivered', null],
		['delivered', 1],
	]);
});

test('the admin API can win "latest", the newest deal (the demo’s command), and the webhook tells of it', async () => {
	await addWebhook('/latest');
	const created = sb.createDeal({ title: 'Newest', person_id: 1, stage_id: 1 });
	await sb.waitForWebhooks();
	const res = await fetch(`${sb.url}/__admin/deals/latest/status`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ status: 'won' }),
	});
	expect(res.status).toBe(200);
	expect(((await res.json()) as any).data).toMatchObject({ id: created.id, status: 'won' });
	await sb.waitForWebhooks();
	expect(at('/latest').map((r) => r.body.data.status)).toEqual(['open', 'won']);
});

test('lead conversion: the deal carries source_lead_id; webhooks get deal create + lead delete', async () => {
	await addWebhook('/conv');
	const lead = sb.state.leadList[0];
	const started = await api('POST', `/api/v2/leads/${lead.id}/convert/deal`, { pipeline_id: 2 });
	const status = await api('GET', `/api/v2/leads/${lead.id}/convert/status/${started.data.conversion_id}`);
	expect(status.data.status).toBe('completed');
	const deal = await api('GET', `/api/v2/deals/${status.data.deal_id}?include_fields=source_lead_id`);
	expect(deal.data).toMatchObject({ source_lead_id: lead.id, pipeline_id: 2, stage_id: 6, origin: 'API' });
	await sb.waitForWebhooks();
	const got = at('/conv').map((r) => r.body);
	expect(got.map((b) => `${b.meta.action}.${b.meta.entity}`)).toEqual(['create.deal', 'delete.lead']);
	expect(got[0].meta.correlation_id).toBe(got[1].meta.correlation_id);
	expect(got[1].previous.id).toBe(lead.id);
	// admin conversion with a delayed job shows "running" first
	const slow = await startSandbox({ rateLimit: 0, conversionDelayMs: 150 });
	try {
		const l = slow.state.leadList[1];
		const res: any = await (await fetch(`${slow.url}/api/v2/leads/${l.id}/convert/deal`, { method: 'POST', headers: { 'x-api-token': slow.apiToken } })).json();
		const check = async () =>
			(
				(await (
					await fetch(`${slow.url}/api/v2/leads/${l.id}/convert/status/${res.data.conversion_id}`, { headers: { 'x-api-token': slow.apiToken } })
				).json()) as any
			).data;
		expect((await check()).status).toBe('running');
		await new Promise((r) => setTimeout(r, 250));
		const done = await check();
		expect(done.status).toBe('completed');
		expect(slow.state.deals.get(done.deal_id)?.source_lead_id).toBe(l.id);
		expect(slow.state.violations).toEqual([]);
	} finally {
		await slow.close();
	}
	const viaAdmin = sb.convertLead(sb.state.leadList[0].id, { stage_id: 2 });
	expect(viaAdmin.deal).toMatchObject({ stage_id: 2, pipeline_id: 1 });
	expect(viaAdmin.deal?.source_lead_id).toBe(viaAdmin.conversion.lead_id);
});

test('10 first-attempt failures ban a webhook; events during the ban are lost', async () => {
	script.set(
		'/ban',
		Array.from({ length: 60 }, () => 500),
	);
	const id = await addWebhook('/ban', { event_object: 'person', event_action: 'create' });
	for (let i = 0; i < 10; i++) sb.createPerson({ name: `Person ${i}` });
	for (let i = 0; i < 100 && sb.deliveries({ webhookId: id }).some((d) => d.attempts.length === 0); i++) await new Promise((r) => setTimeout(r, 10));
	sb.createPerson({ name: 'Person during the ban' });
	await sb.waitForWebhooks(15000);
	const ds = sb.deliveries({ webhookId: id });
	expect(ds.filter((d) => d.state === 'failed')).toHaveLength(10);
	expect(ds.filter((d) => d.state === 'dropped')).toHaveLength(1);
	const hooks: any = await api('GET', '/v1/webhooks');
	expect(hooks.data[0].is_active).toBe(0);
});
