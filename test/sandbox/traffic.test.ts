/**
 * "An ordinary day in the CRM" (sandbox/traffic.ts): deterministic for a seed, every kind of change
 * it promises, every stage and label touched, the code field mostly empty, and everything it leaves
 * behind (and every webhook it causes) valid: the API answers for the resulting state validate
 * against the spec, and every delivery is accepted.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEAL_FIELD_KEYS, LEAD_LABEL_IDS, ordinaryDay, type OrdinaryDaySummary, type Sandbox, startSandbox } from '../../sandbox';

let sb: Sandbox;
let receiver: http.Server;
let base: string;
let bodies: any[] = [];

beforeAll(async () => {
	receiver = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
			res.writeHead(200).end();
		});
	});
	await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
	base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
	sb = await startSandbox({ rateLimit: 0, webhookTimeScale: 0.01, webhookTimeoutMs: 5_000 });
});

beforeEach(() => {
	sb.reset();
	bodies = [];
});

afterAll(async () => {
	await sb.close();
	receiver.closeAllConnections();
	await new Promise((r) => receiver.close(r));
});

async function api(path: string): Promise<any> {
	const res = await fetch(sb.url + path, { headers: { 'x-api-token': sb.apiToken } });
	expect(res.status).toBe(200);
	return await res.json();
}

const FOREIGN = ['OTHER-7K2Q', 'NOBODY-1234'];

test('deterministic for a seed: the same summary (and the same company) twice; another seed, another day', async () => {
	const first = await ordinaryDay(sb, { seed: 7, foreignCodes: FOREIGN });
	const deals = sb.state.dealList.map((d) => [d.id, d.stage_id, d.status, d.is_deleted, d.custom[DEAL_FIELD_KEYS.referralCode] ?? null]);
	sb.reset();
	const second = await ordinaryDay(sb, { seed: 7, foreignCodes: FOREIGN });
	expect(second).toEqual(first);
	expect(sb.state.dealList.map((d) => [d.id, d.stage_id, d.status, d.is_deleted, d.custom[DEAL_FIELD_KEYS.referralCode] ?? null])).toEqual(deals);
	sb.reset();
	const other = await ordinaryDay(sb, { seed: 8, foreignCodes: FOREIGN });
	expect(other).not.toEqual(first);
	expect(other.dealsCreated).toBe(300);
});

test('an ordinary day: every kind of change, every stage and label, mostly empty codes; all of it valid against the spec', async () => {
	const hook = await fetch(`${sb.url}/v1/webhooks`, {
		method: 'POST',
		headers: { 'x-api-token': sb.apiToken, 'content-type': 'application/json' },
		body: JSON.stringify({ subscription_url: `${base}/all`, event_action: '*', event_object: '*', name: 'everything' }),
	});
	expect(hook.status).toBe(201);
	const steps: number[] = [];
	const summary: OrdinaryDaySummary = await sb.ordinaryDay({ seed: 42, foreignCodes: FOREIGN, onStep: (i) => void steps.push(i) });
	await sb.waitForWebhooks(60_000);

	expect(summary).toMatchObject({ dealsCreated: 300, personsCreated: 80, leadsCreated: 40 });
	for (const key of ['stageMoves', 'won', 'lost', 'reopened', 'deleted', 'dealEdits', 'personEdits', 'merges', 'leadLabelChanges', 'conversions'] as const) {
		expect(summary[key]).toBeGreaterThan(0);
	}
	expect(summary.stageMoves).toBeGreaterThan(summary.dealsCreated);
	expect(summary.won).toBeGreaterThan(summary.lost / 2);
	expect(steps).toEqual(Array.from({ length: summary.steps }, (_, i) => i + 1));

	// The code field: empty for most, whitespace / garbage / foreign codes for the rest.
	const codes = summary.codes;
	const total = codes.empty + codes.whitespace + codes.garbage + codes.foreign;
	expect(codes.empty / total).toBeGreaterThan(0.6);
	expect(codes.empty / total).toBeLessThan(0.8);
	for (const kind of ['whitespace', 'garbage', 'foreign'] as const) expect(codes[kind]).toBeGreaterThan(0);
	const values = [...sb.state.dealList.map((d) => d.custom[DEAL_FIELD_KEYS.referralCode]), ...bodies.map((b) => b.data?.custom_fields?.[DEAL_FIELD_KEYS.referralCode]?.value)]
		.filter((v): v is string => typeof v === 'string');
	expect(values.some((v) => v.trim() === '')).toBe(true);
	expect(values.some((v) => FOREIGN.includes(v))).toBe(true);
	expect(values.some((v) => v.length === 300)).toBe(true);

	// Deliveries: one per event, all accepted; dealChanges is the number of deal events.
	const deliveries = sb.deliveries();
	expect(deliveries.every((d) => d.state === 'delivered')).toBe(true);
	expect(bodies.filter((b) => b.meta.entity === 'deal')).toHaveLength(summary.dealChanges);
	const kinds = new Set(bodies.map((b) => `${b.meta.action}.${b.meta.entity}`));
	expect([...kinds].sort()).toEqual(['change.deal', 'change.lead', 'change.person', 'create.deal', 'create.lead', 'create.person', 'delete.deal', 'delete.lead', 'delete.person']);
	expect(bodies.filter((b) => b.meta.merged_to_id)).toHaveLength(summary.merges);
	expect(bodies.filter((b) => b.meta.merged_from_id)).toHaveLength(summary.merges);
	expect(bodies.filter((b) => b.meta.action === 'create' && b.meta.entity === 'deal')).toHaveLength(summary.dealsCreated + summary.conversions);

	// Every stage of both pipelines was entered, every lead label was set.
	const stages = new Set(bodies.filter((b) => b.meta.entity === 'deal' && b.data).map((b) => b.data.stage_id));
	expect([...stages].sort((a, b) => a - b)).toEqual(sb.state.stages.map((s) => s.id));
	const labels = new Set(bodies.filter((b) => b.meta.entity === 'lead' && b.data).flatMap((b) => b.data.label_ids));
	expect([...labels].sort()).toEqual(Object.values(LEAD_LABEL_IDS).sort());
	// Won deals were won from an open deal; reopened ones came back from lost; some won ones were lost later.
	const statusMoves = new Set(bodies.filter((b) => b.meta.entity === 'deal' && b.meta.action === 'change' && b.previous?.status).map((b) => `${b.previous.status}->${b.data?.status}`));
	expect([...statusMoves].sort()).toEqual(['lost->open', 'open->lost', 'open->won', 'won->lost']);

	// What the day left behind reads back valid: every page of deals, persons and leads.
	for (const path of ['/api/v2/deals?limit=500', '/api/v2/persons?limit=500']) {
		let cursor: string | undefined;
		do {
			const page = await api(`${path}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
			cursor = page.additional_data?.next_cursor ?? undefined;
		} while (cursor);
	}
	await api('/v1/leads?limit=500');
	await api(`/api/v2/deals?status=won&limit=500`);
	await api(`/api/v2/deals?status=lost&limit=500`);
	expect(sb.state.violations).toEqual([]);
});

test('pace: a delay or a callback between changes (to interleave real traffic); small days work', async () => {
	let calls = 0;
	const summary = await ordinaryDay(sb, {
		seed: 3,
		deals: 5,
		persons: 4,
		leads: 2,
		pace: async () => {
			calls++;
			await Promise.resolve();
		},
	});
	expect(calls).toBe(summary.steps);
	expect(summary).toMatchObject({ dealsCreated: 5, personsCreated: 4, leadsCreated: 2 });
	const started = Date.now();
	const timed = await ordinaryDay(sb, { seed: 4, deals: 2, persons: 1, leads: 0, pace: 5 });
	expect(Date.now() - started).toBeGreaterThanOrEqual(timed.steps * 4);
	const empty = await ordinaryDay(sb, { deals: 0, persons: 0, leads: 0 });
	expect(empty.steps).toBe(0);
	// Through the admin API too.
	const res = await fetch(`${sb.url}/__admin/traffic/ordinary-day`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ seed: 5, deals: 3, persons: 2, leads: 1 }),
	});
	expect(res.status).toBe(200);
	expect(((await res.json()) as any).data).toMatchObject({ dealsCreated: 3, personsCreated: 2, leadsCreated: 1 });
});
