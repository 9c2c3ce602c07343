/**
 * Webhook deliveries: v2 payloads with basic auth, `previous` holding only changed fields, custom
 * fields sparse by default (typed and plain on request), retries with attempts 1..4 on a failing
 * receiver (shortened schedule), the ban (retries due during it dropped too), the 3-day deletion with
 * advanceClock, v1 payload mode, duplicate redelivery, lead conversion (deal carries the origin
 * lead) and person merges (delete with merged_to_id + change with merged_from_id).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
	DEAL_FIELD_KEYS,
	DROPPED_BANNED,
	DROPPED_DELETED_3_DAYS,
	LEAD_LABEL_IDS,
	PERSON_FIELD_KEYS,
	type Sandbox,
	startSandbox,
} from '../../sandbox';

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

test('10 first-attempt failures ban a webhook; events during the ban are lost, and so are retries that come due; advanceClock ends the ban', async () => {
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
	expect(ds).toHaveLength(11);
	// The 10 failed first attempts: their retries came due during the ban and were dropped
	// ("No data will be saved for retries after the ban").
	const retried = ds.slice(0, 10);
	for (const d of retried) {
		expect(d).toMatchObject({ state: 'dropped', droppedReason: DROPPED_BANNED });
		expect(d.attempts[0]).toMatchObject({ attempt: 1, status: 500 });
		expect(d.attempts.length).toBeLessThan(4);
	}
	// The event during the ban never went out.
	expect(ds[10]).toMatchObject({ state: 'dropped', attempts: [] });
	expect(ds[10].droppedReason).toMatch(/^webhook banned/);
	expect(at('/ban').map((r) => r.body.meta.attempt).filter((a) => a > 1).length).toBeLessThan(10);
	const hooks: any = await api('GET', '/v1/webhooks');
	expect(hooks.data[0].is_active).toBe(0);

	// 30 min (scaled) later the webhook is active again and its counter back to zero.
	script.delete('/ban');
	const res = await fetch(`${sb.url}/__admin/clock`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ advanceMs: 30 * 60 * 1000 * 0.01 }) });
	expect(res.status).toBe(200);
	const ahead = Date.parse(((await (await fetch(`${sb.url}/__admin/clock`)).json()) as any).data.now) - Date.now();
	expect(ahead).toBeGreaterThan(18_000 - 1_000);
	expect(ahead).toBeLessThanOrEqual(18_000);
	expect((await api('GET', '/v1/webhooks')).data[0].is_active).toBe(1);
	sb.createPerson({ name: 'Person after the ban' });
	await sb.waitForWebhooks();
	expect(sb.deliveries({ webhookId: id }).at(-1)).toMatchObject({ state: 'delivered' });
	expect(sb.state.webhooks.get(id)?.ban_counter).toBe(0);
});

test('a webhook without a successful delivery for 3 days (scaled) is deleted when its next delivery would go out', async () => {
	// A fast schedule: retries after 0.3 / 3 / 15 ms, 3 days = 25.9 s; advanceClock does the waiting.
	const fast = await startSandbox({ rateLimit: 0, webhookTimeScale: 0.0001, webhookTimeoutMs: 1_500 });
	try {
		const hook = async (path: string) => {
			const res = await fetch(`${fast.url}/v1/webhooks`, {
				method: 'POST',
				headers: { 'x-api-token': fast.apiToken, 'content-type': 'application/json' },
				body: JSON.stringify({ subscription_url: `${base}${path}`, event_action: 'change', event_object: 'deal', name: path }),
			});
			return ((await res.json()) as any).data.id as number;
		};
		script.set('/dead', Array.from({ length: 40 }, () => 500));
		const dead = await hook('/dead');
		const alive = await hook('/alive');
		const quiet = await startSandboxQuietHook(fast);
		const day = 24 * 60 * 60 * 1000 * 0.0001;

		fast.markDealWon(1);
		await fast.waitForWebhooks();
		expect(fast.deliveries({ webhookId: dead })[0]).toMatchObject({ state: 'failed' });
		expect(fast.deliveries({ webhookId: dead })[0].attempts).toHaveLength(4);

		// 2.9 days without a success: still there, still tried.
		fast.advanceClock(2.9 * day);
		fast.markDealLost(1);
		await fast.waitForWebhooks();
		expect(fast.deliveries({ webhookId: dead })[1]).toMatchObject({ state: 'failed' });
		expect(fast.state.webhooks.has(dead)).toBe(true);

		// Past 3 days: the next delivery deletes it instead of going out.
		fast.advanceClock(0.2 * day);
		const before = at('/dead').length;
		fast.reopenDeal(1);
		await fast.waitForWebhooks();
		expect(fast.deliveries({ webhookId: dead })[2]).toMatchObject({ state: 'dropped', droppedReason: DROPPED_DELETED_3_DAYS, attempts: [] });
		expect(at('/dead')).toHaveLength(before);
		expect(fast.state.webhooks.has(dead)).toBe(false);
		const listed: any = await (await fetch(`${fast.url}/v1/webhooks`, { headers: { 'x-api-token': fast.apiToken } })).json();
		expect(listed.data.map((w: any) => w.id).sort()).toEqual([alive, quiet].sort());
		// Later events have no webhook to go to.
		fast.markDealWon(1);
		await fast.waitForWebhooks();
		expect(fast.deliveries({ webhookId: dead })).toHaveLength(3);

		// A webhook that succeeds, and one that never had a delivery, are kept.
		expect(fast.deliveries({ webhookId: alive }).map((d) => d.state)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
		expect(fast.state.webhooks.get(quiet)).toBeDefined();
		expect(fast.state.violations).toEqual([]);
	} finally {
		await fast.close();
	}
});

/** A webhook for person deletions only: no delivery during the test. */
async function startSandboxQuietHook(s: Sandbox): Promise<number> {
	const res = await fetch(`${s.url}/v1/webhooks`, {
		method: 'POST',
		headers: { 'x-api-token': s.apiToken, 'content-type': 'application/json' },
		body: JSON.stringify({ subscription_url: `${base}/quiet`, event_action: 'delete', event_object: 'person', name: 'quiet' }),
	});
	return ((await res.json()) as any).data.id as number;
}

