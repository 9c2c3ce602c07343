/**
 * n8n down and Pipedrive down, in a real n8n running the bundled workflows against the sandbox.
 *
 * 1. n8n stopped while referred deals are won, lost after being won, leads labelled with the
 *    qualifying label and converted; the trigger's webhook is banned meanwhile (events lost). n8n
 *    started again: one reconciliation pass (the bundled reconcile workflow, Run Now) puts every
 *    referral in the right state with each reward once; a second pass applies and writes nothing.
 *    Then, while n8n runs, Pipedrive deletes the trigger's deal webhook (its 3-day rule, emulated):
 *    the next pass registers it again from the trigger's record, and a deal won after it is
 *    qualified through the webhook.
 * 2. Pipedrive answering 503 to every write while referred sign-ups arrive: every visitor gets the
 *    thank-you page, the sends are queued, and after Pipedrive recovers the Send Queued sweep creates
 *    each person and deal exactly once.
 * Sizes and the outage length are small here (CI); `npm run bench:outage` runs the full figures.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { recordedTriggers } from '../../lib/sync/trigger-webhooks';
import { DEAL_FIELD_KEYS, LEAD_LABEL_IDS, startSandbox, type Sandbox } from '../../sandbox';
import { BUNDLED_PATHS, bundledWorkflows, type BundledWorkflow } from '../../scripts/n8n/bundle';
import { startN8n, type N8nInstance } from '../../scripts/n8n/instance';
import { executeWorkflowNow, openForm, prepareBundledN8n, sqliteStorePath, submitForm, waitFor } from '../e2e/helpers/bundled';
import { setUpOwner, type RealN8n } from '../e2e/helpers/real-n8n';

// CI sizes; `npm run bench:outage` (bench/outage.ts) runs this file with the sizes.
const size = (name: string, ci: number) => Number(process.env[`OUTAGE_${name}`] ?? ci);
const WON = size('WON', 10);
const LOST_AFTER_WON = size('LOST_AFTER_WON', 3);
const LABELLED = size('LABELLED', 3);
const CONVERTED = size('CONVERTED', 2);
const SIGNUPS = size('SIGNUPS', 5);
/** How long Pipedrive refuses writes (the benchmark: 10 minutes). */
const OUTAGE_MS = size('MS', 15_000);
const RULES = { perReferral: { every: 1, reward: { kind: 'amount', amount: 25, currency: 'EUR' } } };
const WORKFLOW_IDS = ['referrerSignup01', 'referredSignup01', 'qualifyDealStage', 'reconcilePipedri'];

/** The workflows this test needs; the campaign's rule also counts the Hot lead label and conversions. */
function workflows(): BundledWorkflow[] {
	return bundledWorkflows()
		.filter(({ workflow }) => WORKFLOW_IDS.includes(workflow.id))
		.map(({ workflow }) => {
			if (workflow.id !== 'referrerSignup01') return workflow;
			const copy = JSON.parse(JSON.stringify(workflow)) as BundledWorkflow;
			const campaign = copy.nodes.find((node) => node.name === 'Referral Campaign')!;
			Object.assign(campaign.parameters, {
				// Every referral here comes under one referrer within the hour: no velocity limit (flood.test.ts proves it).
				fraudSettings: { ...campaign.parameters.fraudSettings, maxReferralsPerReferrerPerHour: 0, maxReferralsPerReferrerPerDay: 0 },
				rewardRulesMode: 'json',
				rewardRulesJson: JSON.stringify(RULES),
				qualification: { leadLabelIds: LEAD_LABEL_IDS.hot, leadConverted: true },
			});
			return copy;
		});
}

