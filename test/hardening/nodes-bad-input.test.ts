/**
 * Bad input to every action node, run by n8n-core's workflow engine: each case must fail with a
 * message that names the problem, the item and the field, and leave the referral store (and the
 * Pipedrive sandbox) exactly as it was. (The public doors, forms and the qualify webhook, are in public-endpoints.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IDataObject, INodeType } from 'n8n-workflow';

import { PipedriveReferralApi } from '../../credentials/PipedriveReferralApi.credentials';
import { ReferralStoreApi } from '../../credentials/ReferralStoreApi.credentials';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { ReferralStore } from '../../lib/store/types';
import { PipedriveReferralSync } from '../../nodes/PipedriveReferralSync/PipedriveReferralSync.node';
import { QualifyWithCode } from '../../nodes/QualifyWithCode/QualifyWithCode.node';
import { startSandbox, type Sandbox } from '../../sandbox';
import { ReferralCampaign } from '../../nodes/ReferralCampaign/ReferralCampaign.node';
import { RewardIssuer } from '../../nodes/RewardIssuer/RewardIssuer.node';
import { runWorkflow } from '../helpers/n8n';

const PACKAGE = 'n8n-nodes-pipedrive-referrals';
const NODES: Record<string, INodeType> = {
	[`${PACKAGE}.referralCampaign`]: new ReferralCampaign(),
	[`${PACKAGE}.qualifyWithCode`]: new QualifyWithCode(),
	[`${PACKAGE}.rewardIssuer`]: new RewardIssuer(),
	[`${PACKAGE}.pipedriveReferralSync`]: new PipedriveReferralSync(),
};
const TEN_KB = 'y'.repeat(10 * 1024);
const CAMPAIGN = { __rl: true, mode: 'slug', value: 'hardening' };

interface Case {
	name: string;
	node: 'referralCampaign' | 'qualifyWithCode' | 'rewardIssuer' | 'pipedriveReferralSync';
	parameters: IDataObject;
	item?: IDataObject;
	message: string | RegExp;
	/** The field the description names ("Item 0, field ..."); null for a setting of the whole run, which the message names itself. */
	field: string | null;
}

