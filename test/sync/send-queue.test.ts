import type { Campaign, Participant } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { QueueingSender, sweepQueuedSends, type SendQueueSettings, type SendSettings } from '../../lib/sync';
import type { Sandbox } from '../../sandbox';
import { sandboxClient } from '../helpers/sandbox-client';
import { useSandboxAndStore } from '../helpers/sandbox-store';

const TEMPLATE = 'https://n8n.example.com/form/refer?ref={{code}}';
const OUTAGE = { rate: 1, kinds: ['503' as const], methods: ['POST', 'PATCH', 'PUT', 'DELETE'] };
/** Due again at once, so a test need not wait for the backoff. */
const NO_WAIT: SendQueueSettings = { firstBackoffMs: 0, maxBackoffMs: 0, maxAttempts: 100 };

const settings: SendSettings = {
	target: 'deal',
	sources: ['referred'],
	recordFields: [{ role: 'code', label: 'Referral Code Field', field: 'Referral code' }],
	extraRecordFields: [],
	personFields: [],
};

describe('Pipedrive send queue against the sandbox', () => {
	let sandbox: Sandbox;
	let program: ReferralProgram;
	let campaign: Campaign;

	useSandboxAndStore('send-queue-', (env) => {
		sandbox = env.sandbox;
		if (env.program) program = env.program;
	});
	beforeEach(async () => {
		campaign = await program.createCampaign({ name: 'Friends 2026' }, TEMPLATE);
	});
	const client = () => sandboxClient(sandbox);

	async function friends(count: number): Promise<Participant[]> {
		const [enrolled] = await program.enrol(campaign.id, [{ email: 'ann@example.com' }], { stopOnError: true });
		if (!enrolled.ok) throw enrolled.error;
		const registered = await program.registerReferred(
			campaign.id,
			Array.from({ length: count }, (_, i) => ({ code: enrolled.value.participant.code, email: `friend${i}@example.com`, firstName: `F${i}` })),
			{ stopOnError: true },
		);
		return registered.map((outcome) => {
			if (!outcome.ok) throw outcome.error;
			return outcome.value.participant;
		});
	}

	async function sendAll(people: Participant[], queue = NO_WAIT) {
		const sender = new QueueingSender(program, client(), settings, queue);
		await sender.prepare();
		const results = [];
		for (const person of people) results.push(await sender.send({ campaignId: campaign.id, participant: { id: person.id } }));
		return results;
	}

	const personsOf = (email: string) => sandbox.state.personList.filter((p) => p.emails.some((e) => e.value.toLowerCase() === email));
	const dealsOf = (personId: number) => [...sandbox.state.deals.values()].filter((d) => d.person_id === personId);

	it('queues sends while Pipedrive refuses writes, then sends each person and deal exactly once', async () => {
		const people = await friends(5);
		sandbox.setFaults(OUTAGE);
		const results = await sendAll(people);
		expect(results.every((r) => r.queued === true && r.attempts === 1)).toBe(true);
		expect(await program.listSends({ state: 'queued' }, 100)).toHaveLength(5);
		expect(sandbox.state.personList.filter((p) => p.emails.some((e) => e.value.startsWith('friend')))).toHaveLength(0);

		// Still down: one send is tried, the rest wait with it (one failing request per sweep, not five).
		const during = await sweepQueuedSends(program, client(), { limit: 100, queue: NO_WAIT });
		expect(during).toMatchObject({ taken: 5, sent: 0, retrying: 1, postponed: 4 });
		const queued = await program.listSends({ state: 'queued' }, 100);
		expect(queued.map((s) => s.attempts).sort()).toEqual([1, 1, 1, 1, 2]);

		sandbox.setFaults(null);
		const after = await sweepQueuedSends(program, client(), { limit: 100, queue: NO_WAIT });
		expect(after).toMatchObject({ taken: 5, sent: 5, failed: 0 });
		for (const person of people) {
			const found = personsOf(person.email!);
			expect(found).toHaveLength(1);
			expect(dealsOf(found[0].id)).toHaveLength(1);
			expect((await program.getParticipant(campaign.id, { id: person.id })).pipedriveDealId).toBe(dealsOf(found[0].id)[0].id);
		}
		expect(await program.listSends({ state: 'sent' }, 100)).toHaveLength(5);
		// Nothing left: a sweep takes nothing and asks Pipedrive nothing.
		const before = sandbox.requests().length;
		expect(await sweepQueuedSends(program, client(), { limit: 100, queue: NO_WAIT })).toMatchObject({ taken: 0 });
		expect(sandbox.requests().length).toBe(before);
	});

	it('while a send failed moments ago, the next sign-ups are queued without asking Pipedrive', async () => {
		const people = await friends(3);
		sandbox.setFaults(OUTAGE);
		const queue = { firstBackoffMs: 30_000, maxBackoffMs: 60_000, maxAttempts: 10 };
		expect((await sendAll([people[0]], queue))[0].queued).toBe(true);
		const before = sandbox.requests().length;
		const results = await sendAll(people.slice(1), queue);
		expect(results.every((r) => r.queued === true)).toBe(true);
		expect(sandbox.requests().length).toBe(before);
		expect(await program.listSends({ state: 'queued' }, 10)).toHaveLength(3);
	});

	it('a send still failing after the last attempt is failed with a pipedrive.send_failed event, and retried by hand', async () => {
		const [person] = await friends(1);
		sandbox.setFaults(OUTAGE);
		const queue = { ...NO_WAIT, maxAttempts: 2 };
		await sendAll([person], queue);
		expect(await sweepQueuedSends(program, client(), { limit: 10, queue })).toMatchObject({ failed: 1 });
		const [failed] = await program.listSends({ state: 'failed' }, 10);
		expect(failed).toMatchObject({ participantId: person.id, attempts: 2, nextAttemptAt: null });
		const events = await program.listEvents({ types: ['pipedrive.send_failed'] }, 10, 'asc');
		expect(events).toHaveLength(1);
		expect(events[0]).toMatchObject({ participantId: person.id, payload: { attempts: 2 } });
		// Given up means not swept any more.
		expect(await sweepQueuedSends(program, client(), { limit: 10, queue })).toMatchObject({ taken: 0 });

		sandbox.setFaults(null);
		expect(await program.retryFailedSends({ participantIds: [person.id] }, 10)).toHaveLength(1);
		expect(await sweepQueuedSends(program, client(), { limit: 10, queue })).toMatchObject({ sent: 1 });
		expect(personsOf(person.email!)).toHaveLength(1);
	});

	it('a send Pipedrive refuses for good (a validation error) is not queued', async () => {
		const [person] = await friends(1);
		const sender = new QueueingSender(program, client(), { ...settings, pipelineId: 987654 }, NO_WAIT);
		await expect(sender.prepare()).rejects.toThrow(/no pipeline with ID 987654/);
		expect(await program.listSends({ state: 'queued', participantIds: [person.id] }, 10)).toHaveLength(0);
	});

	it('two sweeps at once never take the same send', async () => {
		const people = await friends(6);
		sandbox.setFaults(OUTAGE);
		await sendAll(people);
		sandbox.setFaults(null);
		const [a, b] = await Promise.all([
			sweepQueuedSends(program, client(), { limit: 3, queue: NO_WAIT }),
			sweepQueuedSends(program, client(), { limit: 3, queue: NO_WAIT }),
		]);
		const taken = [...a.results, ...b.results].map((r) => r.participantId).sort();
		expect(new Set(taken).size).toBe(6);
		for (const person of people) expect(personsOf(person.email!)).toHaveLength(1);
	});
});
