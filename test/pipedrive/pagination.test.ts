import { paginateCursor, paginateOffset } from '../../lib/pipedrive';
import { BASE, TOKEN, expectValidAgainstSpec, makeClient, nock, useNock } from './helpers';

useNock();

const person = (id: number) => ({ id, name: `P${id}`, emails: [{ value: `p${id}@x.test`, primary: true, label: 'work' }] });

describe('v2 cursor pagination', () => {
	it('streams persons page by page with filter_id, updated_since, limit and cursor', async () => {
		const { client, requests } = makeClient();
		const api = () => nock(BASE, { reqheaders: { 'x-api-token': TOKEN } });
		const page1 = api()
			.get('/api/v2/persons')
			.query({ filter_id: '7', updated_since: '2025-01-01T10:20:00Z', limit: '500' })
			.reply(200, { success: true, data: [person(1), person(2)], additional_data: { next_cursor: 'c2' } });
		const page2 = api()
			.get('/api/v2/persons')
			.query({ filter_id: '7', updated_since: '2025-01-01T10:20:00Z', limit: '500', cursor: 'c2' })
			.reply(200, { success: true, data: [person(3)], additional_data: { next_cursor: 'c3' } });
		const page3 = api()
			.get('/api/v2/persons')
			.query({ filter_id: '7', updated_since: '2025-01-01T10:20:00Z', limit: '500', cursor: 'c3' })
			.reply(200, { success: true, data: [person(4)], additional_data: { next_cursor: null } });

		const gen = client.iteratePersons({ filterId: 7, updatedSince: new Date('2025-01-01T10:20:00.000Z') });
		const first = await gen.next();
		expect((first.value as Array<{ id: number }>).map((p) => p.id)).toEqual([1, 2]);
		// Streaming: the next page is fetched only when asked for.
		expect(page1.isDone()).toBe(true);
		expect(page2.isDone()).toBe(false);
		const rest: number[] = [];
		for await (const page of gen) rest.push(...page.map((p) => p.id));
		expect(rest).toEqual([3, 4]);
		expect(page3.isDone()).toBe(true);
		expectValidAgainstSpec(requests);
	});

	it('clamps the page size to 500', async () => {
		const { client, requests } = makeClient();
		nock(BASE).get('/api/v2/persons').query({ limit: '500' }).reply(200, { success: true, data: [], additional_data: { next_cursor: null } });
		const pages = [];
		for await (const page of client.iteratePersons({ pageSize: 5000 })) pages.push(page);
		expect(pages).toEqual([]);
		expect(requests[0].qs).toEqual({ limit: 500 });
	});

	it('refuses a cursor that repeats', async () => {
		const gen = paginateCursor<number>(async () => ({ data: [1], additional_data: { next_cursor: 'same' } }));
		await expect(async () => {
			for await (const _ of gen) void _;
		}).rejects.toThrow(/same pagination cursor twice/);
	});
});

describe('v1 offset pagination', () => {
	it('follows start/limit while more_items_in_collection, for lead fields, and caches them per client', async () => {
		const { client, requests } = makeClient();
		const api = nock(BASE);
		api
			.get('/v1/leadFields')
			.query({ start: '0', limit: '500' })
			.reply(200, {
				success: true,
				data: [
					{ id: 1, key: 'title', name: 'Title', field_type: 'varchar', edit_flag: false },
					{ id: 2, key: '9dc80c50d78a15643bfc4ca79d76156a73a1ca0e', name: 'Customer Type', field_type: 'enum', edit_flag: true, options: [{ id: 190, label: 'Private person' }] },
				],
				additional_data: { pagination: { start: 0, limit: 500, more_items_in_collection: true, next_start: 500 } },
			});
		api
			.get('/v1/leadFields')
			.query({ start: '500', limit: '500' })
			.reply(200, {
				success: true,
				data: [{ id: 3, key: 'a'.repeat(40), name: 'Referral code', field_type: 'varchar', edit_flag: true }],
				additional_data: { pagination: { start: 500, limit: 500, more_items_in_collection: false } },
			});

		const fields = await client.listLeadFields();
		expect(fields.map((f) => [f.key, f.name, f.isCustom])).toEqual([
			['title', 'Title', false],
			['9dc80c50d78a15643bfc4ca79d76156a73a1ca0e', 'Customer Type', true],
			['a'.repeat(40), 'Referral code', true],
		]);
		// Cached: a second call does not hit Pipedrive again (nock would throw on an unmatched request).
		expect(await client.listLeadFields()).toBe(fields);
		expect(requests).toHaveLength(2);
		expectValidAgainstSpec(requests);
	});

	it('uses start + items when next_start is absent', async () => {
		const starts: number[] = [];
		const gen = paginateOffset<number>(async (start) => {
			starts.push(start);
			return start === 0
				? { data: [1, 2], additional_data: { pagination: { more_items_in_collection: true } } }
				: { data: [3], additional_data: { pagination: { more_items_in_collection: false } } };
		});
		const all: number[] = [];
		for await (const page of gen) all.push(...page);
		expect(all).toEqual([1, 2, 3]);
		expect(starts).toEqual([0, 2]);
	});
});

describe('cached lists', () => {
	it('fetches pipelines, stages per pipeline and person fields once per client', async () => {
		const { client, requests } = makeClient();
		const api = nock(BASE);
		api.get('/api/v2/pipelines').query({ limit: '500' }).reply(200, { success: true, data: [{ id: 1, name: 'Sales' }], additional_data: { next_cursor: null } });
		api
			.get('/api/v2/stages')
			.query({ pipeline_id: '1', limit: '500' })
			.reply(200, { success: true, data: [{ id: 10, name: 'Qualified', pipeline_id: 1 }], additional_data: { next_cursor: null } });
		api
			.get('/api/v2/personFields')
			.query({ limit: '500' })
			.reply(200, {
				success: true,
				data: [{ field_name: 'Referral code', field_code: 'b'.repeat(40), field_type: 'varchar', is_custom_field: true, is_optional_response_field: false }],
				additional_data: { next_cursor: null },
			});
		const [p1, p2] = await Promise.all([client.listPipelines(), client.listPipelines()]);
		expect(p1).toBe(p2);
		expect(await client.listStages(1)).toEqual([{ id: 10, name: 'Qualified', pipeline_id: 1 }]);
		expect(await client.listStages(1)).toHaveLength(1);
		expect((await client.fieldsCache.resolve('person', 'referral CODE')).key).toBe('b'.repeat(40));
		expect((await client.listPersonFields()).length).toBe(1);
		expect(requests).toHaveLength(3);
		expectValidAgainstSpec(requests);
	});
});
