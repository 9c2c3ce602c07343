import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ICredentialDataDecryptedObject, IDataObject, INode, INodeParameters } from 'n8n-workflow';
import { NodeHelpers } from 'n8n-workflow';

import { ReferralStoreApi } from '../../credentials/ReferralStoreApi.credentials';
import { ReferralCampaign } from '../../nodes/ReferralCampaign/ReferralCampaign.node';
import { DEFAULT_QUALIFICATION_RULE } from '../../lib/referrals/qualification-rule';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { runWorkflow, type WorkflowJson } from '../helpers/n8n';

const NODE_TYPE = 'n8n-nodes-pipedrive-referrals.referralCampaign';
const NODE = 'Referral Campaign';
const description = new ReferralCampaign().description;

/** The parameters as the n8n editor saves them: values equal to their defaults are left out. */
function asEditorSaves(parameters: INodeParameters, typeVersion = 2): INodeParameters {
	const node = { name: NODE, type: NODE_TYPE, typeVersion, parameters } as unknown as INode;
	return NodeHelpers.getNodeParameters(description.properties, parameters, false, false, node, description) ?? {};
}

function workflowOf(parameters: INodeParameters, typeVersion = 2): WorkflowJson {
	return {
		nodes: [
			{ name: 'Start', type: 'test.start', typeVersion: 1, parameters: {} },
			{ name: NODE, type: NODE_TYPE, typeVersion, parameters, credentials: { referralStoreApi: { id: '1', name: 'Referral Store' } } },
		],
		connections: { Start: { main: [[{ node: NODE, type: 'main', index: 0 }]] } },
	};
}

const create = (parameters: INodeParameters = {}): INodeParameters => ({ resource: 'campaign', operation: 'create', name: 'Referral Program', ...parameters });

