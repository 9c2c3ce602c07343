/**
 * Webhook health: the Pipedrive Referral Trigger (activated and deactivated through n8n-core's real
 * HookContext) records its webhooks in the store; the reconciliation pass registers again the ones
 * the sandbox deleted (its 3-day rule, with the clock jumped) or banned, once, even with two passes
 * at a time, and writes nothing when all are healthy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ICredentialDataDecryptedObject, IDataObject, INodeParameters } from 'n8n-workflow';

import { PipedriveReferralApi } from '../../credentials/PipedriveReferralApi.credentials';
import { ReferralStoreApi } from '../../credentials/ReferralStoreApi.credentials';
import type { Campaign } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { reconcile, restoreTriggerWebhooks } from '../../lib/sync';
import { recordedTriggers, saveRecordedTrigger } from '../../lib/sync/trigger-webhooks';
import { PipedriveReferralTrigger } from '../../nodes/PipedriveReferralTrigger/PipedriveReferralTrigger.node';
import { DEAL_FIELD_KEYS, DROPPED_DELETED_3_DAYS, type Sandbox, startSandbox } from '../../sandbox';
import { runWebhook, runWebhookMethods } from '../helpers/n8n';
import { sandboxClient } from '../helpers/sandbox-client';

const TIME_SCALE = 0.001;
const THREE_DAYS_SCALED = 3 * 24 * 60 * 60 * 1000 * TIME_SCALE;
const EVENTS = ['dealWon', 'leadLabelled'];

let sandbox: Sandbox;
let server: http.Server;
let base: string;
/** Status the trigger's URL answers (deliveries fail while it is not 2xx). */
let answer = 200;
let received: Array<{ auth: string | undefined; body: any }> = [];
let folder: string;
let store: ICredentialDataDecryptedObject;
let pipedrive: ICredentialDataDecryptedObject;
let program: ReferralProgram;
let campaign: Campaign;

