import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ICredentialDataDecryptedObject, IDataObject } from 'n8n-workflow';

import { ReferralStoreApi } from '../../credentials/ReferralStoreApi.credentials';
import type { Participant } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { QualifyWithCode } from '../../nodes/QualifyWithCode/QualifyWithCode.node';
import { runWorkflow, type WorkflowJson } from '../helpers/n8n';

const NODE = 'Qualify With Code';

function fixture(name: string): WorkflowJson {
	return JSON.parse(readFileSync(join(__dirname, 'workflows', `${name}.workflow.json`), 'utf8')) as WorkflowJson;
}

describe('Qualify With Code node (n8n-core execution)', () => {
	let folder: string;
	let store: ICredentialDataDecryptedObject;
	let program: ReferralProgram;
	let referrer: Participant;
	let friend: Participant;

	beforeEach(async () => {
		folder = mkdtempSync(join(tmpdir(), 'qualify-node-'));
		store = { backend: 'sqlite', sqlitePath: join(folder, 'referrals.sqlite') };
		program = new ReferralProgram(await openStore({ backend: 'sqlite', path: store.sqlitePath as string }));
		const campaign = await program.createCampaign({ name: 'Friends', slug: 'friends' }, 'https://x.example/r?ref={{code}}');
		const [ann] = await program.enrol(campaign.id, [{ email: 'ann@example.com', firstName: 'Ann' }], { stopOnError: true });
		if (!ann.ok) throw ann.error;
		referrer = ann.value.participant;
		const [bo] = await program.registerReferred(campaign.id, [{ code: referrer.code, email: 'bo@example.com' }], { stopOnError: true });
		if (!bo.ok) throw bo.error;
		friend = bo.value.participant;
		await program.linkPipedrive(friend.id, { dealId: 501 });
	});

	afterEach(async () => {
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});

	async function run(name: string, inputItems: IDataObject[]) {
		return await runWorkflow({
			workflow: fixture(name),
			nodeTypes: { 'n8n-nodes-pipedrive-referrals.qualifyWithCode': new QualifyWithCode() },
			credentials: { referralStoreApi: store },
			credentialTypes: [new ReferralStoreApi()],
			inputItems,
		});
	}

	it('qualifies by code with a sale value, and says nothing changed the second time', async () => {
		const result = await run('qualify-by-code', [
			{ code: friend.code, saleValue: 120, currency: 'eur', eventId: 'order-1' },
			{ code: friend.code, saleValue: 120, currency: 'EUR', eventId: 'order-1' },
		]);
		expect(result.error).toBeUndefined();
		const [first, second] = result.json(NODE);
		expect(first).toMatchObject({
			isReferral: true,
			changed: true,
			previousStatus: 'pending',
			status: 'qualified',
			referral: { id: friend.id, saleValue: 120, saleCurrency: 'EUR', referralStatus: 'qualified' },
			referrer: { id: referrer.id, email: 'ann@example.com', firstName: 'Ann' },
		});
		expect(second).toMatchObject({ isReferral: true, changed: false, duplicate: true, status: 'qualified' });
	});

	it('fails on an unknown code, naming the item and the field', async () => {
		const result = await run('qualify-by-code', [{ code: friend.code }, { code: 'NOSUCHCODE9' }]);
		expect(result.error).toMatchObject({ message: 'No referral has the referral code "NOSUCHCODE9"', itemIndex: 1 });
		expect(result.error!.description).toBe('Item 1, field "code"');
	});

	it('passes deals that are not referrals through when told to ignore them', async () => {
		const result = await run('qualify-deal-ignore', [
			{ dealId: 999, title: 'Some other deal' },
			{ dealId: 501, eventId: 'pd-1' },
			{ dealId: 501, eventId: 'pd-1' },
		]);
		expect(result.error).toBeUndefined();
		const [other, referral, retry] = result.json(NODE);
		expect(other).toEqual({ dealId: 999, title: 'Some other deal', isReferral: false, reason: 'No referral has the Pipedrive deal 999' });
		expect(referral).toMatchObject({ isReferral: true, changed: true, status: 'qualified' });
		expect(retry).toMatchObject({ isReferral: true, changed: false, duplicate: true });
		expect(referral.referral).toMatchObject({ id: friend.id, pipedriveDealId: 501 });
	});

	it('a referrer’s own code is not a referral, and says so', async () => {
		const failed = await run('qualify-by-code', [{ code: referrer.code }]);
		expect(failed.error?.message).toBe(`The referral code "${referrer.code}" belongs to a participant who was not referred`);
	});

	it('unqualifies by email in a campaign; with Continue On Fail bad items become error items', async () => {
		await program.qualify({ code: friend.code }, { action: 'qualify' });
		const result = await run('unqualify-by-email', [{ email: 'BO@example.com' }, { email: 'not an email' }, { email: 'ann@example.com' }]);
		expect(result.error).toBeUndefined();
		const [refund, bad, notReferred] = result.json(NODE);
		expect(refund).toMatchObject({ changed: true, previousStatus: 'qualified', status: 'unqualified' });
		expect(bad).toEqual({ error: 'The email "not an email" is not a valid email address', details: { kind: 'invalid_input', field: 'email' } });
		expect(notReferred).toMatchObject({ details: { kind: 'not_a_referral' } });
	});

	describe('campaign scope (version 1.1)', () => {
		let outsider: Participant;

		beforeEach(async () => {
			const other = await program.createCampaign({ name: 'Other', slug: 'other' }, 'https://x.example/o?ref={{code}}');
			const [zed] = await program.enrol(other.id, [{ email: 'zed@example.com' }], { stopOnError: true });
			if (!zed.ok) throw zed.error;
			const [cy] = await program.registerReferred(other.id, [{ code: zed.value.participant.code, email: 'cy@example.com' }], { stopOnError: true });
			if (!cy.ok) throw cy.error;
			outsider = cy.value.participant;
		});

		it('a referral of another campaign is not found in this one', async () => {
			const result = await run('qualify-code-in-campaign', [{ code: friend.code }, { code: outsider.code }]);
			expect(result.error).toMatchObject({
				message: `No referral in campaign ${friend.campaignId} has the referral code "${outsider.code}"`,
				itemIndex: 1,
			});
			expect((await program.getParticipant(outsider.campaignId, { id: outsider.id })).referralStatus).toBe('pending');
		});

		it('with Ignore Records That Are Not Referrals, empty, blank, garbage, unknown and other campaigns’ codes pass through', async () => {
			const inputs = ['', '   ', 'hello world!', '🎉', 'x'.repeat(300), "1' OR '1'='1", 'NOSUCHCODE9', outsider.code, friend.code];
			const result = await run('qualify-code-in-campaign-ignore', inputs.map((code) => ({ code })));
			expect(result.error).toBeUndefined();
			const out = result.json(NODE);
			expect(out.map((item) => item.isReferral)).toEqual([false, false, false, false, false, false, false, false, true]);
			expect(out.slice(0, -1).map((item) => item.code)).toEqual(inputs.slice(0, -1));
			expect(out[out.length - 1]).toMatchObject({ changed: true, status: 'qualified', referral: { id: friend.id } });
			expect((await program.getParticipant(outsider.campaignId, { id: outsider.id })).referralStatus).toBe('pending');
		});

		it('"Any Campaign" finds the referral wherever it is; a workflow saved with version 1 does too, as before', async () => {
			const any = await run('qualify-code-any-campaign', [{ code: outsider.code }]);
			expect(any.error).toBeUndefined();
			expect(any.json(NODE)[0]).toMatchObject({ changed: true, referral: { id: outsider.id, campaignId: outsider.campaignId } });
			await program.qualify({ id: outsider.id }, { action: 'unqualify' });
			const saved = await run('qualify-by-code', [{ code: outsider.code }]);
			expect(saved.error).toBeUndefined();
			expect(saved.json(NODE)[0]).toMatchObject({ changed: true, status: 'qualified' });
		});
	});

	it('is usable as an AI tool', () => {
		expect(new QualifyWithCode().description.usableAsTool).toBe(true);
	});
});
