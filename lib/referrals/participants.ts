import type { Page, ParticipantFilter, ParticipantPatch } from '../store/types';
import { chunks, unique } from './batch';
import type { ProgramContext } from './context';
import { ReferralError } from './errors';
import { differs, findParticipantIn, requireParticipant, type ParticipantRef } from './lookups';
import type { Participant } from './model';
import { parseMetadata, parseName } from './validation';

export interface ParticipantUpdate {
	firstName?: unknown;
	lastName?: unknown;
	metadata?: unknown;
	/** Merge (default) adds and overwrites keys; replace sets the metadata to exactly what is given. */
	metadataMode?: 'merge' | 'replace';
}

export async function findParticipant(ctx: ProgramContext, campaignId: number, ref: ParticipantRef): Promise<Participant | null> {
	return await ctx.store.read((tx) => findParticipantIn(tx, campaignId, ref));
}

export async function getParticipant(ctx: ProgramContext, campaignId: number, ref: ParticipantRef): Promise<Participant> {
	return requireParticipant(await findParticipant(ctx, campaignId, ref), ref);
}

/** Participants by id, in any campaign, keyed by id; ids that do not exist are absent. */
export async function participantsById(ctx: ProgramContext, ids: number[]): Promise<Map<number, Participant>> {
	const found = new Map<number, Participant>();
	for (const batch of chunks(unique(ids))) {
		for (const participant of await ctx.store.read((tx) => tx.getParticipants(batch))) found.set(participant.id, participant);
	}
	return found;
}

export async function listParticipants(
	ctx: ProgramContext,
	campaignId: number,
	filter: ParticipantFilter,
	page: Page,
): Promise<Participant[]> {
	return await ctx.store.read((tx) => tx.listParticipants(campaignId, filter, page));
}

export async function updateParticipant(
	ctx: ProgramContext,
	campaignId: number,
	ref: ParticipantRef,
	update: ParticipantUpdate,
): Promise<Participant> {
	const patch: ParticipantPatch = {};
	if (update.firstName !== undefined) patch.firstName = parseName(update.firstName, 'firstName');
	if (update.lastName !== undefined) patch.lastName = parseName(update.lastName, 'lastName');
	const metadata = update.metadata === undefined ? undefined : parseMetadata(update.metadata);
	return await ctx.store.transaction(async (tx) => {
		const current = requireParticipant(await findParticipantIn(tx, campaignId, ref), ref);
		if (current.erasedAt) {
			throw new ReferralError('conflict', `Participant ${current.id} was erased and cannot be updated`, 'participant');
		}
		if (metadata !== undefined) {
			patch.metadata = update.metadataMode === 'replace' ? metadata : { ...current.metadata, ...metadata };
		}
		if (!differs(current, patch)) return current;
		return requireParticipant(await tx.updateParticipant(current.id, patch, ctx.now()), ref);
	});
}