describe('Referral Campaign node, version 2 (n8n-core execution)', () => {
	let folder: string;
	let storeCredential: ICredentialDataDecryptedObject;

	beforeEach(() => {
		folder = mkdtempSync(join(tmpdir(), 'campaign-v2-'));
		storeCredential = { backend: 'sqlite', sqlitePath: join(folder, 'referrals.sqlite') };
	});

	afterEach(async () => {
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});

	async function run(workflow: WorkflowJson, inputItems: IDataObject[] = [{}]) {
		return await runWorkflow({
			workflow,
			nodeTypes: { [NODE_TYPE]: new ReferralCampaign() },
			credentials: { referralStoreApi: storeCredential },
			credentialTypes: [new ReferralStoreApi()],
			instanceBaseUrl: 'https://n8n.acme.test/',
			inputItems,
		});
	}

	async function ok(parameters: INodeParameters, typeVersion = 2) {
		const result = await run(workflowOf(parameters, typeVersion));
		if (result.error) throw result.error.error;
		return result.json(NODE);
	}

	async function storedCampaigns() {
		const store = await openStore({ backend: 'sqlite', path: storeCredential.sqlitePath as string });
		return await store.read((tx) => tx.listCampaigns({}, { limit: 100 }));
	}

	it('Participant → Approve and Reject decide held referrals once, Reject needs a reason', async () => {
		const [created] = await ok(create({ fraudSettings: { maxReferralsPerReferrerPerHour: 1, velocityAction: 'flag' } }));
		const store = await openStore({ backend: 'sqlite', path: storeCredential.sqlitePath as string });
		const program = new ReferralProgram(store);
		const campaign = await program.getCampaign({ id: created.id as number });
		const [referrer] = await program.enrol(campaign.id, [{ email: 'ann@acme.com' }], { stopOnError: true });
		const code = referrer.ok ? referrer.value.participant.code : '';
		const registered = await program.registerReferred(
			campaign.id,
			['b1@x.com', 'b2@x.com', 'b3@x.com'].map((email) => ({ code, email })),
			{ stopOnError: true },
		);
		const [, second, third] = registered.map((outcome) => (outcome.ok ? outcome.value.participant : null)!);
		expect([second.referralStatus, third.referralStatus]).toEqual(['flagged', 'flagged']);
		const decide = (operation: string, target: string, extra: INodeParameters = {}) =>
			({ resource: 'participant', operation, campaign: { __rl: true, mode: 'id', value: String(campaign.id) }, lookupBy: 'code', lookupValue: target, ...extra }) as INodeParameters;

		const [approved] = await ok(decide('approve', second.code));
		expect(approved).toMatchObject({ referralStatus: 'pending', changed: true, review: { decision: 'approved', reasons: ['hourly_limit'] } });
		expect((await ok(decide('approve', second.code)))[0]).toMatchObject({ referralStatus: 'pending', changed: false });

		const failure = async (parameters: INodeParameters) => (await run(workflowOf(parameters))).error;
		expect(await failure(decide('reject', third.code, { reason: ' ' }))).toMatchObject({
			message: 'Give the reason for the rejection, as text',
			description: 'Item 0, field "reason"',
		});
		const [rejected] = await ok(decide('reject', third.code, { reason: 'Made-up address' }));
		expect(rejected).toMatchObject({ referralStatus: 'rejected', review: { decision: 'rejected', decisionReason: 'Made-up address' } });
		expect((await failure(decide('approve', third.code)))?.message).toMatch(/already rejected/);
	});

	it('offers version 2 as the default and keeps version 1', () => {
		expect(description.version).toEqual([1, 2]);
	});

	it('creates a sensible program from the fields’ defaults alone, explained in plain words', async () => {
		const [campaign] = await ok(create());
		expect(campaign).toMatchObject({
			created: true,
			rewardRules: { perReferral: { every: 1, reward: { kind: 'amount', amount: 25, currency: 'EUR' } }, holdDays: 0, approval: false },
			rewardSummary: 'Each referrer earns 25 EUR for every qualified referral. Rewards are due at once.',
		});
		const [got] = await ok({ resource: 'campaign', operation: 'get', campaign: { __rl: true, mode: 'slug', value: 'referral-program' } });
		expect(got.rewardSummary).toBe(campaign.rewardSummary);
		const [listed] = await ok({ resource: 'campaign', operation: 'getAll', returnAll: true });
		expect(listed.rewardSummary).toBe(campaign.rewardSummary);
	});

	it('stores the same rules from the fields as from JSON (round trip through the engine)', async () => {
		const fields = create({
			name: 'By Fields',
			rewardWho: 'both',
			referrerEarns: ['perReferral', 'milestones', 'commission'],
			every: 2,
			referrerAmount: 30,
			referrerCurrency: 'usd',
			milestones: { milestone: [{ at: 10, rewardType: 'custom', payload: '{"gift": "hoodie"}' }, { at: 3, amount: 15 }] },
			commissionPercent: 5,
			commissionCap: 200,
			commissionCurrency: 'USD',
			friendRewardOn: 'qualification',
			friendRewardType: 'custom',
			friendPayload: '{"plan": "pro"}',
			maxRewardsPerReferrer: 20,
			holdDays: 30,
			requireApproval: true,
		});
		const json = create({
			name: 'By JSON',
			rewardRulesMode: 'json',
			rewardRulesJson: JSON.stringify({
				perReferral: { every: 2, reward: { kind: 'amount', amount: 30, currency: 'USD' } },
				milestones: [
					{ at: 3, reward: { kind: 'amount', amount: 15, currency: 'EUR' } },
					{ at: 10, reward: { kind: 'custom', payload: { gift: 'hoodie' } } },
				],
				commission: { percent: 5, cap: 200, currency: 'USD' },
				maxPerReferrer: 20,
				referred: { on: 'qualification', reward: { kind: 'custom', payload: { plan: 'pro' } } },
				holdDays: 30,
				approval: true,
			}),
		});
		// As the editor saves them: the defaults left out of the fields are filled in again when run.
		const [byFields] = await ok(asEditorSaves(fields));
		const [byJson] = await ok(json);
		expect(byFields.rewardRules).toEqual(byJson.rewardRules);
		expect(byFields.rewardSummary).toBe(
			'Each referrer earns 30 USD for every 2 qualified referrals; plus 15 EUR on reaching 3 qualified referrals and a custom reward on reaching 10 qualified referrals; plus 5 % of each referred sale (at most 200 USD a sale), at most 20 rewards. Referred friends get a custom reward when their referral qualifies. Rewards wait 30 days, then need approval.',
		);
		expect((await storedCampaigns()).map((c) => c.rewardRules)).toEqual([byFields.rewardRules, byJson.rewardRules]);
	});

	it('sets fraud protection from a list of domains and a daily limit', async () => {
		const [campaign] = await ok(
			create({ fraudSettings: { blockedEmailDomains: { domain: [{ domain: 'Mailinator.com' }, { domain: '@tempmail.io' }] }, maxReferralsPerReferrerPerDay: 3 } }),
		);
		// Settings not added keep what campaigns did before they existed: limits refuse, throwaway addresses pass.
		expect(campaign.fraudSettings).toEqual({
			blockedEmailDomains: ['mailinator.com', 'tempmail.io'],
			maxReferralsPerReferrerPerDay: 3,
			maxReferralsPerReferrerPerHour: 0,
			velocityAction: 'block',
			disposableEmailAction: 'allow',
			sameDeviceAction: 'allow',
		});
	});

	it('sets the hourly limit, holding past a limit and holding disposable addresses as fields', async () => {
		const [campaign] = await ok(
			create({
				fraudSettings: { maxReferralsPerReferrerPerHour: 4, velocityAction: 'flag', disposableEmailAction: 'flag', sameDeviceAction: 'block' },
			}),
		);
		expect(campaign.fraudSettings).toMatchObject({
			maxReferralsPerReferrerPerHour: 4,
			velocityAction: 'flag',
			disposableEmailAction: 'flag',
			sameDeviceAction: 'block',
		});
		const field = description.properties.find((property) => property.name === 'fraudSettings')!;
		expect((field.options as Array<{ name: string; default: unknown }>).find((option) => option.name === 'sameDeviceAction')).toMatchObject({ default: 'flag' });
	});

	it('holds a referral from the referrer’s sign-up IP and browser, given as fields or mapped automatically', async () => {
		const [campaign] = await ok(create({ fraudSettings: { sameDeviceAction: 'flag' } }));
		const target = { __rl: true, mode: 'id', value: String(campaign.id) };
		const device = { clientIp: '203.0.113.7, 10.0.0.1', userAgent: 'Mozilla/5.0 Firefox/133.0' };
		const [referrer] = await ok({ resource: 'participant', operation: 'enrol', campaign: target, email: 'ann@acme.com', additionalFields: device });
		const register = (email: string, additionalFields: INodeParameters) =>
			ok({ resource: 'participant', operation: 'registerReferred', campaign: target, code: referrer.code as string, email, additionalFields });
		expect((await register('b1@x.com', device))[0]).toMatchObject({ referralStatus: 'flagged' });
		expect((await register('b2@x.com', { ...device, clientIp: '198.51.100.4' }))[0]).toMatchObject({ referralStatus: 'pending' });
		expect((await register('b3@x.com', { userAgent: device.userAgent }))[0]).toMatchObject({ referralStatus: 'pending' });

		const mapped = await run(workflowOf({ resource: 'participant', operation: 'registerReferred', campaign: target, inputMode: 'autoMap' }), [
			{ code: referrer.code, email: 'b4@x.com', clientIp: '203.0.113.7', userAgent: device.userAgent },
		]);
		expect(mapped.json(NODE)[0]).toMatchObject({ email: 'b4@x.com', referralStatus: 'flagged' });
		expect(JSON.stringify(mapped.json(NODE))).not.toMatch(/203\.0\.113|signupDevice/);
	});

	it.each<[string, INodeParameters, string]>([
		['a milestone at 0', { referrerEarns: ['milestones'], milestones: { milestone: [{ at: 0, amount: 10 }] } }, 'Milestones → At Qualified Referrals'],
		['a negative amount', { referrerAmount: -25 }, 'Referrer Reward Amount'],
		['a commission over 100 %', { referrerEarns: ['commission'], commissionPercent: 150 }, 'Commission (% of Sale Value)'],
		['a currency that is not three letters', { referrerCurrency: 'EURO' }, 'Referrer Reward Currency'],
		['a coupon reward with an empty pool', { rewardWho: 'referred', friendRewardType: 'coupon' }, 'Friend’s Reward'],
		['a coupon in JSON with an empty pool', { rewardRulesMode: 'json', rewardRulesJson: '{"perReferral": {"reward": {"kind": "coupon"}}}' }, 'Reward Rules (JSON)'],
		['bad JSON rules', { rewardRulesMode: 'json', rewardRulesJson: '{"perReferral": {"every": 0, "reward": {"kind": "coupon"}}}' }, 'Reward Rules (JSON)'],
		['a blocked domain that is none', { fraudSettings: { blockedEmailDomains: { domain: [{ domain: 'not a domain' }] } } }, 'Fraud Protection → Blocked Email Domains'],
		['a negative daily limit', { fraudSettings: { maxReferralsPerReferrerPerDay: -1 } }, 'Fraud Protection → Daily Referral Limit per Referrer'],
	])('refuses %s, naming the field as the editor labels it, and writes nothing', async (_what, parameters, field) => {
		for (const ifExists of ['error', 'update']) {
			const result = await run(workflowOf(create({ ...parameters, ifExists })));
			expect(result.status).toBe('error');
			expect(result.error?.description).toContain(`Item 0, field "${field}"`);
			expect(result.error?.message).toContain(field);
		}
		expect(await storedCampaigns()).toEqual([]);
	});

	it('takes coupon codes with the rules, and needs none once the pool has some', async () => {
		const coupons = { rewardWho: 'referred', friendRewardType: 'coupon' };
		const [campaign] = await ok(create({ ...coupons, couponCodes: 'WELCOME-1\nWELCOME-2\nWELCOME-1' }));
		expect(campaign).toMatchObject({ created: true, couponPool: { added: 2, total: 2, available: 2 } });
		const [again] = await ok(create({ ...coupons, ifExists: 'update' }));
		expect(again).toMatchObject({ created: false, changed: [] });
		expect(again.couponPool).toBeUndefined();
	});

	it('"Update It to These Settings" changes only what differs and says what changed', async () => {
		const first = create({ ifExists: 'update', additionalFields: { slug: 'referral-program' } });
		const [created] = await ok(first);
		expect(created).toMatchObject({ created: true, changed: [] });

		const [same] = await ok(first);
		expect(same).toMatchObject({ created: false, changed: [], updatedAt: created.updatedAt });

		const edited = create({
			ifExists: 'update',
			name: 'Referral Program 2027',
			additionalFields: { slug: 'referral-program' },
			referrerAmount: 40,
			fraudSettings: { blockedEmailDomains: { domain: [{ domain: 'mailinator.com' }] } },
		});
		const [updated] = await ok(asEditorSaves(edited));
		expect(updated).toMatchObject({
			id: created.id,
			created: false,
			name: 'Referral Program 2027',
			changed: ['name', 'fraudSettings', 'rewardRules'],
			rewardSummary: 'Each referrer earns 40 EUR for every qualified referral. Rewards are due at once.',
			fraudSettings: { blockedEmailDomains: ['mailinator.com'], maxReferralsPerReferrerPerDay: 0 },
		});
		expect(await storedCampaigns()).toHaveLength(1);

		// A campaign paused with Update stays paused: the node sets no status.
		await ok({ resource: 'campaign', operation: 'update', campaign: { __rl: true, mode: 'slug', value: 'referral-program' }, updateFields: { status: 'paused' } });
		const [again] = await ok(asEditorSaves(edited));
		expect(again).toMatchObject({ status: 'paused', changed: [] });

		// "Use It" leaves it as it is, whatever the node says.
		const [used] = await ok(create({ ifExists: 'useExisting', name: 'Other', additionalFields: { slug: 'referral-program' } }));
		expect(used).toMatchObject({ created: false, name: 'Referral Program 2027' });
		expect(used.changed).toBeUndefined();
	});

	it('Update changes the rules with the fields, fraud settings given, and reports what changed', async () => {
		await ok(create());
		const locator = { __rl: true, mode: 'slug', value: 'referral-program' };
		const [updated] = await ok({
			resource: 'campaign',
			operation: 'update',
			campaign: locator,
			changeRewardRules: true,
			referrerEarns: ['milestones'],
			milestones: { milestone: [{ at: 3, amount: 100 }] },
			holdDays: 14,
			requireApproval: true,
			fraudSettings: { maxReferralsPerReferrerPerDay: 2 },
		});
		expect(updated).toMatchObject({
			changed: ['fraudSettings', 'rewardRules'],
			fraudSettings: { maxReferralsPerReferrerPerDay: 2 },
			rewardSummary: 'Each referrer earns 100 EUR on reaching 3 qualified referrals. Rewards wait 14 days, then need approval.',
		});
		const result = await run(workflowOf({ resource: 'campaign', operation: 'update', campaign: locator }));
		expect(result.error?.message).toContain('Nothing to update');
		const bad = await run(workflowOf({ resource: 'campaign', operation: 'update', campaign: locator, changeRewardRules: true, milestones: { milestone: [{ at: 3, amount: 100 }] }, referrerEarns: ['milestones'], fraudSettings: { maxReferralsPerReferrerPerDay: 9 }, holdDays: -1 }));
		expect(bad.error?.description).toContain('field "Hold Days"');
		const [stored] = await storedCampaigns();
		expect(stored.fraudSettings.maxReferralsPerReferrerPerDay).toBe(2);
	});

	it('sets the qualification rule from the Qualification fields: on create, "Update It to These Settings" and Update', async () => {
		const ruleOf = async (id: number) => {
			const program = new ReferralProgram(await openStore({ backend: 'sqlite', path: storeCredential.sqlitePath as string }));
			return await program.getQualificationRule(id);
		};
		const definition = (qualification: INodeParameters) => create({ ifExists: 'update', additionalFields: { slug: 'referral-program' }, qualification });
		const [created] = await ok(asEditorSaves(definition({})));
		expect(created).toMatchObject({ created: true, qualification: DEFAULT_QUALIFICATION_RULE });

		// Editing the node that defines the campaign changes the rule at its next run, and says so.
		const [edited] = await ok(asEditorSaves(definition({ dealStageIds: '8, 3', dealLostUnqualifies: false })));
		expect(edited).toMatchObject({ created: false, changed: ['qualification'], qualificationChanged: true });
		expect(await ruleOf(created.id as number)).toEqual({ ...DEFAULT_QUALIFICATION_RULE, dealStageIds: [3, 8], dealLostUnqualifies: false });
		const [same] = await ok(asEditorSaves(definition({ dealStageIds: '3,8', dealLostUnqualifies: false })));
		expect(same).toMatchObject({ changed: [], qualificationChanged: false });

		// Update changes only the fields it is given.
		const locator = { __rl: true, mode: 'slug', value: 'referral-program' };
		const [updated] = await ok({ resource: 'campaign', operation: 'update', campaign: locator, qualification: { leadConverted: true } });
		expect(updated).toMatchObject({ changed: ['qualification'] });
		expect(await ruleOf(created.id as number)).toEqual({ ...DEFAULT_QUALIFICATION_RULE, dealStageIds: [3, 8], dealLostUnqualifies: false, leadConverted: true });

		const bad = await run(workflowOf({ resource: 'campaign', operation: 'update', campaign: locator, qualification: { dealStageIds: 'demo' } }));
		expect(bad.error?.message).toContain('"demo" is not a Pipedrive stage ID');
		expect((await ruleOf(created.id as number)).dealStageIds).toEqual([3, 8]);
	});

	it('gives a campaign made by version 1 the default rule: a won deal qualifies, a lost one un-qualifies', async () => {
		const [campaign] = await ok({ resource: 'campaign', operation: 'create', name: 'Old Program' }, 1);
		const program = new ReferralProgram(await openStore({ backend: 'sqlite', path: storeCredential.sqlitePath as string }));
		expect(await program.getQualificationRule(campaign.id as number)).toEqual(DEFAULT_QUALIFICATION_RULE);
	});

	it('runs a workflow saved with version 1 (JSON rules, "Use It") exactly as before', async () => {
		const saved = JSON.parse(readFileSync(join(__dirname, 'workflows', 'v1-referrer-signup-campaign.workflow.json'), 'utf8')) as WorkflowJson;
		const first = await run(saved);
		if (first.error) throw first.error.error;
		const [campaign] = first.json(NODE);
		expect(campaign).toMatchObject({
			created: true,
			slug: 'referral-program',
			rewardRules: { perReferral: { every: 1, reward: { kind: 'amount', amount: 25, currency: 'EUR' } } },
		});
		// Version 1 outputs no summary and no "changed", and "Use It" keeps the campaign as it was.
		expect(campaign.rewardSummary).toBeUndefined();
		const edited = JSON.parse(JSON.stringify(saved)) as WorkflowJson;
		const parameters = (edited.nodes[1].parameters as IDataObject).additionalFields as IDataObject;
		parameters.rewardRules = String(parameters.rewardRules).replace('25', '40');
		const second = await run(edited);
		expect(second.json(NODE)).toEqual([{ ...campaign, created: false }]);
	});
});
