/**
 * Faults, in a real n8n running the bundled workflows against the sandbox: Pipedrive answering
 * 5xx, 429 and slow answers for 20% of requests during signups, qualifications and a contact sync,
 * and n8n killed (SIGKILL) in the middle of reward claiming and of a contact sync, then restarted on
 * the same data. Every run converges: no lost referral, no duplicate person, deal or reward, and
 * claims whose lease ran out are released and issued once.
 */
import * as path from 'node:path';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { ReferralStore } from '../../lib/store/types';
import { DEAL_FIELD_KEYS, PERSON_FIELD_KEYS, startSandbox, type Sandbox } from '../../sandbox';
import { BUNDLED_PATHS, type BundledWorkflow } from '../../scripts/n8n/bundle';
import { descendantsOf, startN8n, type N8nInstance } from '../../scripts/n8n/instance';
import { bundledWithQualifyingStage, executeWorkflowNow, openForm, prepareBundledN8n, sqliteStorePath, submitForm, waitFor } from '../e2e/helpers/bundled';
import { setUpOwner, type RealN8n } from '../e2e/helpers/real-n8n';

const QUALIFYING_STAGE = 3;
const FRIENDS = 12;
/** The campaign's coupon pool: one per friend and 5 spare. */
const COUPON_CODES = Array.from({ length: FRIENDS + 5 }, (_, i) => `WELCOME-${1000 + i}`);
const EXTRA_PERSONS = 1000;
/** The referrer earns 25 EUR per qualified referral and the friend a coupon: two rewards per referral. */
const REWARD_RULES = {
	perReferral: { every: 1, reward: { kind: 'amount', amount: 25, currency: 'EUR' } },
	referred: { on: 'qualification', reward: { kind: 'coupon' } },
};
/** Pipedrive API paths that fail 20% of the time (the webhook subscriptions are left alone). */
const FAULTS = { rate: 0.2, kinds: ['500', '502', '503', '429', 'timeout'] as const, paths: ['/persons', '/deals', 'Fields', '/pipelines', '/stages'], seed: 7, timeoutMs: 1_500 };

/**
 * The bundled workflows as the test needs them: the qualifying stage picked; a coupon for each
 * referred friend on top of the referrer's reward; reward delivery made
 * slow (20 s), the claim lease 1 minute and the release sweep every minute, so n8n can be killed
 * mid-delivery and the expired claims seen released within the test.
 */
function workflows(): BundledWorkflow[] {
	return bundledWithQualifyingStage(QUALIFYING_STAGE).map((workflow) => {
		if (workflow.id === 'referrerSignup01') {
			const copy = JSON.parse(JSON.stringify(workflow)) as BundledWorkflow;
			// Referral Campaign version 2: the rules as JSON (the advanced mode), and the pool's codes on
			// the node, since a coupon reward needs codes before the campaign is made.
			const campaign = copy.nodes.find((node) => node.name === 'Referral Campaign')!;
			Object.assign(campaign.parameters, {
				// All friends come under one referrer within the hour: no velocity limit here (flood.test.ts proves it).
				fraudSettings: { ...campaign.parameters.fraudSettings, maxReferralsPerReferrerPerHour: 0 },
				rewardRulesMode: 'json',
				rewardRulesJson: JSON.stringify(REWARD_RULES),
				couponCodes: COUPON_CODES.join('\n'),
			});
			return copy;
		}
		if (workflow.id !== 'issueRewards0001') return workflow;
		const copy = JSON.parse(JSON.stringify(workflow)) as BundledWorkflow;
		const deliver = copy.nodes.find((node) => node.name === 'Deliver Reward')!;
		Object.assign(deliver, {
			type: 'n8n-nodes-base.wait',
			typeVersion: 1.1,
			parameters: { resume: 'timeInterval', amount: 20, unit: 'seconds' },
			disabled: false,
		});
		delete deliver.onError;
		copy.connections['Deliver Reward'].main = [copy.connections['Deliver Reward'].main[0]];
		copy.nodes.find((node) => node.name === 'Claim Due Rewards')!.parameters.options = { leaseMinutes: 1 };
		copy.nodes.find((node) => node.name === 'Every 15 Minutes')!.parameters.rule = { interval: [{ field: 'minutes', minutesInterval: 1 }] };
		return copy;
	});
}

