import type {
	IDataObject,
	INodeExecutionData,
	INodeParameterResourceLocator,
	IPollFunctions,
} from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { EVENT_TYPES, type EventType, type Participant, type ReferralEvent } from '../../lib/referrals/model';
import type { ReferralProgram } from '../../lib/referrals/program';
import { toNodeError } from '../shared/errors';
import { programFor } from '../shared/store';

/** Events read from the store at once. */
export const PAGE_SIZE = 500;
/** Events one poll emits at most; the rest come out in the next polls. */
export const MAX_EVENTS_PER_POLL = 5000;
/** Events a manual test ("Fetch Test Event") returns, newest first. */
export const TEST_EVENT_COUNT = 10;

/**
 * The Referral Trigger's poll. The cursor, the id of the last event dealt with, lives in the node's
 * static data. The store's event ids increase in commit order, so every event after the cursor is
 * new, and a poll that saw them all may move the cursor up to the newest id, past events that did
 * not match the filter.
 */
export async function pollEvents(this: IPollFunctions): Promise<INodeExecutionData[][] | null> {
	try {
		const program = await programFor(this);
		const filter = { types: eventTypesOf(this), campaignId: await campaignIdOf(this, program) };
		const people = new Participants(program);

		if (this.getMode() === 'manual') {
			// A test shows what the workflow would get, and leaves the cursor where it is.
			const events = await program.listEvents(filter, TEST_EVENT_COUNT, 'desc');
			return events.length === 0 ? null : [await itemsOf(this, events, people)];
		}

		const state = this.getWorkflowStaticData('node');
		// Read before the events: everything up to this id was committed, so once every matching
		// event after the cursor is read, the cursor can move up to it.
		const latest = await program.latestEventId();
		const cursor = cursorOf(state);
		if (cursor === null || latest < cursor) {
			// First activation starts from now. A log behind the cursor is another store (the
			// credential was changed): start from its now as well.
			state.lastEventId = latest;
			return null;
		}

		const items: INodeExecutionData[] = [];
		let afterId = cursor;
		let seenAll = false;
		while (items.length < MAX_EVENTS_PER_POLL) {
			const limit = Math.min(PAGE_SIZE, MAX_EVENTS_PER_POLL - items.length);
			const page = await program.listEvents({ ...filter, afterId }, limit, 'asc');
			if (page.length > 0) {
				items.push(...(await itemsOf(this, page, people)));
				afterId = page[page.length - 1].id;
			}
			if (page.length < limit) {
				seenAll = true;
				break;
			}
		}
		const next = seenAll ? Math.max(afterId, latest) : afterId;
		if (next !== cursor) state.lastEventId = next;
		return items.length === 0 ? null : [items];
	} catch (error) {
		throw toNodeError(this.getNode(), error);
	}
}

function cursorOf(state: IDataObject): number | null {
	const value = state.lastEventId;
	return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

function eventTypesOf(context: IPollFunctions): EventType[] | undefined {
	const raw = context.getNodeParameter('events', []) as unknown;
	const types = Array.isArray(raw) ? raw.map(String) : [];
	if (types.length === 0) {
		throw new NodeOperationError(context.getNode(), 'No event is selected', {
			description: 'Choose at least one event under Events',
		});
	}
	const unknown = types.find((type) => !(EVENT_TYPES as readonly string[]).includes(type));
	if (unknown !== undefined) {
		throw new NodeOperationError(context.getNode(), `"${unknown}" is not a referral event`, {
			description: `Events are ${EVENT_TYPES.join(', ')}`,
		});
	}
	// Every type selected needs no filter in the query.
	return new Set(types).size === EVENT_TYPES.length ? undefined : (types as EventType[]);
}

/** The campaign to watch, or undefined for all of them. */
async function campaignIdOf(context: IPollFunctions, program: ReferralProgram): Promise<number | undefined> {
	if (context.getNodeParameter('campaignScope', 'all') !== 'one') return undefined;
	const locator = context.getNodeParameter('campaign', { mode: 'list', value: '' }) as INodeParameterResourceLocator;
	const value = String(locator?.value ?? '').trim();
	if (value === '') {
		throw new NodeOperationError(context.getNode(), 'No campaign is selected', {
			description: 'Pick a campaign, or set Campaigns to All Campaigns',
		});
	}
	if (locator.mode === 'slug') return (await program.getCampaign({ slug: value })).id;
	if (!/^[0-9]+$/.test(value)) {
		throw new NodeOperationError(context.getNode(), `"${value}" is not a campaign ID`, {
			description: 'A campaign ID is a whole number; pick the campaign from the list or by slug',
		});
	}
	return (await program.getCampaign({ id: Number(value) })).id;
}

/** Participants as they are now, read once per page of events and kept for the rest of the poll. */
/** Participants of the events, read once per page through the program and kept for the poll. */
class Participants {
	private readonly known = new Map<number, Participant | null>();

	constructor(private readonly program: ReferralProgram) {}

	async load(events: ReferralEvent[]): Promise<void> {
		const missing = new Set<number>();
		for (const event of events) {
			for (const id of [event.participantId, event.referrerId]) {
				if (id !== null && !this.known.has(id)) missing.add(id);
			}
		}
		if (missing.size === 0) return;
		const found = await this.program.participantsById([...missing]);
		for (const id of missing) this.known.set(id, found.get(id) ?? null);
	}

	get(id: number | null): Participant | null {
		return id === null ? null : (this.known.get(id) ?? null);
	}
}

async function itemsOf(
	context: IPollFunctions,
	events: ReferralEvent[],
	people: Participants,
): Promise<INodeExecutionData[]> {
	await people.load(events);
	return context.helpers.returnJsonArray(
		events.map((event) => ({
			id: event.id,
			type: event.type,
			time: event.createdAt,
			campaignId: event.campaignId,
			participantId: event.participantId,
			referrerId: event.referrerId,
			payload: event.payload as IDataObject,
			participant: personJson(people.get(event.participantId)),
			referrer: personJson(people.get(event.referrerId)),
		})),
	);
}

/** A participant's current data; an erased participant has no personal data left. */
function personJson(participant: Participant | null): IDataObject | null {
	if (!participant) return null;
	const erased = participant.erasedAt !== null;
	const firstName = erased ? null : participant.firstName;
	const lastName = erased ? null : participant.lastName;
	return {
		id: participant.id,
		campaignId: participant.campaignId,
		name: [firstName, lastName].filter(Boolean).join(' ') || null,
		firstName,
		lastName,
		email: erased ? null : participant.email,
		code: participant.code,
		link: participant.link,
		source: participant.source,
		referredBy: participant.referredBy,
		referralStatus: participant.referralStatus,
		qualifiedAt: participant.qualifiedAt,
		saleValue: participant.saleValue,
		saleCurrency: participant.saleCurrency,
		pipedrivePersonId: participant.pipedrivePersonId,
		pipedriveDealId: participant.pipedriveDealId,
		pipedriveLeadId: participant.pipedriveLeadId,
		erased,
	};
}
