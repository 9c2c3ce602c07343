import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ICredentialDataDecryptedObject, IDataObject, INodeParameters, INodePropertyOptions } from 'n8n-workflow';

import { ReferralStoreApi } from '../../credentials/ReferralStoreApi.credentials';
import { ReferralTrigger } from '../../nodes/ReferralTrigger/ReferralTrigger.node';
import { EVENT_TYPES, type Campaign, type EventType, type Participant } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore, type EventInsert, type ReferralStore, type StoreConfig } from '../../lib/store';
import { loadOptions, runPoll, type PollResult } from '../helpers/n8n';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';

const LINK = 'https://forms.acme.test/refer?ref={{code}}';
const ALL_EVENTS = [...EVENT_TYPES];

interface Backend {
	/** A fresh, empty store: its configuration and the credential data pointing at it. */
	fresh(): Promise<{ config: StoreConfig; credential: ICredentialDataDecryptedObject }>;
	cleanup(): Promise<void>;
}

function sqliteBackend(): Backend {
	const folders: string[] = [];
	return {
		async fresh() {
			const folder = mkdtempSync(join(tmpdir(), 'referral-trigger-'));
			folders.push(folder);
			const path = join(folder, 'referrals.sqlite');
			return { config: { backend: 'sqlite', path }, credential: { backend: 'sqlite', sqlitePath: path } };
		},
		async cleanup() {
			for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
		},
	};
}

function postgresBackend(db: () => TestDatabase): Backend {
	return {
		async fresh() {
			const config = db().config(db().freshSchema());
			return { config, credential: { ...config } as unknown as ICredentialDataDecryptedObject };
		},
		async cleanup() {},
	};
}

