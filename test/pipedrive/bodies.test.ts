import { readCustomFieldValue, personEmailItems } from '../../lib/pipedrive';
import { BASE, expectValidAgainstSpec, makeClient, nock, specProblems, useNock } from './helpers';

useNock();

const CODE_KEY = 'c0de000000000000000000000000000000000001';
const STATUS_KEY = '57a7000000000000000000000000000000000002';
const DEAL_CODE_KEY = 'dea1000000000000000000000000000000000003';
const LABEL_HOT = 'f08b42a0-4e75-11ea-9643-03698ef1cfd6';

function mockPersonFields() {
	nock(BASE)
		.get('/api/v2/personFields')
		.query({ limit: '500' })
		.reply(200, {
			success: true,
			data: [
				{ field_name: 'Name', field_code: 'name', field_type: 'varchar', is_custom_field: false, is_optional_response_field: false },
				{ field_name: 'Referral code', field_code: CODE_KEY, field_type: 'varchar', is_custom_field: true, is_optional_response_field: false },
				{
					field_name: 'Referral status',
					field_code: STATUS_KEY,
					field_type: 'enum',
					is_custom_field: true,
					is_optional_response_field: false,
					options: [
						{ id: 11, label: 'Pending' },
						{ id: 12, label: 'Qualified' },
					],
				},
			],
			additional_data: { next_cursor: null },
		});
}

