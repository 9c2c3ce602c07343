import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ICredentialDataDecryptedObject, ICredentialTestFunctions, IDataObject } from 'n8n-workflow';

import { ReferralStoreApi } from '../../credentials/ReferralStoreApi.credentials';
import { ReferralCampaign } from '../../nodes/ReferralCampaign/ReferralCampaign.node';
import { referralStoreConnectionTest } from '../../nodes/shared/store';
import { signStamp, stampKey } from '../../lib/referrals/form-stamp';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { loadOptions, runWorkflow, type WorkflowJson } from '../helpers/n8n';

const NODE_TYPE = 'n8n-nodes-pipedrive-referrals.referralCampaign';
const NODE = 'Referral Campaign';

function fixture(name: string): WorkflowJson {
	return JSON.parse(readFileSync(join(__dirname, 'workflows', `${name}.workflow.json`), 'utf8')) as WorkflowJson;
}

describe('Referral Campaign node (n8n-core execution)', () => {
	let folder: string;
	let storeCredential: ICredentialDataDecryptedObject;

	beforeEach(() => {
		folder = mkdtempSync(join(tmpdir(), 'campaign-node-'));
		storeCredential = { backend: 'sqlite', sqlitePath: join(folder, 'referrals.sqlite') };
	});

	afterEach(async () => {
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});

	async function run(name: string, inputItems: IDataObject[]) {
		return await runWorkflow({
			workflow: fixture(name),
			nodeTypes: { [NODE_TYPE]: new ReferralCampaign() },
			credentials: { referralStoreApi: storeCredential },
			credentialTypes: [new ReferralStoreApi()],
			instanceBaseUrl: 'https://n8n.acme.test/',
			inputItems,
		});
	}

	async function ok(name: string, inputItems: IDataObject[]) {
		const result = await run(name, inputItems);
		if (result.error) throw result.error.error;
		return result;
	}

	async function participantCount(): Promise<number> {
		const store = await openStore({ backend: 'sqlite', path: storeCredential.sqlitePath as string });
		const campaigns = await store.read((tx) => tx.listCampaigns({}, { limit: 100 }));
		let count = 0;
		for (const campaign of campaigns) {
			count += (await store.read((tx) => tx.campaignStats(campaign.id, 0))).participants;
		}
		return count;
	}

	async function createCampaign(name = 'Spring 2026') {
		return (await ok('create-campaign', [{ name, prefix: '' }])).json(NODE)[0];
	}

	describe('campaign', () => {
		it('creates campaigns whose links point at this instance’s referred-signup form', async () => {
			const result = await ok('create-campaign', [
				{ name: 'Spring 2026', prefix: '' },
				{ name: 'Partners', prefix: 'ptn-' },
			]);
			expect(result.json(NODE)).toEqual([
				expect.objectContaining({
					slug: 'spring-2026',
					// {{n8nUrl}}: filled in with this n8n's public URL when a link is read (line 186).
					linkTemplate: '{{n8nUrl}}/form/refer?ref={{code}}',
					codeSettings: { length: 9, prefix: '' },
					fraudSettings: expect.objectContaining({ blockedEmailDomains: [], maxReferralsPerReferrerPerDay: 5 }),
				}),
				expect.objectContaining({ slug: 'partners', codeSettings: { length: 9, prefix: 'PTN-' } }),
			]);
			expect(result.outputOf(NODE)[0].map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		});

		it('fails on a taken slug, naming the item and the field', async () => {
			const result = await run('create-campaign', [
				{ name: 'Spring', prefix: '' },
				{ name: 'Spring', prefix: '' },
			]);
			expect(result.status).toBe('error');
			expect(result.error).toMatchObject({
				message: 'A campaign with the slug "spring" already exists',
				itemIndex: 1,
				nodeName: NODE,
			});
			expect(result.error!.description).toContain('Item 1, field "slug"');
		});

		it('with "If It Already Exists: Use It", returns the existing campaign unchanged', async () => {
			const result = await ok('ensure-campaign', [
				{ name: 'Referral Program', slug: 'referral-program', prefix: '' },
				{ name: 'Another name', slug: 'referral-program', prefix: 'xx-' },
				{ name: 'Partners', slug: '', prefix: 'ptn-' },
			]);
			const [first, second, third] = result.json(NODE);
			expect(first).toMatchObject({ created: true, slug: 'referral-program', name: 'Referral Program' });
			expect(second).toEqual({ ...first, created: false });
			expect(third).toMatchObject({ created: true, slug: 'partners', codeSettings: { length: 9, prefix: 'PTN-' } });
			const again = await ok('ensure-campaign', [{ name: 'Partners', slug: '', prefix: '' }]);
			expect(again.json(NODE)).toEqual([{ ...third, created: false }]);
		});

		it('lists, updates and reports on campaigns', async () => {
			await createCampaign();
			await createCampaign('Autumn');
			await ok('update-campaign', [{ campaign: 'autumn', newName: 'Autumn (paused)' }]);
			expect((await ok('get-campaigns', [{}])).json(NODE).map((c) => c.slug)).toEqual(['spring-2026']);
			const stats = (await ok('campaign-stats', [{ campaign: 'spring-2026' }])).json(NODE)[0];
			expect(stats).toMatchObject({ campaignName: 'Spring 2026', participants: 0, conversionRate: 0 });
			// The dashboard's figures for the default period (30 days) in the workflow's time zone.
			expect(stats.dashboard).toMatchObject({ period: '30', timeZone: expect.any(String), referredSignups: 0, funnel: { referred: 0, sent: 0, qualified: 0, rewarded: 0 } });
			expect((stats.dashboard as { daily: unknown[] }).daily).toHaveLength(30);
		});

		it('refuses an update with nothing to update', async () => {
			await createCampaign();
			const workflow = fixture('update-campaign');
			(workflow.nodes[1].parameters as IDataObject).updateFields = {};
			const result = await runWorkflow({
				workflow,
				nodeTypes: { [NODE_TYPE]: new ReferralCampaign() },
				credentials: { referralStoreApi: storeCredential },
				credentialTypes: [new ReferralStoreApi()],
				inputItems: [{ campaign: 'spring-2026' }],
			});
			expect(result.error?.message).toBe('Nothing to update: add at least one field under Update Fields');
		});

		it('sets reward rules and back-fills the rewards of referrals qualified before', async () => {
			await createCampaign();
			const store = await openStore({ backend: 'sqlite', path: storeCredential.sqlitePath as string });
			const program = new ReferralProgram(store, undefined, { publicUrl: () => 'https://n8n.acme.test' });
			const campaign = await program.getCampaign({ slug: 'spring-2026' });
			const [ann] = await program.enrol(campaign.id, [{ email: 'ann@example.com' }], { stopOnError: true });
			if (!ann.ok) throw ann.error;
			const [bo] = await program.registerReferred(campaign.id, [{ code: ann.value.participant.code, email: 'bo@example.com' }], { stopOnError: true });
			if (!bo.ok) throw bo.error;
			await program.qualify({ code: bo.value.participant.code }, { action: 'qualify' });
			const rules = { perReferral: { every: 1, reward: { kind: 'amount', amount: 25, currency: 'eur' } } };
			const result = await ok('set-rules-and-evaluate', [{ campaign: 'spring-2026', rules }]);
			expect(result.json(NODE)[0].rewardRules).toMatchObject({ perReferral: { every: 1, reward: { amount: 25, currency: 'EUR' } } });
			expect(result.json('Evaluate Rewards')).toEqual([{ campaignId: campaign.id, referrers: 1, created: 1 }]);
			const bad = await run('set-rules-and-evaluate', [{ campaign: 'spring-2026', rules: { perReferral: { every: 0 } } }]);
			expect(bad.error).toMatchObject({ message: 'perReferral.every must be a whole number from 1 up', itemIndex: 0 });
			expect(bad.error!.description).toBe('Item 0, field "rewardRules.perReferral.every"');
		});

		it('lists campaigns for the resource locator, searchable and paginated', async () => {
			await createCampaign();
			await createCampaign('Partners');
			const found = await loadOptions({
				kind: 'listSearch',
				nodeType: new ReferralCampaign(),
				methodName: 'searchCampaigns',
				credentials: { referralStoreApi: storeCredential },
				credentialTypes: [new ReferralStoreApi()],
				parameters: { resource: 'participant', operation: 'enrol' },
				filter: 'part',
			});
			expect(found.results).toEqual([{ name: 'Partners', value: '2' }]);
			expect(found.paginationToken).toBeUndefined();
		});
	});

	describe('participant', () => {
		beforeEach(async () => {
			await createCampaign();
		});

		it('enrols referrers with a code and link each, and returns the same ones again', async () => {
			const items = [
				{ campaign: 'spring-2026', email: 'Ann@Example.com', firstName: 'Ann', customerId: 'c1' },
				{ campaign: 'spring-2026', email: 'bo@example.com', firstName: 'Bo', customerId: 'c2' },
			];
			const first = (await ok('enrol-participants', items)).json(NODE);
			expect(first).toEqual([
				expect.objectContaining({ email: 'ann@example.com', firstName: 'Ann', source: 'manual', created: true, metadata: { customerId: 'c1' } }),
				expect.objectContaining({ email: 'bo@example.com', created: true }),
			]);
			expect(first[0].link).toBe(`https://n8n.acme.test/form/refer?ref=${first[0].code as string}`);
			const again = (await ok('enrol-participants', items)).json(NODE);
			expect(again.map((p) => [p.code, p.created])).toEqual(first.map((p) => [p.code, false]));
		});

		it('stops at a bad item, naming it and its field, and writes nothing', async () => {
			const result = await run('enrol-participants', [
				{ campaign: 'spring-2026', email: 'ann@example.com' },
				{ campaign: 'spring-2026', email: 'not-an-email' },
			]);
			expect(result.error).toMatchObject({ message: 'The email "not-an-email" is not a valid email address', itemIndex: 1 });
			expect(result.error!.description).toBe('Item 1, field "email"');
			expect(await participantCount()).toBe(0);
		});

		it('with Continue On Fail, bad items become error items and the rest are enrolled', async () => {
			const result = await ok('enrol-participants-continue', [
				{ campaign: 'spring-2026', email: 'ann@example.com' },
				{ campaign: 'spring-2026', email: 'x'.repeat(300) },
				{ campaign: 'spring-2026', email: 'bo@example.com', firstName: 'x'.repeat(10_240) },
				{ campaign: 'nope', email: 'cy@example.com' },
				{ campaign: 'spring-2026', email: "o'brien@example.com", firstName: "O'Brien; DROP TABLE participants;--" },
			]);
			const items = result.outputOf(NODE)[0];
			expect(items.map((item) => item.pairedItem)).toEqual([0, 1, 2, 3, 4].map((item) => ({ item })));
			expect(items.map((item) => item.json.error ?? 'ok')).toEqual([
				'ok',
				'The email is longer than 254 characters',
				'The firstName is longer than 100 characters',
				'There is no campaign with slug "nope"',
				'ok',
			]);
			expect(items[2].json).toMatchObject({ details: { kind: 'invalid_input', field: 'firstName' } });
			expect(items[4].json).toMatchObject({ email: "o'brien@example.com", firstName: "O'Brien; DROP TABLE participants;--" });
			expect(await participantCount()).toBe(2);
		});

		it('registers referred people under their referrer, first referral wins', async () => {
			const [ann] = (await ok('enrol-participants', [{ campaign: 'spring-2026', email: 'ann@example.com', firstName: 'Ann' }])).json(NODE);
			const [cy] = (await ok('enrol-participants', [{ campaign: 'spring-2026', email: 'cy@example.com' }])).json(NODE);
			const first = (await ok('register-referred', [{ campaign: 'spring-2026', ref: ann.code, email: 'bo@example.com', firstName: 'Bo' }])).json(NODE)[0];
			expect(first).toMatchObject({
				email: 'bo@example.com',
				source: 'referred',
				referralStatus: 'pending',
				alreadyRegistered: false,
				referrer: { id: ann.id, email: 'ann@example.com', firstName: 'Ann', code: ann.code },
			});
			const second = (await ok('register-referred', [{ campaign: 'spring-2026', ref: cy.code, email: 'bo@example.com' }])).json(NODE)[0];
			expect(second).toMatchObject({ id: first.id, alreadyRegistered: true, referrer: { id: ann.id } });
		});

		it('refuses self-referrals, unknown codes and paused campaigns with clear messages', async () => {
			const [ann] = (await ok('enrol-participants', [{ campaign: 'spring-2026', email: 'ann@example.com' }])).json(NODE);
			const result = await ok('register-referred-continue', [
				{ campaign: 'spring-2026', ref: ann.code, email: 'ann+2@example.com' },
				{ campaign: 'spring-2026', ref: 'NOSUCHCODE', email: 'bo@example.com' },
				{ campaign: 'spring-2026', ref: "' OR 1=1 --", email: 'bo@example.com' },
			]);
			expect(result.json(NODE)).toEqual([
				{ error: `ann+2@example.com cannot be referred with their own code "${ann.code as string}"`, details: { kind: 'self_referral', field: 'email' } },
				{ error: 'No participant of campaign "Spring 2026" has the referral code "NOSUCHCODE"', details: { kind: 'not_found', field: 'code' } },
				{ error: `"' OR 1=1 --" is not a referral code`, details: { kind: 'invalid_input', field: 'code' } },
			]);
			await ok('update-campaign', [{ campaign: 'spring-2026', newName: 'Spring 2026' }]);
			const paused = await run('register-referred', [{ campaign: 'spring-2026', ref: ann.code, email: 'bo@example.com' }]);
			expect(paused.error).toMatchObject({ message: 'Campaign "Spring 2026" is paused: it accepts no new referrals', itemIndex: 0 });
			expect(await participantCount()).toBe(1);
		});

		it('gets, lists, updates and erases participants', async () => {
			const [ann] = (await ok('enrol-participants', [{ campaign: 'spring-2026', email: 'ann@example.com' }])).json(NODE);
			const referred = ['r1', 'r2', 'r3'].map((name) => ({ campaign: 'spring-2026', ref: ann.code, email: `${name}@example.com` }));
			await ok('register-referred', referred);

			const byCode = (await ok('get-participant', [{ campaign: 'spring-2026', by: 'code', value: ann.code }])).json(NODE)[0];
			expect(byCode.id).toBe(ann.id);
			const missing = await run('get-participant', [{ campaign: 'spring-2026', by: 'email', value: 'zed@example.com' }]);
			expect(missing.error?.message).toBe('This campaign has no participant with email "zed@example.com"');

			const pending = (await ok('get-participants', [{ campaign: 'spring-2026', limit: 2 }])).json(NODE);
			expect(pending.map((p) => p.email)).toEqual(['r1@example.com', 'r2@example.com']);

			const updated = (await ok('update-participant', [{ campaign: 'spring-2026', email: 'r1@example.com', lastName: 'One' }])).json(NODE)[0];
			expect(updated).toMatchObject({ lastName: 'One', metadata: { vip: true } });

			const r2 = pending[1];
			const erased = (await ok('erase-participant', [{ campaign: 'spring-2026', code: r2.code }])).json(NODE)[0];
			expect(erased).toMatchObject({ id: r2.id, erased: true });
			const stats = (await ok('campaign-stats', [{ campaign: 'spring-2026' }])).json(NODE)[0];
			expect(stats).toMatchObject({ participants: 4, referrals: { total: 3, pending: 3 } });
			expect(stats.topReferrers).toEqual([expect.objectContaining({ participantId: ann.id, referrals: 3, email: 'ann@example.com' })]);
			const remaining = (await ok('get-participants', [{ campaign: 'spring-2026', limit: 10 }])).json(NODE);
			expect(remaining.map((p) => p.email)).toEqual(['r1@example.com', 'r3@example.com']);
		});
	});

	describe('input mode "Map Automatically"', () => {
		beforeEach(async () => {
			await createCampaign();
		});

		it('reads the fields from each item’s JSON and ignores other keys', async () => {
			const enrolled = (
				await ok('enrol-participants-automap', [
					{ campaign: 'spring-2026', email: 'ann@example.com', firstName: 'Ann', metadata: { plan: 'pro' }, source: 'api', unrelated: 1 },
					{ campaign: 'spring-2026', firstName: 'No Email' },
					{ campaign: 'spring-2026', email: 'bo@example.com', lastName: 42 },
				])
			).json(NODE);
			expect(enrolled[0]).toMatchObject({ email: 'ann@example.com', firstName: 'Ann', source: 'api', metadata: { plan: 'pro' }, created: true });
			expect(enrolled[0]).not.toHaveProperty('unrelated');
			expect(enrolled[1]).toEqual({ error: 'The email is missing', details: { kind: 'invalid_input', field: 'email' } });
			expect(enrolled[2]).toEqual({ error: 'The lastName must be text, not a number', details: { kind: 'invalid_input', field: 'lastName' } });

			const registered = (
				await ok('register-referred-automap', [
					{ campaign: 'spring-2026', code: enrolled[0].code, email: 'cy@example.com', firstName: 'Cy' },
					{ campaign: 'spring-2026', email: 'dee@example.com' },
				])
			).json(NODE);
			expect(registered[0]).toMatchObject({ email: 'cy@example.com', firstName: 'Cy', referrer: { email: 'ann@example.com' } });
			expect(registered[1]).toEqual({ error: 'The referral code is missing', details: { kind: 'invalid_input', field: 'code' } });
			expect(await participantCount()).toBe(2);
		});
	});

	describe('store credential test', () => {
		const test = (data: ICredentialDataDecryptedObject) =>
			referralStoreConnectionTest.call({} as ICredentialTestFunctions, {
				id: '1',
				name: 'store',
				type: 'referralStoreApi',
				data,
			});

		it('opens the store and says where it is', async () => {
			expect(await test(storeCredential)).toEqual({
				status: 'OK',
				message: `Connected to the sqlite store at ${storeCredential.sqlitePath as string}`,
			});
		});

		it('says plainly why a store cannot be opened', async () => {
			const unreachable = await test({ backend: 'postgres', host: '127.0.0.1', port: 1, database: 'x', user: 'postgres', password: 'hunter2', ssl: 'disable', schema: 'referrals' });
			expect(unreachable.status).toBe('Error');
			expect(unreachable.message).toMatch(/^Could not open the referral store: /);
			expect(unreachable.message).not.toContain('hunter2');
			const badSchema = await test({ backend: 'postgres', host: 'localhost', database: 'x', user: 'u', schema: 'Bad-Name' });
			expect(badSchema.message).toContain('schema "Bad-Name" must be lower-case letters');
		});
	});

	describe('form submission', () => {
		it('checks for bots: the item goes on with formCheck; a stamp passes once, signed with the workflow ID and the secret', async () => {
			const key = stampKey('formWorkflow01', 'node-secret-1');
			const good = signStamp(Date.now() - 10_000, key);
			const result = await ok('form-check', [
				{ Email: 'ann@example.com', stamp: good, 'Leave this field empty': '' },
				{ Email: 'bot@example.com', stamp: good, 'Leave this field empty': '' },
				{ Email: 'fast@example.com', stamp: signStamp(Date.now() - 2_000, key), 'Leave this field empty': '' },
				{ Email: 'trap@example.com', stamp: signStamp(Date.now() - 10_000, key), 'Leave this field empty': 'https://spam.example' },
				{ Email: 'forger@example.com', stamp: signStamp(Date.now() - 10_000, stampKey('formWorkflow01', '')) },
			]);
			const items = result.outputOf(NODE)[0];
			expect(items.map((item) => [item.json.Email, (item.json.formCheck as { reasons: string[] }).reasons])).toEqual([
				['ann@example.com', []],
				['bot@example.com', ['stamp_replayed']],
				['fast@example.com', ['too_fast']],
				['trap@example.com', ['bot_trap_filled']],
				['forger@example.com', ['stamp_forged']],
			]);
			expect(items[0].json.formCheck).toMatchObject({ bot: false, secondsOnPage: expect.any(Number) });
			expect(items.map((item) => item.pairedItem)).toEqual([0, 1, 2, 3, 4].map((item) => ({ item })));
			expect(await participantCount()).toBe(0);
		});
	});

	it('is usable as an AI tool and ships a codex file under its type name', () => {
		const { description } = new ReferralCampaign();
		expect(description.usableAsTool).toBe(true);
		const codex = JSON.parse(readFileSync(join(__dirname, '../../nodes/ReferralCampaign/ReferralCampaign.node.json'), 'utf8'));
		expect(codex.node).toBe(NODE_TYPE);
	});
});