beforeAll(async () => {
	server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (c: Buffer) => chunks.push(c));
		req.on('end', () => {
			received.push({ auth: req.headers.authorization, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
			res.writeHead(answer).end();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	sandbox = await startSandbox({ rateLimit: 0, webhookTimeScale: TIME_SCALE, webhookTimeoutMs: 2_000 });
	pipedrive = { apiToken: sandbox.apiToken, companyDomain: 'referral-sandbox', baseUrl: sandbox.url };
});

afterAll(async () => {
	await sandbox.close();
	server.closeAllConnections();
	await new Promise((resolve) => server.close(resolve));
});

beforeEach(async () => {
	sandbox.reset();
	sandbox.clearViolations();
	answer = 200;
	received = [];
	folder = mkdtempSync(join(tmpdir(), 'webhook-health-'));
	store = { backend: 'sqlite', sqlitePath: join(folder, 'referrals.sqlite') };
	program = new ReferralProgram(await openStore({ backend: 'sqlite', path: store.sqlitePath as string }));
	campaign = await program.createCampaign({ name: 'Referral program', slug: 'referral-program' }, 'https://x.example/r?ref={{code}}');
});

afterEach(async () => {
	expect(sandbox.violations()).toEqual([]);
	await closeAllStores();
	rmSync(folder, { recursive: true, force: true });
});

function trigger(path: string, parameters: INodeParameters = {}) {
	const url = `${base}/n8n/webhook/${path}/webhook`;
	const node = () => ({
		nodeType: new PipedriveReferralTrigger(),
		credentials: { pipedriveReferralApi: pipedrive, referralStoreApi: store },
		credentialTypes: [new PipedriveReferralApi(), new ReferralStoreApi()],
		parameters: {
			events: EVENTS,
			startFor: 'campaignReferrals',
			codeField: DEAL_FIELD_KEYS.referralCode,
			campaign: { __rl: true, mode: 'id', value: String(campaign.id) },
			...parameters,
		},
	});
	const call = (method: 'checkExists' | 'create' | 'delete', staticData: IDataObject = {}, mode: 'trigger' | 'manual' = 'trigger') =>
		runWebhookMethods({ ...node(), method, mode, staticData, webhookUrl: url });
	/** Pipedrive's delivery `body` handed to the trigger's webhook(), with the password of `staticData`. */
	const deliver = (body: unknown, staticData: IDataObject, password: string) =>
		runWebhook({ ...node(), staticData, request: { method: 'POST', headers: { authorization: basic(password) }, body } });
	return { url, call, deliver };
}

const basic = (password: string) => `Basic ${Buffer.from(`n8n:${password}`).toString('base64')}`;

const client = () => sandboxClient(sandbox);
const pass = (on = program) => reconcile(on, client(), { campaignId: campaign.id, codeField: 'Referral code', restoreWebhooks: true });
const writes = () => sandbox.requests().filter((r) => r.method !== 'GET').length;
const listed = () => [...sandbox.state.webhooks.values()];
const at = (url: string, object: string) => listed().filter((w) => w.subscription_url === url && w.event_object === object);
const restoredEvents = () => program.listEvents({ types: ['pipedrive.webhook_restored'] }, 100, 'asc');
const stored = (result: { nodeStaticData: unknown }) =>
	result.nodeStaticData as { httpAuthPassword: string; webhooks: Array<{ id: number; object: string; action: string }>; recordedCampaignId?: number };

/**
 * A pass over healthy webhooks: nothing restored, no write to Pipedrive, no event; the webhook
 * part writes nothing to the store (the deals part may move its watermark after new deals).
 */
async function expectQuietPass(): Promise<void> {
	const before = { writes: writes(), events: await program.latestEventId() };
	expect((await pass()).webhooksRestored).toEqual([]);
	expect(await restoreTriggerWebhooks(program, client(), campaign.id)).toEqual({ restored: [], storeWrites: 0 });
	expect(writes()).toBe(before.writes);
	expect(await program.latestEventId()).toBe(before.events);
}

it('a webhook Pipedrive deleted after 3 days without success is registered again by the pass, as it was; an activation after it leaves no duplicate', async () => {
	const { url, call } = trigger('abc');
	const activated = await call('create');
	const data = stored(activated);
	expect(data.recordedCampaignId).toBe(campaign.id);
	const [recorded] = await recordedTriggers(program, campaign.id);
	expect(recorded).toMatchObject({ subscriptionUrl: url, authUser: 'n8n', authPassword: data.httpAuthPassword, companyId: expect.any(Number) });
	expect(recorded.webhooks.map((w) => [w.id, w.object, w.action])).toEqual(data.webhooks.map((w) => [w.id, w.object, w.action]));
	const dealHook = data.webhooks.find((w) => w.object === 'deal')!;
	const name = sandbox.state.webhooks.get(dealHook.id)!.name;
	await expectQuietPass();

	// The trigger's URL fails; 3 days later the next deal event makes the sandbox delete the webhook.
	answer = 503;
	const deal = Number(sandbox.createDeal({ title: 'Deal' }).id);
	sandbox.markDealLost(deal);
	await sandbox.waitForWebhooks(10_000);
	sandbox.advanceClock(THREE_DAYS_SCALED + 1_000);
	sandbox.reopenDeal(deal);
	await sandbox.waitForWebhooks(10_000);
	expect(sandbox.deliveries({ webhookId: dealHook.id }).at(-1)).toMatchObject({ state: 'dropped', droppedReason: DROPPED_DELETED_3_DAYS });
	expect(at(url, 'deal')).toEqual([]);
	answer = 200;

	const writesBefore = writes();
	const summary = await pass();
	expect(summary.webhooksRestored).toEqual([{ replacedId: dealHook.id, webhookId: expect.any(Number), object: 'deal', action: dealHook.action, reason: 'deleted' }]);
	expect(writes() - writesBefore).toBe(1);
	const [copy] = at(url, 'deal');
	expect(copy).toMatchObject({ id: summary.webhooksRestored[0].webhookId, name, event_action: dealHook.action, http_auth_user: 'n8n', http_auth_password: data.httpAuthPassword, version: '2.0' });
	expect(at(url, 'lead')).toHaveLength(1);
	const [event] = await restoredEvents();
	expect(event).toMatchObject({ campaignId: campaign.id, payload: { ...summary.webhooksRestored[0] } });
	expect((await recordedTriggers(program, campaign.id))[0].webhooks.find((w) => w.object === 'deal')!.id).toBe(copy.id);
	// The copy's deliveries carry the trigger's password.
	received = [];
	sandbox.markDealWon(deal);
	await sandbox.waitForWebhooks(10_000);
	expect(received.map((r) => r.auth)).toEqual([basic(data.httpAuthPassword)]);
	await expectQuietPass();

	// n8n restarts: the stored id changed, so the trigger registers again, replacing the copy.
	expect((await call('checkExists', activated.staticData)).result).toBe(false);
	const again = stored(await call('create', activated.staticData));
	expect(at(url, 'deal').map((w) => w.id)).toEqual([again.webhooks.find((w) => w.object === 'deal')!.id]);
	expect(at(url, 'lead').map((w) => w.id)).toEqual([again.webhooks.find((w) => w.object === 'lead')!.id]);
	const [rerecorded] = await recordedTriggers(program, campaign.id);
	expect(rerecorded.authPassword).toBe(again.httpAuthPassword);
	expect(rerecorded.webhooks.map((w) => w.id).sort()).toEqual(again.webhooks.map((w) => w.id).sort());
	await expectQuietPass();
});

it('a banned webhook is still replaced (also one of a trigger without the store), and the record follows the copy', async () => {
	const { url, call } = trigger('banned');
	const data = stored(await call('create'));
	const other = trigger('no-store', { startFor: 'withCode' });
	const otherData = stored(await other.call('create'));
	expect(otherData.recordedCampaignId).toBeUndefined();
	expect(await recordedTriggers(program, campaign.id)).toHaveLength(1);
	const ban = (id: number) => (sandbox.state.webhooks.get(id)!.banned_until = sandbox.now() + 60 * 60_000);
	const dealHook = data.webhooks.find((w) => w.object === 'deal')!;
	const otherHook = otherData.webhooks.find((w) => w.object === 'deal')!;
	ban(dealHook.id);
	ban(otherHook.id);

	const summary = await pass();
	expect(summary.webhooksRestored.map((r) => [r.replacedId, r.reason]).sort()).toEqual(
		[
			[dealHook.id, 'banned'],
			[otherHook.id, 'banned'],
		].sort(),
	);
	const copy = at(url, 'deal');
	expect(copy).toHaveLength(1);
	expect(copy[0]).toMatchObject({ banned_until: null, http_auth_password: data.httpAuthPassword });
	expect(at(other.url, 'deal')).toHaveLength(1);
	expect(sandbox.state.webhooks.has(dealHook.id)).toBe(false);
	expect((await recordedTriggers(program, campaign.id))[0].webhooks.find((w) => w.object === 'deal')!.id).toBe(copy[0].id);
	expect(await restoredEvents()).toHaveLength(2);
	await expectQuietPass();
});

it('nothing to restore: 0 Pipedrive writes, 0 store writes, no event', async () => {
	await trigger('healthy').call('create');
	await trigger('other', { startFor: 'all' }).call('create');
	await pass();
	const before = { writes: writes(), events: await program.latestEventId() };
	const summary = await pass();
	expect(summary).toMatchObject({ webhooksRestored: [], storeWrites: 0 });
	expect(writes()).toBe(before.writes);
	expect(await program.latestEventId()).toBe(before.events);
	// A record of another Pipedrive account is not this pass's business: still nothing written.
	const [recorded] = await recordedTriggers(program, campaign.id);
	await saveRecordedTrigger(program, campaign.id, recorded.subscriptionUrl, { ...recorded, companyId: 999_999 });
	for (const w of recorded.webhooks) sandbox.state.webhooks.delete(w.id);
	await expectQuietPass();
});

it('a deactivated trigger is forgotten: its webhooks are not registered again; a test activation records nothing', async () => {
	const { url, call } = trigger('gone');
	const activated = await call('create');
	const deactivated = await call('delete', activated.staticData);
	expect(deactivated.result).toBe(true);
	expect(deactivated.nodeStaticData).toEqual({});
	expect(await recordedTriggers(program, campaign.id)).toEqual([]);
	expect(listed()).toEqual([]);
	await expectQuietPass();
	expect(listed()).toEqual([]);

	const testing = trigger('gone-test');
	const listening = await testing.call('create', {}, 'manual');
	expect(stored(listening).recordedCampaignId).toBeUndefined();
	expect(await recordedTriggers(program, campaign.id)).toEqual([]);
	await testing.call('delete', listening.staticData, 'manual');
	expect(at(url, 'deal')).toEqual([]);
});

it('two passes at once register a deleted webhook once', async () => {
	const { url, call } = trigger('race');
	const data = stored(await call('create'));
	const dealHook = data.webhooks.find((w) => w.object === 'deal')!;
	sandbox.state.webhooks.delete(dealHook.id);
	const second = new ReferralProgram(await openStore({ backend: 'sqlite', path: store.sqlitePath as string }));

	const writesBefore = writes();
	const [a, b] = await Promise.all([pass(), pass(second)]);
	expect([...a.webhooksRestored, ...b.webhooksRestored]).toEqual([expect.objectContaining({ replacedId: dealHook.id, reason: 'deleted' })]);
	expect(at(url, 'deal')).toHaveLength(1);
	expect(writes() - writesBefore).toBe(1);
	expect(await restoredEvents()).toHaveLength(1);
	await expectQuietPass();
});

it('a trigger activated before its campaign existed records its webhooks at its first delivery for the campaign; deactivating forgets them', async () => {
	const { url, call, deliver } = trigger('early', { campaign: { __rl: true, mode: 'slug', value: 'made-later' } });
	const activated = await call('create');
	const data = stored(activated);
	expect(data.recordedCampaignId).toBeUndefined();
	const later = await program.createCampaign({ name: 'Made later', slug: 'made-later' }, 'https://x.example/r?ref={{code}}');
	const [ann] = await program.enrol(later.id, [{ email: 'ann@example.com' }], { stopOnError: true });
	if (!ann.ok) throw ann.error;
	const [bo] = await program.registerReferred(later.id, [{ code: ann.value.participant.code, email: 'bo@example.com' }], { stopOnError: true });
	if (!bo.ok) throw bo.error;
	const deal = Number(sandbox.createDeal({ title: 'Bo', custom_fields: { [DEAL_FIELD_KEYS.referralCode]: bo.value.participant.code } }).id);
	received = [];
	sandbox.markDealWon(deal);
	await sandbox.waitForWebhooks(10_000);
	expect(await recordedTriggers(program, later.id)).toEqual([]);

	const delivered = await deliver(received[0].body, activated.staticData, data.httpAuthPassword);
	expect(delivered.workflowData?.[0].map((item) => item.json.referralCode)).toEqual([bo.value.participant.code]);
	const [recorded] = await recordedTriggers(program, later.id);
	expect(recorded).toMatchObject({ subscriptionUrl: url, authUser: 'n8n', authPassword: data.httpAuthPassword, companyId: null });
	expect(recorded.webhooks.map((w) => w.id).sort()).toEqual(data.webhooks.map((w) => w.id).sort());

	const dealHook = data.webhooks.find((w) => w.object === 'deal')!;
	sandbox.state.webhooks.delete(dealHook.id);
	const summary = await reconcile(program, client(), { campaignId: later.id, codeField: 'Referral code', restoreWebhooks: true });
	expect(summary.webhooksRestored).toEqual([expect.objectContaining({ replacedId: dealHook.id, reason: 'deleted' })]);
	expect(at(url, 'deal')).toEqual([expect.objectContaining({ http_auth_password: data.httpAuthPassword })]);

	expect((await call('delete', activated.staticData)).result).toBe(true);
	expect(await recordedTriggers(program, later.id)).toEqual([]);
	expect(listed()).toEqual([]);
});
