/**
 * Pipedrive Referral Trigger → Start Workflow For, through n8n-core's real WebhookContext and
 * HookContext: deliveries captured from the sandbox as Pipedrive sends them, for deals that are
 * no referrals (no code, blank, garbage, another campaign's code, a code nobody has) and for real
 * referrals. What is filtered out is answered 200 and starts no execution.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ICredentialDataDecryptedObject, IDataObject, INodeParameters } from 'n8n-workflow';

import { PipedriveReferralApi } from '../../credentials/PipedriveReferralApi.credentials';
import { ReferralStoreApi } from '../../credentials/ReferralStoreApi.credentials';
import type { Participant } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { PipedriveReferralTrigger } from '../../nodes/PipedriveReferralTrigger/PipedriveReferralTrigger.node';
import { DEAL_FIELD_KEYS, type Sandbox, startSandbox } from '../../sandbox';
import { runWebhook, runWebhookMethods, type WebhookResult } from '../helpers/n8n';

const CODE_FIELD = DEAL_FIELD_KEYS.referralCode;
const PASSWORD = 'test-password-0123456789-abcdefghijklmnop';
const staticData = (): IDataObject => ({ 'node:Node': { httpAuthUser: 'n8n', httpAuthPassword: PASSWORD, webhooks: [] } });
const basic = `Basic ${Buffer.from(`n8n:${PASSWORD}`).toString('base64')}`;

let sandbox: Sandbox;
let server: http.Server;
let captured: any[] = [];
let folder: string;
let store: ICredentialDataDecryptedObject;
let pipedrive: ICredentialDataDecryptedObject;
let friend: Participant;
let outsider: Participant;

beforeAll(async () => {
	server = http.createServer((req, res) => {
		const chunks: Buffer[] = [];
		req.on('data', (c: Buffer) => chunks.push(c));
		req.on('end', () => {
			captured.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
			res.writeHead(200).end();
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	sandbox = await startSandbox({ rateLimit: 0, webhookTimeScale: 0.001 });
	pipedrive = { apiToken: sandbox.apiToken, companyDomain: 'referral-sandbox', baseUrl: sandbox.url };
	await fetch(`${sandbox.url}/v1/webhooks`, {
		method: 'POST',
		headers: { 'x-api-token': sandbox.apiToken, 'content-type': 'application/json' },
		body: JSON.stringify({
			subscription_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2`,
			event_action: '*',
			event_object: 'deal',
			name: 'capture',
			version: '2.0',
		}),
	});

	folder = mkdtempSync(join(tmpdir(), 'trigger-start-for-'));
	store = { backend: 'sqlite', sqlitePath: join(folder, 'referrals.sqlite') };
	const program = new ReferralProgram(await openStore({ backend: 'sqlite', path: store.sqlitePath as string }));
	const referrals = async (slug: string) => {
		const campaign = await program.createCampaign({ name: slug, slug }, 'https://x.example/r?ref={{code}}');
		const [ann] = await program.enrol(campaign.id, [{ email: `ann@${slug}.example` }], { stopOnError: true });
		if (!ann.ok) throw ann.error;
		const [bo] = await program.registerReferred(campaign.id, [{ code: ann.value.participant.code, email: `bo@${slug}.example` }], { stopOnError: true });
		if (!bo.ok) throw bo.error;
		return { referrer: ann.value.participant, referral: bo.value.participant };
	};
	const own = await referrals('referral-program');
	friend = own.referral;
	outsider = (await referrals('other-campaign')).referral;
	// The referrer's own code belongs to no referred person.
	ownReferrerCode = own.referrer.code;
});

let ownReferrerCode: string;

afterAll(async () => {
	await sandbox.close();
	server.closeAllConnections();
	await new Promise((resolve) => server.close(resolve));
	await closeAllStores();
	rmSync(folder, { recursive: true, force: true });
});

/** The deal-won deliveries Pipedrive sends for deals with these codes (undefined: no code set). */
async function wonDeliveries(codes: Array<string | undefined>): Promise<any[]> {
	const ids = codes.map((code, i) => {
		const custom_fields = code === undefined ? {} : { [CODE_FIELD]: code };
		return sandbox.createDeal({ title: `Deal ${i}`, person_id: 1, stage_id: 1, custom_fields }).id as number;
	});
	await sandbox.waitForWebhooks();
	captured = [];
	for (const id of ids) sandbox.markDealWon(id);
	await sandbox.waitForWebhooks();
	expect(captured).toHaveLength(codes.length);
	return captured;
}

