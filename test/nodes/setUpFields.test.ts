import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ICredentialDataDecryptedObject, IDataObject } from 'n8n-workflow';
import { sleep } from 'n8n-workflow';

import { PipedriveReferralApi } from '../../credentials/PipedriveReferralApi.credentials';
import { ReferralStoreApi } from '../../credentials/ReferralStoreApi.credentials';
import { PipedriveClient } from '../../lib/pipedrive/client';
import { AccountListsCache } from '../../lib/pipedrive/fields';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { REFERRAL_FIELDS, setUpReferralFields } from '../../lib/sync/field-setup';
import { PipedriveReferralSync } from '../../nodes/PipedriveReferralSync/PipedriveReferralSync.node';
import { ReferralCampaign } from '../../nodes/ReferralCampaign/ReferralCampaign.node';
import { startSandbox, type Sandbox } from '../../sandbox';
import { bundledWorkflows } from '../../scripts/n8n/bundle';
import { runWorkflow, type WorkflowJson } from '../helpers/n8n';
import { createHttpRequest } from '../helpers/pipedrive-http';

const PACKAGE = 'n8n-nodes-pipedrive-referrals';
const SET_UP = 'Set Up Fields';

/** Start → Set Up Fields → (the given nodes, in a row). */
function withSetUp(rest: WorkflowJson): WorkflowJson {
	const setUp = {
		name: SET_UP,
		type: `${PACKAGE}.pipedriveReferralSync`,
		typeVersion: 1,
		parameters: { resource: 'field', operation: 'setUp' },
		credentials: { referralStoreApi: { id: '1', name: 'Referral Store' }, pipedriveReferralApi: { id: '2', name: 'Pipedrive' } },
	};
	const [start, ...others] = rest.nodes;
	const connections = { ...(rest.connections as Record<string, unknown>) };
	const first = others[0]?.name;
	connections[start.name] = { main: [[{ node: SET_UP, type: 'main', index: 0 }]] };
	if (first) connections[SET_UP] = { main: [[{ node: first, type: 'main', index: 0 }]] };
	return { ...rest, nodes: [start, setUp, ...others], connections };
}

const onlyStart: WorkflowJson = { nodes: [{ name: 'Start', type: 'test.start', typeVersion: 1, parameters: {} }], connections: {} };