describe('hardening: n8n down, webhooks banned, Pipedrive down', () => {
	let sandbox: Sandbox;
	let n8n: RealN8n;
	let instance: N8nInstance;
	let program: ReferralProgram;
	let cookie: string;
	const report: Record<string, unknown> = {};

	beforeAll(async () => {
		// Retries 3 s / 30 s / 150 s and the 30-minute ban ten times faster: the ban (3 minutes) outlasts n8n's restart.
		sandbox = await startSandbox({ webhookTimeScale: 0.1, webhookTimeoutMs: 10_000 });
		n8n = await prepareBundledN8n(sandbox, { qualifyKey: 'outage-qualify-key-51c2', workflows: workflows() });
		instance = n8n.instance;
		program = new ReferralProgram(await openStore({ backend: 'sqlite', path: sqliteStorePath(n8n.userFolder) }), undefined, { publicUrl: () => instance.url });
		cookie = await setUpOwner(instance);
		for (const form of [BUNDLED_PATHS.referrerForm, BUNDLED_PATHS.referredForm]) {
			await waitFor(async () => (await openForm(instance, form)).status === 200, 60_000, `the form ${form}`);
		}
	});

	afterAll(async () => {
		// eslint-disable-next-line no-console
		console.log(`hardening (outage): ${JSON.stringify(report)}`);
		if (process.env.OUTAGE_REPORT) fs.writeFileSync(process.env.OUTAGE_REPORT, JSON.stringify(report));
		await closeAllStores();
		if (instance !== n8n?.instance) await instance?.stop();
		await n8n?.dispose();
		await sandbox?.close();
	});

	async function signIn(): Promise<string> {
		const response = await fetch(`${instance.url}/rest/login`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ emailOrLdapLoginId: 'owner@example.com', password: 'E2e-password-1234' }),
		});
		return response.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
	}

	/** What a reconciliation pass can write, read from the store file: the numbers of keys, events and timed referrals, the latest sync-state and participant writes. */
	const storeFootprint = async () => {
		const { DatabaseSync } = await import('node:sqlite');
		const db = new DatabaseSync(sqliteStorePath(n8n.userFolder), { readOnly: true });
		try {
			return db
				.prepare(
					`SELECT (SELECT count(*) FROM idempotency_keys) AS keys, (SELECT count(*) FROM events) AS events,
					(SELECT count(*) FROM referral_event_times) AS timed, (SELECT max(updated_at) FROM sync_state) AS sync,
					(SELECT max(updated_at) FROM participants) AS participants, (SELECT max(updated_at) FROM rewards) AS rewards`,
				)
				.get() as Record<string, unknown>;
		} finally {
			db.close();
		}
	};
	/** How many of those changed between two footprints (0: the pass wrote nothing). */
	const changedParts = (before: Record<string, unknown>, after: Record<string, unknown>) => Object.keys(before).filter((key) => before[key] !== after[key]).length;

	const reconcileNow = async () => {
		const run = await executeWorkflowNow(instance, cookie, 'reconcilePipedri', 'Run Now');
		expect(run.status).toBe('success');
	};

	it('deals won, lost, leads labelled and converted while n8n was down and its webhook banned: one pass applies each once', async () => {
		const signup = await submitForm(instance, BUNDLED_PATHS.referrerForm, ['Ann', 'Lee', 'ann@example.com']);
		expect(signup.heading).toBe("You're in!");
		const code = /ref=(\S+)/.exec(signup.text)![1];
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		expect(await program.getQualificationRule(campaign.id)).toMatchObject({ dealWon: true, leadLabelIds: [LEAD_LABEL_IDS.hot], leadConverted: true });
		const total = WON + LOST_AFTER_WON + LABELLED + CONVERTED;
		const registered = await program.registerReferred(
			campaign.id,
			Array.from({ length: total }, (_, i) => ({ code, email: `down${i}@example.com` })),
			{ stopOnError: true },
		);
		const friends = registered.map((outcome) => {
			if (!outcome.ok) throw outcome.error;
			return outcome.value.participant;
		});
		const deals = friends.slice(0, WON + LOST_AFTER_WON).map((friend) =>
			Number(sandbox.createDeal({ title: friend.email!, value: 500, currency: 'EUR', custom_fields: { [DEAL_FIELD_KEYS.referralCode]: friend.code } }).id),
		);
		const person = Number(sandbox.createPerson({ name: 'Lead person' }).id);
		const leads = friends.slice(WON + LOST_AFTER_WON).map((friend) => String(sandbox.createLead({ title: friend.email!, person_id: person, custom: { [DEAL_FIELD_KEYS.referralCode]: friend.code } }).id));
		await sandbox.waitForWebhooks(30_000);

		await instance.stop();
		for (const id of deals) sandbox.markDealWon(id);
		sandbox.advanceClock(2_000);
		for (const id of deals.slice(WON)) sandbox.markDealLost(id);
		for (const id of leads.slice(0, LABELLED)) sandbox.setLeadLabels(id, [LEAD_LABEL_IDS.hot]);
		for (const id of leads.slice(LABELLED)) sandbox.convertLead(id);
		await sandbox.waitForWebhooks(30_000);
		const deliveries = sandbox.deliveries();
		report.lostDeliveries = deliveries.filter((d) => d.state === 'dropped' || d.state === 'failed').length;
		expect(deliveries.some((d) => d.droppedReason === 'webhook banned')).toBe(true);
		expect([...sandbox.state.webhooks.values()].some((w) => w.banned_until !== null && w.banned_until > sandbox.state.now())).toBe(true);

		instance = await startN8n({ n8nDir: n8n.n8nDir, userFolder: n8n.userFolder, port: instance.port, runnersPort: instance.runnersPort, logFile: path.join(n8n.userFolder, 'n8n.log') });
		cookie = await signIn();
		await reconcileNow();

		const status = async (i: number) => (await program.getParticipant(campaign.id, { id: friends[i].id })).referralStatus;
		const expected = friends.map((_, i) => (i >= WON && i < WON + LOST_AFTER_WON ? 'unqualified' : 'qualified'));
		const actual = await Promise.all(friends.map((_, i) => status(i)));
		report.reconciled = actual.filter((s, i) => s === expected[i]).length;
		report.expected = total;
		expect(actual).toEqual(expected);
		const rewards = (await program.rewards.list({ campaignId: campaign.id }, { limit: 1000 })).map((view) => view.reward);
		const live = rewards.filter((reward) => reward.status !== 'cancelled');
		expect(live).toHaveLength(WON + LABELLED + CONVERTED);
		report.duplicates = live.length - new Set(live.map((reward) => reward.referralId)).size;
		expect(report.duplicates).toBe(0);

		// Nothing changed since: a second pass applies nothing and writes nothing to Pipedrive.
		const writes = () => sandbox.requests().filter((r) => r.method !== 'GET').length;
		const writesBefore = writes();
		const events = await program.latestEventId();
		const footprint = await storeFootprint();
		await reconcileNow();
		report.noChangePassStoreWrites = changedParts(footprint, await storeFootprint());
		report.noChangePassPipedriveWrites = writes() - writesBefore;
		expect(await program.latestEventId()).toBe(events);
		expect(report.noChangePassPipedriveWrites).toBe(0);
		expect(report.noChangePassStoreWrites).toBe(0);
		// The banned webhook was registered again (at start, or by the pass), and said so.
		const restored = await program.listEvents({ types: ['pipedrive.webhook_restored'] }, 10, 'asc');
		report.webhooksRestored = restored.length;
		expect(restored.length).toBeGreaterThan(0);
		expect([...sandbox.state.webhooks.values()].every((w) => w.banned_until === null || w.banned_until <= sandbox.state.now())).toBe(true);

		// While n8n runs, Pipedrive deletes the trigger's deal webhook: the next pass registers it again.
		const [trigger] = await recordedTriggers(program, campaign.id);
		const atUrl = () => [...sandbox.state.webhooks.values()].filter((w) => w.subscription_url === trigger.subscriptionUrl && w.event_object === 'deal');
		const [gone] = atUrl();
		sandbox.state.webhooks.delete(gone.id);
		await reconcileNow();
		const [latest] = await program.listEvents({ types: ['pipedrive.webhook_restored'] }, 1, 'desc');
		expect(latest.payload).toMatchObject({ replacedId: gone.id, object: 'deal', reason: 'deleted' });
		expect(atUrl()).toEqual([expect.objectContaining({ id: latest.payload.webhookId, name: gone.name, http_auth_password: gone.http_auth_password })]);
		report.deletedWebhookRestored = true;
		// Its deliveries are the trigger's: a referral's deal won now is qualified through the webhook.
		const [late] = await program.registerReferred(campaign.id, [{ code, email: 'after-restore@example.com' }], { stopOnError: true });
		if (!late.ok) throw late.error;
		const lateDeal = Number(sandbox.createDeal({ title: 'after restore', value: 500, currency: 'EUR', custom_fields: { [DEAL_FIELD_KEYS.referralCode]: late.value.participant.code } }).id);
		sandbox.markDealWon(lateDeal);
		await waitFor(
			async () => (await program.getParticipant(campaign.id, { id: late.value.participant.id })).referralStatus === 'qualified',
			60_000,
			'the deal won after the restore, qualified by the webhook',
		);
	});

	it('Pipedrive refusing every write while people sign up: each gets the thank-you page, and each person and deal exists once after it recovers', async () => {
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		const referrer = await program.getParticipant(campaign.id, { email: 'ann@example.com' });
		const timed = async (email: string) => {
			// The visitor's wait: from posting until the page arrives (settle = false), not the time on
			// the form before it nor the send after it.
			const page = await submitForm(instance, BUNDLED_PATHS.referredForm, ['Out', 'Age', email, referrer.code], `ref=${referrer.code}`, 60_000, false);
			expect(page.heading).toBe('Thank you!');
			return page.answerMs;
		};
		const normal: number[] = [];
		for (let i = 0; i < SIGNUPS; i++) normal.push(await timed(`normal${i}@example.com`));
		// Their sends (after the pages) are done before the outage starts.
		await waitFor(
			async () => {
				const sent = await Promise.all(normal.map((_, i) => program.getParticipant(campaign.id, { email: `normal${i}@example.com` })));
				return sent.every((participant) => participant.pipedriveDealId !== null);
			},
			60_000,
			'the normal sign-ups in Pipedrive',
		);
		sandbox.setFaults({ rate: 1, kinds: ['503'], methods: ['POST', 'PATCH', 'PUT', 'DELETE'] });
		const outageStarted = Date.now();
		const outage: number[] = [];
		for (let i = 0; i < SIGNUPS; i++) outage.push(await timed(`outage${i}@example.com`));
		// The sends run after the pages: each fails on the outage and is queued.
		await waitFor(async () => (await program.listSends({ state: 'queued' }, 100)).length === SIGNUPS, 60_000, 'the outage sign-ups queued');
		await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - outageStarted))));
		sandbox.setFaults(null);
		const recovered = Date.now();
		// What the every-minute schedule does, now rather than within the minute.
		await waitFor(async () => {
			await executeWorkflowNow(instance, cookie, 'reconcilePipedri', 'Run Now');
			return (await program.listSends({ state: 'queued' }, 100)).length === 0;
		}, 120_000, 'the queued sends');
		report.sentAfterRecoveryS = Math.round((Date.now() - recovered) / 100) / 10;
		const p95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.95) - 1];
		report.signupP95MsNormal = p95(normal);
		report.signupP95MsOutage = p95(outage);
		let duplicates = 0;
		for (let i = 0; i < SIGNUPS; i++) {
			const email = `outage${i}@example.com`;
			const persons = sandbox.state.personList.filter((p) => p.emails.some((e) => e.value.toLowerCase() === email));
			const deals = [...sandbox.state.deals.values()].filter((deal) => !deal.is_deleted && persons.some((p) => p.id === deal.person_id));
			duplicates += Math.max(0, persons.length - 1) + Math.max(0, deals.length - 1);
			expect(persons).toHaveLength(1);
			expect(deals).toHaveLength(1);
		}
		report.sendDuplicates = duplicates;
		expect(await program.listSends({ state: 'sent' }, 100)).toHaveLength(SIGNUPS);
	});
});
