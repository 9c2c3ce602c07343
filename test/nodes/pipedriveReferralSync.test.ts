import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ICredentialDataDecryptedObject, IDataObject } from 'n8n-workflow';

import { PipedriveReferralApi } from '../../credentials/PipedriveReferralApi.credentials';
import { ReferralStoreApi } from '../../credentials/ReferralStoreApi.credentials';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { PipedriveReferralSync } from '../../nodes/PipedriveReferralSync/PipedriveReferralSync.node';
import { ReferralCampaign } from '../../nodes/ReferralCampaign/ReferralCampaign.node';
import { startSandbox, type Sandbox } from '../../sandbox';
import { DEAL_FIELD_KEYS, PERSON_FIELD_KEYS } from '../../sandbox/seed';
import { loadOptions, runWorkflow, type WorkflowJson } from '../helpers/n8n';

const PACKAGE = 'n8n-nodes-pipedrive-referrals';

function fixture(name: string): WorkflowJson {
	return JSON.parse(readFileSync(join(__dirname, 'workflows', `${name}.workflow.json`), 'utf8')) as WorkflowJson;
}

describe('Pipedrive Referral Sync node (n8n-core execution, Pipedrive sandbox)', () => {
	let sandbox: Sandbox;
	let folder: string;
	let store: ICredentialDataDecryptedObject;
	let pipedrive: ICredentialDataDecryptedObject;
	let program: ReferralProgram;
	let referrerCode: string;

	beforeAll(async () => {
		sandbox = await startSandbox({ rateLimit: 0 });
	});

	afterAll(async () => {
		await sandbox.close();
	});

	beforeEach(async () => {
		sandbox.reset();
		sandbox.setFaults(null);
		folder = mkdtempSync(join(tmpdir(), 'sync-node-'));
		store = { backend: 'sqlite', sqlitePath: join(folder, 'referrals.sqlite') };
		pipedrive = { apiToken: sandbox.apiToken, companyDomain: 'referral-sandbox', baseUrl: sandbox.url };
		program = new ReferralProgram(await openStore({ backend: 'sqlite', path: store.sqlitePath as string }));
		const campaign = await program.createCampaign({ name: 'Friends', slug: 'friends' }, 'https://n8n.acme.test/form/refer?ref={{code}}');
		const [ann] = await program.enrol(campaign.id, [{ email: 'ann@example.com', firstName: 'Ann', lastName: 'Lee' }], { stopOnError: true });
		if (!ann.ok) throw ann.error;
		referrerCode = ann.value.participant.code;
	});

	afterEach(async () => {
		expect(sandbox.violations()).toEqual([]);
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});

	async function run(workflow: WorkflowJson, inputItems: IDataObject[], credentials = pipedrive) {
		return await runWorkflow({
			workflow,
			nodeTypes: {
				[`${PACKAGE}.referralCampaign`]: new ReferralCampaign(),
				[`${PACKAGE}.pipedriveReferralSync`]: new PipedriveReferralSync(),
			},
			credentials: { referralStoreApi: store, pipedriveReferralApi: credentials },
			credentialTypes: [new ReferralStoreApi(), new PipedriveReferralApi()],
			inputItems,
		});
	}

	const personsWithEmail = (email: string) =>
		sandbox.state.personList.filter((p) => p.emails.some((e) => e.value.toLowerCase() === email));

	it('sends referred people from a Referral Campaign node as a person and a deal with the referral fields', async () => {
		const friends = ['bo', 'cy'].map((name) => ({ code: referrerCode, email: `${name}@example.com`, firstName: name.toUpperCase() }));
		const result = await run(fixture('register-and-send-deal'), friends);
		expect(result.error).toBeUndefined();
		const sent = result.json('Send to Pipedrive');
		expect(sent).toEqual([
			expect.objectContaining({ email: 'bo@example.com', skipped: false, personCreated: true, dealCreated: true }),
			expect.objectContaining({ email: 'cy@example.com', skipped: false, personCreated: true, dealCreated: true }),
		]);
		expect(result.outputOf('Send to Pipedrive')[0].map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		const deal = sandbox.state.deals.get(sent[0].dealId as number)!;
		expect(deal).toMatchObject({ pipeline_id: 2, stage_id: 6, title: 'Referral: BO (from Ann Lee)' });
		expect(deal.custom).toMatchObject({
			[DEAL_FIELD_KEYS.referralCode]: sent[0].code,
			[DEAL_FIELD_KEYS.referrerName]: 'Ann Lee',
			[DEAL_FIELD_KEYS.referrerEmail]: 'ann@example.com',
			[DEAL_FIELD_KEYS.referralCampaign]: 'Friends',
		});

		// The same sign-ups again (a form submitted twice): no second person or deal.
		const again = await run(fixture('register-and-send-deal'), friends);
		expect(again.json('Send to Pipedrive').map((r) => [r.personCreated, r.dealCreated])).toEqual([
			[false, false],
			[false, false],
		]);
		expect(personsWithEmail('bo@example.com')).toHaveLength(1);
		expect(sandbox.state.dealList.filter((d) => d.person_id === sent[0].personId)).toHaveLength(1);
	});

	it('sends a lead with the chosen title into the Leads Inbox', async () => {
		const result = await run(fixture('register-and-send-lead'), [{ code: referrerCode, email: 'dee@example.com' }]);
		expect(result.error).toBeUndefined();
		const [sent] = result.json('Send to Pipedrive');
		expect(sandbox.state.leads.get(sent.leadId as string)).toMatchObject({ title: 'Referral: dee@example.com', person_id: sent.personId });
	});

	it('refuses a missing mapped field before sending anything, naming it and where to create it', async () => {
		const workflow = fixture('register-and-send-deal');
		(workflow.nodes[2].parameters as IDataObject).codeField = 'Referal code';
		sandbox.clearRequests();
		const result = await run(workflow, [{ code: referrerCode, email: 'bo@example.com' }]);
		expect(result.error).toMatchObject({
			nodeName: 'Send to Pipedrive',
			message: 'The deal field "Referal code" chosen as Referral Code Field does not exist in Pipedrive',
		});
		expect(result.error!.description).toBe("Create it in Pipedrive (Company settings → Data fields → Deal) or pick another field; nothing was sent");
		expect(sandbox.requests().filter((r) => r.method !== 'GET')).toEqual([]);
	});

	it('says plainly when Pipedrive refuses the API token', async () => {
		const result = await run(fixture('register-and-send-deal'), [{ code: referrerCode, email: 'bo@example.com' }], {
			...pipedrive,
			apiToken: 'wrong-token',
		});
		expect(result.error).toMatchObject({ name: 'NodeApiError', httpCode: '401', nodeName: 'Send to Pipedrive' });
		expect(result.error!.message).toContain('Pipedrive refused the API token');
		expect(JSON.stringify(result.error!.error)).not.toContain('wrong-token');
	});

	it('with 20% of Pipedrive requests failing, every referral arrives once', async () => {
		const friends = Array.from({ length: 8 }, (_, i) => ({ code: referrerCode, email: `f${i}@example.com` }));
		sandbox.setFaults({ rate: 0.2, kinds: ['500', '503', '429'], seed: 11 });
		const result = await run(fixture('register-and-send-deal'), friends);
		sandbox.setFaults(null);
		expect(result.error).toBeUndefined();
		for (const friend of friends) {
			const [person] = personsWithEmail(friend.email);
			expect(personsWithEmail(friend.email)).toHaveLength(1);
			expect(sandbox.state.dealList.filter((d) => d.person_id === person.id)).toHaveLength(1);
		}
	});

	it('syncs contacts into the campaign and writes their links, then finds nothing to write', async () => {
		const first = await run(fixture('sync-contacts'), [{}]);
		expect(first.error).toBeUndefined();
		const [summary] = first.json('Sync Contacts');
		const withEmail = sandbox.state.personList.filter((p) => p.emails.some((e) => e.value));
		expect(summary).toMatchObject({ complete: true, enrolled: withEmail.length, failed: 0, written: withEmail.length });
		const [participant] = await program.findByPipedrivePersons(1, [withEmail[0].id]);
		expect(sandbox.state.persons.get(withEmail[0].id)!.custom).toMatchObject({
			[PERSON_FIELD_KEYS.referralLink]: participant.link,
			[PERSON_FIELD_KEYS.referralCode]: participant.code,
		});
		const second = await run(fixture('sync-contacts'), [{}]);
		expect(second.json('Sync Contacts')[0]).toMatchObject({ enrolled: 0, written: 0 });
	});

	it('writes the referrer’s referral counts after a referral', async () => {
		const referrerPerson = sandbox.createPerson({ name: 'Ann Lee', emails: [{ value: 'ann@example.com' }] }) as { id: number };
		const result = await run(fixture('register-and-update-metrics'), [{ code: referrerCode, email: 'bo@example.com' }]);
		expect(result.error).toBeUndefined();
		expect(result.json('Update Referrer Metrics')[0]).toMatchObject({ personId: referrerPerson.id, referrals: 1, qualified: 0 });
		expect(sandbox.state.persons.get(referrerPerson.id)!.custom).toMatchObject({
			[PERSON_FIELD_KEYS.referrals]: 1,
			[PERSON_FIELD_KEYS.qualifiedReferrals]: 0,
		});
	});

	it('offers the account’s pipelines, the chosen pipeline’s stages, fields, labels, filters and users', async () => {
		const call = async (methodName: string, parameters: IDataObject = {}) =>
			await loadOptions({
				kind: 'loadOptions',
				nodeType: new PipedriveReferralSync(),
				methodName,
				credentials: { referralStoreApi: store, pipedriveReferralApi: pipedrive },
				credentialTypes: [new ReferralStoreApi(), new PipedriveReferralApi()],
				parameters: { authentication: 'apiToken', resource: 'participant', operation: 'send', ...parameters },
				path: 'parameters.codeField',
			});
		expect((await call('getPipelines')).map((o) => o.name)).toEqual(['Referrals', 'Sales']);
		expect((await call('getStages', { pipelineId: 2 })).map((o) => o.name)).toEqual([
			'1. Referred',
			'2. Contacted',
			'3. Meeting Booked',
			'4. Referral Qualified',
		]);
		expect(await call('getDealFields')).toEqual(
			expect.arrayContaining([{ name: 'Referral code', value: DEAL_FIELD_KEYS.referralCode }]),
		);
		expect((await call('getPersonFields')).map((o) => o.name)).toEqual(['Qualified referrals', 'Referral code', 'Referral link', 'Referrals']);
		expect((await call('getLeadLabels')).map((o) => o.name)).toEqual(['Cold', 'Hot', 'Referral', 'Warm']);
		expect((await call('getPersonFilters')).length).toBeGreaterThan(0);
		expect((await call('getUsers')).length).toBeGreaterThan(0);
	});
});
