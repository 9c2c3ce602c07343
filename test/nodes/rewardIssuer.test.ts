import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ICredentialDataDecryptedObject, IDataObject } from 'n8n-workflow';

import { ReferralStoreApi } from '../../credentials/ReferralStoreApi.credentials';
import type { Campaign, Participant, Reward } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { ReferralStore } from '../../lib/store/types';
import { RewardIssuer } from '../../nodes/RewardIssuer/RewardIssuer.node';
import { loadOptions, runWorkflow, type WorkflowJson } from '../helpers/n8n';

const NODE_TYPE = 'n8n-nodes-pipedrive-referrals.rewardIssuer';
const NODE = 'Reward Issuer';
const EUR25 = { kind: 'amount', amount: 25, currency: 'EUR' };

function fixture(name: string): WorkflowJson {
	return JSON.parse(readFileSync(join(__dirname, 'workflows', `reward-${name}.workflow.json`), 'utf8')) as WorkflowJson;
}

describe('Reward Issuer node (n8n-core execution)', () => {
	let folder: string;
	let credential: ICredentialDataDecryptedObject;
	let store: ReferralStore;
	let program: ReferralProgram;
	let campaign: Campaign;
	let ann: Participant;

	beforeEach(async () => {
		folder = mkdtempSync(join(tmpdir(), 'reward-node-'));
		credential = { backend: 'sqlite', sqlitePath: join(folder, 'referrals.sqlite') };
		store = await openStore({ backend: 'sqlite', path: credential.sqlitePath as string });
		program = new ReferralProgram(store);
		campaign = await program.createCampaign({ name: 'Friends', slug: 'friends' }, 'https://x.example/r?ref={{code}}');
		ann = await enrol(campaign, 'ann@example.com', 'Ann');
	});

	afterEach(async () => {
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});

	async function enrol(where: Campaign, email: string, firstName?: string): Promise<Participant> {
		const [outcome] = await program.enrol(where.id, [{ email, firstName }], { stopOnError: true });
		if (!outcome.ok) throw outcome.error;
		return outcome.value.participant;
	}

	async function setRules(rules: object, where: Campaign = campaign) {
		await program.updateCampaign(where.id, { rewardRules: rules });
	}

	/** Registers people referred by `referrer` (Ann by default) and qualifies them when asked. */
	async function refer(emails: string[], options: { qualify?: boolean; referrer?: Participant } = {}): Promise<Participant[]> {
		const referrer = options.referrer ?? ann;
		const outcomes = await program.registerReferred(
			referrer.campaignId,
			emails.map((email) => ({ code: referrer.code, email })),
			{ stopOnError: true },
		);
		const people = outcomes.map((outcome) => {
			if (!outcome.ok) throw outcome.error;
			return outcome.value.participant;
		});
		if (options.qualify) {
			for (const person of people) await program.qualify({ code: person.code }, { action: 'qualify', saleValue: 200 });
		}
		return people;
	}

	const rewards = async (): Promise<Reward[]> => (await program.rewards.list({}, { limit: 1000 })).map((view) => view.reward);

	async function run(name: string | WorkflowJson, inputItems: IDataObject[] = [{}]) {
		return await runWorkflow({
			workflow: typeof name === 'string' ? fixture(name) : name,
			nodeTypes: { [NODE_TYPE]: new RewardIssuer() },
			credentials: { referralStoreApi: credential },
			credentialTypes: [new ReferralStoreApi()],
			inputItems,
		});
	}

	async function ok(name: string | WorkflowJson, inputItems: IDataObject[] = [{}]) {
		const result = await run(name, inputItems);
		if (result.error) throw result.error.error;
		return result;
	}

	describe('Claim Due Rewards', () => {
		it('outputs each due reward once with its beneficiary, referral and amount, paired to the first item', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR25 } });
			const [bo, cy] = await refer(['bo@example.com', 'cy@example.com'], { qualify: true });

			// Two input items: the claim still runs once.
			const result = await ok('claim', [{ campaign: 'friends' }, { campaign: 'friends' }]);
			const items = result.outputOf(NODE)[0];
			expect(items.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 0 }]);
			const [first, second] = items.map((item) => item.json);
			expect(first).toEqual({
				reward: expect.objectContaining({
					beneficiaryId: ann.id,
					beneficiaryRole: 'referrer',
					rule: 'per_referral',
					ordinal: 1,
					referralId: bo.id,
					status: 'issuing',
					leaseUntil: expect.any(String),
				}),
				beneficiary: {
					id: ann.id,
					email: 'ann@example.com',
					firstName: 'Ann',
					lastName: null,
					code: ann.code,
					link: `https://x.example/r?ref=${ann.code}`,
					pipedrivePersonId: null,
				},
				referral: expect.objectContaining({ id: bo.id, email: 'bo@example.com', referralStatus: 'qualified', saleValue: 200 }),
				amount: 25,
				currency: 'EUR',
				couponCode: null,
				kind: 'amount',
				payload: {},
				claim: { claimed: 2, waitingForCoupons: 0 },
			});
			expect(second).toMatchObject({ reward: { ordinal: 2, referralId: cy.id }, beneficiary: { id: ann.id } });
			const lease = Date.parse((first.reward as IDataObject).leaseUntil as string) - Date.now();
			expect(lease).toBeGreaterThan(14 * 60_000);
			expect(lease).toBeLessThanOrEqual(15 * 60_000);

			const again = await ok('claim', [{ campaign: 'friends' }]);
			expect(again.status).toBe('success');
			expect(again.outputOf(NODE)[0]).toEqual([]);
		});

		it('claims across all campaigns by default, or only one campaign, one beneficiary, up to a limit', async () => {
			const other = await program.createCampaign({ name: 'Partners', slug: 'partners' }, 'https://x.example/p?ref={{code}}');
			const dee = await enrol(other, 'dee@example.com', 'Dee');
			await setRules({ perReferral: { every: 1, reward: EUR25 } });
			await setRules({ perReferral: { every: 1, reward: { kind: 'custom', payload: { gift: 'hoodie' } } } }, other);
			await refer(['bo@example.com', 'cy@example.com', 'eve@example.com'], { qualify: true });
			await refer(['fay@example.com'], { qualify: true, referrer: dee });

			const none = await ok('claim', [{ campaign: 'partners', beneficiaryId: ann.id }]);
			expect(none.json(NODE)).toEqual([]);
			const partners = (await ok('claim', [{ campaign: 'partners' }])).json(NODE);
			expect(partners).toEqual([
				expect.objectContaining({ kind: 'custom', amount: null, payload: { gift: 'hoodie' }, beneficiary: expect.objectContaining({ email: 'dee@example.com' }) }),
			]);
			const limited = (await ok('claim', [{ limit: 2 }])).json(NODE);
			expect(limited.map((item) => (item.reward as IDataObject).ordinal)).toEqual([1, 2]);
			expect(limited[0].claim).toEqual({ claimed: 2, waitingForCoupons: 0 });
			expect((await ok('claim', [{ beneficiaryId: ann.id }])).json(NODE)).toHaveLength(1);
		});

		it('says when coupon rewards wait for an empty pool, then hands out distinct coupons once codes are added', async () => {
			await setRules({ referred: { on: 'registration', reward: { kind: 'coupon' } } });
			await refer(['bo@example.com', 'cy@example.com', 'dee@example.com']);

			const waiting = await ok('claim', [{ campaign: 'friends' }]);
			expect(waiting.outputOf(NODE)[0]).toEqual([
				{
					json: {
						claimed: 0,
						waitingForCoupons: 3,
						poolEmpty: true,
						campaignIds: [campaign.id],
						message: `3 coupon rewards wait for coupons: the coupon pool of campaign ${campaign.id} is empty. Add codes with Add Coupons; the rewards stay due and are claimed then.`,
					},
					pairedItem: { item: 0 },
				},
			]);
			expect((await rewards()).map((r) => r.status)).toEqual(['due', 'due', 'due']);

			const added = await ok('add-coupons', [
				{ campaign: 'friends', coupons: 'WELCOME-1\nWELCOME-2, WELCOME-2\n\n' },
				{ campaign: 'friends', coupons: ['WELCOME-2', ' WELCOME-3 '] },
			]);
			expect(added.json(NODE)).toEqual([
				{ campaignId: campaign.id, added: 2, total: 2, available: 2 },
				{ campaignId: campaign.id, added: 1, total: 3, available: 3 },
			]);
			const claimed = (await ok('claim', [{ campaign: 'friends', limit: 2 }])).json(NODE);
			expect(claimed.map((item) => item.kind)).toEqual(['coupon', 'coupon']);
			const codes = claimed.map((item) => item.couponCode);
			expect(new Set(codes).size).toBe(2);
			expect(claimed.map((item) => (item.reward as IDataObject).couponCode)).toEqual(codes);
			expect(claimed[0].beneficiary).toMatchObject({ email: 'bo@example.com' });
			expect(claimed[0].referral).toMatchObject({ email: 'bo@example.com', referralStatus: 'pending' });

			await refer(['eve@example.com', 'fay@example.com']);
			const mixed = (await ok('claim', [{ campaign: 'friends' }])).json(NODE);
			expect(mixed).toHaveLength(1);
			expect(codes).not.toContain(mixed[0].couponCode);
			expect(mixed[0].claim).toEqual({ claimed: 1, waitingForCoupons: 2 });
			const pool = (await ok('add-coupons', [{ campaign: 'friends', coupons: 'WELCOME-1;WELCOME-4' }])).json(NODE);
			expect(pool).toEqual([{ campaignId: campaign.id, added: 1, total: 4, available: 1 }]);
		});

		it('refuses a bad lease, naming the field', async () => {
			const result = await run('claim', [{ leaseMinutes: 0 }]);
			expect(result.error).toMatchObject({ message: 'The lease must be from 1 to 10,080 minutes (7 days), not 0', itemIndex: 0 });
			expect(result.error!.description).toBe('Item 0, field "leaseMinutes"');
			const limit = await run('claim', [{ limit: 5000 }]);
			expect(limit.error?.description).toBe('Item 0, field "limit"');

			const continuing = fixture('claim');
			Object.assign(continuing.nodes[1], { onError: 'continueRegularOutput' });
			const items = (await ok(continuing, [{ leaseMinutes: 'soon' }, {}])).outputOf(NODE)[0];
			expect(items).toEqual([
				{
					json: { error: 'The lease must be from 1 to 10,080 minutes (7 days), not soon', details: { kind: 'invalid_input', field: 'leaseMinutes' } },
					pairedItem: { item: 0 },
				},
			]);
		});
	});

	describe('closing a claim', () => {
		let claimed: IDataObject[];

		beforeEach(async () => {
			await setRules({ perReferral: { every: 1, reward: EUR25 } });
			await refer(['bo@example.com', 'cy@example.com'], { qualify: true });
			claimed = (await ok('claim', [{}])).json(NODE);
		});

		const idOf = (item: IDataObject) => (item.reward as IDataObject).id as number;

		it('Confirm Issued issues once; confirming again changes nothing', async () => {
			const first = (await ok('confirm', [{ rewardId: idOf(claimed[0]), ref: 'stripe:tr_1' }])).json(NODE);
			expect(first).toEqual([
				{ reward: expect.objectContaining({ id: idOf(claimed[0]), status: 'issued', externalRef: 'stripe:tr_1', issuedAt: expect.any(String), leaseUntil: null }), changed: true },
			]);
			const again = (await ok('confirm', [{ rewardId: String(idOf(claimed[0])) }])).json(NODE);
			expect(again).toEqual([{ reward: expect.objectContaining({ status: 'issued', externalRef: 'stripe:tr_1' }), changed: false }]);
		});

		it('Mark Failed retries while attempts remain, then fails for good', async () => {
			const id = idOf(claimed[1]);
			const first = (await ok('mark-failed', [{ rewardId: id, error: 'SMTP down', maxAttempts: 2 }])).json(NODE)[0];
			expect(first).toEqual({
				reward: expect.objectContaining({ id, status: 'due', attempts: 1, failureReason: 'SMTP down' }),
				changed: true,
				retrying: true,
			});
			const retried = (await ok('claim', [{}])).json(NODE);
			expect(retried.map(idOf)).toEqual([id]);
			const last = (await ok('mark-failed', [{ rewardId: id, error: { message: 'Mailbox full', code: 552 }, maxAttempts: 2 }])).json(NODE)[0];
			expect(last).toEqual({
				reward: expect.objectContaining({ id, status: 'failed', attempts: 2, failureReason: 'Mailbox full' }),
				changed: true,
				retrying: false,
			});
			expect((await ok('claim', [{}])).json(NODE)).toEqual([]);
		});

		it('refuses to fail a reward that is not claimed, naming the item and the field', async () => {
			await ok('confirm', [{ rewardId: idOf(claimed[0]) }]);
			const result = await run('mark-failed', [{ rewardId: idOf(claimed[1]), error: 'x' }, { rewardId: idOf(claimed[0]), error: 'x' }]);
			expect(result.error).toMatchObject({ message: `Reward ${idOf(claimed[0])} is issued: it cannot be changed that way`, itemIndex: 1 });
			expect(result.error!.description).toBe('Item 1, field "rewardId"');
		});

		it('the chain Claim → Confirm Issued wires the reward id through {{ $json.reward.id }}', async () => {
			// Give back the claims of beforeEach so the chain claims them itself.
			for (const item of claimed) await program.rewards.fail(idOf(item), 'test reset', 5);
			const result = await ok('claim-and-confirm', [{}]);
			expect(result.executedNodes).toEqual(['Start', 'Claim Due Rewards', 'Confirm Issued']);
			expect(result.json('Claim Due Rewards')).toHaveLength(2);
			const confirmed = result.outputOf('Confirm Issued')[0];
			expect(confirmed.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
			expect(confirmed.map((item) => item.json)).toEqual(
				claimed.map((item) => ({
					reward: expect.objectContaining({ id: idOf(item), status: 'issued', externalRef: 'email:ann@example.com' }),
					changed: true,
				})),
			);
			expect((await rewards()).map((r) => r.status)).toEqual(['issued', 'issued']);
		});
	});

	describe('managing rewards', () => {
		it('approves a reward waiting for approval; approving it again is a conflict', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR25 }, approval: true });
			await refer(['bo@example.com'], { qualify: true });
			const [waiting] = (await ok('get-many', [{ status: ['pending_approval'] }])).json(NODE);
			const id = (waiting.reward as IDataObject).id as number;
			expect((await ok('claim', [{}])).json(NODE)).toEqual([]);
			expect((await ok('approve', [{ rewardId: id }])).json(NODE)).toEqual([{ reward: expect.objectContaining({ id, status: 'due' }), changed: true }]);
			const again = await run('approve', [{ rewardId: id }]);
			expect(again.error).toMatchObject({ message: `Reward ${id} is due: it cannot be changed that way`, itemIndex: 0 });
			expect((await ok('claim', [{}])).json(NODE)).toHaveLength(1);
		});

		it('cancels a reward not issued yet, once', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR25 } });
			await refer(['bo@example.com'], { qualify: true });
			const [reward] = await rewards();
			expect((await ok('cancel', [{ rewardId: reward.id }])).json(NODE)).toEqual([
				{ reward: expect.objectContaining({ id: reward.id, status: 'cancelled' }), changed: true },
			]);
			expect((await ok('cancel', [{ rewardId: reward.id }])).json(NODE)[0]).toMatchObject({ changed: false });
			expect((await ok('claim', [{}])).json(NODE)).toEqual([]);
		});

		it('gets a reward with its beneficiary and referral, and lists rewards by status, campaign and beneficiary', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR25 }, referred: { on: 'qualification', reward: { kind: 'coupon' } } });
			const [bo, cy, dee] = await refer(['bo@example.com', 'cy@example.com', 'dee@example.com'], { qualify: true });
			const all = await rewards();
			expect(all).toHaveLength(6);
			const boCoupon = all.find((r) => r.beneficiaryId === bo.id)!;

			const [got] = (await ok('get', [{ rewardId: boCoupon.id }])).json(NODE);
			expect(got).toEqual({
				reward: expect.objectContaining({ id: boCoupon.id, rule: 'referred', beneficiaryRole: 'referred', status: 'due' }),
				beneficiary: expect.objectContaining({ id: bo.id, email: 'bo@example.com' }),
				referral: expect.objectContaining({ id: bo.id }),
				amount: null,
				currency: null,
				couponCode: null,
				kind: 'coupon',
				payload: {},
			});

			const ids = (items: IDataObject[]) => items.map((item) => (item.reward as IDataObject).id);
			const firstTwo = (await ok('get-many', [{ campaign: 'friends', limit: 2 }])).json(NODE);
			expect(ids(firstTwo)).toEqual(all.slice(0, 2).map((r) => r.id));
			expect(ids((await ok('get-many', [{ returnAll: true, limit: 1 }])).json(NODE))).toEqual(all.map((r) => r.id));
			const annOnly = (await ok('get-many', [{ beneficiaryId: ann.id }])).json(NODE);
			expect(annOnly.map((item) => item.amount)).toEqual([25, 25, 25]);

			await ok('cancel', [{ rewardId: boCoupon.id }]);
			const cancelled = (await ok('get-many', [{ status: ['cancelled', 'issued'] }])).json(NODE);
			expect(ids(cancelled)).toEqual([boCoupon.id]);
			const due = (await ok('get-many', [{ status: ['due'], beneficiaryId: cy.id }, { status: ['due'], beneficiaryId: dee.id }])).json(NODE);
			expect(due.map((item) => (item.beneficiary as IDataObject).id)).toEqual([cy.id, dee.id]);
			expect((await run('get-many', [{ campaign: 'nobody' }])).error?.message).toBe('There is no campaign with slug "nobody"');
		});

		it('with Continue On Fail, unknown and malformed reward ids become error items in n8n’s shape', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR25 } });
			await refer(['bo@example.com'], { qualify: true });
			const [reward] = await rewards();
			const result = await ok('get-continue', [{ rewardId: 999_999 }, { rewardId: reward.id }, { rewardId: 'abc' }, {}]);
			const items = result.outputOf(NODE)[0];
			expect(items.map((item) => item.pairedItem)).toEqual([0, 1, 2, 3].map((item) => ({ item })));
			expect(items[0].json).toEqual({ error: 'There is no reward with id 999999', details: { kind: 'not_found', field: 'rewardId' } });
			expect(items[1].json).toMatchObject({ reward: { id: reward.id }, beneficiary: { id: ann.id } });
			expect(items[2].json).toEqual({ error: '"abc" is not a reward ID', details: { kind: 'invalid_input', field: 'rewardId' } });
			expect(items[3].json).toEqual({ error: 'The reward ID is missing', details: { kind: 'invalid_input', field: 'rewardId' } });

			const stopped = await run('get', [{ rewardId: reward.id }, { rewardId: 999_999 }]);
			expect(stopped.error).toMatchObject({ message: 'There is no reward with id 999999', itemIndex: 1, nodeName: NODE });
			expect(stopped.error!.description).toBe('Item 1, field "rewardId"');
		});

		it('refuses an empty coupon list, naming the item and the field', async () => {
			const result = await run('add-coupons', [{ campaign: 'friends', coupons: ' , \n' }]);
			expect(result.error).toMatchObject({ message: 'No coupon codes were given', itemIndex: 0 });
			expect(result.error!.description).toBe('Item 0, field "coupons"');
		});
	});

	describe('Release Expired Claims', () => {
		it('outputs released: 0 when no claim has expired', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR25 } });
			await refer(['bo@example.com'], { qualify: true });
			await ok('claim', [{ leaseMinutes: 1 }]);
			const result = await ok('release', [{}, {}]);
			expect(result.outputOf(NODE)[0]).toEqual([{ json: { released: 0, rewards: [] }, pairedItem: { item: 0 } }]);
		});

		it('makes claims whose lease ran out due again, and the next claim issues them', async () => {
			await setRules({ perReferral: { every: 1, reward: EUR25 } });
			await refer(['bo@example.com'], { qualify: true });
			// A worker claimed an hour ago with a one-minute lease and never came back.
			const past = new ReferralProgram(store, () => new Date(Date.now() - 3600_000));
			const { claimed } = await past.rewards.claim({ limit: 10, leaseSeconds: 60 });
			expect(claimed).toHaveLength(1);
			expect((await ok('claim', [{}])).json(NODE)).toEqual([]);

			const [released] = (await ok('release', [{}])).json(NODE);
			expect(released).toEqual({ released: 1, rewards: [expect.objectContaining({ id: claimed[0].reward.id, status: 'due', leaseUntil: null })] });
			expect((await ok('claim', [{}])).json(NODE).map((item) => (item.reward as IDataObject).id)).toEqual([claimed[0].reward.id]);
		});
	});

	it('offers "All Campaigns" first in the campaign list of Claim and Get Many', async () => {
		await program.createCampaign({ name: 'Partners', slug: 'partners' }, 'https://x.example/p?ref={{code}}');
		const search = async (filter?: string) =>
			await loadOptions({
				kind: 'listSearch',
				nodeType: new RewardIssuer(),
				methodName: 'searchCampaignsOrAll',
				credentials: { referralStoreApi: credential },
				credentialTypes: [new ReferralStoreApi()],
				parameters: { resource: 'reward', operation: 'claim' },
				filter,
			});
		expect((await search()).results).toEqual([
			{ name: 'All Campaigns', value: 'all' },
			{ name: 'Friends', value: String(campaign.id) },
			{ name: 'Partners', value: expect.any(String) },
		]);
		expect((await search('part')).results).toEqual([{ name: 'Partners', value: expect.any(String) }]);
	});

	it('is usable as an AI tool, uses the store credential and ships a codex file under its type name', () => {
		const { description } = new RewardIssuer();
		expect(description.usableAsTool).toBe(true);
		expect(description.credentials).toEqual([{ name: 'referralStoreApi', required: true, testedBy: 'referralStoreConnectionTest' }]);
		const codex = JSON.parse(readFileSync(join(__dirname, '../../nodes/RewardIssuer/RewardIssuer.node.json'), 'utf8'));
		expect(codex.node).toBe(NODE_TYPE);
	});
});