function describeTrigger(backend: () => Backend): void {
	let store: ReferralStore;
	let program: ReferralProgram;
	let credential: ICredentialDataDecryptedObject;
	let spring: Campaign;
	let autumn: Campaign;

	beforeEach(async () => {
		const fresh = await backend().fresh();
		credential = fresh.credential;
		// The same store instance the node gets: openStore keeps one per configuration.
		store = await openStore(fresh.config);
		program = new ReferralProgram(store);
		spring = await program.createCampaign({ name: 'Spring' }, LINK);
		autumn = await program.createCampaign({ name: 'Autumn' }, LINK);
	});

	afterEach(async () => {
		jest.restoreAllMocks();
		await closeAllStores();
		await backend().cleanup();
	});

	async function poll(
		parameters: INodeParameters,
		staticData?: IDataObject,
		mode: 'trigger' | 'manual' = 'trigger',
	): Promise<PollResult> {
		return await runPoll({
			nodeType: new ReferralTrigger(),
			nodeName: 'Referral Trigger',
			credentials: { referralStoreApi: credential },
			credentialTypes: [new ReferralStoreApi()],
			parameters,
			staticData,
			mode,
		});
	}

	/** Activates the workflow: the first poll, which only sets the cursor. */
	async function activate(parameters: INodeParameters = { events: ALL_EVENTS }): Promise<PollResult> {
		const first = await poll(parameters);
		expect(first.data).toBeNull();
		return first;
	}

	const jsonOf = (result: PollResult) => (result.data?.[0] ?? []).map((item) => item.json);

	async function enrol(campaign: Campaign, email: string, firstName?: string, lastName?: string): Promise<Participant> {
		const [outcome] = await program.enrol(campaign.id, [{ email, firstName, lastName }], { stopOnError: true });
		if (!outcome.ok) throw outcome.error;
		return outcome.value.participant;
	}

	async function refer(campaign: Campaign, referrer: Participant, email: string, firstName?: string): Promise<Participant> {
		const [outcome] = await program.registerReferred(campaign.id, [{ code: referrer.code, email, firstName }], {
			stopOnError: true,
		});
		if (!outcome.ok) throw outcome.error;
		return outcome.value.participant;
	}

	/** Events the program does not write yet (qualification, rewards), appended as the program would. */
	async function append(events: EventInsert[]): Promise<void> {
		await store.transaction((tx) => tx.appendEvents(events, new Date().toISOString()));
	}

	const rewardEvent = (type: EventType, campaign: Campaign, referred: Participant, referrer: Participant | null): EventInsert => ({
		type,
		campaignId: campaign.id,
		participantId: referred.id,
		referrerId: referrer?.id ?? null,
		payload: { rewardId: 1, amount: 10, currency: 'EUR' },
	});

	it('starts from now on first activation: emits nothing and sets the cursor to the newest event', async () => {
		const ann = await enrol(spring, 'ann@example.com');
		await refer(spring, ann, 'bob@example.com');
		const latest = await program.latestEventId();
		expect(latest).toBeGreaterThan(0);

		const first = await poll({ events: ALL_EVENTS });
		expect(first.data).toBeNull();
		expect(first.nodeStaticData).toEqual({ lastEventId: latest });
		expect(first.staticDataChanged).toBe(true);

		const second = await poll({ events: ALL_EVENTS }, first.staticData);
		expect(second.data).toBeNull();
		expect(second.nodeStaticData).toEqual({ lastEventId: latest });
	});

	it('on an empty log, the cursor starts at 0 and the first event comes out', async () => {
		const empty = await poll({ events: ALL_EVENTS });
		expect(empty.nodeStaticData).toEqual({ lastEventId: 0 });
		const ann = await enrol(spring, 'ann@example.com');
		const next = await poll({ events: ALL_EVENTS }, empty.staticData);
		expect(jsonOf(next)).toEqual([expect.objectContaining({ type: 'participant.enrolled', participantId: ann.id })]);
	});

	it('emits later events once, in order, with the participant and referrer as they are at poll time', async () => {
		const active = await activate();
		const ann = await enrol(spring, 'ann@example.com', 'Ann', 'Lee');
		const bob = await refer(spring, ann, 'Bob@Example.com', 'Bob');
		// Changed after the events were written: the items carry the current data.
		await program.linkPipedrive(bob.id, { personId: 71, dealId: 93 });
		await append([rewardEvent('reward.due', spring, bob, ann)]);

		const result = await poll({ events: ALL_EVENTS }, active.staticData);
		const items = jsonOf(result);
		expect(items.map((item) => item.type)).toEqual(['participant.enrolled', 'referral.registered', 'reward.due']);
		const ids = items.map((item) => item.id as number);
		expect(ids).toEqual([...ids].sort((a, b) => a - b));

		const annJson = {
			id: ann.id,
			campaignId: spring.id,
			name: 'Ann Lee',
			firstName: 'Ann',
			lastName: 'Lee',
			email: 'ann@example.com',
			code: ann.code,
			link: ann.link,
			source: 'direct',
			referredBy: null,
			referralStatus: 'none',
			qualifiedAt: null,
			saleValue: null,
			saleCurrency: null,
			pipedrivePersonId: null,
			pipedriveDealId: null,
			pipedriveLeadId: null,
			erased: false,
		};
		const bobJson = {
			...annJson,
			id: bob.id,
			name: 'Bob',
			firstName: 'Bob',
			lastName: null,
			email: 'bob@example.com',
			code: bob.code,
			link: bob.link,
			source: 'referred',
			referredBy: ann.id,
			referralStatus: 'pending',
			pipedrivePersonId: 71,
			pipedriveDealId: 93,
		};
		expect(items[0]).toEqual({
			id: ids[0],
			type: 'participant.enrolled',
			time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
			campaignId: spring.id,
			participantId: ann.id,
			referrerId: null,
			payload: { source: 'direct', code: ann.code },
			participant: annJson,
			referrer: null,
		});
		expect(items[1]).toEqual({
			id: ids[1],
			type: 'referral.registered',
			time: expect.any(String),
			campaignId: spring.id,
			participantId: bob.id,
			referrerId: ann.id,
			payload: { code: bob.code, referrerCode: ann.code },
			participant: bobJson,
			referrer: annJson,
		});
		expect(items[2]).toMatchObject({ type: 'reward.due', payload: { amount: 10 }, participant: bobJson, referrer: annJson });
		expect(result.nodeStaticData).toEqual({ lastEventId: ids[2] });

		const again = await poll({ events: ALL_EVENTS }, result.staticData);
		expect(again.data).toBeNull();
		expect(again.nodeStaticData).toEqual({ lastEventId: ids[2] });

		const carol = await enrol(spring, 'carol@example.com');
		const third = await poll({ events: ALL_EVENTS }, again.staticData);
		expect(jsonOf(third)).toEqual([expect.objectContaining({ type: 'participant.enrolled', participantId: carol.id })]);
	});

	it('filters by event type and campaign, and moves the cursor past events that do not match', async () => {
		const bySpringId = { events: ['referral.registered', 'reward.due'], campaignScope: 'one', campaign: { mode: 'list', value: String(spring.id) } };
		const byAutumnSlug = { events: ['referral.registered'], campaignScope: 'one', campaign: { mode: 'slug', value: 'autumn' } };
		const springState = (await activate(bySpringId)).staticData;
		const autumnState = (await activate(byAutumnSlug)).staticData;

		const ann = await enrol(spring, 'ann@example.com');
		const zoe = await enrol(autumn, 'zoe@example.com');
		const bob = await refer(spring, ann, 'bob@example.com');
		const yan = await refer(autumn, zoe, 'yan@example.com');
		await append([
			rewardEvent('referral.qualified', spring, bob, ann),
			rewardEvent('reward.due', spring, bob, ann),
			rewardEvent('reward.due', autumn, yan, zoe),
			rewardEvent('reward.issued', spring, bob, ann),
		]);
		const latest = await program.latestEventId();

		const springPoll = await poll(bySpringId, springState);
		expect(jsonOf(springPoll).map((item) => [item.type, item.participantId, item.campaignId])).toEqual([
			['referral.registered', bob.id, spring.id],
			['reward.due', bob.id, spring.id],
		]);
		// The last event (reward.issued) does not match, and is not scanned again.
		expect(springPoll.nodeStaticData).toEqual({ lastEventId: latest });

		const autumnPoll = await poll(byAutumnSlug, autumnState);
		expect(jsonOf(autumnPoll).map((item) => [item.type, item.participantId])).toEqual([['referral.registered', yan.id]]);
		expect(autumnPoll.nodeStaticData).toEqual({ lastEventId: latest });

		// Only events that do not match: nothing comes out, the cursor still moves.
		await enrol(spring, 'dan@example.com');
		const quiet = await poll(bySpringId, springPoll.staticData);
		expect(quiet.data).toBeNull();
		expect(quiet.nodeStaticData).toEqual({ lastEventId: await program.latestEventId() });
	});

	it('a manual test returns the newest matching events without moving the cursor', async () => {
		const active = await activate({ events: ['participant.enrolled'] });
		const cursor = active.nodeStaticData.lastEventId;
		const people: Participant[] = [];
		for (let i = 0; i < 12; i++) people.push(await enrol(spring, `p${i}@example.com`));
		await refer(spring, people[0], 'referred@example.com');

		const test = await poll({ events: ['participant.enrolled'] }, active.staticData, 'manual');
		const items = jsonOf(test);
		expect(items).toHaveLength(10);
		expect(items.map((item) => item.participantId)).toEqual(people.slice(2).reverse().map((p) => p.id));
		expect(items.every((item) => item.type === 'participant.enrolled')).toBe(true);
		expect(test.nodeStaticData).toEqual({ lastEventId: cursor });
		expect(test.staticDataChanged).toBe(false);

		// The cursor did not move: the next scheduled poll gets all twelve.
		const next = await poll({ events: ['participant.enrolled'] }, test.staticData);
		expect(jsonOf(next).map((item) => item.participantId)).toEqual(people.map((p) => p.id));

		// A test before activation sets no cursor either; with nothing matching it returns nothing.
		const fresh = await poll({ events: ['reward.failed'] }, undefined, 'manual');
		expect(fresh.data).toBeNull();
		expect(fresh.nodeStaticData).toEqual({});
	});

	it('pages through more than 1,000 events, reading participants once per page', async () => {
		const active = await activate();
		const emails = Array.from({ length: 1200 }, (_, i) => ({ email: `bulk${i}@example.com`, firstName: `P${i}` }));
		const outcomes = await program.enrol(spring.id, emails, { stopOnError: true });
		const enrolled = outcomes.map((outcome) => (outcome.ok ? outcome.value.participant : null));

		const reads = jest.spyOn(store, 'read');
		const result = await poll({ events: ALL_EVENTS }, active.staticData);
		const items = jsonOf(result);
		expect(items).toHaveLength(1200);
		const ids = items.map((item) => item.id as number);
		expect(new Set(ids).size).toBe(1200);
		expect(ids).toEqual([...ids].sort((a, b) => a - b));
		const byParticipant = new Map(items.map((item) => [item.participantId, item.participant as IDataObject]));
		for (const participant of enrolled) {
			expect(byParticipant.get(participant!.id)).toMatchObject({ email: participant!.email, code: participant!.code });
		}
		// The newest id, 3 pages of events (500, 500, 200) and one participant read per page.
		expect(reads.mock.calls.length).toBeLessThanOrEqual(1 + 3 * 2);
		expect(result.nodeStaticData).toEqual({ lastEventId: ids[ids.length - 1] });
		expect((await poll({ events: ALL_EVENTS }, result.staticData)).data).toBeNull();
	});

	it('emits at most 5,000 events per poll and the rest in the next poll', async () => {
		const active = await activate();
		const ann = await enrol(spring, 'ann@example.com');
		const batch = (n: number): EventInsert[] =>
			Array.from({ length: n }, (_, i) => ({
				type: 'reward.due' as const,
				campaignId: spring.id,
				participantId: ann.id,
				referrerId: null,
				payload: { n: i },
			}));
		for (let i = 0; i < 5; i++) await append(batch(1000));
		await append(batch(300));
		const latest = await program.latestEventId();

		const first = await poll({ events: ['reward.due'] }, active.staticData);
		const firstIds = jsonOf(first).map((item) => item.id as number);
		expect(firstIds).toHaveLength(5000);
		expect(first.nodeStaticData).toEqual({ lastEventId: firstIds[4999] });

		const second = await poll({ events: ['reward.due'] }, first.staticData);
		const secondIds = jsonOf(second).map((item) => item.id as number);
		expect(secondIds).toHaveLength(300);
		expect(secondIds[0]).toBeGreaterThan(firstIds[4999]);
		expect(second.nodeStaticData).toEqual({ lastEventId: latest });

		expect((await poll({ events: ['reward.due'] }, second.staticData)).data).toBeNull();
	});

	it('erased participants and referrers come out without personal data', async () => {
		const active = await activate();
		const ann = await enrol(spring, 'ann@example.com', 'Ann', 'Lee');
		const bob = await refer(spring, ann, 'bob@example.com', 'Bob');
		await program.eraseParticipant(spring.id, { id: bob.id });
		await program.eraseParticipant(spring.id, { id: ann.id });

		const items = jsonOf(await poll({ events: ALL_EVENTS }, active.staticData));
		expect(items.map((item) => [item.type, item.participantId])).toEqual([
			['participant.enrolled', ann.id],
			['referral.registered', bob.id],
			['participant.erased', bob.id],
			['participant.erased', ann.id],
		]);
		const anonymous = { name: null, firstName: null, lastName: null, email: null, erased: true };
		expect(items[1].participant).toMatchObject({ ...anonymous, id: bob.id, code: bob.code, referralStatus: 'pending' });
		expect(items[1].referrer).toMatchObject({ ...anonymous, id: ann.id, code: ann.code });
		expect(items[2]).toMatchObject({ participant: { ...anonymous, id: bob.id }, referrer: { ...anonymous, id: ann.id } });
		expect(JSON.stringify(items)).not.toMatch(/ann@example\.com|bob@example\.com|"Ann"|"Bob"/);
	});

	it('misses no event while writers commit concurrently with polls', async () => {
		const active = await activate({ events: ['participant.enrolled'] });
		const emitted: number[] = [];
		let state = active.staticData;
		let writing = true;
		const writers = (async () => {
			await Promise.all(
				Array.from({ length: 40 }, async (_, i) => {
					await enrol(i % 2 ? spring : autumn, `w${i}@example.com`);
				}),
			);
			writing = false;
		})();
		while (writing) {
			const result = await poll({ events: ['participant.enrolled'] }, state);
			emitted.push(...jsonOf(result).map((item) => item.id as number));
			state = result.staticData;
		}
		await writers;
		const last = await poll({ events: ['participant.enrolled'] }, state);
		emitted.push(...jsonOf(last).map((item) => item.id as number));

		const all = (await program.listEvents({ types: ['participant.enrolled'] }, 100, 'asc')).map((event) => event.id);
		expect(all).toHaveLength(40);
		expect(emitted).toEqual(all);
	});

	it('refuses a campaign that does not exist and an empty event list', async () => {
		const unknownSlug = await poll({ events: ALL_EVENTS, campaignScope: 'one', campaign: { mode: 'slug', value: 'winter' } }).catch(
			(error: Error) => error,
		);
		expect(unknownSlug).toMatchObject({ name: 'NodeOperationError', message: 'There is no campaign with slug "winter"' });

		const noCampaign = await poll({ events: ALL_EVENTS, campaignScope: 'one' }).catch((error: Error) => error);
		expect(noCampaign).toMatchObject({ message: 'No campaign is selected' });

		const noEvents = await poll({ events: [] }).catch((error: Error) => error);
		expect(noEvents).toMatchObject({ message: 'No event is selected' });
	});

	it('lists the store’s campaigns for the campaign filter', async () => {
		const found = await loadOptions({
			kind: 'listSearch',
			nodeType: new ReferralTrigger(),
			methodName: 'searchCampaigns',
			credentials: { referralStoreApi: credential },
			credentialTypes: [new ReferralStoreApi()],
			parameters: { events: ALL_EVENTS, campaignScope: 'one' },
			filter: 'aut',
		});
		expect(found.results).toEqual([{ name: 'Autumn', value: String(autumn.id) }]);
	});
}