describe('Pipedrive Referral Sync → Set Up Fields (n8n-core execution, Pipedrive sandbox)', () => {
	let sandbox: Sandbox;
	let folder: string;
	let store: ICredentialDataDecryptedObject;
	let pipedrive: ICredentialDataDecryptedObject;

	beforeAll(async () => {
		// A new Pipedrive account: none of the referral fields exist.
		sandbox = await startSandbox({ rateLimit: 0, seed: { referralFields: false } });
	});

	afterAll(async () => {
		await sandbox.close();
	});

	beforeEach(() => {
		sandbox.reset();
		expect([...sandbox.state.personFields, ...sandbox.state.dealFields]).toEqual([]);
		folder = mkdtempSync(join(tmpdir(), 'set-up-fields-'));
		store = { backend: 'sqlite', sqlitePath: join(folder, 'referrals.sqlite') };
		pipedrive = { apiToken: sandbox.apiToken, companyDomain: 'referral-sandbox', baseUrl: sandbox.url };
	});

	afterEach(async () => {
		expect(sandbox.violations()).toEqual([]);
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});

	async function run(workflow: WorkflowJson, inputItems: IDataObject[] = [{}]) {
		return await runWorkflow({
			workflow,
			nodeTypes: { [`${PACKAGE}.referralCampaign`]: new ReferralCampaign(), [`${PACKAGE}.pipedriveReferralSync`]: new PipedriveReferralSync() },
			credentials: { referralStoreApi: store, pipedriveReferralApi: pipedrive },
			credentialTypes: [new ReferralStoreApi(), new PipedriveReferralApi()],
			inputItems,
		});
	}

	const names = (entity: 'person' | 'deal') => (entity === 'person' ? sandbox.state.personFields : sandbox.state.dealFields).map((f) => [f.name, f.field_type]);

	it('creates the missing fields with the suggested names and types, and reports them; a second run creates none', async () => {
		const first = await run(withSetUp(onlyStart), [{}, {}]);
		expect(first.error).toBeUndefined();
		const [report] = first.json(SET_UP);
		expect(first.json(SET_UP)).toHaveLength(1);
		expect(report).toMatchObject({ created: 9, existing: 0 });
		expect((report.fields as IDataObject[]).map(({ entity, name, fieldType, status }) => ({ entity, name, fieldType, status }))).toEqual(
			REFERRAL_FIELDS.map((field) => ({ ...field, status: 'created' })),
		);
		expect(first.outputOf(SET_UP)[0][0].pairedItem).toEqual([{ item: 0 }, { item: 1 }]);
		expect(names('deal')).toEqual([
			['Referral code', 'varchar'],
			['Referrer name', 'varchar'],
			['Referrer email', 'varchar'],
			['Referral campaign', 'varchar'],
			['Referral link', 'varchar'],
		]);
		expect(names('person')).toEqual([
			['Referral link', 'varchar'],
			['Referral code', 'varchar'],
			['Referrals', 'double'],
			['Qualified referrals', 'double'],
		]);
		const keys = (report.fields as IDataObject[]).map((field) => field.key);
		expect(keys.every((key) => /^[0-9a-f]{40}$/.test(String(key)))).toBe(true);

		const second = await run(withSetUp(onlyStart));
		expect(second.json(SET_UP)[0]).toMatchObject({ created: 0, existing: 9 });
		expect((second.json(SET_UP)[0].fields as IDataObject[]).map((field) => field.key)).toEqual(keys);
		expect(sandbox.state.personFields).toHaveLength(4);
		expect(sandbox.state.dealFields).toHaveLength(5);
	});

	it('reuses a field that exists under a suggested name (any case), and says when its type differs', async () => {
		const own = sandbox.state.addCustomField('deal', 'REFERRAL CODE', 'text');
		const counts = sandbox.state.addCustomField('person', 'Referrals', 'varchar');
		const result = await run(withSetUp(onlyStart));
		const fields = result.json(SET_UP)[0].fields as IDataObject[];
		expect(result.json(SET_UP)[0]).toMatchObject({ created: 7, existing: 2 });
		expect(fields.find((f) => f.entity === 'deal' && f.name === 'Referral code')).toEqual(
			expect.objectContaining({ status: 'existing', key: own.key, note: 'It is a text field, not varchar; it is used as it is' }),
		);
		expect(fields.find((f) => f.entity === 'person' && f.name === 'Referrals')).toMatchObject({ status: 'existing', key: counts.key });
		expect(sandbox.state.dealFields.filter((f) => f.name.toLowerCase() === 'referral code')).toHaveLength(1);
	});

	it('turns "the field does not exist" into a send that works, with no manual step', async () => {
		const program = new ReferralProgram(await openStore({ backend: 'sqlite', path: store.sqlitePath as string }));
		const campaign = await program.createCampaign({ name: 'Friends', slug: 'friends' }, 'https://n8n.acme.test/form/refer?ref={{code}}');
		const [ann] = await program.enrol(campaign.id, [{ email: 'ann@example.com', firstName: 'Ann', lastName: 'Lee' }], { stopOnError: true });
		if (!ann.ok) throw ann.error;
		const send = JSON.parse(readFileSync(join(__dirname, 'workflows', 'register-and-send-deal.workflow.json'), 'utf8')) as WorkflowJson;
		const friend = (name: string) => [{ code: ann.value.participant.code, email: `${name}@example.com`, firstName: name }];
		const before = await run(send, friend('bo'));
		expect(before.error?.message).toContain('"Referral code"');

		expect((await run(withSetUp(onlyStart))).json(SET_UP)[0]).toMatchObject({ created: 9 });
		const after = await run(send, friend('cy'));
		expect(after.error).toBeUndefined();
		const deal = sandbox.state.deals.get(after.json('Send to Pipedrive')[0].dealId as number)!;
		const key = (name: string) => sandbox.state.dealFieldByName(name)!.key;
		expect(deal.custom).toMatchObject({ [key('Referral code')]: after.json('Send to Pipedrive')[0].code, [key('Referrer name')]: 'Ann Lee', [key('Referral campaign')]: 'Friends' });
	});

	it('the bundled sync workflow sets up the fields, syncs nobody before the campaign exists, then everyone', async () => {
		const bundled = bundledWorkflows().find(({ file }) => file === 'sync-pipedrive-contacts.json')!.workflow;
		// Run as "Execute workflow" from Run Now does; the note and the schedule take no part.
		const workflow = {
			...bundled,
			nodes: bundled.nodes.filter((node) => !['n8n-nodes-base.stickyNote', 'n8n-nodes-base.scheduleTrigger'].includes(node.type)),
			connections: { 'Run Now': bundled.connections['Run Now'], 'Set Up Pipedrive Fields': bundled.connections['Set Up Pipedrive Fields'] },
		};
		const first = await run(workflow as unknown as WorkflowJson);
		expect(first.error).toBeUndefined();
		expect(first.json('Set Up Pipedrive Fields')[0]).toMatchObject({ created: 9, existing: 0 });
		expect(first.json('Sync Contacts')).toEqual([{ skipped: true, reason: 'There is no campaign with slug "referral-program"; nothing was synced' }]);

		const program = new ReferralProgram(await openStore({ backend: 'sqlite', path: store.sqlitePath as string }));
		await program.createCampaign({ name: 'Referral Program', slug: 'referral-program' }, 'https://n8n.acme.test/form/refer?ref={{code}}');
		const second = await run(workflow as unknown as WorkflowJson);
		expect(second.error).toBeUndefined();
		expect(second.json('Set Up Pipedrive Fields')[0]).toMatchObject({ created: 0, existing: 9 });
		const withEmail = sandbox.state.personList.filter((p) => p.emails.length > 0);
		expect(second.json('Sync Contacts')[0]).toMatchObject({ enrolled: withEmail.length });
		const linkKey = sandbox.state.personFieldByName('Referral link')!.key;
		expect(withEmail.every((p) => String(p.custom[linkKey]).startsWith('https://n8n.acme.test/form/refer?ref='))).toBe(true);
	});

	it('forgets the account’s cached field lists, so other executions see the new fields too', async () => {
		const cache = new AccountListsCache(5 * 60_000);
		const client = () =>
			new PipedriveClient({
				request: createHttpRequest({ apiToken: sandbox.apiToken }),
				baseUrl: sandbox.url,
				sleep,
				accountLists: { cache, scope: 'one-account' },
			});
		// Another execution listed the fields before they existed; its list is cached for 5 minutes.
		expect((await client().listDealFields()).filter((f) => f.isCustom)).toEqual([]);
		await setUpReferralFields(client());
		expect((await client().listDealFields()).filter((f) => f.isCustom).map((f) => f.name)).toEqual(REFERRAL_FIELDS.filter((f) => f.entity === 'deal').map((f) => f.name));
	});
});