const CASES: Case[] = [
	// Referral Campaign: campaigns
	{ name: 'campaign name 10 KB long', node: 'referralCampaign', parameters: { resource: 'campaign', operation: 'create', name: TEN_KB, additionalFields: {} }, message: /name is longer than 200 characters/, field: 'name' },
	{ name: 'campaign name empty', node: 'referralCampaign', parameters: { resource: 'campaign', operation: 'create', name: '   ', additionalFields: {} }, message: /name/i, field: 'name' },
	{ name: 'slug with SQL', node: 'referralCampaign', parameters: { resource: 'campaign', operation: 'create', name: 'X', additionalFields: { slug: "x'; DROP TABLE campaigns;--" } }, message: /slug/i, field: 'slug' },
	{ name: 'slug taken', node: 'referralCampaign', parameters: { resource: 'campaign', operation: 'create', name: 'X', additionalFields: { slug: 'hardening' } }, message: 'A campaign with the slug "hardening" already exists', field: 'slug' },
	{ name: 'reward rules not JSON', node: 'referralCampaign', parameters: { resource: 'campaign', operation: 'create', name: 'X', additionalFields: { rewardRules: '{perReferral: 1' } }, message: /reward rules/i, field: 'rewardRules' },
	{ name: 'reward rules of the wrong shape', node: 'referralCampaign', parameters: { resource: 'campaign', operation: 'create', name: 'X', additionalFields: { rewardRules: '{"perReferral": {"every": -1}}' } }, message: /every/i, field: 'rewardRules.perReferral.every' },
	{ name: 'code length 3', node: 'referralCampaign', parameters: { resource: 'campaign', operation: 'create', name: 'X', additionalFields: { codeLength: 3 } }, message: /length/i, field: 'codeLength' },
	{ name: 'link template without {{code}}', node: 'referralCampaign', parameters: { resource: 'campaign', operation: 'create', name: 'X', additionalFields: { linkTemplate: 'https://example.com/join' } }, message: /\{\{code\}\}/, field: 'linkTemplate' },
	{ name: 'link template with javascript:', node: 'referralCampaign', parameters: { resource: 'campaign', operation: 'create', name: 'X', additionalFields: { linkTemplate: 'javascript:alert(1)//{{code}}' } }, message: /link/i, field: 'linkTemplate' },
	{ name: 'campaign ID that is text', node: 'referralCampaign', parameters: { resource: 'campaign', operation: 'get', campaign: { __rl: true, mode: 'id', value: '={{ "1 OR 1=1" }}' } }, message: '"1 OR 1=1" is not a campaign ID', field: 'campaign' },
	{ name: 'unknown campaign slug', node: 'referralCampaign', parameters: { resource: 'campaign', operation: 'get', campaign: { __rl: true, mode: 'slug', value: 'nope' } }, message: /nope/, field: 'campaign' },
	// Referral Campaign: participants
	{ name: 'enrol a hostile email', node: 'referralCampaign', parameters: { resource: 'participant', operation: 'enrol', campaign: CAMPAIGN, inputMode: 'fields', email: '"><img src=x onerror=alert(1)>@x.com', additionalFields: {} }, message: /is not a valid email address/, field: 'email' },
	{ name: 'enrol an email with a newline', node: 'referralCampaign', parameters: { resource: 'participant', operation: 'enrol', campaign: CAMPAIGN, inputMode: 'fields', email: 'a@b.com\nBcc: all@x.com', additionalFields: {} }, message: /is not a valid email address/, field: 'email' },
	{ name: 'enrol with a 10 KB last name', node: 'referralCampaign', parameters: { resource: 'participant', operation: 'enrol', campaign: CAMPAIGN, inputMode: 'fields', email: 'new@example.com', additionalFields: { lastName: TEN_KB } }, message: 'The lastName is longer than 100 characters', field: 'lastName' },
	{ name: 'enrol with metadata that is not JSON', node: 'referralCampaign', parameters: { resource: 'participant', operation: 'enrol', campaign: CAMPAIGN, inputMode: 'fields', email: 'new@example.com', additionalFields: { metadata: '{oops' } }, message: /metadata/i, field: 'metadata' },
	{ name: 'enrol with 20 KB of metadata', node: 'referralCampaign', parameters: { resource: 'participant', operation: 'enrol', campaign: CAMPAIGN, inputMode: 'fields', email: 'new@example.com', additionalFields: { metadata: JSON.stringify({ blob: 'z'.repeat(20_000) }) } }, message: /metadata/i, field: 'metadata' },
	{ name: 'enrol, mapped automatically, an email that is a number', node: 'referralCampaign', parameters: { resource: 'participant', operation: 'enrol', campaign: CAMPAIGN, inputMode: 'autoMap' }, item: { email: 12345 }, message: 'The email must be text, not a number', field: 'email' },
	{ name: 'register with an unknown code', node: 'referralCampaign', parameters: { resource: 'participant', operation: 'registerReferred', campaign: CAMPAIGN, inputMode: 'fields', code: 'NOPE23456', email: 'new@example.com', additionalFields: {} }, message: /NOPE23456/, field: 'code' },
	{ name: 'register using one’s own code', node: 'referralCampaign', parameters: { resource: 'participant', operation: 'registerReferred', campaign: CAMPAIGN, inputMode: 'fields', code: '={{ $json.referrerCode }}', email: 'Ann+again@Example.com', additionalFields: {} }, message: /cannot be referred with their own code/, field: 'email' },
	{ name: 'get by a malformed code', node: 'referralCampaign', parameters: { resource: 'participant', operation: 'get', campaign: CAMPAIGN, lookupBy: 'code', lookupValue: '<script>' }, message: '"<script>" is not a referral code', field: 'code' },
	{ name: 'get by an ID that is not a number', node: 'referralCampaign', parameters: { resource: 'participant', operation: 'get', campaign: CAMPAIGN, lookupBy: 'id', lookupValue: '1; DELETE FROM participants' }, message: /ID/, field: 'lookupValue' },
	{ name: 'delete someone who does not exist', node: 'referralCampaign', parameters: { resource: 'participant', operation: 'delete', campaign: CAMPAIGN, lookupBy: 'email', lookupValue: 'ghost@example.com' }, message: /ghost@example\.com/, field: 'email' },
	// Qualify With Code
	{ name: 'qualify a deal ID that is text', node: 'qualifyWithCode', parameters: { action: 'qualify', findBy: 'dealId', dealId: 'abc', options: {} }, message: /deal/i, field: 'pipedriveDealId' },
	{ name: 'qualify with a negative sale value', node: 'qualifyWithCode', parameters: { action: 'qualify', findBy: 'code', code: '={{ $json.referralCode }}', options: { saleValue: -10, currency: 'EUR' } }, message: /sale value/i, field: 'saleValue' },
	{ name: 'qualify with a currency that is no ISO code', node: 'qualifyWithCode', parameters: { action: 'qualify', findBy: 'code', code: '={{ $json.referralCode }}', options: { saleValue: 10, currency: 'euros' } }, message: /currency/i, field: 'currency' },
	{ name: 'qualify a referrer (not a referral)', node: 'qualifyWithCode', parameters: { action: 'qualify', findBy: 'code', code: '={{ $json.referrerCode }}', options: {} }, message: /not a referral|was not referred/i, field: 'code' },
	{ name: 'qualify with a 10 KB idempotency key', node: 'qualifyWithCode', parameters: { action: 'qualify', findBy: 'code', code: '={{ $json.referralCode }}', options: { idempotencyKey: TEN_KB } }, message: /idempotency key/i, field: 'idempotencyKey' },
	// Reward Issuer
	{ name: 'confirm a reward ID that is text', node: 'rewardIssuer', parameters: { resource: 'reward', operation: 'confirm', rewardId: "1' OR '1'='1", externalRef: '' }, message: /reward ID/i, field: 'rewardId' },
	{ name: 'confirm a reward that does not exist', node: 'rewardIssuer', parameters: { resource: 'reward', operation: 'confirm', rewardId: '999999', externalRef: '' }, message: /999999/, field: 'rewardId' },
	{ name: 'claim with a lease of 0 minutes', node: 'rewardIssuer', parameters: { resource: 'reward', operation: 'claim', campaign: CAMPAIGN, limit: 10, options: { leaseMinutes: 0 } }, message: /lease/i, field: 'leaseMinutes' },
	{ name: 'add an empty coupon list', node: 'rewardIssuer', parameters: { resource: 'reward', operation: 'addCoupons', campaign: CAMPAIGN, coupons: ' \n , ' }, message: /coupon/i, field: 'coupons' },
	{ name: 'add a 10 KB coupon', node: 'rewardIssuer', parameters: { resource: 'reward', operation: 'addCoupons', campaign: CAMPAIGN, coupons: TEN_KB }, message: /coupon/i, field: 'coupons' },
	// Pipedrive Referral Sync (against the sandbox: every setting is checked before anything is sent)
	{ name: 'send with a code field Pipedrive does not have', node: 'pipedriveReferralSync', parameters: { resource: 'participant', operation: 'send', campaign: CAMPAIGN, lookupBy: 'code', lookupValue: '={{ $json.referralCode }}', target: 'deal', sources: ['referred'], codeField: 'No such field', recordFields: {}, options: {} }, message: 'The deal field "No such field" chosen as Referral Code Field does not exist in Pipedrive', field: null },
	{ name: 'send to a pipeline that does not exist', node: 'pipedriveReferralSync', parameters: { resource: 'participant', operation: 'send', campaign: CAMPAIGN, lookupBy: 'code', lookupValue: '={{ $json.referralCode }}', target: 'deal', sources: ['referred'], pipelineId: 999, codeField: 'Referral code', recordFields: {}, options: {} }, message: 'There is no pipeline with ID 999 in Pipedrive', field: null },
	{ name: 'send someone looked up by an ID that is SQL', node: 'pipedriveReferralSync', parameters: { resource: 'participant', operation: 'send', campaign: CAMPAIGN, lookupBy: 'id', lookupValue: '1 OR 1=1', target: 'person', sources: ['referred'], options: {} }, message: /ID/, field: 'lookupValue' },
	{ name: 'referrer metrics into a field Pipedrive does not have', node: 'pipedriveReferralSync', parameters: { resource: 'participant', operation: 'updateMetrics', campaign: CAMPAIGN, lookupBy: 'code', lookupValue: '={{ $json.referrerCode }}', referralsField: 'Referalz', qualifiedField: '' }, message: 'The person field "Referalz" chosen as Referrals Field does not exist in Pipedrive', field: null },
	{ name: 'sync contacts into a link field Pipedrive does not have', node: 'pipedriveReferralSync', parameters: { resource: 'contact', operation: 'sync', campaign: CAMPAIGN, scope: 'all', mode: 'full', linkField: 'Linky', moreFields: {}, output: 'summary', options: {} }, message: 'The person field "Linky" chosen as Referral Link Field does not exist in Pipedrive', field: null },
];

