/**
 * The whole referral program as a user runs it: the package installed as a community package in a
 * real n8n 2.41, the three credentials (Pipedrive pointing at the sandbox, an SQLite store, the
 * qualify key) and every bundled workflow imported and published with the n8n CLI, then driven over
 * HTTP only, by visitors (the forms), Pipedrive (the sandbox's webhooks) and another system (the
 * qualify webhook). The store is read to check the outcome, never written.
 */
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { ReferralStore } from '../../lib/store/types';
import { startSandbox, DEAL_FIELD_KEYS, PERSON_FIELD_KEYS, type Sandbox } from '../../sandbox';
import { BUNDLED_PATHS, bundledWorkflows, QUALIFY_KEY_HEADER } from '../../scripts/n8n/bundle';
import { PACKAGE_NAME } from '../../scripts/n8n/package';
import {
	bundledWithQualifyingStage,
	executeWorkflowNow,
	hiddenValue,
	openForm,
	prepareBundledN8n,
	sqliteStorePath,
	submitForm,
	waitFor,
} from './helpers/bundled';
import { getJson, packageProblemLines, setUpOwner, type RealN8n } from './helpers/real-n8n';

const QUALIFY_KEY = 'e2e-qualify-key-4f9c1d7a2b';
const SALES_PIPELINE = 1;
const QUALIFYING_STAGE = 3; // "Demo Scheduled" in the sandbox's Sales pipeline