describe('request bodies follow the OpenAPI shapes', () => {
	it('createPerson: v2 emails objects and custom_fields resolved by name (option label -> id)', async () => {
		const { client, requests } = makeClient();
		mockPersonFields();
		const expected = {
			name: 'Ann Example',
			emails: [{ value: 'ann@example.com', primary: true, label: 'work' }],
			custom_fields: { [CODE_KEY]: 'ANN-7Q2X', [STATUS_KEY]: 11 },
		};
		nock(BASE).post('/api/v2/persons', expected).reply(200, { success: true, data: { id: 7, ...expected } });
		const created = await client.createPerson(
			{ name: 'Ann Example', emails: personEmailItems(' ann@example.com ') },
			{ customFields: { 'Referral code': 'ANN-7Q2X', 'referral status': 'pending' } },
		);
		expect(created.id).toBe(7);
		expect(requests.map((r) => r.body)[1]).toEqual(expected);
		expect(readCustomFieldValue(created, CODE_KEY)).toBe('ANN-7Q2X');
		const statusField = await client.fieldsCache.resolve('person', 'Referral status');
		expect(readCustomFieldValue(created, statusField, { labels: true })).toBe('Pending');
		expectValidAgainstSpec(requests);
	});

	it('updatePerson: PATCH with only the given fields', async () => {
		const { client, requests } = makeClient();
		mockPersonFields();
		nock(BASE)
			.patch('/api/v2/persons/7', { custom_fields: { [STATUS_KEY]: 12 } })
			.reply(200, { success: true, data: { id: 7, custom_fields: { [STATUS_KEY]: 12 } } });
		await client.updatePerson(7, {}, { customFields: { [STATUS_KEY]: 'Qualified' } });
		expectValidAgainstSpec(requests);
	});

	it('createDeal: v2 deal with stage_id, pipeline_id, owner_id, value/currency and custom_fields', async () => {
		const { client, requests } = makeClient();
		nock(BASE)
			.get('/api/v2/dealFields')
			.query({ limit: '500' })
			.reply(200, {
				success: true,
				data: [{ field_name: 'Referral code', field_code: DEAL_CODE_KEY, field_type: 'varchar', is_custom_field: true, is_optional_response_field: false }],
				additional_data: { next_cursor: null },
			});
		const expected = {
			title: 'Referral: Ann Example',
			person_id: 7,
			pipeline_id: 1,
			stage_id: 2,
			owner_id: 3,
			value: 1200,
			currency: 'EUR',
			custom_fields: { [DEAL_CODE_KEY]: 'ANN-7Q2X' },
		};
		nock(BASE).post('/api/v2/deals', expected).reply(200, { success: true, data: { id: 42, ...expected, status: 'open' } });
		const deal = await client.createDeal(
			{ title: 'Referral: Ann Example', person_id: 7, pipeline_id: 1, stage_id: 2, owner_id: 3, value: 1200, currency: 'EUR' },
			{ customFields: { 'Referral code': 'ANN-7Q2X' } },
		);
		expect(deal.id).toBe(42);
		expectValidAgainstSpec(requests);
	});

	it('createLead: v1 lead with value {amount, currency}, UUID label ids, origin_id and custom fields as top-level keys', async () => {
		const { client, requests } = makeClient();
		nock(BASE)
			.get('/v1/leadFields')
			.query({ start: '0', limit: '500' })
			.reply(200, {
				success: true,
				data: [
					{ id: 1, key: 'title', name: 'Title', field_type: 'varchar', edit_flag: false },
					{ id: 2, key: DEAL_CODE_KEY, name: 'Referral code', field_type: 'varchar', edit_flag: true },
				],
				additional_data: { pagination: { start: 0, limit: 500, more_items_in_collection: false } },
			});
		const expected = {
			title: 'Referral: Ann Example',
			person_id: 7,
			value: { amount: 1200, currency: 'EUR' },
			label_ids: [LABEL_HOT],
			origin_id: 'referral-ANN-7Q2X',
			visible_to: '3',
			[DEAL_CODE_KEY]: 'ANN-7Q2X',
		};
		nock(BASE)
			.post('/v1/leads', expected)
			.reply(201, { success: true, data: { id: 'adf21080-0e10-11eb-879b-05d71fb426ec', ...expected } });
		const lead = await client.createLead(
			{
				title: 'Referral: Ann Example',
				person_id: 7,
				value: { amount: 1200, currency: 'EUR' },
				label_ids: [LABEL_HOT],
				origin_id: 'referral-ANN-7Q2X',
				visible_to: 3 as never,
			},
			{ customFields: { 'Referral code': 'ANN-7Q2X' } },
		);
		expect(lead.id).toBe('adf21080-0e10-11eb-879b-05d71fb426ec');
		expect(readCustomFieldValue(lead, DEAL_CODE_KEY)).toBe('ANN-7Q2X');
		expectValidAgainstSpec(requests);
	});

	it('updateLead: PATCH /v1/leads/{uuid} with label_ids', async () => {
		const { client, requests } = makeClient();
		const id = 'adf21080-0e10-11eb-879b-05d71fb426ec';
		nock(BASE)
			.patch(`/v1/leads/${id}`, { label_ids: [LABEL_HOT], value: null })
			.reply(200, { success: true, data: { id, label_ids: [LABEL_HOT] } });
		await client.updateLead(id, { label_ids: [LABEL_HOT], value: null });
		expectValidAgainstSpec(requests);
	});

	it('createWebhook: v2 webhook with basic auth; deleteWebhook', async () => {
		const { client, requests } = makeClient();
		const expected = {
			subscription_url: 'https://n8n.example.com/webhook/pipedrive-referrals',
			event_action: 'change',
			event_object: 'deal',
			name: 'n8n referrals: deal changes',
			http_auth_user: 'pd',
			http_auth_password: 's3cret',
			version: '2.0',
		};
		nock(BASE).post('/v1/webhooks', expected).reply(201, { status: 'ok', success: true, data: { id: 9, ...expected, is_active: 1 } });
		nock(BASE).delete('/v1/webhooks/9').reply(200, { status: 'ok', success: true });
		const hook = await client.createWebhook({
			subscription_url: expected.subscription_url,
			event_action: 'change',
			event_object: 'deal',
			name: expected.name,
			http_auth_user: 'pd',
			http_auth_password: 's3cret',
		});
		expect(hook.id).toBe(9);
		await client.deleteWebhook(9);
		expectValidAgainstSpec(requests);
	});

	it('searchPersonsByEmail: exact-match search on the email field, re-checked case-insensitively', async () => {
		const { client, requests } = makeClient();
		nock(BASE)
			.get('/api/v2/persons/search')
			.query({ term: 'Ann@Example.com', fields: 'email', exact_match: 'true', limit: '100' })
			.reply(200, {
				success: true,
				data: {
					items: [
						{ result_score: 1, item: { id: 12, type: 'person', name: 'Ann 2', emails: ['other@example.com', 'ANN@example.com'] } },
						{ result_score: 0.9, item: { id: 5, type: 'person', name: 'Ann', emails: ['ann@example.com'] } },
						{ result_score: 0.5, item: { id: 6, type: 'person', name: 'Annie', emails: ['annie@example.com'] } },
					],
				},
				additional_data: { next_cursor: null },
			});
		const found = await client.searchPersonsByEmail(' Ann@Example.com ');
		expect(found.map((p) => p.id)).toEqual([5, 12]);
		expectValidAgainstSpec(requests);
	});

	it('lists users, filters, lead labels and the current user on their v1 paths', async () => {
		const { client, requests } = makeClient();
		nock(BASE)
			.get('/v1/users/me')
			.reply(200, { success: true, data: { id: 1, company_domain: 'acme' } })
			.get('/v1/users')
			.reply(200, { success: true, data: [{ id: 1 }] })
			.get('/v1/filters')
			.query({ type: 'people' })
			.reply(200, { success: true, data: [{ id: 3, name: 'Referrers', type: 'people' }] })
			.get('/v1/leadLabels')
			.reply(200, { success: true, data: [{ id: LABEL_HOT, name: 'Hot', color: 'red' }] })
			.get('/v1/webhooks')
			.reply(200, { status: 'ok', success: true, data: [] });
		expect((await client.getCurrentUser()).company_domain).toBe('acme');
		expect(await client.listUsers()).toHaveLength(1);
		expect((await client.listFilters('people'))[0].name).toBe('Referrers');
		expect((await client.listLeadLabels())[0].id).toBe(LABEL_HOT);
		expect(await client.listWebhooks()).toEqual([]);
		expectValidAgainstSpec(requests);
	});

	it('the spec check itself catches wrong shapes', () => {
		expect(specProblems({ method: 'POST', url: `${BASE}/v1/leads`, body: { title: 'x', value: 12 } })).not.toEqual([]);
		expect(specProblems({ method: 'POST', url: `${BASE}/api/v2/deals`, body: { person_id: 1 } })).not.toEqual([]);
		expect(specProblems({ method: 'GET', url: `${BASE}/api/v2/persons`, qs: { start: 0 } })).toEqual(['query parameter start is not declared for GET /api/v2/persons']);
		expect(specProblems({ method: 'GET', url: `${BASE}/api/v2/persons/search`, qs: { term: 'a@b.c', fields: 'mail' } })).not.toEqual([]);
	});
});