test('custom fields are sparse by default: only set fields, {type, value}; previous holds the changed keys, null for "was empty"', async () => {
	await addWebhook('/sparse');
	const CODE = DEAL_FIELD_KEYS.referralCode;
	const NAME = DEAL_FIELD_KEYS.referrerName;
	const deal = sb.createDeal({ title: 'Sparse', person_id: 1, stage_id: 1 });
	const id = deal.id as number;
	sb.updateDeal(id, { custom_fields: { [CODE]: 'ANNA-7K2Q' } }); // was empty
	sb.updateDeal(id, { custom_fields: { [CODE]: 'BEN-4M8X', [NAME]: 'Ben Okafor' } }); // changed + was empty
	sb.updateDeal(id, { custom_fields: { [CODE]: null } }); // cleared
	sb.updateDeal(id, { title: 'Sparse, renamed', value: 990 }); // no custom field touched
	sb.markDealLost(id, 'No budget');
	sb.reopenDeal(id);
	sb.deleteDeal(id);
	await sb.waitForWebhooks();
	const [created, set, changed, cleared, renamed, lost, reopened, deleted] = at('/sparse').map((r) => r.body);
	expect(at('/sparse').map((r) => `${r.body.meta.action}.${r.body.meta.entity}`)).toEqual([
		'create.deal',
		...Array.from({ length: 6 }, () => 'change.deal'),
		'delete.deal',
	]);
	expect(created.data.custom_fields).toEqual({});
	expect(set.data.custom_fields).toEqual({ [CODE]: { type: 'varchar', value: 'ANNA-7K2Q' } });
	expect(set.previous.custom_fields).toEqual({ [CODE]: null });
	expect(changed.data.custom_fields).toEqual({ [CODE]: { type: 'varchar', value: 'BEN-4M8X' }, [NAME]: { type: 'varchar', value: 'Ben Okafor' } });
	expect(changed.previous.custom_fields).toEqual({ [CODE]: { type: 'varchar', value: 'ANNA-7K2Q' }, [NAME]: null });
	expect(cleared.data.custom_fields).toEqual({ [NAME]: { type: 'varchar', value: 'Ben Okafor' } });
	expect(cleared.previous.custom_fields).toEqual({ [CODE]: { type: 'varchar', value: 'BEN-4M8X' } });
	// Edits of title / value: only those (and update_time) in previous.
	// (update_time is in previous only when the second changed: the timestamps have seconds precision.)
	expect(Object.keys(renamed.previous).filter((k) => k !== 'update_time').sort()).toEqual(['title', 'value']);
	expect(renamed.previous).toMatchObject({ title: 'Sparse', value: 0 });
	expect(renamed.previous.custom_fields).toBeUndefined();
	expect(lost.previous).toMatchObject({ status: 'open', lost_reason: null, lost_time: null });
	expect(reopened.data).toMatchObject({ status: 'open', lost_reason: null, lost_time: null, close_time: null });
	expect(reopened.previous).toMatchObject({ status: 'lost', lost_reason: 'No budget' });
	expect(reopened.previous.title).toBeUndefined();
	// The last state of a delete lists the set fields only.
	expect(deleted.data).toBeNull();
	expect(deleted.previous.custom_fields).toEqual({ [NAME]: { type: 'varchar', value: 'Ben Okafor' } });

	// Persons too; `label` (the first label id, as Pipedrive's person example has it) next to label_ids.
	const person = sb.createPerson({ name: 'Label Person', label_ids: [5, 6], custom_fields: { [PERSON_FIELD_KEYS.referrals]: 2 } });
	const plain = sb.createPerson({ name: 'No Label' });
	await sb.waitForWebhooks();
	const [p1, p2] = at('/sparse').slice(-2).map((r) => r.body);
	expect(p1.data).toMatchObject({ id: person.id, label: 5, label_ids: [5, 6], custom_fields: { [PERSON_FIELD_KEYS.referrals]: { type: 'double', value: 2 } } });
	expect(Object.keys(p1.data.custom_fields)).toEqual([PERSON_FIELD_KEYS.referrals]);
	expect(p2.data).toMatchObject({ id: plain.id, label: null, label_ids: [], custom_fields: {} });
});