describe('Referral Trigger node', () => {
	it('offers every event type of the log, and nothing else', () => {
		const events = new ReferralTrigger().description.properties.find((property) => property.name === 'events');
		const values = (events?.options as INodePropertyOptions[]).map((option) => option.value);
		expect([...values].sort()).toEqual([...EVENT_TYPES].sort());
	});

	it('is a polling trigger with the store credential, its test and the campaign search', () => {
		const node = new ReferralTrigger();
		expect(node.description).toMatchObject({
			name: 'referralTrigger',
			polling: true,
			inputs: [],
			group: ['trigger'],
			credentials: [{ name: 'referralStoreApi', required: true, testedBy: 'referralStoreConnectionTest' }],
		});
		expect(Object.keys(node.methods.credentialTest)).toEqual(['referralStoreConnectionTest']);
		expect(Object.keys(node.methods.listSearch)).toEqual(['searchCampaigns']);
	});
});

describe('Referral Trigger node on SQLite', () => {
	const backend = sqliteBackend();
	describeTrigger(() => backend);
});

describePostgres('Referral Trigger node on PostgreSQL', () => {
	let db: TestDatabase;
	beforeAll(async () => {
		db = await createTestDatabase('referral_trigger');
	});
	afterAll(async () => {
		await closeAllStores();
		await db?.drop();
	});
	const backend = postgresBackend(() => db);
	describeTrigger(() => backend);
});
