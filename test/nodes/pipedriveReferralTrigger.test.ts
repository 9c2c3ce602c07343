/**
 * Pipedrive Referral Trigger, through n8n-core's real WebhookContext / HookContext (test/helpers/n8n)
 * and the Pipedrive sandbox:
 *  - deliveries captured from the sandbox as Pipedrive sends them (v2 and v1, basic auth, retries
 *    with meta.attempt, duplicates), fed to `webhook()`: every event kind, non-matching events,
 *    wrong/missing auth (401), non-webhook bodies (400), deals without a code;
 *  - activation / checkExists / deactivation against the sandbox's /v1/webhooks;
 *  - end to end: the sandbox delivers to a local server that hands each request to the trigger.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ICredentialDataDecryptedObject, IDataObject, INodeParameters } from 'n8n-workflow';

import { PipedriveReferralApi } from '../../credentials/PipedriveReferralApi.credentials';
import { ReferralStoreApi } from '../../credentials/ReferralStoreApi.credentials';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { QualifyWithCode } from '../../nodes/QualifyWithCode/QualifyWithCode.node';
import { PipedriveReferralTrigger } from '../../nodes/PipedriveReferralTrigger/PipedriveReferralTrigger.node';
import { DEAL_FIELD_KEYS, LEAD_LABEL_IDS, PERSON_FIELD_KEYS, type Sandbox, startSandbox } from '../../sandbox';
import { loadOptions, runWebhook, runWebhookMethods, runWorkflow, type WebhookResult, type WorkflowJson } from '../helpers/n8n';

const CODE_FIELD = DEAL_FIELD_KEYS.referralCode;
const PASSWORD = 'test-password-0123456789-abcdefghijklmnop';
const NODE_KEY = 'node:Node';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

interface Received {
	path: string;
	auth: string | undefined;
	body: any;
}

let sandbox: Sandbox;
let server: http.Server;
let base: string;
let received: Received[] = [];
/** Per capture path: statuses to answer in order (then 200). */
const script = new Map<string, number[]>();
/** What the forwarding endpoint (/n8n/...) hands each delivery to. */
let forward: ((req: { headers: Record<string, string>; body: unknown }) => Promise<{ status: number; body: string }>) | null = null;

let credentials: ICredentialDataDecryptedObject;