test('customFieldFormat "typed" lists every field (null when unset), "plain" every field as a bare value; the startSandbox option sets it', async () => {
	await addWebhook('/formats', { event_object: 'deal' });
	const CODE = DEAL_FIELD_KEYS.referralCode;
	try {
		sb.webhooks.options.customFieldFormat = 'typed';
		sb.updateDeal(1, { custom_fields: { [CODE]: 'TYPED-1' } });
		sb.webhooks.options.customFieldFormat = 'plain';
		sb.updateDeal(1, { custom_fields: { [CODE]: 'PLAIN-1' } });
	} finally {
		sb.webhooks.options.customFieldFormat = 'sparse';
	}
	await sb.waitForWebhooks();
	const [typed, plain] = at('/formats').map((r) => r.body);
	expect(Object.keys(typed.data.custom_fields).sort()).toEqual(Object.values(DEAL_FIELD_KEYS).sort());
	expect(typed.data.custom_fields[CODE]).toEqual({ type: 'varchar', value: 'TYPED-1' });
	expect(typed.data.custom_fields[DEAL_FIELD_KEYS.referrerName]).toBeNull();
	expect(typed.previous.custom_fields).toEqual({ [CODE]: null });
	expect(plain.data.custom_fields[CODE]).toBe('PLAIN-1');
	expect(plain.data.custom_fields[DEAL_FIELD_KEYS.referrerName]).toBeNull();
	expect(plain.previous.custom_fields).toEqual({ [CODE]: 'TYPED-1' });

	const other = await startSandbox({ rateLimit: 0, webhookCustomFields: 'typed' });
	try {
		expect(other.webhooks.options.customFieldFormat).toBe('typed');
	} finally {
		await other.close();
	}
	await expect(startSandbox({ webhookCustomFields: 'typed-sparse' as never })).rejects.toThrow(/sparse, typed or plain/);
	const byDefault = await startSandbox({ rateLimit: 0 });
	try {
		expect(byDefault.webhooks.options.customFieldFormat).toBe('sparse');
	} finally {
		await byDefault.close();
	}
});