describe('real n8n: the bundled workflows, end to end against the Pipedrive sandbox', () => {
	let sandbox: Sandbox;
	let n8n: RealN8n;
	let cookie: string;
	let store: ReferralStore;
	let program: ReferralProgram;
	/** Shared between the steps, in order. */
	const run: { code?: string; link?: string; friendCode?: string; dealId?: number; secondCode?: string } = {};

	beforeAll(async () => {
		// Retries come fast (3 s → 30 ms), but n8n gets the normal 10 s to answer a delivery.
		sandbox = await startSandbox({ webhookTimeScale: 0.01, webhookTimeoutMs: 10_000 });
		// What a user does after importing: pick the stage that qualifies a referral.
		n8n = await prepareBundledN8n(sandbox, { qualifyKey: QUALIFY_KEY, workflows: bundledWithQualifyingStage(QUALIFYING_STAGE) });
		store = await openStore({ backend: 'sqlite', path: sqliteStorePath(n8n.userFolder) });
		program = new ReferralProgram(store, undefined, { publicUrl: () => n8n.instance.url });
		cookie = await setUpOwner(n8n.instance);
	});

	afterAll(async () => {
		await closeAllStores();
		await n8n?.dispose();
		await sandbox?.close();
	});

	const deliveriesTo = (webhookId: number) => sandbox.deliveries({ webhookId });
	const person = (id: number) => sandbox.state.persons.get(id)!;
	const personsWithEmail = (email: string) =>
		sandbox.state.personList.filter((p) => p.emails.some((e) => e.value.toLowerCase() === email.toLowerCase()));

	it('1. imports and publishes every bundled workflow without an error; forms and webhooks answer', async () => {
		const logs = n8n.instance.logs() + n8n.cliOutput;
		expect(packageProblemLines(logs, n8n.n8nDir, PACKAGE_NAME)).toEqual([]);
		expect(logs).not.toMatch(/Unrecognized node type|Failed to load package|could not be activated|There was a problem activating/i);

		const { data } = (await getJson(n8n.instance, '/rest/workflows', cookie)) as { data: Array<{ id: string; active: boolean }> };
		const bundled = bundledWorkflows().map(({ workflow }) => workflow.id);
		expect(bundled).toHaveLength(10);
		for (const id of bundled) expect(data.find((workflow) => workflow.id === id)).toMatchObject({ active: true });

		for (const form of [BUNDLED_PATHS.referrerForm, BUNDLED_PATHS.referredForm]) {
			await waitFor(async () => (await openForm(n8n.instance, form)).status === 200, 60_000, `/form/${form}`);
		}
		// Activating the qualify workflow registered its webhooks, with basic auth: every deal and lead
		// event, since the campaign's rule may name stages, labels or conversions at any time.
		const webhooks = await waitFor(() => (sandbox.state.webhooks.size >= 2 ? [...sandbox.state.webhooks.values()] : undefined), 60_000, 'Pipedrive webhooks');
		expect(webhooks.map((webhook) => `${webhook.event_object}:${webhook.event_action}`).sort()).toEqual(['deal:*', 'lead:*']);
		for (const webhook of webhooks) {
			expect(webhook).toMatchObject({ http_auth_user: 'n8n', version: '2.0' });
			expect(webhook.subscription_url.startsWith(`${n8n.instance.url}/webhook/`)).toBe(true);
			expect(String(webhook.http_auth_password).length).toBeGreaterThanOrEqual(32);
		}
	});

	it('2. a referrer signs up through the form and gets their link; they are a Pipedrive person with it', async () => {
		const page = await openForm(n8n.instance, BUNDLED_PATHS.referrerForm);
		expect(page.html).toContain('Refer a friend');
		const result = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Ann', 'Lee', 'Ann.Lee@Example.com']);
		expect(result.status).toBe(200);
		expect(result.heading).toBe("You're in!");
		const link = /(http\S+\/form\/refer\?ref=(\S+))/.exec(result.text);
		expect(link).not.toBeNull();
		run.link = link![1];
		run.code = link![2];
		expect(run.link).toBe(`${n8n.instance.url}/form/refer?ref=${run.code}`);
		expect(result.text).toContain(`Your code is ${run.code}.`);

		const referrer = await program.getParticipant((await program.getCampaign({ slug: 'referral-program' })).id, { code: run.code! });
		expect(referrer).toMatchObject({ email: 'ann.lee@example.com', firstName: 'Ann', lastName: 'Lee', source: 'direct' });
		const [inPipedrive] = personsWithEmail('ann.lee@example.com');
		expect(inPipedrive.custom).toMatchObject({
			[PERSON_FIELD_KEYS.referralLink]: run.link,
			[PERSON_FIELD_KEYS.referralCode]: run.code,
		});
		expect(referrer.pipedrivePersonId).toBe(inPipedrive.id);

		// Signing up again gives the same link, and no second person.
		const again = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Ann', 'Lee', 'ann.lee@example.com']);
		expect(again.text).toContain(run.link);
		expect(personsWithEmail('ann.lee@example.com')).toHaveLength(1);
	});

	it('3. a friend opens the link and signs up: a person and a deal with the referral fields; an existing person is reused', async () => {
		const query = `ref=${encodeURIComponent(run.code!)}`;
		const page = await openForm(n8n.instance, BUNDLED_PATHS.referredForm, query);
		// The hidden field "ref" (the form's 4th field) is filled from the link.
		expect(hiddenValue(page.html, 3)).toBe(run.code);

		const result = await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, ['Bo', 'Friend', 'bo.friend@example.com', run.code!], query);
		expect(result).toMatchObject({ status: 200, heading: 'Thank you!', text: 'Thanks, Bo. We will be in touch soon.' });

		const campaign = await program.getCampaign({ slug: 'referral-program' });
		const friend = await program.getParticipant(campaign.id, { email: 'bo.friend@example.com' });
		expect(friend).toMatchObject({ source: 'referred', referralStatus: 'pending' });
		const referrer = await program.getParticipant(campaign.id, { code: run.code! });
		expect(friend.referredBy).toBe(referrer.id);
		run.friendCode = friend.code;

		const [boPerson] = personsWithEmail('bo.friend@example.com');
		expect(friend.pipedrivePersonId).toBe(boPerson.id);
		const deal = sandbox.state.deals.get(friend.pipedriveDealId!)!;
		run.dealId = deal.id as number;
		// No pipeline chosen in the workflow: the first stage of the account's first pipeline.
		expect(deal).toMatchObject({ person_id: boPerson.id, pipeline_id: SALES_PIPELINE, stage_id: 1, title: 'Referral: Bo Friend (from Ann Lee)' });
		expect(deal.custom).toMatchObject({
			[DEAL_FIELD_KEYS.referralCode]: friend.code,
			[DEAL_FIELD_KEYS.referrerName]: 'Ann Lee',
			[DEAL_FIELD_KEYS.referrerEmail]: 'ann.lee@example.com',
			[DEAL_FIELD_KEYS.referralCampaign]: 'Referral Program',
			[DEAL_FIELD_KEYS.referralLink]: friend.link,
		});

		// A friend who is already a Pipedrive person (from the sandbox's seed): no second person.
		const existing = 'anna.schmidt@example.com';
		expect(personsWithEmail(existing)).toHaveLength(1);
		const second = await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, ['Anna', 'Schmidt', existing, run.code!], query);
		expect(second.heading).toBe('Thank you!');
		const anna = await program.getParticipant(campaign.id, { email: existing });
		expect(anna).toMatchObject({ source: 'referred', referredBy: referrer.id, pipedrivePersonId: personsWithEmail(existing)[0].id });
		expect(personsWithEmail(existing)).toHaveLength(1);
		expect(sandbox.state.deals.get(anna.pipedriveDealId!)).toMatchObject({ person_id: personsWithEmail(existing)[0].id });
		run.secondCode = anna.code;

		// An unknown code and no code: recorded as direct sign-ups, a thank-you page all the same.
		for (const [email, ref] of [['cy@example.com', 'NOPE23456'], ['dee@example.com', '']]) {
			const direct = await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, ['Cy', '', email, ref], ref ? `ref=${ref}` : '');
			expect(direct.heading).toBe('Thank you!');
			expect(await program.getParticipant(campaign.id, { email })).toMatchObject({ source: 'direct', referredBy: null });
			expect(personsWithEmail(email)).toHaveLength(1);
		}
		// A bad email: still the thank-you page, nothing recorded.
		const before = (await program.getCampaignStats(campaign.id)).participants;
		const bad = await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, ['Eve', '', 'not-an-email', run.code!], query);
		expect(bad.heading).toBe('Thank you!');
		expect((await program.getCampaignStats(campaign.id)).participants).toBe(before);
	});

	it('4. the deal reaches the qualifying stage: qualified, the reward is due, then claimed and issued; the referrer’s counts reach Pipedrive', async () => {
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		sandbox.moveDealToStage(run.dealId!, QUALIFYING_STAGE);
		await sandbox.waitForWebhooks();

		const friend = await waitFor(async () => {
			const current = await program.getParticipant(campaign.id, { code: run.friendCode! });
			return current.referralStatus === 'qualified' ? current : undefined;
		}, 60_000, 'the referral to be qualified');
		expect(friend.qualifiedAt).toEqual(expect.any(String));
		const referrer = await program.getParticipant(campaign.id, { code: run.code! });

		// The campaign's rule: 25 EUR per qualified referral. The issue-rewards workflow polls every minute.
		const issued = await waitFor(async () => {
			const rewards = (await program.rewards.list({ campaignId: campaign.id }, { limit: 10 })).map((view) => view.reward);
			return rewards.length > 0 && rewards.every((reward) => reward.status === 'issued') ? rewards : undefined;
		}, 150_000, 'the reward to be issued');
		expect(issued).toEqual([expect.objectContaining({ beneficiaryId: referrer.id, referralId: friend.id, amount: 25, currency: 'EUR' })]);

		const types = (await program.listEvents({ campaignId: campaign.id }, 100, 'asc')).map((event) => event.type);
		expect(types.filter((type) => type === 'referral.qualified')).toHaveLength(1);
		expect(types.filter((type) => type === 'reward.due')).toHaveLength(1);
		expect(types.filter((type) => type === 'reward.issued')).toHaveLength(1);

		await waitFor(() => {
			const fields = person(referrer.pipedrivePersonId!).custom;
			return fields[PERSON_FIELD_KEYS.qualifiedReferrals] === 1 ? fields : undefined;
		}, 30_000, 'the referrer’s counts in Pipedrive');
		expect(person(referrer.pipedrivePersonId!).custom).toMatchObject({
			[PERSON_FIELD_KEYS.referrals]: 2,
			[PERSON_FIELD_KEYS.qualifiedReferrals]: 1,
		});
	});

	it('5. Pipedrive delivering the same webhook again changes nothing', async () => {
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		const eventsBefore = await program.listEvents({ campaignId: campaign.id }, 1000, 'asc');
		const webhook = [...sandbox.state.webhooks.values()].find((w) => w.event_object === 'deal')!;
		const countBefore = deliveriesTo(webhook.id).length;
		const again = sandbox.redeliverLast(webhook.id)!;
		expect(again.payload).toMatchObject({ data: { id: run.dealId, stage_id: QUALIFYING_STAGE } });
		await sandbox.waitForWebhooks();
		const delivered = deliveriesTo(webhook.id);
		expect(delivered).toHaveLength(countBefore + 1);
		expect(delivered[delivered.length - 1]).toMatchObject({ state: 'delivered' });
		// Give the execution time to finish, then nothing new may have happened.
		await new Promise((resolve) => setTimeout(resolve, 5_000));
		expect(await program.listEvents({ campaignId: campaign.id }, 1000, 'asc')).toEqual(eventsBefore);
		expect(await program.rewards.list({ campaignId: campaign.id }, { limit: 10 })).toHaveLength(1);
	});

	it('6. the qualify-with-code webhook qualifies a second referral; without the right key it is refused', async () => {
		const url = `${n8n.instance.url}/webhook/${BUNDLED_PATHS.qualifyWebhook}`;
		const post = async (headers: Record<string, string>, body: unknown) => {
			const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
			const text = await response.text();
			let json: any = text;
			try {
				json = JSON.parse(text);
			} catch {
				/* not JSON */
			}
			return { status: response.status, body: json };
		};
		const key = { [QUALIFY_KEY_HEADER]: QUALIFY_KEY };
		const eventsBefore = (await program.listEvents({}, 1000, 'asc')).length;
		for (const headers of [{}, { [QUALIFY_KEY_HEADER]: 'wrong-key' }] as Array<Record<string, string>>) {
			expect((await post(headers, { code: run.secondCode })).status).toBe(403);
		}
		expect((await program.listEvents({}, 1000, 'asc')).length).toBe(eventsBefore);

		const unknown = await post(key, { code: 'NOPE23456' });
		expect(unknown).toEqual({ status: 404, body: { error: 'No referral in campaign 1 has the referral code "NOPE23456"', field: 'code' } });
		const bad = await post(key, { code: run.secondCode, saleValue: 'lots' });
		expect(bad).toEqual({ status: 400, body: { error: 'The sale value "lots" is not an amount', field: 'saleValue' } });

		const qualified = await post(key, { code: run.secondCode, saleValue: 480, currency: 'EUR' });
		expect(qualified.status).toBe(200);
		expect(qualified.body).toMatchObject({
			status: 'qualified',
			changed: true,
			previousStatus: 'pending',
			referral: { code: run.secondCode, saleValue: 480, saleCurrency: 'EUR' },
			referrer: { code: run.code },
		});
		const twice = await post(key, { code: run.secondCode });
		expect(twice).toMatchObject({ status: 200, body: { status: 'qualified', changed: false } });
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		expect((await program.rewards.list({ campaignId: campaign.id }, { limit: 10 })).length).toBe(2);
	});

	it('7. the sync workflow writes referral links into the Pipedrive persons', async () => {
		const withEmail = sandbox.state.personList.filter((p) => p.emails.length > 0);
		const execution = await executeWorkflowNow(n8n.instance, cookie, 'syncPipedriveCon', 'Run Now');
		expect(execution.status).toBe('success');
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		for (const p of withEmail) {
			const participant = await program.getParticipant(campaign.id, { email: p.emails[0].value });
			expect(person(p.id).custom).toMatchObject({
				[PERSON_FIELD_KEYS.referralLink]: participant.link,
				[PERSON_FIELD_KEYS.referralCode]: participant.code,
			});
		}
		expect(sandbox.state.violations).toEqual([]);
		// The referrer's own form-made record is kept: syncing never duplicated a person.
		expect(personsWithEmail('ann.lee@example.com')).toHaveLength(1);
	});
});
