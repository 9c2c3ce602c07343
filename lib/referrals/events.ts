import type { ProgramContext } from './context';
import type { EventType, ReferralEvent } from './model';

/**
 * Events of the log, by id: `afterId` excludes it and everything before it. Ids increase in
 * commit order, so a reader going forward from its last id never misses an event.
 */
export async function listEvents(
	ctx: ProgramContext,
	filter: { afterId?: number; types?: EventType[]; campaignId?: number },
	limit: number,
	order: 'asc' | 'desc',
): Promise<ReferralEvent[]> {
	if (filter.types !== undefined && filter.types.length === 0) return [];
	return await ctx.store.read((tx) => tx.listEvents(filter, limit, order));
}

/** The id of the newest event, 0 when the log is empty. */
export async function latestEventId(ctx: ProgramContext): Promise<number> {
	const [latest] = await ctx.store.read((tx) => tx.listEvents({}, 1, 'desc'));
	return latest?.id ?? 0;
}

/** Logs an event that concerns the program's connection to Pipedrive, not one participant (e.g. a webhook registered again). */
export async function logProgramEvent(ctx: ProgramContext, campaignId: number, type: EventType, payload: Record<string, unknown>): Promise<void> {
	await ctx.store.transaction((tx) => tx.appendEvents([{ type, campaignId, participantId: null, referrerId: null, payload }], ctx.now()));
}
