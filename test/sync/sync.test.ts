import { PipedriveClient } from '../../lib/pipedrive/client';
import { AccountListsCache } from '../../lib/pipedrive/fields';
import type { Campaign, Participant } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { MetricsWriter, PipedriveSender, syncContacts, type SendSettings } from '../../lib/sync';
import type { Sandbox } from '../../sandbox';
import { DEAL_FIELD_KEYS, PERSON_FIELD_KEYS } from '../../sandbox/seed';
import { sandboxClient } from '../helpers/sandbox-client';
import { useSandboxAndStore } from '../helpers/sandbox-store';

const TEMPLATE = 'https://n8n.example.com/form/refer?ref={{code}}';
const REFERRALS_PIPELINE = 2;

describe('Pipedrive sync against the sandbox', () => {
	let sandbox: Sandbox;
	let program: ReferralProgram;
	let campaign: Campaign;

	useSandboxAndStore('sync-', (env) => {
		sandbox = env.sandbox;
		if (env.program) program = env.program;
	});
	beforeEach(async () => {
		campaign = await program.createCampaign({ name: 'Friends 2026' }, TEMPLATE);
	});

	function client(accountLists?: { cache: AccountListsCache; scope: string }): PipedriveClient {
		return sandboxClient(sandbox, { accountLists });
	}

	async function referral(referrerEmail: string, friendEmail: string): Promise<{ referrer: Participant; friend: Participant }> {
		const [enrolled] = await program.enrol(campaign.id, [{ email: referrerEmail, firstName: 'Ann', lastName: 'Lee' }], { stopOnError: true });
		if (!enrolled.ok) throw enrolled.error;
		const [registered] = await program.registerReferred(
			campaign.id,
			[{ code: enrolled.value.participant.code, email: friendEmail, firstName: 'Bo', lastName: 'Friend' }],
			{ stopOnError: true },
		);
		if (!registered.ok) throw registered.error;
		return { referrer: enrolled.value.participant, friend: registered.value.participant };
	}

	const dealSettings: SendSettings = {
		target: 'deal',
		sources: ['referred'],
		pipelineId: REFERRALS_PIPELINE,
		recordFields: [
			{ role: 'code', label: 'Referral Code Field', field: 'Referral code' },
			{ role: 'referrerName', label: 'Referrer Name Field', field: 'Referrer name' },
			{ role: 'referrerEmail', label: 'Referrer Email Field', field: DEAL_FIELD_KEYS.referrerEmail },
			{ role: 'campaignName', label: 'Campaign Name Field', field: 'Referral campaign' },
			{ role: 'link', label: 'Referral Link Field', field: 'Referral link' },
		],
		extraRecordFields: [],
		personFields: [],
	};

	function personsWithEmail(email: string) {
		return sandbox.state.personList.filter((p) => p.emails.some((e) => e.value.toLowerCase() === email));
	}

	describe('send to Pipedrive', () => {
		it('creates a person and a deal in the pipeline’s first stage with the referral fields, once', async () => {
			const { friend } = await referral('ann@example.com', 'bo@example.com');
			const sender = new PipedriveSender(program, client(), dealSettings);
			await sender.prepare();
			const first = await sender.send({ campaignId: campaign.id, participant: { id: friend.id } });
			expect(first).toMatchObject({ skipped: false, personCreated: true, dealCreated: true });
			const deal = sandbox.state.deals.get(first.dealId!)!;
			expect(deal).toMatchObject({ pipeline_id: REFERRALS_PIPELINE, stage_id: 6, person_id: first.personId, title: 'Referral: Bo Friend (from Ann Lee)' });
			expect(deal.custom).toEqual({
				[DEAL_FIELD_KEYS.referralCode]: friend.code,
				[DEAL_FIELD_KEYS.referrerName]: 'Ann Lee',
				[DEAL_FIELD_KEYS.referrerEmail]: 'ann@example.com',
				[DEAL_FIELD_KEYS.referralCampaign]: 'Friends 2026',
				[DEAL_FIELD_KEYS.referralLink]: friend.link,
			});
			expect(await program.getParticipant(campaign.id, { id: friend.id })).toMatchObject({
				pipedrivePersonId: first.personId,
				pipedriveDealId: first.dealId,
			});

			const again = await sender.send({ campaignId: campaign.id, participant: { email: 'bo@example.com' } });
			expect(again).toMatchObject({ personId: first.personId, personCreated: false, dealId: first.dealId, dealCreated: false });
			expect(personsWithEmail('bo@example.com')).toHaveLength(1);
			expect([...sandbox.state.deals.values()].filter((d) => d.person_id === first.personId)).toHaveLength(1);
		});

		it('sends a person once when two executions send them at the same moment (a double submit)', async () => {
			const { friend } = await referral('ann@example.com', 'bo@example.com');
			const senders = [new PipedriveSender(program, client(), dealSettings), new PipedriveSender(program, client(), dealSettings)];
			await Promise.all(senders.map((sender) => sender.prepare()));
			const results = await Promise.all(senders.map((sender) => sender.send({ campaignId: campaign.id, participant: { id: friend.id } })));
			expect(results.filter((result) => result.dealCreated)).toHaveLength(1);
			expect(new Set(results.map((result) => result.dealId)).size).toBe(1);
			expect(personsWithEmail('bo@example.com')).toHaveLength(1);
			expect([...sandbox.state.deals.values()].filter((d) => d.person_id === results[0].personId)).toHaveLength(1);
		});

		it('keeps fields, pipelines and stages per account, and still finds a field added in Pipedrive since', async () => {
			const lists = { cache: new AccountListsCache(60_000), scope: 'account-1' };
			const listCalls = () => sandbox.requests().filter((r) => ['getDealFields', 'getPersonFields', 'getPipelines', 'getStages'].includes(r.operationId ?? '')).length;
			await new PipedriveSender(program, client(lists), dealSettings).prepare();
			const first = listCalls();
			expect(first).toBe(4);
			await new PipedriveSender(program, client(lists), dealSettings).prepare();
			expect(listCalls()).toBe(first);

			sandbox.state.dealFields.push({ id: 12999, key: 'f'.repeat(40), name: 'Referral source', field_type: 'varchar', add_time: Date.parse('2026-01-01T00:00:00Z') });
			const withNewField = new PipedriveSender(program, client(lists), { ...dealSettings, extraRecordFields: [{ field: 'Referral source', value: 'newsletter' }] });
			await withNewField.prepare();
			expect(listCalls()).toBe(2 * first);
			const { friend } = await referral('ann@example.com', 'bo@example.com');
			const sent = await withNewField.send({ campaignId: campaign.id, participant: { id: friend.id } });
			expect(sandbox.state.deals.get(sent.dealId!)!.custom['f'.repeat(40)]).toBe('newsletter');
		});

		it('reuses a Pipedrive person who already has the email', async () => {
			const email = 'anna.schmidt@example.com'; // a person of the sandbox's seed
			const before = personsWithEmail(email);
			expect(before).toHaveLength(1);
			const { friend } = await referral('ann@example.com', email);
			const sender = new PipedriveSender(program, client(), { ...dealSettings, stageId: 8 });
			await sender.prepare();
			const result = await sender.send({ campaignId: campaign.id, participant: { id: friend.id }, title: 'Custom title', value: 1200, currency: 'EUR' });
			expect(result).toMatchObject({ personId: before[0].id, personCreated: false, dealCreated: true });
			expect(sandbox.state.deals.get(result.dealId!)).toMatchObject({ stage_id: 8, title: 'Custom title', value: 1200, currency: 'EUR' });
			expect(personsWithEmail(email)).toHaveLength(1);
		});

		it('without a chosen pipeline, puts the deal in the first stage of the account’s first pipeline', async () => {
			const { friend } = await referral('ann@example.com', 'cy@example.com');
			const sender = new PipedriveSender(program, client(), { ...dealSettings, pipelineId: undefined });
			await sender.prepare();
			const result = await sender.send({ campaignId: campaign.id, participant: { id: friend.id } });
			const first = sandbox.state.pipelines.reduce((a, b) => ((a.order_nr ?? 0) <= (b.order_nr ?? 0) ? a : b));
			const firstStage = sandbox.state.stages
				.filter((stage) => stage.pipeline_id === first.id)
				.reduce((a, b) => ((a.order_nr ?? 0) <= (b.order_nr ?? 0) ? a : b));
			expect(sandbox.state.deals.get(result.dealId!)).toMatchObject({ pipeline_id: first.id, stage_id: firstStage.id });
		});

		it('creates a labelled lead with the referral fields as lead custom fields', async () => {
			const { friend } = await referral('ann@example.com', 'cy@example.com');
			const labels = [...sandbox.state.leadLabels].filter((l) => l.name === 'Referral').map((l) => l.id);
			const sender = new PipedriveSender(program, client(), { ...dealSettings, target: 'lead', pipelineId: undefined, leadLabelIds: labels });
			await sender.prepare();
			const result = await sender.send({ campaignId: campaign.id, participant: { code: friend.code } });
			const lead = sandbox.state.leads.get(result.leadId!)!;
			expect(lead).toMatchObject({ person_id: result.personId, label_ids: labels });
			expect(lead.custom[DEAL_FIELD_KEYS.referralCode]).toBe(friend.code);
			expect((await sender.send({ campaignId: campaign.id, participant: { id: friend.id } })).leadCreated).toBe(false);
			expect([...sandbox.state.leads.values()].filter((l) => l.person_id === result.personId)).toHaveLength(1);
		});

		it('checks every mapped field before sending anything', async () => {
			await referral('ann@example.com', 'bo@example.com');
			sandbox.clearRequests();
			const sender = new PipedriveSender(program, client(), {
				...dealSettings,
				recordFields: [...dealSettings.recordFields, { role: 'link', label: 'Referral Link Field', field: 'Referral URL' }],
			});
			await expect(sender.prepare()).rejects.toMatchObject({
				kind: 'pipedrive_setup',
				field: 'link',
				message: 'The deal field "Referral URL" chosen as Referral Link Field does not exist in Pipedrive',
			});
			expect(sandbox.requests().filter((r) => r.method !== 'GET')).toEqual([]);
			const noCode = new PipedriveSender(program, client(), { ...dealSettings, recordFields: [] });
			await expect(noCode.prepare()).rejects.toMatchObject({ field: 'code' });
		});

		it('skips participants whose source is not selected', async () => {
			const { referrer } = await referral('ann@example.com', 'bo@example.com');
			const sender = new PipedriveSender(program, client(), dealSettings);
			await sender.prepare();
			const result = await sender.send({ campaignId: campaign.id, participant: { id: referrer.id } });
			expect(result).toMatchObject({ skipped: true, reason: 'Source "direct" is not among the sources to send (referred)' });
			expect(personsWithEmail('ann@example.com')).toHaveLength(0);
		});

		it('with 20% of requests failing (5xx, 429), every participant arrives exactly once', async () => {
			const friends: Participant[] = [];
			for (let i = 0; i < 12; i++) friends.push((await referral(`referrer${i}@example.com`, `friend${i}@example.com`)).friend);
			sandbox.setFaults({ rate: 0.2, kinds: ['500', '502', '503', '429'], seed: 7 });
			const sender = new PipedriveSender(program, client(), dealSettings);
			await sender.prepare();
			for (const friend of friends) await sender.send({ campaignId: campaign.id, participant: { id: friend.id } });
			sandbox.setFaults(null);
			const faulted = sandbox.requests().filter((r) => r.status >= 429).length;
			expect(faulted).toBeGreaterThan(3);
			for (let i = 0; i < 12; i++) {
				const persons = personsWithEmail(`friend${i}@example.com`);
				expect(persons).toHaveLength(1);
				expect([...sandbox.state.deals.values()].filter((d) => d.person_id === persons[0].id)).toHaveLength(1);
			}
		});
	});

	describe('contact sync', () => {
		const fields = [
			{ role: 'link' as const, label: 'Referral Link Field', field: 'Referral link' },
			{ role: 'code' as const, label: 'Referral Code Field', field: 'Referral code' },
			{ role: 'referrals' as const, label: 'Referrals Field', field: 'Referrals' },
			{ role: 'qualified' as const, label: 'Qualified Referrals Field', field: 'Qualified referrals' },
		];

		it('enrols every person with an email, writes their link and code, then writes nothing when nothing changed', async () => {
			const live = sandbox.state.personList;
			const withEmail = live.filter((p) => p.emails.some((e) => e.value));
			const first = await syncContacts(program, client(), { campaignId: campaign.id, mode: 'changed', fields });
			expect(first).toMatchObject({ seen: live.length, enrolled: withEmail.length, skipped: live.length - withEmail.length, failed: 0, complete: true });
			for (const person of withEmail) {
				const [participant] = await program.findByPipedrivePersons(campaign.id, [person.id]);
				expect(participant.source).toBe('synced');
				expect(sandbox.state.persons.get(person.id)!.custom).toMatchObject({
					[PERSON_FIELD_KEYS.referralLink]: participant.link,
					[PERSON_FIELD_KEYS.referralCode]: participant.code,
				});
			}
			sandbox.clearRequests();
			const second = await syncContacts(program, client(), { campaignId: campaign.id, mode: 'full', fields });
			expect(second).toMatchObject({ seen: live.length, enrolled: 0, alreadyEnrolled: withEmail.length, written: 0 });
			expect(sandbox.requests().filter((r) => r.method === 'PATCH')).toEqual([]);
		});

		it('a run stopped half-way resumes where it stopped, without duplicates', async () => {
			sandbox.seedPersons(1200);
			const page = await syncContacts(program, client(), { campaignId: campaign.id, mode: 'full', fields: fields.slice(0, 1), maxPersons: 600 });
			expect(page).toMatchObject({ complete: false, resumed: false });
			const rest = await syncContacts(program, client(), { campaignId: campaign.id, mode: 'full', fields: fields.slice(0, 1) });
			expect(rest.resumed).toBe(true);
			expect(rest.complete).toBe(true);
			const stats = await program.getCampaignStats(campaign.id);
			const withEmail = sandbox.state.personList.filter((p) => p.emails.some((e) => e.value));
			expect(stats.participants).toBe(withEmail.length);
			expect(page.seen + rest.seen).toBe(sandbox.state.personList.length);
		});

		it('"changed" asks Pipedrive only for persons updated since the last complete sync', async () => {
			await syncContacts(program, client(), { campaignId: campaign.id, mode: 'changed', fields: fields.slice(0, 1) });
			sandbox.clearRequests();
			const later = await syncContacts(program, client(), { campaignId: campaign.id, mode: 'changed', fields: fields.slice(0, 1) });
			expect(sandbox.requests().find((r) => r.path.startsWith('/api/v2/persons'))?.query).toContain('updated_since=');
			expect(later.written).toBe(0);
		});
	});

	describe('referrer metrics', () => {
		it('writes referral counts into the referrer’s person, only when they differ', async () => {
			const { referrer } = await referral('ann@example.com', 'bo@example.com');
			const sender = new PipedriveSender(program, client(), { ...dealSettings, target: 'person', sources: ['direct'] });
			await sender.prepare();
			const { personId } = await sender.send({ campaignId: campaign.id, participant: { id: referrer.id } });
			const writer = new MetricsWriter(program, client(), [
				{ role: 'referrals', label: 'Referrals Field', field: 'Referrals' },
				{ role: 'qualified', label: 'Qualified Referrals Field', field: 'Qualified referrals' },
			]);
			await writer.prepare();
			const first = await writer.update(campaign.id, { id: referrer.id });
			expect(first).toMatchObject({ personId, referrals: 1, qualified: 0, written: ['Referrals', 'Qualified referrals'] });
			expect(sandbox.state.persons.get(personId!)!.custom).toMatchObject({
				[PERSON_FIELD_KEYS.referrals]: 1,
				[PERSON_FIELD_KEYS.qualifiedReferrals]: 0,
			});
			expect((await writer.update(campaign.id, { id: referrer.id })).written).toEqual([]);
		});
	});
});
