import type { Campaign, Participant } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { reconcile } from '../../lib/sync';
import type { Sandbox } from '../../sandbox';
import { DEAL_FIELD_KEYS, LEAD_LABEL_IDS } from '../../sandbox/seed';
import { sandboxClient } from '../helpers/sandbox-client';
import { useSandboxAndStore } from '../helpers/sandbox-store';

const TEMPLATE = 'https://n8n.example.com/form/refer?ref={{code}}';
const RULES = { perReferral: { every: 1, reward: { kind: 'amount', amount: 25, currency: 'EUR' } } };

describe('reconciling deals and leads with Pipedrive', () => {
	let sandbox: Sandbox;
	let program: ReferralProgram;
	let campaign: Campaign;
	let referrer: Participant;

	useSandboxAndStore('reconcile-', (env) => {
		sandbox = env.sandbox;
		if (env.program) program = env.program;
	});
	beforeEach(async () => {
		campaign = await program.createCampaign({ name: 'Friends 2026', rewardRules: RULES }, TEMPLATE);
		const [enrolled] = await program.enrol(campaign.id, [{ email: 'ann@example.com' }], { stopOnError: true });
		if (!enrolled.ok) throw enrolled.error;
		referrer = enrolled.value.participant;
	});
	const client = () => sandboxClient(sandbox);
	const run = () => reconcile(program, client(), { campaignId: campaign.id, codeField: 'Referral code' });

	async function friends(count: number): Promise<Participant[]> {
		const registered = await program.registerReferred(
			campaign.id,
			Array.from({ length: count }, (_, i) => ({ code: referrer.code, email: `friend${i}@example.com` })),
			{ stopOnError: true },
		);
		return registered.map((outcome) => {
			if (!outcome.ok) throw outcome.error;
			return outcome.value.participant;
		});
	}
	const dealFor = (friend: Participant) => Number(sandbox.createDeal({ title: friend.email!, value: 100, currency: 'EUR', custom_fields: { [DEAL_FIELD_KEYS.referralCode]: friend.code } }).id);
	const statusOf = async (friend: Participant) => (await program.getParticipant(campaign.id, { id: friend.id })).referralStatus;
	const liveRewards = async () => (await program.rewards.list({ campaignId: campaign.id }, { limit: 100 })).filter((view) => view.reward.status !== 'cancelled');

	it('applies won, lost-after-won and lost deals missed by webhooks, once; an unchanged account costs no write', async () => {
		const [won, wonThenLost, open, lost] = await friends(4);
		const ids = [won, wonThenLost, open, lost].map(dealFor);
		sandbox.createDeal({ title: 'Ordinary', custom_fields: {} });
		sandbox.markDealWon(Number(sandbox.latestDealId()));
		sandbox.createDeal({ title: 'Foreign code', custom_fields: { [DEAL_FIELD_KEYS.referralCode]: 'NOTACODE1' } });
		sandbox.markDealWon(Number(sandbox.latestDealId()));
		sandbox.markDealWon(ids[0]);
		sandbox.markDealWon(ids[1]);
		sandbox.advanceClock(2000);
		sandbox.markDealLost(ids[1]);
		sandbox.markDealLost(ids[3]);

		const first = await run();
		expect(first).toMatchObject({ applied: 3, changed: 3, alreadyApplied: 0, deals: { complete: true } });
		expect(await statusOf(won)).toBe('qualified');
		expect(await statusOf(wonThenLost)).toBe('unqualified');
		expect(await statusOf(open)).toBe('pending');
		expect(await statusOf(lost)).toBe('unqualified');
		expect(await liveRewards()).toHaveLength(1);

		// The same records read again (the overlap): nothing applied, nothing written, nothing sent.
		const writesBefore = sandbox.requests().filter((r) => r.method !== 'GET').length;
		const second = await run();
		expect(second).toMatchObject({ applied: 0, storeWrites: 0 });
		expect(sandbox.requests().filter((r) => r.method !== 'GET').length).toBe(writesBefore);
		expect(await liveRewards()).toHaveLength(1);
	});

	it('a late "won" delivery after the pass applied the later "lost" changes nothing (stale)', async () => {
		const [friend] = await friends(1);
		const id = dealFor(friend);
		const wonAt = new Date(Date.parse(String(sandbox.markDealWon(id).won_time))).toISOString();
		sandbox.advanceClock(2000);
		sandbox.markDealLost(id);
		await run();
		expect(await statusOf(friend)).toBe('unqualified');
		const late = await program.qualify({ code: friend.code }, { action: 'qualify', idempotencyKey: 'webhook-event-1', occurredAt: wonAt });
		expect(late).toMatchObject({ changed: false, stale: true, status: 'unqualified' });
		expect(await liveRewards()).toHaveLength(0);
	});

	it('a deal won through its webhook is not qualified twice by the pass; the rule decides stages and lead labels', async () => {
		const [viaWebhook, atStage, labelled] = await friends(3);
		const ids = [viaWebhook, atStage].map(dealFor);
		const won = sandbox.markDealWon(ids[0]);
		await program.qualify({ code: viaWebhook.code }, { action: 'qualify', idempotencyKey: 'evt-1', occurredAt: String(won.update_time) });
		sandbox.moveDealToStage(ids[1], 8);
		sandbox.createLead({ title: 'Lead', person_id: Number(sandbox.createPerson({ name: 'L' }).id), custom: { [DEAL_FIELD_KEYS.referralCode]: labelled.code } } as never);
		const leadId = String([...sandbox.state.leads.values()].at(-1)!.id);
		sandbox.setLeadLabels(leadId, [LEAD_LABEL_IDS.hot]);

		await program.setQualificationRule(campaign.id, { dealWon: true, dealStageIds: [8], leadLabelIds: [LEAD_LABEL_IDS.hot], leadConverted: false, dealLostUnqualifies: true });
		const pass = await run();
		expect(await statusOf(viaWebhook)).toBe('qualified');
		expect(await statusOf(atStage)).toBe('qualified');
		expect(await statusOf(labelled)).toBe('qualified');
		expect(pass.changed).toBe(2);
		expect(await liveRewards()).toHaveLength(3);
	});
});
