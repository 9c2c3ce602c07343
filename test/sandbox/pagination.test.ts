/**
 * Cursor pagination (API v2 persons) and offset pagination (v1 leads) across 1,200 records,
 * plus bulk seeding for benchmarks.
 */
import { FILTER_IDS, type Sandbox, startSandbox } from '../../sandbox';

let sb: Sandbox;

async function get(path: string): Promise<any> {
	const res = await fetch(sb.url + path, { headers: { 'x-api-token': sb.apiToken } });
	expect(res.status).toBe(200);
	return res.json();
}

async function allPersons(query: string): Promise<{ ids: number[]; pages: number; items: any[] }> {
	const items: any[] = [];
	let cursor: string | undefined;
	let pages = 0;
	do {
		const json = await get(`/api/v2/persons?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
		items.push(...json.data);
		cursor = json.additional_data.next_cursor;
		pages++;
	} while (cursor);
	return { ids: items.map((p) => p.id), pages, items };
}

beforeAll(async () => {
	sb = await startSandbox({ rateLimit: 0, seed: { extraPersons: 1200, extraLeads: 1200 } });
});

afterAll(async () => {
	await sb.close();
});

afterEach(() => {
	expect(sb.state.violations).toEqual([]);
});

test('cursor pagination over 1,220 persons, default order (id asc), limit 500', async () => {
	const { ids, pages } = await allPersons('limit=500');
	expect(pages).toBe(3);
	expect(ids).toHaveLength(1220);
	expect(ids).toEqual([...ids].sort((a, b) => a - b));
	expect(new Set(ids).size).toBe(1220);
});

test('cursor pagination with sort_by=update_time desc, default limit 100', async () => {
	const { ids, pages, items } = await allPersons('sort_by=update_time&sort_direction=desc');
	expect(pages).toBe(13);
	expect(new Set(ids).size).toBe(1220);
	const times = items.map((p) => Date.parse(p.update_time));
	for (let i = 1; i < times.length; i++) expect(times[i]).toBeLessThanOrEqual(times[i - 1]);
});

test('the cursor stays valid while records are added (no duplicates, no gaps)', async () => {
	const first = await get('/api/v2/persons?limit=300');
	await fetch(`${sb.url}/api/v2/persons`, {
		method: 'POST',
		headers: { 'x-api-token': sb.apiToken, 'content-type': 'application/json' },
		body: JSON.stringify({ name: 'Late Arrival', emails: [{ value: 'late@example.com' }] }),
	});
	const ids: number[] = first.data.map((p: any) => p.id);
	let cursor = first.additional_data.next_cursor;
	while (cursor) {
		const json = await get(`/api/v2/persons?limit=300&cursor=${cursor}`);
		ids.push(...json.data.map((p: any) => p.id));
		cursor = json.additional_data.next_cursor;
	}
	expect(ids).toHaveLength(1221);
	expect(new Set(ids).size).toBe(1221);
});

test('filter_id and updated_since narrow the cursor walk', async () => {
	const withEmail = await allPersons(`filter_id=${FILTER_IDS.personsWithEmail}&limit=500`);
	const expected = sb.state.personList.filter((p) => p.emails.length > 0).map((p) => p.id);
	expect(withEmail.ids).toEqual(expected);
	expect(withEmail.ids.length).toBeLessThan(1221);
	const cut = sb.state.personList[1000].update_time;
	const since = await allPersons(`updated_since=${encodeURIComponent(new Date(cut).toISOString())}&limit=200`);
	expect(since.ids).toEqual(sb.state.personList.filter((p) => p.update_time >= cut).map((p) => p.id));
});

test('a cursor from a different sort order is rejected', async () => {
	const first = await get('/api/v2/persons?limit=10');
	const res = await fetch(`${sb.url}/api/v2/persons?sort_by=add_time&cursor=${first.additional_data.next_cursor}`, { headers: { 'x-api-token': sb.apiToken } });
	expect(res.status).toBe(400);
});

test('offset pagination over 1,203 leads (v1 start/limit)', async () => {
	const ids: string[] = [];
	let start = 0;
	let pages = 0;
	for (;;) {
		const json = await get(`/v1/leads?start=${start}&limit=500`);
		ids.push(...json.data.map((l: any) => l.id));
		pages++;
		expect(json.additional_data.start).toBe(start);
		if (!json.additional_data.more_items_in_collection) break;
		expect(json.additional_data.pagination.next_start).toBe(start + 500);
		start = json.additional_data.pagination.next_start;
	}
	expect(pages).toBe(3);
	expect(ids).toHaveLength(1203);
	expect(new Set(ids).size).toBe(1203);
});

test('bulk seeding is fast and lean enough for 50,000 persons', async () => {
	const big = await startSandbox({ rateLimit: 0 });
	try {
		const t0 = Date.now();
		big.seedPersons(50000);
		expect(Date.now() - t0).toBeLessThan(1500);
		const t1 = Date.now();
		const res = await fetch(`${big.url}/api/v2/persons?limit=500&sort_by=update_time&sort_direction=desc`, { headers: { 'x-api-token': big.apiToken } });
		const json: any = await res.json();
		expect(json.data).toHaveLength(500);
		const search = await fetch(`${big.url}/api/v2/persons/search?term=person49999%40bulk.example&fields=email&exact_match=true`, {
			headers: { 'x-api-token': big.apiToken },
		});
		const found: any = await search.json();
		expect(found.data.items.map((i: any) => i.item.id)).toEqual([49999]);
		expect(Date.now() - t1).toBeLessThan(3000);
		expect(big.state.violations).toEqual([]);
	} finally {
		await big.close();
	}
});