describe('hardening: faults and crashes converge', () => {
	let sandbox: Sandbox;
	let n8n: RealN8n;
	let instance: N8nInstance;
	let store: ReferralStore;
	let program: ReferralProgram;
	let campaignId: number;
	let cookie: string;
	const report = { faultsInjected: 0, kills: 0, resubmitted: 0, duplicates: 0 };

	beforeAll(async () => {
		sandbox = await startSandbox({ webhookTimeScale: 0.01, webhookTimeoutMs: 10_000 });
		n8n = await prepareBundledN8n(sandbox, { qualifyKey: 'faults-qualify-key-3b8d', workflows: workflows() });
		instance = n8n.instance;
		store = await openStore({ backend: 'sqlite', path: sqliteStorePath(n8n.userFolder) });
		program = new ReferralProgram(store, undefined, { publicUrl: () => n8n.instance.url });
		cookie = await setUpOwner(instance);
		await waitFor(async () => (await openForm(instance, BUNDLED_PATHS.referredForm)).status === 200, 60_000, 'the forms');
	});

	afterAll(async () => {
		report.faultsInjected = sandbox?.requests().filter((request) => request.fault).length ?? 0;
		// eslint-disable-next-line no-console
		console.log(`hardening (faults): ${JSON.stringify(report)}`);
		await closeAllStores();
		if (instance !== n8n?.instance) await instance?.stop();
		await n8n?.dispose();
		await sandbox?.close();
	});

	/** SIGKILL n8n and its task runner, then start it again on the same port and data. */
	async function killAndRestart(): Promise<void> {
		const { port, runnersPort, pid } = instance;
		for (const victim of [pid, ...descendantsOf(pid)]) {
			try {
				process.kill(victim, 'SIGKILL');
			} catch {
				/* gone */
			}
		}
		await instance.exited;
		report.kills++;
		instance = await startN8n({ n8nDir: n8n.n8nDir, userFolder: n8n.userFolder, port, runnersPort, logFile: path.join(n8n.userFolder, 'n8n.log') });
		cookie = await loginAgain();
	}

	async function loginAgain(): Promise<string> {
		const response = await fetch(`${instance.url}/rest/login`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ emailOrLdapLoginId: 'owner@example.com', password: 'E2e-password-1234' }),
		});
		return response.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
	}

	const personsWithEmail = (email: string) => sandbox.state.personList.filter((p) => p.emails.some((e) => e.value.toLowerCase() === email));
	const dealsWithCode = (code: string) => [...sandbox.state.deals.values()].filter((deal) => !deal.is_deleted && deal.custom[DEAL_FIELD_KEYS.referralCode] === code);

	it(`${FRIENDS} referred signups while Pipedrive fails 20% of requests: every referral kept, each person and deal once`, async () => {
		sandbox.setFaults({ ...FAULTS, kinds: [...FAULTS.kinds] });
		const signup = await submitForm(instance, BUNDLED_PATHS.referrerForm, ['Ann', 'Lee', 'ann@example.com']);
		expect(signup.heading).toBe("You're in!");
		const code = /ref=(\S+)/.exec(signup.text)![1];
		campaignId = (await program.getCampaign({ slug: 'referral-program' })).id;
		// The coupon codes came with the campaign node (Coupon Codes).
		expect(await program.rewards.couponPool(campaignId)).toEqual({ total: FRIENDS + 5, available: FRIENDS + 5 });
		const emails = Array.from({ length: FRIENDS }, (_, i) => `friend${i}@example.com`);
		for (const email of emails) {
			const page = await submitForm(instance, BUNDLED_PATHS.referredForm, ['Friend', String(emails.indexOf(email)), email, code], `ref=${code}`);
			expect(page.heading).toBe('Thank you!');
		}
		// Whatever Pipedrive did, no referral is lost.
		const friends = await Promise.all(emails.map((email) => program.getParticipant(campaignId, { email })));
		expect(friends.every((friend) => friend.source === 'referred')).toBe(true);
		// A send that ran out of retries left the person out of Pipedrive: the visitor submits again.
		for (const friend of friends.filter((f) => f.pipedriveDealId === null)) {
			report.resubmitted++;
			await submitForm(instance, BUNDLED_PATHS.referredForm, ['Friend', '', friend.email!, code], `ref=${code}`);
		}
		for (const friend of await Promise.all(emails.map((email) => program.getParticipant(campaignId, { email })))) {
			expect({ email: friend.email, persons: personsWithEmail(friend.email!).length, deals: dealsWithCode(friend.code).length }).toEqual({
				email: friend.email,
				persons: 1,
				deals: 1,
			});
		}
		expect(sandbox.requests().filter((request) => request.fault).length).toBeGreaterThan(0);
	});

	it('qualifications while Pipedrive keeps failing, then n8n killed mid-delivery of the rewards: each reward and coupon issued once', async () => {
		const friends = await program.listParticipants(campaignId, { source: ['referred'] }, { limit: 100 });
		expect(friends).toHaveLength(FRIENDS);
		for (const friend of friends) sandbox.moveDealToStage(friend.pipedriveDealId!, QUALIFYING_STAGE);
		await sandbox.waitForWebhooks();
		await waitFor(async () => (await program.listEvents({ types: ['referral.qualified'] }, 1000, 'asc')).length === FRIENDS || undefined, 120_000, 'every referral qualified');

		// The issue-rewards workflow claims them (reward due, polled every minute) and delivers for 20 s.
		await waitFor(async () => {
			const rewards = (await program.rewards.list({ campaignId }, { limit: 100 })).map((view) => view.reward);
			return rewards.length === 2 * FRIENDS && rewards.some((reward) => reward.status === 'issuing') ? rewards : undefined;
		}, 150_000, 'rewards being delivered');
		await killAndRestart();
		const stuck = (await program.rewards.list({ campaignId }, { limit: 100 })).filter((view) => view.reward.status === 'issuing');
		expect(stuck.length).toBeGreaterThan(0);

		// After the 1-minute lease, the sweep releases them and they are issued, once each.
		const issued = await waitFor(async () => {
			const rewards = (await program.rewards.list({ campaignId }, { limit: 100 })).map((view) => view.reward);
			return rewards.every((reward) => reward.status === 'issued') ? rewards : undefined;
		}, 300_000, 'every reward issued after the restart');
		expect(issued).toHaveLength(2 * FRIENDS);
		// Each friend's coupon: one code each, no code twice, the rest of the pool untouched.
		const coupons = issued.filter((reward) => reward.kind === 'coupon').map((reward) => reward.couponCode);
		expect(coupons).toHaveLength(FRIENDS);
		expect(new Set(coupons).size).toBe(FRIENDS);
		expect(coupons.every((code) => typeof code === 'string' && code.startsWith('WELCOME-'))).toBe(true);
		// Uploading a known code again adds nothing and reports the pool.
		expect(await program.rewards.addCoupons(campaignId, ['WELCOME-1000'])).toEqual({ added: 0, total: FRIENDS + 5, available: 5 });
		const issuedEvents = await program.listEvents({ types: ['reward.issued'] }, 1000, 'asc');
		const perReward = new Map<unknown, number>();
		for (const event of issuedEvents) perReward.set(event.payload.rewardId, (perReward.get(event.payload.rewardId) ?? 0) + 1);
		expect(issuedEvents).toHaveLength(2 * FRIENDS);
		report.duplicates += [...perReward.values()].filter((count) => count > 1).length;
		expect(report.duplicates).toBe(0);
		expect(await program.listEvents({ types: ['referral.qualified'] }, 1000, 'asc')).toHaveLength(FRIENDS);
	});

	it(`a contact sync of ${EXTRA_PERSONS} more persons, with faults, killed half-way and run again: every person linked once`, async () => {
		sandbox.seedPersons(EXTRA_PERSONS);
		const personsBefore = sandbox.state.personList.length;
		const withEmail = () => sandbox.state.personList.filter((p) => p.emails.length > 0);
		const linked = () => withEmail().filter((p) => typeof p.custom[PERSON_FIELD_KEYS.referralLink] === 'string').length;
		const linkedBefore = linked();

		const firstRun = executeWorkflowNow(instance, cookie, 'syncPipedriveCon', 'Run Now', 600_000).catch((error: Error) => error);
		await waitFor(() => linked() > linkedBefore + 100 || undefined, 180_000, 'the sync to be under way');
		await killAndRestart();
		await firstRun;
		expect(linked()).toBeLessThan(withEmail().length);

		// Run it again (as the hourly schedule would) until a run completes.
		for (let attempt = 0; attempt < 3 && linked() < withEmail().length; attempt++) {
			await executeWorkflowNow(instance, cookie, 'syncPipedriveCon', 'Run Now', 600_000);
		}
		sandbox.setFaults(null);
		expect(linked()).toBe(withEmail().length);
		expect(sandbox.state.personList.length).toBe(personsBefore);
		for (const person of withEmail()) {
			const participant = await program.getParticipant(campaignId, { email: person.emails[0].value });
			expect(person.custom[PERSON_FIELD_KEYS.referralLink]).toBe(participant.link);
		}
		const participants = await program.listParticipants(campaignId, {}, { limit: 100_000 });
		expect(new Set(participants.map((p) => p.email)).size).toBe(participants.length);
		expect(sandbox.state.violations).toEqual([]);
	});
});
