/**
 * The package as users get it, in a real n8n 2.41: packed, installed as a community package,
 * a `referralStoreApi` credential (SQLite) and three webhook workflows imported and published with
 * the n8n CLI, then driven over HTTP only.
 *
 * First run: installs n8n into the cache (~5 min, 2.7 GB). Run with `npm run test:e2e`.
 */
import * as path from 'node:path';
import {
	createCampaignWorkflow,
	enrolWorkflow,
	REFERRAL_CAMPAIGN,
	sqliteStoreCredential,
} from './fixtures/workflows';
import { PACKAGE_NAME } from '../../scripts/n8n/package';
import {
	getJson,
	packageProblemLines,
	postWebhook,
	prepareRealN8n,
	setUpOwner,
	type RealN8n,
} from './helpers/real-n8n';

const credential = { id: 'e2eStoreCred0001', name: 'E2E referral store' };
const PATHS = { campaign: 'e2e/campaign', enrol: 'e2e/enrol', strict: 'e2e/enrol-strict' };

describe('real n8n: the package installed as a community package', () => {
	let n8n: RealN8n;

	beforeAll(async () => {
		n8n = await prepareRealN8n({
			credentials: (userFolder) => [
				sqliteStoreCredential(credential, path.join(userFolder, '.n8n', 'referrals.sqlite')),
			],
			workflows: [
				createCampaignWorkflow({ id: 'e2eCampaignWf001', path: PATHS.campaign, credential }),
				enrolWorkflow({ id: 'e2eEnrolWf000001', path: PATHS.enrol, credential, campaignId: '1' }),
				enrolWorkflow({
					id: 'e2eEnrolStrict01',
					path: PATHS.strict,
					credential,
					campaignId: '1',
					errorBranch: false,
				}),
			],
		});
	});

	afterAll(async () => {
		await n8n?.dispose();
	});

	it('loads the package without errors and runs its node type as installed', () => {
		const logs = n8n.instance.logs() + n8n.cliOutput;
		expect(packageProblemLines(logs, n8n.n8nDir, PACKAGE_NAME)).toEqual([]);
		expect(logs).not.toMatch(
			/Failed to load package|Unrecognized node type|holds node types this instance cannot load|partially published/i,
		);
		// All three published workflows are active (prepareRealN8n waited for their webhooks), which
		// n8n only does when it knows their node type.
		expect(REFERRAL_CAMPAIGN).toBe('n8n-nodes-pipedrive-referrals.referralCampaign');
	});

	it('shows the node and credential types in the editor, under the package name', async () => {
		const cookie = await setUpOwner(n8n.instance);
		const nodeTypes = (await getJson(n8n.instance, '/types/nodes.json', cookie)) as Array<{ name: string }>;
		expect(nodeTypes.map((type) => type.name)).toContain(REFERRAL_CAMPAIGN);
		const credentialTypes = (await getJson(n8n.instance, '/types/credentials.json', cookie)) as Array<{ name: string }>;
		expect(credentialTypes.map((type) => type.name)).toContain('referralStoreApi');
		// The imported credential belongs to the owner (import:credentials without --userId).
		const credentials = (await getJson(n8n.instance, '/rest/credentials', cookie)) as { data: Array<{ id: string; type: string }> };
		expect(credentials.data).toEqual(
			expect.arrayContaining([expect.objectContaining({ id: credential.id, type: 'referralStoreApi' })]),
		);
	});

	it('creates a campaign through a workflow', async () => {
		const response = await postWebhook(n8n.instance, PATHS.campaign, { name: 'E2E spring' });
		expect(response.status).toBe(200);
		expect(response.body).toMatchObject({ id: 1, name: 'E2E spring', status: 'active' });
		// Links to this n8n follow its public URL when read (line 90), whichever process made the campaign.
		expect(response.body.linkTemplate).toBe('{{n8nUrl}}/form/refer?ref={{code}}');
	});

	it('enrols an email once: the same code and link the second time', async () => {
		const first = await postWebhook(n8n.instance, PATHS.enrol, { email: 'Ann@Example.com' });
		expect(first.status).toBe(200);
		expect(first.body).toMatchObject({ email: 'ann@example.com', created: true, campaignId: 1 });
		expect(first.body.code).toEqual(expect.any(String));
		expect(first.body.link).toBe(`${n8n.instance.url}/form/refer?ref=${encodeURIComponent(first.body.code)}`);

		const second = await postWebhook(n8n.instance, PATHS.enrol, { email: 'ann@example.com' });
		expect(second.status).toBe(200);
		expect(second.body).toMatchObject({ created: false, code: first.body.code, link: first.body.link });
		expect(second.body.id).toBe(first.body.id);
	});

	it('answers an invalid email with 400 and the message (error output → Respond to Webhook)', async () => {
		const response = await postWebhook(n8n.instance, PATHS.enrol, { email: 'not-an-email' });
		// n8n 2.41 (WorkflowExecute.handleNodeErrorOutput) sends an item to the error output only when
		// the item carries `error` (an Error; n8n then rewrites its JSON to `{ error: message }`) or
		// when all its JSON keys are among error/message/details. An error item shaped
		// `{ error, kind, field }` stays on the success output and is answered with 200.
		expect(response.body.error).toBe('The email "not-an-email" is not a valid email address');
		expect(response.status).toBe(400);
	});

	it('without an error branch, n8n itself answers a failed execution with 500', async () => {
		const response = await postWebhook(n8n.instance, PATHS.strict, { email: 'not-an-email' });
		// What n8n 2.41 answers when a webhook workflow in "responseNode" mode fails before it
		// reaches a Respond to Webhook node: 500 and a fixed message, nothing of the node's error.
		expect(response.status).toBe(500);
		expect(response.body).toEqual({ message: 'Error in workflow' });
	});
});