beforeAll(async () => {
	server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (c: Buffer) => chunks.push(c));
		req.on('end', () => {
			const path = req.url ?? '/';
			const text = Buffer.concat(chunks).toString('utf8');
			if (path.startsWith('/n8n/')) {
				const headers: Record<string, string> = {};
				for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
				const handler = forward;
				if (!handler) return void res.writeHead(503).end();
				handler({ headers, body: JSON.parse(text) })
					.then(({ status, body }) => res.writeHead(status, { 'content-type': 'application/json' }).end(body))
					.catch(() => res.writeHead(500).end());
				return;
			}
			received.push({ path, auth: req.headers.authorization, body: JSON.parse(text) });
			res.writeHead(script.get(path)?.shift() ?? 200).end();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	// Retries after 3 s / 30 s / 150 s become 3 / 30 / 150 ms; a slow first n8n call must not time out.
	sandbox = await startSandbox({ rateLimit: 0, webhookTimeScale: 0.001, webhookTimeoutMs: 10_000 });
	credentials = { apiToken: sandbox.apiToken, companyDomain: 'referral-sandbox', baseUrl: sandbox.url };
});

afterAll(async () => {
	await sandbox.close();
	server.closeAllConnections();
	await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
	sandbox.reset();
	sandbox.clearViolations();
	received = [];
	script.clear();
	forward = null;
});

afterEach(() => {
	expect(sandbox.violations()).toEqual([]);
});

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

async function api(method: string, path: string, body?: unknown): Promise<any> {
	const res = await fetch(sandbox.url + path, {
		method,
		headers: { 'x-api-token': sandbox.apiToken, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
		body: body !== undefined ? JSON.stringify(body) : undefined,
	});
	const json: any = await res.json();
	if (res.status >= 300) throw new Error(`${method} ${path} -> ${res.status} ${JSON.stringify(json)}`);
	return json;
}

/** Webhooks for every event to /v2 (payload 2.0) and /v1 (payload 1.0), as a Pipedrive admin would add them. */
async function captureEverything(): Promise<void> {
	for (const version of ['2.0', '1.0']) {
		await api('POST', '/v1/webhooks', {
			subscription_url: `${base}/v${version[0]}`,
			event_action: '*',
			event_object: '*',
			name: `capture ${version}`,
			http_auth_user: 'n8n',
			http_auth_password: PASSWORD,
			version,
		});
	}
}

/** Runs `action` in the sandbox and returns the deliveries it caused, v2 and v1. */
async function deliveriesOf(action: () => unknown): Promise<{ v2: any[]; v1: any[] }> {
	const from = received.length;
	await action();
	await sandbox.waitForWebhooks();
	const got = received.slice(from);
	return { v2: got.filter((r) => r.path === '/v2').map((r) => r.body), v1: got.filter((r) => r.path === '/v1').map((r) => r.body) };
}

const one = <T>(list: T[], what = 'delivery'): T => {
	if (list.length !== 1) throw new Error(`expected one ${what}, got ${list.length}`);
	return list[0];
};

const storedAuth = (): IDataObject => ({ [NODE_KEY]: { httpAuthUser: 'n8n', httpAuthPassword: PASSWORD, webhooks: [] } });

async function deliver(
	body: unknown,
	parameters: INodeParameters,
	options: { authorization?: string | null; staticData?: IDataObject; apiToken?: string } = {},
): Promise<WebhookResult> {
	const authorization = options.authorization === undefined ? basic('n8n', PASSWORD) : options.authorization;
	return await runWebhook({
		nodeType: new PipedriveReferralTrigger(),
		credentials: { pipedriveReferralApi: { ...credentials, ...(options.apiToken ? { apiToken: options.apiToken } : {}) } },
		credentialTypes: [new PipedriveReferralApi()],
		// These tests are about which events become which items, null codes included: every matching
		// event starts the workflow (the node's default filter on the code is another file's tests).
		parameters: { startFor: 'all', ...parameters },
		staticData: options.staticData ?? storedAuth(),
		request: { method: 'POST', headers: authorization === null ? {} : { authorization }, body },
	});
}

const itemsOf = (result: WebhookResult) => (result.workflowData?.[0] ?? []).map((item) => item.json);

function expectNoExecution(result: WebhookResult, status: number): void {
	expect(result.workflowData).toBeUndefined();
	expect(result.statusCode).toBe(status);
}

const stageParams = (stageIds: number[], extra: INodeParameters = {}): INodeParameters => ({
	events: ['dealEnteredStage'],
	pipelineId: 2,
	stageIds,
	codeField: CODE_FIELD,
	...extra,
});

const isoOf = (v2: any) => new Date(v2.meta.timestamp).toISOString();

// ---------------------------------------------------------------------------------------
// Deliveries as Pipedrive sends them
// ---------------------------------------------------------------------------------------

describe('deliveries (captured from the sandbox, v2 and v1)', () => {
	beforeEach(async () => {
		await captureEverything();
	});

	it('deal entered a chosen stage: one item with the referral code; other stages and the create in another stage start nothing', async () => {
		const created = await deliveriesOf(() =>
			sandbox.createDeal({ title: 'Referral: Zoe', person_id: 1, stage_id: 6, value: 1500, currency: 'EUR', custom_fields: { [CODE_FIELD]: 'ANNA-7K2Q' } }),
		);
		const dealId = one(created.v2).meta.entity_id as string;
		const moved = await deliveriesOf(() => sandbox.moveDealToStage(Number(dealId), 8));
		const elsewhere = await deliveriesOf(() => sandbox.moveDealToStage(Number(dealId), 7));

		sandbox.clearRequests();
		const v2 = one(moved.v2);
		const result = await deliver(v2, stageParams([8]));
		expect(result.statusCode).toBe(200);
		expect(result.noWebhookResponse).toBeUndefined();
		expect(itemsOf(result)).toEqual([
			{
				event: 'dealEnteredStage',
				entity: 'deal',
				entityId: Number(dealId),
				eventId: v2.meta.id,
				attempt: 1,
				referralCode: 'ANNA-7K2Q',
				stageId: 8,
				previousStageId: 6,
				pipelineId: 2,
				status: 'open',
				previousStatus: null,
				value: 1500,
				currency: 'EUR',
				personId: 1,
				leadId: null,
				dealId: Number(dealId),
				labelIds: null,
				mergedFromId: null,
				transitionKey: `pipedrive:deal:${Number(dealId)}:stage:8`,
				time: isoOf(v2),
			},
		]);
		// The code was in the payload ({type, value}): no Pipedrive call.
		expect(sandbox.requests()).toEqual([]);

		// The v1 payload of the same change gives the same item (its own event id).
		const v1 = one(moved.v1);
		expect(v1).toMatchObject({ v: 1, event: 'updated.deal' });
		const [fromV1] = itemsOf(await deliver(v1, stageParams([8])));
		expect(fromV1).toEqual({ ...itemsOf(result)[0], eventId: expect.stringMatching(/^v1:updated\.deal:/), time: expect.any(String) });

		// Created in stage 6, moved to 7: not the chosen stage 8.
		for (const body of [one(created.v2), one(created.v1), one(elsewhere.v2), one(elsewhere.v1)]) {
			const none = await deliver(body, stageParams([8]));
			expectNoExecution(none, 200);
			expect(none.webhookResponse).toEqual({ received: true });
		}
		// No stage chosen: any stage of the pipeline; a deal created in a chosen stage entered it too.
		expect(itemsOf(await deliver(one(elsewhere.v2), stageParams([])))).toMatchObject([{ event: 'dealEnteredStage', stageId: 7, previousStageId: 8 }]);
		expect(itemsOf(await deliver(one(created.v2), stageParams([6])))).toMatchObject([
			{ event: 'dealEnteredStage', stageId: 6, previousStageId: null, referralCode: 'ANNA-7K2Q' },
		]);
		expectNoExecution(await deliver(one(elsewhere.v2), stageParams([], { pipelineId: 1 })), 200);
	});

	it('deal won and deal lost, v2 and v1; a status change nobody chose starts nothing', async () => {
		const deal = sandbox.createDeal({ title: 'Won one', person_id: 2, stage_id: 7, value: 900, custom_fields: { [CODE_FIELD]: 'BEN-4M8X' } });
		const other = sandbox.createDeal({ title: 'Lost one', person_id: 3, stage_id: 6, value: 300 });
		await sandbox.waitForWebhooks();
		const won = await deliveriesOf(() => sandbox.markDealWon(deal.id as number));
		const lost = await deliveriesOf(() => sandbox.markDealLost(other.id as number, 'Too expensive'));
		const params = { events: ['dealWon', 'dealLost'], codeField: CODE_FIELD };

		for (const body of [one(won.v2), one(won.v1)]) {
			expect(itemsOf(await deliver(body, params))).toEqual([
				expect.objectContaining({
					event: 'dealWon',
					entity: 'deal',
					dealId: deal.id,
					referralCode: 'BEN-4M8X',
					status: 'won',
					previousStatus: 'open',
					stageId: 7,
					previousStageId: null,
					pipelineId: 2,
					value: 900,
					personId: 2,
				}),
			]);
		}
		for (const body of [one(lost.v2), one(lost.v1)]) {
			// A deal without a referral code: the item says so with null.
			expect(itemsOf(await deliver(body, params))).toEqual([
				expect.objectContaining({ event: 'dealLost', dealId: other.id, referralCode: null, status: 'lost', previousStatus: 'open' }),
			]);
		}
		expectNoExecution(await deliver(one(won.v2), { events: ['dealLost'], codeField: CODE_FIELD }), 200);
		expectNoExecution(await deliver(one(lost.v2), { events: ['dealWon', 'dealEnteredStage'], pipelineId: 2, codeField: CODE_FIELD }), 200);
	});

	it('a deal with no referral code gives referralCode null: no Pipedrive call for a v2 (sparse) delivery, a look-up for a v1 one without the field', async () => {
		const deal = sandbox.createDeal({ title: 'No code', person_id: 4, stage_id: 6 });
		await sandbox.waitForWebhooks();
		const moved = await deliveriesOf(() => sandbox.moveDealToStage(deal.id as number, 9));
		const v2 = one(moved.v2);
		// Sparse, as Pipedrive's examples show: a field without a value is not in data.custom_fields.
		expect(v2.data.custom_fields).toEqual({});
		sandbox.clearRequests();
		expect(itemsOf(await deliver(v2, stageParams([9])))).toEqual([
			expect.objectContaining({ event: 'dealEnteredStage', referralCode: null, dealId: deal.id }),
		]);
		expect(sandbox.requests()).toEqual([]);
		// Without a code field chosen, the code is null too.
		expect(itemsOf(await deliver(v2, stageParams([9], { codeField: '' })))).toEqual([expect.objectContaining({ referralCode: null })]);

		// v1 carries custom fields as top-level keys (the sandbox sends every field, null when unset):
		// null there is "no value", no call either.
		const v1 = one(moved.v1);
		expect(v1.current[CODE_FIELD]).toBeNull();
		expect(itemsOf(await deliver(v1, stageParams([9])))).toEqual([expect.objectContaining({ referralCode: null })]);
		expect(sandbox.requests()).toEqual([]);
		// A v1 object without the key: the v1 docs do not promise every field, so the deal is looked up.
		const v1Without = JSON.parse(JSON.stringify(v1));
		delete v1Without.current[CODE_FIELD];
		expect(itemsOf(await deliver(v1Without, stageParams([9])))).toEqual([expect.objectContaining({ referralCode: null, dealId: deal.id })]);
		expect(sandbox.requests().map((r) => `${r.method} ${r.path}`)).toEqual([`GET /api/v2/deals/${deal.id}`]);
	});

	it('takes the code field by name: one field lookup, then remembered for later deliveries', async () => {
		const deal = sandbox.createDeal({ title: 'Named field', person_id: 6, stage_id: 6, custom_fields: { [CODE_FIELD]: 'HAL-3K7W' } });
		await sandbox.waitForWebhooks();
		const moved = await deliveriesOf(() => sandbox.moveDealToStage(deal.id as number, 8));
		sandbox.clearRequests();
		const byName = stageParams([8], { codeField: 'Referral code' });
		expect(itemsOf(await deliver(one(moved.v2), byName))).toEqual([expect.objectContaining({ referralCode: 'HAL-3K7W' })]);
		expect(itemsOf(await deliver(one(moved.v1), byName))).toEqual([expect.objectContaining({ referralCode: 'HAL-3K7W' })]);
		expect(sandbox.requests().map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api/v2/dealFields']);

		// A name that is no field: 500 (Pipedrive retries) and an error that names the field.
		const wrong = deliver(one(moved.v2), stageParams([8], { codeField: 'Referal kode' }));
		await expect(wrong).rejects.toThrow(/No deal field with key or name "Referal kode"/);
	});

	it('reads the code from Pipedrive, once, only when the payload cannot tell (no custom_fields object)', async () => {
		const deal = sandbox.createDeal({ title: 'Trimmed payload', person_id: 5, stage_id: 6, custom_fields: { [CODE_FIELD]: 'GUS-9P3D' } });
		await sandbox.waitForWebhooks();
		const moved = await deliveriesOf(() => sandbox.moveDealToStage(deal.id as number, 8));
		const body = one(moved.v2);
		expect(body.data.custom_fields[CODE_FIELD]).toEqual({ type: 'varchar', value: 'GUS-9P3D' });

		// A v2 custom_fields object without the key: Pipedrive lists only set fields, so no value, no call.
		const sparse = JSON.parse(JSON.stringify(body));
		delete sparse.data.custom_fields[CODE_FIELD];
		sandbox.clearRequests();
		expect(itemsOf(await deliver(sparse, stageParams([8])))).toEqual([expect.objectContaining({ referralCode: null })]);
		expect(sandbox.requests()).toEqual([]);

		// No custom_fields object at all: the payload cannot tell, the deal is read (once).
		const bare = JSON.parse(JSON.stringify(body));
		delete bare.data.custom_fields;
		expect(itemsOf(await deliver(bare, stageParams([8])))).toEqual([expect.objectContaining({ referralCode: 'GUS-9P3D' })]);
		expect(sandbox.requests().map((r) => `${r.method} ${r.path}`)).toEqual([`GET /api/v2/deals/${deal.id}`]);

		// Plain custom field values (no {type, value} wrapper) are read as they are.
		body.data.custom_fields[CODE_FIELD] = 'PLAIN-1';
		sandbox.clearRequests();
		expect(itemsOf(await deliver(body, stageParams([8])))).toEqual([expect.objectContaining({ referralCode: 'PLAIN-1' })]);
		expect(sandbox.requests()).toEqual([]);
	});

	it('the other custom-field formats of the sandbox (typed: every field, null when unset; plain) read the same', async () => {
		const deal = sandbox.createDeal({ title: 'Formats', person_id: 5, stage_id: 6, custom_fields: { [CODE_FIELD]: ' FMT-1 ' } });
		const bare = sandbox.createDeal({ title: 'Formats, no code', person_id: 5, stage_id: 6 });
		await sandbox.waitForWebhooks();
		try {
			for (const format of ['typed', 'plain'] as const) {
				sandbox.webhooks.options.customFieldFormat = format;
				const moved = await deliveriesOf(() => {
					sandbox.moveDealToStage(deal.id as number, format === 'typed' ? 8 : 9);
					sandbox.moveDealToStage(bare.id as number, format === 'typed' ? 8 : 9);
				});
				const [withCode, without] = moved.v2;
				expect(without.data.custom_fields[CODE_FIELD]).toBeNull();
				sandbox.clearRequests();
				expect(itemsOf(await deliver(withCode, stageParams([]))).map((i) => i.referralCode)).toEqual(['FMT-1']);
				expect(itemsOf(await deliver(without, stageParams([]))).map((i) => i.referralCode)).toEqual([null]);
				expect(sandbox.requests()).toEqual([]);
			}
		} finally {
			sandbox.webhooks.options.customFieldFormat = 'sparse';
		}
	});

	it('lead labelled: only when a chosen label is added, with the lead code; v1 has no lead events', async () => {
		const created = await deliveriesOf(() =>
			sandbox.createLead({ title: 'Referral lead', person_id: 6, value: { amount: 700, currency: 'EUR' }, custom: { [CODE_FIELD]: 'LEAD-CODE-1' } }),
		);
		const leadId = one(created.v2).meta.entity_id as string;
		const hot = await deliveriesOf(() => sandbox.setLeadLabels(leadId, ['Hot']));
		const referral = await deliveriesOf(() => sandbox.setLeadLabels(leadId, ['Hot', 'Referral']));
		expect(hot.v1).toEqual([]);
		const params = { events: ['leadLabelled'], labelIds: [LEAD_LABEL_IDS.referral], codeField: CODE_FIELD };

		expectNoExecution(await deliver(one(created.v2), params), 200);
		expectNoExecution(await deliver(one(hot.v2), params), 200);
		const v2 = one(referral.v2);
		sandbox.clearRequests();
		expect(itemsOf(await deliver(v2, params))).toEqual([
			{
				event: 'leadLabelled',
				entity: 'lead',
				entityId: leadId,
				eventId: v2.meta.id,
				attempt: 1,
				referralCode: 'LEAD-CODE-1',
				stageId: null,
				previousStageId: null,
				pipelineId: null,
				status: null,
				previousStatus: null,
				value: 700,
				currency: 'EUR',
				personId: 6,
				leadId,
				dealId: null,
				labelIds: [LEAD_LABEL_IDS.referral],
				mergedFromId: null,
				transitionKey: `pipedrive:lead:${String(leadId).toLowerCase()}:label:${LEAD_LABEL_IDS.referral.toLowerCase()}`,
				time: isoOf(v2),
			},
		]);
		expect(sandbox.requests()).toEqual([]);
		// No label chosen: any added label.
		expect(itemsOf(await deliver(one(hot.v2), { ...params, labelIds: [] }))).toMatchObject([{ event: 'leadLabelled', labelIds: [LEAD_LABEL_IDS.hot] }]);
		// A new lead that already has a chosen label.
		const labelled = await deliveriesOf(() => sandbox.createLead({ title: 'Born referral', person_id: 7, label_names: ['Referral'] }));
		expect(itemsOf(await deliver(one(labelled.v2), params))).toMatchObject([{ event: 'leadLabelled', referralCode: null, value: null }]);
	});

	it('lead converted to a deal: create.deal + source_lead_id; delete.lead and plain new deals start nothing', async () => {
		const lead = sandbox.createLead({ title: 'Convert me', person_id: 8, value: { amount: 2500, currency: 'USD' }, custom: { [CODE_FIELD]: 'CONV-42' } });
		await sandbox.waitForWebhooks();
		const converted = await deliveriesOf(() => sandbox.convertLead(lead.id as string, { stage_id: 8 }));
		expect(converted.v2.map((b) => `${b.meta.action}.${b.meta.entity}`)).toEqual(['create.deal', 'delete.lead']);
		const [dealCreate, leadDelete] = converted.v2;
		expect(dealCreate.meta.correlation_id).toBe(leadDelete.meta.correlation_id);
		const dealId = Number(dealCreate.meta.entity_id);
		const params = { events: ['leadConverted'], codeField: CODE_FIELD };

		sandbox.clearRequests();
		const result = await deliver(dealCreate, params);
		expect(itemsOf(result)).toEqual([
			{
				event: 'leadConverted',
				entity: 'deal',
				entityId: dealId,
				eventId: dealCreate.meta.id,
				attempt: 1,
				referralCode: 'CONV-42',
				stageId: 8,
				previousStageId: null,
				pipelineId: 2,
				status: 'open',
				previousStatus: null,
				value: 2500,
				currency: 'USD',
				personId: 8,
				leadId: lead.id,
				dealId,
				labelIds: null,
				mergedFromId: null,
				transitionKey: `pipedrive:lead:${String(lead.id).toLowerCase()}:converted`,
				time: isoOf(dealCreate),
			},
		]);
		// One call: the deal with its origin lead.
		expect(sandbox.requests().map((r) => `${r.method} ${r.path}${r.query}`)).toEqual([`GET /api/v2/deals/${dealId}?include_fields=source_lead_id`]);
		expectNoExecution(await deliver(leadDelete, params), 200);

		// v1 (added.deal) the same way.
		expect(itemsOf(await deliver(one(converted.v1), params))).toEqual([
			expect.objectContaining({ event: 'leadConverted', leadId: lead.id, dealId, referralCode: 'CONV-42' }),
		]);

		// The converted deal has no code of its own: the origin lead is asked (here Pipedrive deleted it: null).
		const trimmed = JSON.parse(JSON.stringify(dealCreate));
		delete trimmed.data.custom_fields[CODE_FIELD];
		sandbox.state.deals.get(dealId)!.custom[CODE_FIELD] = null;
		sandbox.clearRequests();
		expect(itemsOf(await deliver(trimmed, params))).toEqual([expect.objectContaining({ event: 'leadConverted', referralCode: null })]);
		expect(sandbox.requests().map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
			`GET /api/v2/deals/${dealId} 200`,
			`GET /v1/leads/${lead.id} 404`,
		]);

		// A deal created by hand is no conversion.
		const plain = await deliveriesOf(() => sandbox.createDeal({ title: 'By hand', person_id: 9, stage_id: 6, custom_fields: { [CODE_FIELD]: 'X' } }));
		expectNoExecution(await deliver(one(plain.v2), params), 200);
		// Conversion into a chosen stage with both events chosen: two items from one delivery.
		expect(itemsOf(await deliver(dealCreate, { ...params, events: ['dealEnteredStage', 'leadConverted'], pipelineId: 2, stageIds: [8] })).map((i) => i.event)).toEqual([
			'dealEnteredStage',
			'leadConverted',
		]);
	});

	it('person created or updated, with the person code field', async () => {
		const created = await deliveriesOf(() =>
			sandbox.createPerson({ name: 'Vera Novak', emails: [{ value: 'vera@example.com', primary: true }], custom_fields: { [PERSON_FIELD_KEYS.referralCode]: 'VERA-1' } }),
		);
		const personId = Number(one(created.v2).meta.entity_id);
		const updated = await deliveriesOf(() => sandbox.updatePerson(personId, { name: 'Vera Novak-Lind' }));
		const params = { events: ['personCreatedOrUpdated'], personCodeField: PERSON_FIELD_KEYS.referralCode };
		for (const body of [one(created.v2), one(created.v1)]) {
			expect(itemsOf(await deliver(body, params))).toEqual([
				expect.objectContaining({ event: 'personCreated', entity: 'person', entityId: personId, personId, referralCode: 'VERA-1', dealId: null, leadId: null }),
			]);
		}
		for (const body of [one(updated.v2), one(updated.v1)]) {
			expect(itemsOf(await deliver(body, params))).toEqual([expect.objectContaining({ event: 'personUpdated', personId, referralCode: 'VERA-1' })]);
		}
		expectNoExecution(await deliver(one(updated.v2), { events: ['dealWon'] }), 200);
	});

	it('person merge: the survivor is a personUpdated with mergedFromId, the delete of the merged person starts nothing (v2 and v1)', async () => {
		const loser = sandbox.createPerson({
			name: 'Vera Duplicate',
			emails: [{ value: 'vera.dup@example.com' }],
			custom_fields: { [PERSON_FIELD_KEYS.referralCode]: 'VERA-2' },
		});
		const survivor = sandbox.createPerson({ name: 'Vera Novak', emails: [{ value: 'vera@example.com' }] });
		await sandbox.waitForWebhooks();
		const merged = await deliveriesOf(() => sandbox.mergePersons(loser.id as number, survivor.id as number));
		const [change, removed] = merged.v2;
		expect(merged.v2.map((b) => `${b.meta.action}.${b.meta.entity}`)).toEqual(['change.person', 'delete.person']);
		expect(change.meta).toMatchObject({ entity_id: String(survivor.id), merged_from_id: String(loser.id) });
		expect(removed.meta).toMatchObject({ entity_id: String(loser.id), merged_to_id: String(survivor.id) });
		const params = { events: ['personCreatedOrUpdated'], personCodeField: PERSON_FIELD_KEYS.referralCode };

		sandbox.clearRequests();
		// The survivor had no code: the merge gave it the merged person's (its empty fields take the other's values).
		expect(itemsOf(await deliver(change, params))).toEqual([
			expect.objectContaining({ event: 'personUpdated', personId: survivor.id, mergedFromId: loser.id, referralCode: 'VERA-2' }),
		]);
		expectNoExecution(await deliver(removed, params), 200);
		expect(sandbox.requests()).toEqual([]);

		// v1: merged.person about the survivor, deleted.person about the merged one; v1 names no merge ids.
		expect(merged.v1.map((b) => b.event)).toEqual(['merged.person', 'deleted.person']);
		expect(itemsOf(await deliver(merged.v1[0], params))).toEqual([
			expect.objectContaining({ event: 'personUpdated', personId: survivor.id, mergedFromId: null, referralCode: 'VERA-2' }),
		]);
		expectNoExecution(await deliver(merged.v1[1], params), 200);

		// An ordinary update is no merge.
		const edited = await deliveriesOf(() => sandbox.updatePerson(survivor.id as number, { name: 'Vera Novak-Lind' }));
		expect(itemsOf(await deliver(one(edited.v2), params))).toEqual([expect.objectContaining({ event: 'personUpdated', mergedFromId: null })]);
	});

	it('a deleted deal starts nothing, whatever the events', async () => {
		const deal = sandbox.createDeal({ title: 'Gone', person_id: 3, stage_id: 8, custom_fields: { [CODE_FIELD]: 'GONE-1' } });
		await sandbox.waitForWebhooks();
		const deleted = await deliveriesOf(() => sandbox.deleteDeal(deal.id as number));
		expect(one(deleted.v2)).toMatchObject({ meta: { action: 'delete', entity: 'deal' }, data: null });
		expect(one(deleted.v1).event).toBe('deleted.deal');
		const all = { events: ['dealEnteredStage', 'dealWon', 'dealLost', 'leadConverted'], pipelineId: 2, stageIds: [], codeField: CODE_FIELD };
		sandbox.clearRequests();
		for (const body of [one(deleted.v2), one(deleted.v1)]) expectNoExecution(await deliver(body, all), 200);
		expect(sandbox.requests()).toEqual([]);
	});

	it('Pipedrive retries (attempt 2..4) and duplicates still produce the item, with the same eventId', async () => {
		const deal = sandbox.createDeal({ title: 'Retried', person_id: 10, stage_id: 6, custom_fields: { [CODE_FIELD]: 'RETRY-1' } });
		await sandbox.waitForWebhooks();
		script.set('/v2', [500, 502, 503]);
		const attempts = await deliveriesOf(() => sandbox.moveDealToStage(deal.id as number, 8));
		expect(attempts.v2.map((b) => b.meta.attempt)).toEqual([1, 2, 3, 4]);
		const dup = await deliveriesOf(() => sandbox.redeliverLast(Number(attempts.v2[0].meta.webhook_id)));
		const bodies = [...attempts.v2, ...dup.v2];
		expect(new Set(bodies.map((b) => b.meta.id)).size).toBe(1);

		const items = [];
		for (const body of bodies) items.push(...itemsOf(await deliver(body, stageParams([8]))));
		expect(items.map((i) => [i.eventId, i.attempt, i.referralCode])).toEqual(
			[1, 2, 3, 4, dup.v2[0].meta.attempt].map((attempt) => [attempts.v2[0].meta.id, attempt, 'RETRY-1']),
		);
		// v1 retries carry `retry`; the event id is the same on each.
		const v1 = one(attempts.v1);
		const again = { ...v1, retry: 2 };
		const [first, third] = [itemsOf(await deliver(v1, stageParams([8])))[0], itemsOf(await deliver(again, stageParams([8])))[0]];
		expect([first.attempt, third.attempt]).toEqual([1, 3]);
		expect(third.eventId).toBe(first.eventId);
	});

	it('wrong or missing basic auth: 401, no execution, no Pipedrive call', async () => {
		const deal = sandbox.createDeal({ title: 'Auth', person_id: 11, stage_id: 6, custom_fields: { [CODE_FIELD]: 'AUTH-1' } });
		await sandbox.waitForWebhooks();
		const moved = await deliveriesOf(() => sandbox.moveDealToStage(deal.id as number, 8));
		const body = one(moved.v2);
		sandbox.clearRequests();
		const cases: Array<[string, { authorization?: string | null; staticData?: IDataObject }]> = [
			['missing', { authorization: null }],
			['wrong password', { authorization: basic('n8n', `${PASSWORD}x`) }],
			['short password', { authorization: basic('n8n', 'x') }],
			['wrong user', { authorization: basic('pipedrive', PASSWORD) }],
			['not basic', { authorization: `Bearer ${PASSWORD}` }],
			['garbage', { authorization: 'Basic !!!' }],
			['no password stored (never activated)', { staticData: {} }],
		];
		for (const [, options] of cases) {
			const result = await deliver(body, stageParams([8]), options);
			expectNoExecution(result, 401);
			expect(result.noWebhookResponse).toBe(true);
			expect(result.responseHeaders['www-authenticate']).toMatch(/^Basic realm=/);
			expect(result.responseBody).toEqual({ error: 'Unauthorized' });
		}
		// Auth comes first: a stranger learns nothing about the body either.
		expectNoExecution(await deliver({ hello: 'world' }, stageParams([8]), { authorization: null }), 401);
		expect(sandbox.requests()).toEqual([]);
		// The captured delivery carried exactly the header the trigger accepts.
		expect(received.find((r) => r.path === '/v2')?.auth).toBe(basic('n8n', PASSWORD));
	});

	it('a body that is not a Pipedrive webhook: 400, no execution', async () => {
		for (const body of [{ hello: 'world' }, {}, 'plain text', { meta: { action: 'create' } }, { meta: { action: 'explode', entity: 'deal', id: 'x', version: '2.0' } }]) {
			const result = await deliver(body, stageParams([8]));
			expectNoExecution(result, 400);
			expect(result.noWebhookResponse).toBe(true);
			expect((result.responseBody as { error: string }).error).toMatch(/Not a Pipedrive/);
		}
	});

	it('a failed Pipedrive lookup fails visibly with the NodeApiError (the delivery is not acknowledged, so Pipedrive retries)', async () => {
		const lead = sandbox.createLead({ title: 'Convert me', person_id: 12, custom: { [CODE_FIELD]: 'C-1' } });
		await sandbox.waitForWebhooks();
		const converted = await deliveriesOf(() => sandbox.convertLead(lead.id as string));
		const promise = deliver(converted.v2[0], { events: ['leadConverted'], codeField: CODE_FIELD }, { apiToken: 'revoked-token' });
		await expect(promise).rejects.toMatchObject({ name: 'NodeApiError', httpCode: '401' });
	});
});

// ---------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------

describe('parameters', () => {
	it('lists the stages of the chosen pipeline, lead labels and deal fields', async () => {
		const common = { nodeType: new PipedriveReferralTrigger(), credentials: { pipedriveReferralApi: credentials }, credentialTypes: [new PipedriveReferralApi()] };
		const stages = await loadOptions({ ...common, kind: 'loadOptions', methodName: 'getStages', parameters: { authentication: 'apiToken', events: ['dealEnteredStage'], pipelineId: 2 } });
		expect(stages).toEqual([
			{ name: '1. Referred', value: 6 },
			{ name: '2. Contacted', value: 7 },
			{ name: '3. Meeting Booked', value: 8 },
			{ name: '4. Referral Qualified', value: 9 },
		]);
		const labels = await loadOptions({ ...common, kind: 'loadOptions', methodName: 'getLeadLabels', parameters: { authentication: 'apiToken', events: ['leadLabelled'] } });
		expect(labels.map((l) => l.name)).toEqual(['Cold', 'Hot', 'Referral', 'Warm']);
		const fields = await loadOptions({ ...common, kind: 'loadOptions', methodName: 'getDealFields', parameters: { authentication: 'apiToken' } });
		expect(fields).toContainEqual({ name: 'Referral code', value: CODE_FIELD });
	});

	it('describes a webhook trigger as n8n expects', () => {
		const { description } = new PipedriveReferralTrigger();
		expect(description).toMatchObject({ name: 'pipedriveReferralTrigger', group: ['trigger'], inputs: [] });
		expect(description.webhooks).toEqual([{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', path: 'webhook' }]);
		expect(description.usableAsTool).toBeUndefined();
		// (Further credentials, e.g. the referral store for the node's start filter, come after these two.)
		expect(description.credentials?.map((c) => c.name).slice(0, 2)).toEqual(['pipedriveReferralApi', 'pipedriveReferralOAuth2Api']);
	});
});

// ---------------------------------------------------------------------------------------
// Activation against the sandbox, and end to end
// ---------------------------------------------------------------------------------------

describe('activation, deactivation and live deliveries (sandbox)', () => {
	const ALL_EVENTS = ['dealEnteredStage', 'dealWon', 'dealLost', 'leadLabelled', 'leadConverted', 'personCreatedOrUpdated'];

	function lifecycle(parameters: INodeParameters, webhookUrl: string) {
		const common = {
			nodeType: new PipedriveReferralTrigger(),
			credentials: { pipedriveReferralApi: credentials },
			credentialTypes: [new PipedriveReferralApi()],
			parameters: { startFor: 'all', ...parameters },
			webhookUrl,
		};
		return (method: 'checkExists' | 'create' | 'delete', staticData: IDataObject = {}, extra: INodeParameters = {}) =>
			runWebhookMethods({ ...common, parameters: { ...common.parameters, ...extra }, method, staticData });
	}

	const listed = async () => ((await api('GET', '/v1/webhooks')).data ?? []) as any[];

	it('registers one webhook per needed entity with basic auth and version 2.0, finds them, deletes them', async () => {
		const url = `${base}/n8n/webhook/abc/webhook`;
		const call = lifecycle({ events: ALL_EVENTS, pipelineId: 2, stageIds: [8], codeField: CODE_FIELD }, url);

		const before = await call('checkExists');
		expect(before.result).toBe(false);
		const created = await call('create', before.staticData);
		expect(created.result).toBe(true);
		const data = created.nodeStaticData as { httpAuthPassword: string; httpAuthUser: string; webhooks: Array<{ id: number; object: string; action: string }> };
		expect(data.httpAuthUser).toBe('n8n');
		expect(data.httpAuthPassword.length).toBeGreaterThanOrEqual(32);
		expect(created.staticDataChanged).toBe(true);

		const hooks = await listed();
		expect(hooks.map((w) => [w.event_object, w.event_action]).sort()).toEqual([
			['deal', '*'],
			['lead', '*'],
			['person', '*'],
		]);
		for (const w of hooks) {
			expect(w).toMatchObject({ subscription_url: url, version: '2.0', http_auth_user: 'n8n', http_auth_password: data.httpAuthPassword });
		}
		expect(data.webhooks.map((w) => w.id).sort()).toEqual(hooks.map((w) => w.id).sort());

		expect((await call('checkExists', created.staticData)).result).toBe(true);
		// Other events need other webhooks: not "existing" any more.
		expect((await call('checkExists', created.staticData, { events: ['dealWon'] })).result).toBe(false);

		// Activating again (e.g. after the events changed) replaces them: no duplicates, a new password.
		const again = await call('create', created.staticData, { events: ['dealWon', 'dealLost'] });
		const hooksAgain = await listed();
		expect(hooksAgain.map((w) => [w.event_object, w.event_action])).toEqual([['deal', 'change']]);
		expect((again.nodeStaticData as { httpAuthPassword: string }).httpAuthPassword).not.toBe(data.httpAuthPassword);

		// Deleted in Pipedrive behind n8n's back: not existing.
		await api('DELETE', `/v1/webhooks/${hooksAgain[0].id}`);
		expect((await call('checkExists', again.staticData, { events: ['dealWon', 'dealLost'] })).result).toBe(false);
		const third = await call('create', again.staticData, { events: ['leadConverted'] });
		expect((await listed()).map((w) => [w.event_object, w.event_action])).toEqual([['deal', 'create']]);

		const deleted = await call('delete', third.staticData, { events: ['leadConverted'] });
		expect(deleted.result).toBe(true);
		expect(deleted.nodeStaticData).toEqual({});
		expect(await listed()).toEqual([]);
		// Deleting again (nothing stored) is fine.
		expect((await call('delete', deleted.staticData)).result).toBe(true);
	});

	it('a test URL never removes the production webhooks', async () => {
		const production = lifecycle({ events: ['dealWon'] }, `${base}/n8n/webhook/abc/webhook`);
		const test = lifecycle({ events: ['dealWon'] }, `${base}/n8n/webhook-test/abc/webhook`);
		const live = await production('create');
		const testing = await test('create', live.staticData);
		expect((await listed()).map((w) => w.subscription_url).sort()).toEqual([`${base}/n8n/webhook-test/abc/webhook`, `${base}/n8n/webhook/abc/webhook`]);
		await test('delete', testing.staticData);
		expect((await production('checkExists', live.staticData)).result).toBe(true);
	});

	it('a deal moved to the qualifying stage becomes exactly one qualification, also when Pipedrive delivers it again', async () => {
		const folder = mkdtempSync(join(tmpdir(), 'trigger-qualify-'));
		const storeCredential = { backend: 'sqlite', sqlitePath: join(folder, 'referrals.sqlite') };
		const program = new ReferralProgram(await openStore({ backend: 'sqlite', path: storeCredential.sqlitePath }));
		try {
			const campaign = await program.createCampaign({ name: 'Friends' }, 'https://x.example/r?ref={{code}}');
			const [ann] = await program.enrol(campaign.id, [{ email: 'ann@example.com' }], { stopOnError: true });
			if (!ann.ok) throw ann.error;
			const [bo] = await program.registerReferred(campaign.id, [{ code: ann.value.participant.code, email: 'bo@example.com' }], { stopOnError: true });
			if (!bo.ok) throw bo.error;

			const url = `${base}/n8n/webhook/qualify/webhook`;
			const parameters: INodeParameters = { events: ['dealEnteredStage'], pipelineId: 2, stageIds: [8], codeField: CODE_FIELD };
			const call = lifecycle(parameters, url);
			const activated = await call('create', (await call('checkExists')).staticData);
			const qualify = JSON.parse(readFileSync(join(__dirname, 'workflows', 'qualify-by-code.workflow.json'), 'utf8')) as WorkflowJson;
			Object.assign(qualify.nodes[1].parameters as IDataObject, {
				code: '={{ $json.referralCode }}',
				options: { idempotencyKey: '={{ $json.eventId }}', ignoreNonReferrals: true },
			});
			const outcomes: IDataObject[] = [];
			forward = async ({ headers, body }) => {
				const received = await runWebhook({
					nodeType: new PipedriveReferralTrigger(),
					credentials: { pipedriveReferralApi: credentials },
					credentialTypes: [new PipedriveReferralApi()],
					parameters: { startFor: 'all', ...parameters },
					staticData: activated.staticData,
					request: { method: 'POST', headers, body },
				});
				const items = itemsOf(received);
				if (items.length > 0) {
					const run = await runWorkflow({
						workflow: qualify,
						nodeTypes: { 'n8n-nodes-pipedrive-referrals.qualifyWithCode': new QualifyWithCode() },
						credentials: { referralStoreApi: storeCredential },
						credentialTypes: [new ReferralStoreApi()],
						inputItems: items,
					});
					if (run.error) throw run.error.error;
					outcomes.push(...run.json('Qualify With Code'));
				}
				return { status: 200, body: '{}' };
			};

			const deal = sandbox.createDeal({ title: 'Referral: Bo', person_id: 13, stage_id: 6, custom_fields: { [CODE_FIELD]: bo.value.participant.code } });
			sandbox.moveDealToStage(deal.id as number, 8);
			await sandbox.waitForWebhooks();
			sandbox.redeliverLast();
			await sandbox.waitForWebhooks();
			expect(outcomes.map((o) => [o.isReferral, o.changed, o.duplicate, o.status])).toEqual([
				[true, true, false, 'qualified'],
				[true, false, true, 'qualified'],
			]);
			const qualifications = await program.getCampaignStats(campaign.id);
			expect(qualifications.referrals).toMatchObject({ qualified: 1, pending: 0 });
			await call('delete', activated.staticData);
		} finally {
			await closeAllStores();
			rmSync(folder, { recursive: true, force: true });
		}
	});

	it('end to end: sandbox deliveries through the trigger give exactly the chosen events, with the code', async () => {
		const url = `${base}/n8n/webhook/e2e/webhook`;
		const parameters: INodeParameters = { events: ['dealEnteredStage', 'dealWon', 'leadConverted'], pipelineId: 2, stageIds: [8], codeField: CODE_FIELD };
		const call = lifecycle(parameters, url);
		const activated = await call('create', (await call('checkExists')).staticData);
		expect((await listed()).map((w) => [w.event_object, w.event_action])).toEqual([['deal', '*']]);

		const items: IDataObject[] = [];
		const statuses: number[] = [];
		forward = async ({ headers, body }) => {
			const result = await runWebhook({
				nodeType: new PipedriveReferralTrigger(),
				credentials: { pipedriveReferralApi: credentials },
				credentialTypes: [new PipedriveReferralApi()],
				parameters: { startFor: 'all', ...parameters },
				staticData: activated.staticData,
				request: { method: 'POST', headers, body },
			});
			items.push(...itemsOf(result));
			// n8n answers 200 itself unless the node wrote the response (401 / 400).
			const status = result.noWebhookResponse ? result.statusCode : 200;
			statuses.push(status);
			return { status, body: JSON.stringify(result.responseBody ?? result.webhookResponse ?? { message: 'Workflow was started' }) };
		};

		const deal = sandbox.createDeal({ title: 'Referral: Ola', person_id: 13, stage_id: 6, value: 1200, custom_fields: { [CODE_FIELD]: 'OLA-2026' } });
		await sandbox.waitForWebhooks();
		expect(items).toEqual([]);

		sandbox.moveDealToStage(deal.id as number, 8);
		await sandbox.waitForWebhooks();
		expect(items).toEqual([expect.objectContaining({ event: 'dealEnteredStage', dealId: deal.id, stageId: 8, previousStageId: 6, referralCode: 'OLA-2026', attempt: 1 })]);

		items.length = 0;
		sandbox.markDealWon(deal.id as number);
		await sandbox.waitForWebhooks();
		expect(items).toEqual([expect.objectContaining({ event: 'dealWon', dealId: deal.id, referralCode: 'OLA-2026', status: 'won' })]);

		items.length = 0;
		const lead = sandbox.createLead({ title: 'Referral lead: Pia', person_id: 14, custom: { [CODE_FIELD]: 'PIA-7' } });
		const { deal: convertedDeal } = sandbox.convertLead(lead.id as string, { stage_id: 6 });
		await sandbox.waitForWebhooks();
		expect(items).toEqual([expect.objectContaining({ event: 'leadConverted', leadId: lead.id, dealId: convertedDeal!.id, referralCode: 'PIA-7' })]);

		// Every delivery was accepted at the first attempt (no retries, so no repeats).
		expect(statuses.every((s) => s === 200)).toBe(true);
		expect(sandbox.deliveries().every((d) => d.state === 'delivered' && d.attempts.length === 1)).toBe(true);

		// A stranger posting to the URL gets 401 and starts nothing.
		const stranger = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ meta: {} }) });
		expect(stranger.status).toBe(401);

		const deleted = await call('delete', activated.staticData);
		expect(deleted.result).toBe(true);
		expect(await listed()).toEqual([]);
	});
});