describe('hardening: bad input to every action node', () => {
	let sandbox: Sandbox;
	let folder: string;
	let store: ReferralStore;
	let program: ReferralProgram;
	let codes: { referrerCode: string; referralCode: string };

	beforeAll(async () => {
		sandbox = await startSandbox({ rateLimit: 0 });
		folder = mkdtempSync(join(tmpdir(), 'hardening-nodes-'));
		store = await openStore({ backend: 'sqlite', path: join(folder, 'referrals.sqlite') });
		program = new ReferralProgram(store);
		const campaign = await program.createCampaign({ name: 'Hardening', slug: 'hardening' }, 'https://n8n.example.com/form/refer?ref={{code}}');
		const [ann] = await program.enrol(campaign.id, [{ email: 'ann@example.com' }], { stopOnError: true });
		if (!ann.ok) throw ann.error;
		const [bo] = await program.registerReferred(campaign.id, [{ code: ann.value.participant.code, email: 'bo@example.com' }], { stopOnError: true });
		if (!bo.ok) throw bo.error;
		codes = { referrerCode: ann.value.participant.code, referralCode: bo.value.participant.code };
	});

	afterAll(async () => {
		// eslint-disable-next-line no-console
		console.log(`hardening (nodes): ${CASES.length} bad-input cases run`);
		await closeAllStores();
		await sandbox.close();
		rmSync(folder, { recursive: true, force: true });
	});

	/** The store, and what Pipedrive holds. */
	async function snapshot(): Promise<string> {
		return JSON.stringify({
			persons: sandbox.state.personList.length,
			deals: sandbox.state.deals.size,
			events: await program.listEvents({}, 100_000, 'asc'),
			campaigns: await program.listCampaigns({}, { limit: 1000 }),
			rewards: await program.rewards.list({}, { limit: 1000 }),
		});
	}

	it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
		const before = await snapshot();
		const result = await runWorkflow({
			workflow: {
				nodes: [
					{ id: 's', name: 'Start', type: 'test.start', typeVersion: 1, position: [0, 0], parameters: {} },
					{
						id: 'n',
						name: 'Node',
						type: `${PACKAGE}.${testCase.node}`,
						typeVersion: 1,
						position: [200, 0],
						parameters: testCase.parameters,
						credentials: { referralStoreApi: { id: '1', name: 'Store' }, pipedriveReferralApi: { id: '2', name: 'Pipedrive' } },
					},
				],
				connections: { Start: { main: [[{ node: 'Node', type: 'main', index: 0 }]] } },
				settings: { executionOrder: 'v1' },
			},
			nodeTypes: NODES,
			credentials: {
				referralStoreApi: { backend: 'sqlite', sqlitePath: join(folder, 'referrals.sqlite') },
				pipedriveReferralApi: { apiToken: sandbox.apiToken, companyDomain: 'referral-sandbox', baseUrl: sandbox.url },
			},
			credentialTypes: [new ReferralStoreApi(), new PipedriveReferralApi()],
			inputItems: [{ ...codes, ...(testCase.item ?? {}) }],
		});
		expect(result.status).toBe('error');
		expect(result.error?.nodeName).toBe('Node');
		if (typeof testCase.message === 'string') expect(result.error?.message).toBe(testCase.message);
		else expect(result.error?.message).toMatch(testCase.message);
		if (testCase.field === null) expect(result.error?.description ?? '').not.toMatch(/^Item \d/);
		else expect(result.error?.description ?? '').toContain(`Item 0, field "${testCase.field}"`);
		expect(await snapshot()).toBe(before);
	});
});
