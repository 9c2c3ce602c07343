/**
 * Referral Campaign → Participant → Get Portal Links and the Referral Portal node, run by n8n-core's
 * real engine: the links one makes are the pages the other serves; every refusal is the one 404.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ICredentialDataDecryptedObject, IDataObject } from 'n8n-workflow';

import { ReferralPortalApi } from '../../credentials/ReferralPortalApi.credentials';
import { ReferralStoreApi } from '../../credentials/ReferralStoreApi.credentials';
import { ReferralCampaign } from '../../nodes/ReferralCampaign/ReferralCampaign.node';
import { ReferralPortal } from '../../nodes/ReferralPortal/ReferralPortal.node';
import { referralPortalSecretTest } from '../../nodes/shared/portal';
import { verifyToken } from '../../lib/portal/tokens';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { runWorkflow, type WorkflowJson } from '../helpers/n8n';

const SECRET = 'node-test-portal-secret-0123456789abcdef';
const PACKAGE = 'n8n-nodes-pipedrive-referrals';

function workflow(node: { type: string; parameters: IDataObject; onError?: string }): WorkflowJson {
	return {
		nodes: [
			{ id: 'a', name: 'Start', type: 'test.start', typeVersion: 1, position: [0, 0], parameters: {} },
			{
				id: 'b',
				name: 'Node',
				type: `${PACKAGE}.${node.type}`,
				typeVersion: 1,
				position: [200, 0],
				parameters: node.parameters,
				credentials: { referralStoreApi: { id: '1', name: 'Store' }, referralPortalApi: { id: '2', name: 'Portal' } },
				...(node.onError ? { onError: node.onError } : {}),
			},
		],
		connections: { Start: { main: [[{ node: 'Node', type: 'main', index: 0 }]] } },
	};
}

const BY_SLUG = { __rl: true, mode: 'slug', value: '={{ $json.campaign }}' };

describe('referrer pages in n8n: Get Portal Links and the Referral Portal node', () => {
	let folder: string;
	let store: ICredentialDataDecryptedObject;
	let portal: ICredentialDataDecryptedObject;
	let ann: { id: number; code: string; link: string };

	beforeEach(async () => {
		folder = mkdtempSync(join(tmpdir(), 'portal-node-'));
		store = { backend: 'sqlite', sqlitePath: join(folder, 'referrals.sqlite') };
		portal = { secret: SECRET };
		const program = new ReferralProgram(await openStore({ backend: 'sqlite', path: store.sqlitePath as string }), undefined, {
			publicUrl: () => 'https://n8n.acme.test',
		});
		const campaign = await program.createCampaign({ name: 'Spring', rewardRules: { perReferral: { every: 1, reward: { kind: 'amount', amount: 25, currency: 'EUR' } } } });
		const [outcome] = await program.enrol(campaign.id, [{ email: 'ann@example.com', firstName: 'Ann', lastName: 'Lee' }], { stopOnError: true });
		if (!outcome.ok) throw outcome.error;
		ann = outcome.value.participant;
		const [bo] = await program.registerReferred(campaign.id, [{ code: ann.code, email: 'bo@example.com', firstName: 'Bo', lastName: 'Friend' }], { stopOnError: true });
		if (!bo.ok) throw bo.error;
		await program.qualify({ id: bo.value.participant.id }, { action: 'qualify' });
	});

	afterEach(async () => {
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});

	const run = async (node: Parameters<typeof workflow>[0], inputItems: IDataObject[]) =>
		await runWorkflow({
			workflow: workflow(node),
			nodeTypes: { [`${PACKAGE}.referralCampaign`]: new ReferralCampaign(), [`${PACKAGE}.referralPortal`]: new ReferralPortal() },
			credentials: { referralStoreApi: store, referralPortalApi: portal },
			credentialTypes: [new ReferralStoreApi(), new ReferralPortalApi()],
			instanceBaseUrl: 'https://n8n.acme.test/',
			inputItems,
		});

	const links = (inputItems: IDataObject[], parameters: IDataObject = {}, onError?: string) =>
		run(
			{
				type: 'referralCampaign',
				parameters: { resource: 'participant', operation: 'getPortalLinks', campaign: BY_SLUG, lookupBy: 'email', lookupValue: '={{ $json.email }}', ...parameters },
				onError,
			},
			inputItems,
		);
	const render = (page: 'share' | 'stats', inputItems: IDataObject[], parameters: IDataObject = {}) =>
		run({ type: 'referralPortal', parameters: { operation: 'renderPage', campaign: BY_SLUG, page, ...parameters } }, inputItems);

	it('Get Portal Links: the share page by code and a signed stats link per participant, paired with its item', async () => {
		const result = await links([{ campaign: 'spring', email: 'Ann@Example.com' }], { expiresAfterDays: 7 });
		expect(result.error).toBeUndefined();
		const [item] = result.outputOf('Node')[0];
		expect(item.pairedItem).toEqual({ item: 0 });
		expect(item.json).toMatchObject({
			participantId: ann.id,
			code: ann.code,
			link: ann.link,
			shareUrl: `https://n8n.acme.test/webhook/referrals/share?ref=${ann.code}`,
			statsUrl: expect.stringMatching(/^https:\/\/n8n\.acme\.test\/webhook\/referrals\/stats\?t=/),
			statsExpiresAt: expect.any(String),
		});
		const token = new URL(item.json.statsUrl as string).searchParams.get('t');
		expect(verifyToken(SECRET, item.json.campaignId as number, token, Math.floor(Date.now() / 1000))).toBe(ann.id);
		expect(verifyToken(SECRET, item.json.campaignId as number, token, Math.floor(Date.now() / 1000) + 8 * 86_400)).toBeNull();
	});

	it('Get Portal Links: bad input names the item and the field; with Continue On Fail the others go through', async () => {
		const unknown = await links([{ campaign: 'spring', email: 'ann@example.com' }, { campaign: 'spring', email: 'nobody@example.com' }]);
		expect(unknown.error).toMatchObject({ message: 'This campaign has no participant with email "nobody@example.com"', description: 'Item 1, field "email"' });
		const badPath = await links([{ campaign: 'spring', email: 'ann@example.com' }], { options: { statsPath: '../admin' } });
		expect(badPath.error).toMatchObject({ description: 'Item 0, field "statsPath"' });
		const mixed = await links([{ campaign: 'spring', email: 'ann@example.com' }, { campaign: 'nope', email: 'ann@example.com' }], {}, 'continueRegularOutput');
		expect(mixed.outputOf('Node')[0].map((item) => item.json.error ?? item.json.code)).toEqual([ann.code, 'There is no campaign with slug "nope"']);
		portal = { secret: 'too short' };
		expect((await links([{ campaign: 'spring', email: 'ann@example.com' }])).error).toMatchObject({ message: expect.stringMatching(/at least 32 characters/) });
	});

	it('Referral Portal: the stats page for a genuine token; the same 404 for a forged one, another campaign or no campaign yet', async () => {
		const made = (await links([{ campaign: 'spring', email: 'ann@example.com' }])).json('Node')[0];
		const token = new URL(made.statsUrl as string).searchParams.get('t')!;
		const forged = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
		const result = await render('stats', [
			{ campaign: 'spring', query: { t: token } },
			{ campaign: 'spring', query: { t: forged } },
			{ campaign: 'not-yet', query: { t: token } },
			{ campaign: 'spring', query: {} },
		]);
		expect(result.error).toBeUndefined();
		const items = result.json('Node');
		expect(items.map((item) => item.statusCode)).toEqual([200, 404, 404, 404]);
		expect(Object.keys(items[0]).sort()).toEqual(['html', 'statusCode']);
		expect(items[0].html).toContain('<td>Bo F.</td><td class="status status-converted">Converted</td>');
		expect(items[0].html).toContain('€25.00');
		expect(new Set(items.slice(1).map((item) => item.html)).size).toBe(1);
	});

	it('Referral Portal: the share page by code, branded; a bad colour is refused by field', async () => {
		const result = await render('share', [{ campaign: 'spring', query: { ref: ann.code } }, { campaign: 'spring', query: { ref: 'NOPE23456' } }], {
			pageTitle: 'Acme friends',
			shareMessage: 'Join Acme: {{link}}',
			options: { accentColor: '#123456', logoUrl: 'https://acme.test/logo.png' },
		});
		const [page, missing] = result.json('Node');
		expect(page.statusCode).toBe(200);
		expect(page.html).toContain(`value="${ann.link}"`);
		expect(page.html).toContain('<img src="https://acme.test/logo.png" alt="">');
		expect(page.html).toContain(encodeURIComponent(`Join Acme: ${ann.link}`));
		expect(missing.statusCode).toBe(404);
		const bad = await render('share', [{ campaign: 'spring', query: { ref: ann.code } }], { options: { accentColor: 'red' } });
		expect(bad.error).toMatchObject({ message: '"red" is not a colour like #017737', description: 'Item 0, field "accentColor"' });
	});

	it('the portal credential’s Test button checks the secret’s length; both nodes are AI tools', async () => {
		const test = (secret: string) => referralPortalSecretTest.call({} as never, { id: '1', name: 'Portal', type: 'referralPortalApi', data: { secret } });
		expect(await test(SECRET)).toMatchObject({ status: 'OK' });
		expect(await test('short')).toMatchObject({ status: 'Error', message: 'The secret must be at least 32 characters' });
		expect(new ReferralPortal().description.usableAsTool).toBe(true);
	});
});