test('person merge, as Pipedrive v2 does it: delete with merged_to_id, change with merged_from_id (strings); v1 gets merged + deleted; PUT /v1/persons/{id}/merge', async () => {
	await addWebhook('/merge-v2');
	await addWebhook('/merge-v1', { version: '1.0' });
	// Person 10 (Julia, 1 lead) is merged into person 3 (Chloé, deal 1).
	const loser = sb.state.getPerson(10);
	expect(sb.state.leadList.filter((l) => l.person_id === 10)).toHaveLength(1);
	sb.createDeal({ title: 'Julia deal', person_id: 10, stage_id: 1, custom_fields: { [DEAL_FIELD_KEYS.referralCode]: 'JULIA-1' } });
	sb.updatePerson(10, { custom_fields: { [PERSON_FIELD_KEYS.referralCode]: 'JULIA-CODE' } });
	await sb.waitForWebhooks();
	received = [];
	const merged = await api('PUT', '/v1/persons/10/merge', { merge_with_id: 3 });
	expect(merged.data).toMatchObject({ id: 3, merge_what_id: 10, name: 'Chloé Dubois', open_deals_count: 2 });
	expect(merged.data.email.map((e: any) => e.value)).toEqual(['Chloe.Dubois@Example.FR', 'julia.kowalska@example.pl']);
	expect(merged.data[PERSON_FIELD_KEYS.referralCode]).toBe('JULIA-CODE'); // the survivor's empty field took the other's value
	await sb.waitForWebhooks();

	const v2 = at('/merge-v2').map((r) => r.body);
	expect(v2.map((b) => `${b.meta.action}.${b.meta.entity}`)).toEqual(['change.deal', 'change.lead', 'change.person', 'delete.person']);
	expect(new Set(v2.map((b) => b.meta.correlation_id)).size).toBe(1);
	const [dealMoved, leadMoved, survivor, removed] = v2;
	expect(dealMoved.previous).toMatchObject({ person_id: 10 });
	expect(dealMoved.data.person_id).toBe(3);
	expect(leadMoved.previous).toMatchObject({ person_id: 10 });
	expect(survivor.meta).toMatchObject({ entity_id: '3', merged_from_id: '10' });
	expect(survivor.meta.merged_to_id).toBeUndefined();
	expect(survivor.previous.emails).toEqual([{ value: 'Chloe.Dubois@Example.FR', primary: true, label: 'work' }]);
	expect(survivor.data.emails.map((e: any) => e.value)).toEqual(['Chloe.Dubois@Example.FR', 'julia.kowalska@example.pl']);
	expect(survivor.previous.custom_fields).toEqual({ [PERSON_FIELD_KEYS.referralCode]: null });
	expect(removed.meta).toMatchObject({ entity_id: '10', merged_to_id: '3' });
	expect(removed.meta.merged_from_id).toBeUndefined();
	expect(removed.data).toBeNull();
	expect(removed.previous).toMatchObject({ id: 10, name: loser.name });

	const v1 = at('/merge-v1').map((r) => r.body);
	expect(v1.map((b) => b.event)).toEqual(['updated.deal', 'merged.person', 'deleted.person']);
	expect(v1[1]).toMatchObject({ meta: { action: 'merged', object: 'person', id: 3 }, current: { id: 3 }, previous: { id: 3 } });
	expect(v1[2]).toMatchObject({ meta: { action: 'deleted', id: 10 }, current: null, previous: { id: 10 } });

	// The merged person is gone, its email finds the survivor.
	const gone = await fetch(`${sb.url}/api/v2/persons/10`, { headers: { 'x-api-token': sb.apiToken } });
	expect(gone.status).toBe(404);
	const found = await api('GET', '/api/v2/persons/search?term=julia.kowalska%40example.pl&fields=email&exact_match=true');
	expect(found.data.items.map((i: any) => i.item.id)).toEqual([3]);

	// Refusals keep Pipedrive's error shape: unknown person, unknown survivor, itself.
	for (const [path, body, status] of [
		['/v1/persons/10/merge', { merge_with_id: 3 }, 404],
		['/v1/persons/3/merge', { merge_with_id: 999 }, 400],
		['/v1/persons/3/merge', { merge_with_id: 3 }, 400],
	] as const) {
		const res = await fetch(sb.url + path, { method: 'PUT', headers: { 'x-api-token': sb.apiToken, 'content-type': 'application/json' }, body: JSON.stringify(body) });
		expect(res.status).toBe(status);
		expect(await res.json()).toMatchObject({ success: false });
	}
	expect(sb.state.violations).toEqual([]);

	// The admin route does the same (change_source "app").
	received = [];
	const res = await fetch(`${sb.url}/__admin/persons/5/merge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ merge_with_id: 4 }) });
	expect(res.status).toBe(200);
	await sb.waitForWebhooks();
	expect(at('/merge-v2').map((r) => [r.body.meta.action, r.body.meta.entity_id, r.body.meta.change_source, r.body.meta.merged_to_id ?? r.body.meta.merged_from_id])).toEqual([
		['change', '4', 'app', '5'],
		['delete', '5', 'app', '4'],
	]);
});