async function deliver(body: unknown, parameters: INodeParameters, typeVersion?: number): Promise<WebhookResult> {
	return await runWebhook({
		nodeType: new PipedriveReferralTrigger(),
		typeVersion,
		credentials: { pipedriveReferralApi: pipedrive, referralStoreApi: store },
		credentialTypes: [new PipedriveReferralApi(), new ReferralStoreApi()],
		parameters: { events: ['dealWon'], codeField: CODE_FIELD, ...parameters },
		staticData: staticData(),
		request: { method: 'POST', headers: { authorization: basic }, body },
	});
}

const started = (result: WebhookResult) => (result.workflowData?.[0] ?? []).map((item) => item.json.referralCode);

describe('Start Workflow For', () => {
	const ordinary: Array<string | undefined> = [undefined, '', '   ', 'hello world!', '🎉', 'x'.repeat(300), 'NOSUCHCODE9'];
	let bodies: any[];
	let ownCodeBody: any;
	let outsiderBody: any;
	let friendBody: any;

	beforeAll(async () => {
		const all = await wonDeliveries([...ordinary, ownReferrerCode, outsider.code, ` ${friend.code.toLowerCase()} `]);
		bodies = all.slice(0, ordinary.length);
		[ownCodeBody, outsiderBody, friendBody] = all.slice(ordinary.length);
	});

	it('Referrals of a Campaign: only the campaign’s referrals start the workflow; everything else is answered 200 with no execution', async () => {
		const params = { startFor: 'campaignReferrals', campaign: { __rl: true, mode: 'slug', value: 'referral-program' } };
		for (const body of [...bodies, ownCodeBody, outsiderBody]) {
			const result = await deliver(body, params);
			expect(result.workflowData).toBeUndefined();
			expect(result.statusCode).toBe(200);
			expect(result.webhookResponse).toEqual({ received: true });
		}
		expect(started(await deliver(friendBody, params))).toEqual([friend.code.toLowerCase()]);
		// A campaign that does not exist (yet) has no referrals: nothing starts, nothing fails.
		const unknown = await deliver(friendBody, { ...params, campaign: { __rl: true, mode: 'slug', value: 'not-made-yet' } });
		expect(unknown.workflowData).toBeUndefined();
		expect(unknown.statusCode).toBe(200);
	});

	it('Events With a Referral Code (the default of version 1.1): empty fields and text that is no code start nothing', async () => {
		const starts = [];
		for (const body of [...bodies, outsiderBody]) starts.push(...started(await deliver(body, {})));
		expect(starts).toEqual(['NOSUCHCODE9', outsider.code]);
	});

	it('version 1 workflows still start for every matching event', async () => {
		const starts = [];
		for (const body of bodies) starts.push(...started(await deliver(body, {}, 1)));
		expect(starts).toEqual([null, null, null, 'hello world!', '🎉', 'x'.repeat(300), 'NOSUCHCODE9']);
	});

	it('activation refuses a filter it cannot apply: no code field, no campaign', async () => {
		const activate = (parameters: INodeParameters) =>
			runWebhookMethods({
				method: 'create',
				nodeType: new PipedriveReferralTrigger(),
				credentials: { pipedriveReferralApi: pipedrive, referralStoreApi: store },
				credentialTypes: [new PipedriveReferralApi(), new ReferralStoreApi()],
				parameters: { events: ['dealWon'], ...parameters },
				webhookUrl: 'http://127.0.0.1:9/never',
			});
		await expect(activate({ startFor: 'withCode' })).rejects.toThrow('Choose the Referral Code Field');
		await expect(activate({ startFor: 'campaignReferrals', codeField: CODE_FIELD, campaign: { __rl: true, mode: 'list', value: '' } })).rejects.toThrow(
			'No campaign is selected',
		);
	});
});
