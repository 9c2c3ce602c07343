/**
 * Every implemented endpoint answers spec-valid data (zero violations) for valid requests, over
 * real HTTP; invalid requests are recorded as violations and answered with Pipedrive's 400 shape;
 * authentication and OAuth scopes behave like Pipedrive.
 */
import { DEAL_FIELD_KEYS, FILTER_IDS, implementedOperations, LEAD_LABEL_IDS, PERSON_FIELD_KEYS, type Sandbox, startSandbox } from '../../sandbox';

let sb: Sandbox;
const OAUTH_NO_ADMIN = 'oauth-without-admin-scope';

interface Answer {
	status: number;
	body: any;
	headers: Headers;
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
	const res = await fetch(sb.url + path, {
		method,
		headers: { 'x-api-token': sb.apiToken, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
		body: body !== undefined ? JSON.stringify(body) : undefined,
	});
	return { status: res.status, body: await res.json(), headers: res.headers };
}

beforeAll(async () => {
	sb = await startSandbox({
		rateLimit: 0,
		searchRateLimit: 0,
		tokens: [
			'test-api-token',
			{ token: 'test-oauth-token', kind: 'oauth' },
			{ token: OAUTH_NO_ADMIN, kind: 'oauth', scopes: ['base', 'deals:full', 'contacts:full', 'leads:full', 'users:read', 'search:read'] },
		],
	});
});

afterAll(async () => {
	await sb.close();
});

describe('valid requests get spec-valid answers (zero violations)', () => {
	const seen = new Set<string>();
	const track = (a: Answer, opId: string) => {
		seen.add(opId);
		return a;
	};

	afterEach(() => {
		expect(sb.state.violations).toEqual([]);
	});

	test('v1 users', async () => {
		const me = track(await call('GET', '/v1/users/me'), 'v1:getCurrentUser');
		expect(me.status).toBe(200);
		expect(me.body.data.company_domain).toBe('referral-sandbox');
		expect(me.body.data.id).toBe(sb.state.me.id);
		const users = track(await call('GET', '/api/v1/users'), 'v1:getUsers');
		expect(users.status).toBe(200);
		expect(users.body.data).toHaveLength(1);
	});

	test('v1 lead labels, lead fields, filters', async () => {
		const labels = track(await call('GET', '/v1/leadLabels'), 'v1:getLeadLabels');
		expect(labels.body.data.map((l: any) => l.name)).toEqual(['Hot', 'Warm', 'Cold', 'Referral']);
		const fields = track(await call('GET', '/v1/leadFields?start=0&limit=100'), 'v1:getLeadFields');
		const keys = fields.body.data.map((f: any) => f.key);
		expect(keys).toEqual(expect.arrayContaining(['title', ...Object.values(DEAL_FIELD_KEYS)]));
		expect(fields.body.additional_data.more_items_in_collection).toBe(false);
		const people = track(await call('GET', '/v1/filters?type=people'), 'v1:getFilters');
		expect(people.body.data.map((f: any) => f.id)).toEqual([FILTER_IDS.personsWithEmail, FILTER_IDS.referrers]);
		const all = await call('GET', '/v1/filters');
		expect(all.body.data.length).toBe(sb.state.filters.length);
	});

	test('v1 leads: list, create (custom fields at top level), get, patch, delete', async () => {
		const list = track(await call('GET', '/v1/leads?limit=2&start=0'), 'v1:getLeads');
		expect(list.status).toBe(200);
		expect(list.body.data).toHaveLength(2);
		expect(list.body.additional_data).toMatchObject({ start: 0, limit: 2, more_items_in_collection: true, pagination: { next_start: 2 } });
		const created = track(
			await call('POST', '/v1/leads', {
				title: 'Referred: Quentin',
				person_id: 17,
				label_ids: [LEAD_LABEL_IDS.referral],
				value: { amount: 500, currency: 'EUR' },
				[DEAL_FIELD_KEYS.referralCode]: 'ANNA-7K2Q',
			}),
			'v1:addLead',
		);
		expect(created.status).toBe(201);
		const lead = created.body.data;
		expect(lead).toMatchObject({ title: 'Referred: Quentin', person_id: 17, source_name: 'API', origin: 'API', [DEAL_FIELD_KEYS.referralCode]: 'ANNA-7K2Q' });
		expect(lead[DEAL_FIELD_KEYS.referrerName]).toBeUndefined();
		const got = track(await call('GET', `/v1/leads/${lead.id}`), 'v1:getLead');
		expect(got.body.data.id).toBe(lead.id);
		const patched = track(
			await call('PATCH', `/v1/leads/${lead.id}`, { label_ids: [LEAD_LABEL_IDS.hot, LEAD_LABEL_IDS.referral], [DEAL_FIELD_KEYS.referrerName]: 'Anna Schmidt' }),
			'v1:updateLead',
		);
		expect(patched.status).toBe(200);
		expect(patched.body.data.label_ids).toEqual([LEAD_LABEL_IDS.hot, LEAD_LABEL_IDS.referral]);
		expect(patched.body.data[DEAL_FIELD_KEYS.referrerName]).toBe('Anna Schmidt');
		const filtered = await call('GET', `/v1/leads?filter_id=${FILTER_IDS.referralLeads}`);
		expect(filtered.body.data.map((l: any) => l.id)).toContain(lead.id);
		const byPerson = await call('GET', '/v1/leads?person_id=17&sort=update_time');
		expect(byPerson.body.data.map((l: any) => l.id)).toEqual([lead.id]);
		const deleted = track(await call('DELETE', `/v1/leads/${lead.id}`), 'v1:deleteLead');
		expect(deleted.body).toEqual({ success: true, data: { id: lead.id } });
		const gone = await call('GET', `/v1/leads/${lead.id}`);
		expect(gone.status).toBe(404);
		expect(gone.body).toMatchObject({ success: false, data: null });
	});

	test('v1 webhooks: list, create, delete', async () => {
		const created = track(
			await call('POST', '/v1/webhooks', {
				subscription_url: 'http://127.0.0.1:9/hook',
				event_action: '*',
				event_object: 'deal',
				name: 'all deal events',
				http_auth_user: 'u',
				http_auth_password: 'p',
			}),
			'v1:addWebhook',
		);
		expect(created.status).toBe(201);
		expect(created.body.data).toMatchObject({ version: '2.0', is_active: 1, event_object: 'deal', http_auth_user: 'u' });
		const list = track(await call('GET', '/v1/webhooks'), 'v1:getWebhooks');
		expect(list.body.data).toHaveLength(1);
		const del = track(await call('DELETE', `/v1/webhooks/${created.body.data.id}`), 'v1:deleteWebhook');
		expect(del.body).toEqual({ status: 'ok', success: true });
		const again = await call('DELETE', `/v1/webhooks/${created.body.data.id}`);
		expect(again.status).toBe(404);
		expect(again.body).toMatchObject({ status: 'error', success: false });
	});

	test('v2 persons: list, get, search, create, patch, delete', async () => {
		const list = track(await call('GET', '/api/v2/persons?limit=5&sort_by=add_time&sort_direction=desc'), 'v2:getPersons');
		expect(list.body.data).toHaveLength(5);
		expect(list.body.data[0].id).toBe(20);
		expect(typeof list.body.additional_data.next_cursor).toBe('string');
		const one = track(await call('GET', '/api/v2/persons/2'), 'v2:getPerson');
		expect(one.body.data.emails).toHaveLength(2);
		expect(one.body.data.custom_fields[PERSON_FIELD_KEYS.referralCode]).toBe('BEN-4M8X');
		const noEmail = await call('GET', '/api/v2/persons/4');
		expect(noEmail.body.data.emails).toEqual([]);
		const search = track(await call('GET', '/api/v2/persons/search?term=chloe.dubois%40example.fr&fields=email&exact_match=true'), 'v2:searchPersons');
		expect(search.body.data.items.map((i: any) => i.item.id)).toEqual([3]);
		const partial = await call('GET', '/api/v2/persons/search?term=example.se');
		expect(partial.body.data.items.map((i: any) => i.item.id).sort((a: number, b: number) => a - b)).toEqual([5, 19]);
		const byCode = await call('GET', '/api/v2/persons/search?term=GUS-9P3D&fields=custom_fields&exact_match=true');
		expect(byCode.body.data.items[0].item).toMatchObject({ id: 7, custom_fields: ['GUS-9P3D'] });
		const created = track(
			await call('POST', '/api/v2/persons', {
				name: 'Uma Becker',
				emails: [{ value: 'uma.becker@example.de', primary: true, label: 'work' }],
				custom_fields: { [PERSON_FIELD_KEYS.referralCode]: 'UMA-1A2B', [PERSON_FIELD_KEYS.referrals]: 0 },
			}),
			'v2:addPerson',
		);
		expect(created.status).toBe(200);
		expect(created.body.data).toMatchObject({ name: 'Uma Becker', first_name: 'Uma', last_name: 'Becker' });
		const id = created.body.data.id;
		const patched = track(await call('PATCH', `/api/v2/persons/${id}`, { custom_fields: { [PERSON_FIELD_KEYS.referrals]: 2 } }), 'v2:updatePerson');
		expect(patched.body.data.custom_fields[PERSON_FIELD_KEYS.referrals]).toBe(2);
		const filtered = await call('GET', `/api/v2/persons?filter_id=${FILTER_IDS.referrers}`);
		expect(filtered.body.data.map((p: any) => p.id)).toEqual([1, 2, 7, 13, id]);
		const del = track(await call('DELETE', `/api/v2/persons/${id}`), 'v2:deletePerson');
		expect(del.body).toEqual({ success: true, data: { id } });
		expect((await call('GET', `/api/v2/persons/${id}`)).status).toBe(404);
	});

	test('v2 deals: list, get, create, patch (stage, won), delete', async () => {
		const list = track(await call('GET', '/api/v2/deals?status=open&pipeline_id=1'), 'v2:getDeals');
		expect(list.body.data.map((d: any) => d.id)).toEqual([1]);
		const won = await call('GET', `/api/v2/deals?filter_id=${FILTER_IDS.wonDeals}`);
		expect(won.body.data.map((d: any) => d.id)).toEqual([3]);
		const one = track(await call('GET', '/api/v2/deals/2?include_fields=source_lead_id'), 'v2:getDeal');
		expect(one.body.data.custom_fields[DEAL_FIELD_KEYS.referralCode]).toBe('ANNA-7K2Q');
		expect(one.body.data.source_lead_id).toBeNull();
		const created = track(
			await call('POST', '/api/v2/deals', {
				title: 'New referral deal',
				person_id: 12,
				pipeline_id: 2,
				value: 300,
				custom_fields: { [DEAL_FIELD_KEYS.referralCode]: 'BEN-4M8X' },
			}),
			'v2:addDeal',
		);
		expect(created.body.data).toMatchObject({ pipeline_id: 2, stage_id: 6, status: 'open', value: 300, currency: 'EUR' });
		const id = created.body.data.id;
		const moved = track(await call('PATCH', `/api/v2/deals/${id}`, { stage_id: 8 }), 'v2:updateDeal');
		expect(moved.body.data).toMatchObject({ stage_id: 8, pipeline_id: 2 });
		expect(typeof moved.body.data.stage_change_time).toBe('string');
		const wonNow = await call('PATCH', `/api/v2/deals/${id}`, { status: 'won' });
		expect(wonNow.body.data.status).toBe('won');
		expect(typeof wonNow.body.data.won_time).toBe('string');
		const del = track(await call('DELETE', `/api/v2/deals/${id}`), 'v2:deleteDeal');
		expect(del.body).toEqual({ success: true, data: { id } });
		expect((await call('GET', `/api/v2/deals/${id}`)).status).toBe(404);
		const deleted = await call('GET', '/api/v2/deals?status=deleted');
		expect(deleted.body.data.map((d: any) => d.id)).toEqual([id]);
	});

	test('v2 pipelines, stages, person fields, deal fields', async () => {
		const pipelines = track(await call('GET', '/api/v2/pipelines'), 'v2:getPipelines');
		expect(pipelines.body.data.map((p: any) => p.name)).toEqual(['Sales', 'Referrals']);
		track(await call('GET', '/api/v2/pipelines/2'), 'v2:getPipeline');
		const stages = track(await call('GET', '/api/v2/stages?pipeline_id=1&sort_by=order_nr'), 'v2:getStages');
		expect(stages.body.data).toHaveLength(5);
		const stages2 = await call('GET', '/api/v2/stages?pipeline_id=2');
		expect(stages2.body.data).toHaveLength(4);
		track(await call('GET', '/api/v2/stages/9'), 'v2:getStage');
		const pf = track(await call('GET', '/api/v2/personFields?include_fields=ui_visibility'), 'v2:getPersonFields');
		const custom = pf.body.data.filter((f: any) => f.is_custom_field);
		expect(custom.map((f: any) => [f.field_name, f.field_type])).toEqual([
			['Referral link', 'varchar'],
			['Referral code', 'varchar'],
			['Referrals', 'double'],
			['Qualified referrals', 'double'],
		]);
		expect(custom.every((f: any) => /^[0-9a-f]{40}$/.test(f.field_code))).toBe(true);
		const df = track(await call('GET', '/api/v2/dealFields?limit=10'), 'v2:getDealFields');
		expect(df.body.data).toHaveLength(10);
		const df2 = await call('GET', `/api/v2/dealFields?limit=100&cursor=${df.body.additional_data.next_cursor}`);
		expect(df2.body.data.filter((f: any) => f.is_custom_field).map((f: any) => f.field_name)).toEqual([
			'Referral code',
			'Referrer name',
			'Referrer email',
			'Referral campaign',
			'Referral link',
		]);
		expect(df2.body.additional_data.next_cursor).toBeNull();
	});

	test('v2 person and deal fields are created as Pipedrive answers, and listed after', async () => {
		const person = track(await call('POST', '/api/v2/personFields', { field_name: 'Referral tier', field_type: 'varchar' }), 'v2:addPersonField');
		expect(person).toMatchObject({ status: 200, body: { success: true, data: { field_name: 'Referral tier', field_type: 'varchar', is_custom_field: true, is_optional_response_field: false, options: null, subfields: null } } });
		expect(person.body.data.field_code).toMatch(/^[0-9a-f]{40}$/);
		const deal = track(await call('POST', '/api/v2/dealFields', { field_name: 'Referral bonus', field_type: 'double' }), 'v2:addDealField');
		expect(deal.body.data).toMatchObject({ field_name: 'Referral bonus', field_type: 'double', is_custom_field: true });
		expect(deal.body.data.field_code).not.toBe(person.body.data.field_code);
		const listed = await call('GET', '/api/v2/personFields?limit=100');
		expect(listed.body.data.filter((f: any) => f.field_code === person.body.data.field_code)).toHaveLength(1);
		// A value can be written into the new field right away.
		const created = await call('POST', '/api/v2/persons', { name: 'Tia Tier', custom_fields: { [person.body.data.field_code]: 'gold' } });
		expect(created.body.data.custom_fields).toMatchObject({ [person.body.data.field_code]: 'gold' });
		// The spec's checks: a type Pipedrive does not know is a request violation.
		expect((await call('POST', '/api/v2/dealFields', { field_name: 'X', field_type: 'colour' })).status).toBe(400);
		expect(sb.state.violations).toEqual([expect.objectContaining({ operationId: 'addDealField', where: 'request' })]);
		sb.clearViolations();
	});

	test('v2 lead conversion: job, status, deal with source_lead_id', async () => {
		const lead = sb.state.leadList[0];
		const conv = track(await call('POST', `/api/v2/leads/${lead.id}/convert/deal`, { stage_id: 7 }), 'v2:convertLeadToDeal');
		expect(conv.status).toBe(200);
		const conversionId = conv.body.data.conversion_id;
		const status = track(await call('GET', `/api/v2/leads/${lead.id}/convert/status/${conversionId}`), 'v2:getLeadConversionStatus');
		expect(status.body.data).toMatchObject({ conversion_id: conversionId, status: 'completed' });
		const dealId = status.body.data.deal_id;
		const deal = await call('GET', `/api/v2/deals/${dealId}?include_fields=source_lead_id`);
		expect(deal.body.data).toMatchObject({ source_lead_id: lead.id, stage_id: 7, pipeline_id: 2, person_id: 10, title: lead.title });
		expect(deal.body.data.custom_fields[DEAL_FIELD_KEYS.referralCode]).toBe('BEN-4M8X');
		const withoutInclude = await call('GET', `/api/v2/deals/${dealId}`);
		expect(withoutInclude.body.data.source_lead_id).toBeUndefined();
		expect((await call('GET', `/v1/leads/${lead.id}`)).status).toBe(404);
		const unknown = await call('GET', `/api/v2/leads/${lead.id}/convert/status/4b40248b-945a-4802-b996-60fdff8c5c69`);
		expect(unknown.status).toBe(404);
		expect(unknown.body).toMatchObject({ success: false, error: 'Entity was not found' });
	});

	test('v1 person merge: PUT /v1/persons/{id}/merge answers the survivor (mergePersonItem)', async () => {
		const loser = track(await call('POST', '/api/v2/persons', { name: 'Merge Me', emails: [{ value: 'merge.me@example.com' }], phones: [{ value: '+1 555 0100' }] }), 'v2:addPerson');
		const survivor = await call('POST', '/api/v2/persons', { name: 'Keep Me', label_ids: [3] });
		const merged = track(await call('PUT', `/v1/persons/${loser.body.data.id}/merge`, { merge_with_id: survivor.body.data.id }), 'v1:mergePersons');
		expect(merged.status).toBe(200);
		expect(merged.body.data).toMatchObject({
			id: survivor.body.data.id,
			merge_what_id: loser.body.data.id,
			name: 'Keep Me',
			label: 3,
			label_ids: [3],
			email: [{ value: 'merge.me@example.com', primary: true, label: 'work' }],
			phone: [{ value: '+1 555 0100', primary: true, label: 'work' }],
			active_flag: true,
		});
		expect((await call('GET', `/api/v2/persons/${loser.body.data.id}`)).status).toBe(404);
		// The body is validated like every other: merge_with_id is required.
		const missing = await call('PUT', `/v1/persons/${survivor.body.data.id}/merge`, {});
		expect(missing.status).toBe(400);
		expect(sb.state.violations.map((v) => v.operationId)).toEqual(['mergePersons']);
		sb.clearViolations();
	});

	test('every implemented operation was exercised', () => {
		const all = implementedOperations().map((o) => `${o.version}:${o.operationId}`);
		expect(all.filter((o) => !seen.has(o))).toEqual([]);
	});
});

describe('invalid requests are recorded as violations', () => {
	beforeEach(() => sb.clearViolations());

	test('bad query parameter type -> 400 in Pipedrive shape + request violation', async () => {
		const a = await call('GET', '/api/v2/persons?limit=abc');
		expect(a.status).toBe(400);
		expect(a.body).toMatchObject({ success: false, code: 'ERR_SCHEMA_VALIDATION_FAILED', data: null, additional_data: null });
		expect(a.body.error).toMatch(/^Validation failed: query\.limit must be integer/);
		expect(sb.state.violations).toEqual([expect.objectContaining({ method: 'GET', path: '/api/v2/persons', where: 'request', operationId: 'getPersons' })]);
	});

	test('enum violation, limit over 500, unknown parameter, comma lists the spec types as one enum value', async () => {
		expect((await call('GET', '/api/v2/persons?sort_by=name')).status).toBe(400);
		expect((await call('GET', '/api/v2/persons?limit=501')).status).toBe(400);
		const unknown = await call('GET', '/api/v2/persons?start=0');
		expect(unknown.status).toBe(200); // ignored, but recorded
		expect((await call('GET', '/api/v2/deals?status=open,won')).status).toBe(400);
		const messages = sb.state.violations.map((v) => v.message);
		expect(messages).toEqual([
			expect.stringContaining('query.sort_by must be equal to one of the allowed values'),
			expect.stringContaining('limit: Must be less than or equal to 500'),
			expect.stringContaining("query parameter 'start' is not defined for getPersons"),
			expect.stringContaining('query.status must be equal to one of the allowed values'),
		]);
	});

	test('invalid JSON bodies, wrong types, missing required fields', async () => {
		const a = await call('POST', '/v1/leads', { title: 42, person_id: 'x' });
		expect(a.status).toBe(400);
		const b = await call('POST', '/api/v2/deals', { value: 10 });
		expect(b.status).toBe(400);
		expect(b.body.error).toContain("must have required property 'title'");
		const c = await fetch(`${sb.url}/api/v2/persons`, {
			method: 'POST',
			headers: { 'x-api-token': sb.apiToken, 'content-type': 'application/json' },
			body: '{"name": ',
		});
		expect(c.status).toBe(400);
		const d = await call('POST', '/v1/webhooks', { subscription_url: 'http://x.example/', event_action: 'updated', event_object: 'deal' });
		expect(d.status).toBe(400);
		expect(d.body).toMatchObject({ status: 'error', success: false });
		expect(Object.keys(d.body.errors).length).toBeGreaterThan(0);
		const e = await call('GET', '/api/v2/persons/abc');
		expect(e.status).toBe(400);
		const where = new Set(sb.state.violations.map((v) => v.where));
		expect([...where]).toEqual(['request']);
		expect(sb.state.violations.length).toBeGreaterThanOrEqual(6);
	});

	test('unknown endpoints and v1 forms that left the spec are violations', async () => {
		const a = await call('GET', '/v1/persons');
		expect(a.status).toBe(404);
		expect(a.body).toMatchObject({ success: false, error: 'Unknown method .' });
		const b = await call('GET', '/v2/persons');
		expect(b.status).toBe(404);
		expect(sb.state.violations).toHaveLength(2);
	});

	test('business errors keep the Pipedrive error shape without being violations', async () => {
		const a = await call('POST', '/api/v2/persons', { emails: [{ value: 'nameless@example.com' }] });
		expect(a.status).toBe(400);
		expect(a.body).toMatchObject({ success: false, error: 'Name must be given.' });
		const b = await call('GET', '/api/v2/deals/999');
		expect(b.status).toBe(404);
		expect(sb.state.violations).toEqual([]);
	});

	test('admin endpoint exposes violations', async () => {
		await call('GET', '/api/v2/persons?sort_direction=up');
		const res = await fetch(`${sb.url}/__admin/violations`);
		const json: any = await res.json();
		expect(json.data).toHaveLength(1);
		expect(json.data[0]).toMatchObject({ where: 'request', path: '/api/v2/persons' });
	});
});

describe('authentication', () => {
	beforeEach(() => sb.clearViolations());

	test('wrong or missing token -> 401 in Pipedrive shape', async () => {
		const a = await call('GET', '/v1/users/me', undefined, { 'x-api-token': 'nope' });
		expect(a.status).toBe(401);
		expect(a.body).toMatchObject({ success: false, error: 'unauthorized access', errorCode: 401 });
		expect(a.headers.get('x-ratelimit-limit')).not.toBeNull();
		const res = await fetch(`${sb.url}/api/v2/deals`);
		expect(res.status).toBe(401);
		expect(sb.state.violations).toEqual([]);
	});

	test('token in the query string is refused and recorded', async () => {
		const res = await fetch(`${sb.url}/api/v2/persons?api_token=test-api-token`);
		expect(res.status).toBe(401);
		expect(sb.state.violations).toEqual([expect.objectContaining({ where: 'request', message: expect.stringContaining('query string') })]);
	});

	test('OAuth bearer tokens work; a missing scope answers 403 like Pipedrive', async () => {
		const ok = await call('GET', '/v1/users/me', undefined, { 'x-api-token': '', authorization: 'Bearer test-oauth-token' });
		expect(ok.status).toBe(200);
		const hooks = await call('GET', '/v1/webhooks', undefined, { 'x-api-token': '', authorization: `Bearer ${OAUTH_NO_ADMIN}` });
		expect(hooks.status).toBe(403);
		expect(hooks.body).toMatchObject({ success: false, errorCode: 403 });
		const persons = await call('GET', '/api/v2/persons', undefined, { 'x-api-token': '', authorization: `Bearer ${OAUTH_NO_ADMIN}` });
		expect(persons.status).toBe(200);
		// an API token is not a bearer token
		const wrongKind = await call('GET', '/v1/users/me', undefined, { 'x-api-token': '', authorization: 'Bearer test-api-token' });
		expect(wrongKind.status).toBe(401);
		expect(sb.state.violations).toEqual([]);
	});

	test('request log records method, path, status and token cost', async () => {
		sb.clearRequests();
		await call('GET', '/api/v2/persons/search?term=anna');
		await call('GET', '/v1/leads');
		const log = sb.requests();
		expect(log.map((e) => [e.method, e.path, e.status, e.tokenCost])).toEqual([
			['GET', '/api/v2/persons/search', 200, 20],
			['GET', '/v1/leads', 200, 20],
		]);
		const res: any = await (await fetch(`${sb.url}/__admin/requests?limit=1`)).json();
		expect(res.data[0]).toMatchObject({ path: '/v1/leads', tokenCost: 20, operationId: 'getLeads' });
	});
});
