import type { ParticipantPatch, PipedriveIds, ReferralCounts } from '../store/types';
import { chunks, unique } from './batch';
import type { ProgramContext } from './context';
import { differs, requireParticipant } from './lookups';
import type { Participant } from './model';

/** The campaign's participants linked to these Pipedrive persons. */
export async function findByPipedrivePersons(ctx: ProgramContext, campaignId: number, personIds: number[]): Promise<Participant[]> {
	if (personIds.length === 0) return [];
	return await ctx.store.read((tx) => tx.findParticipantsByPipedrive({ personIds }, campaignId));
}

/** Participants (of any campaign, or of one) created for these Pipedrive deals or leads. */
export async function findByPipedriveRecords(ctx: ProgramContext, ids: PipedriveIds, campaignId?: number): Promise<Participant[]> {
	return await ctx.store.read((tx) => tx.findParticipantsByPipedrive(ids, campaignId));
}

/** Records which Pipedrive person, lead and deal a participant is; only changed values are written. */
export async function linkPipedrive(
	ctx: ProgramContext,
	participantId: number,
	ids: { personId?: number; leadId?: string; dealId?: number },
): Promise<Participant> {
	return await ctx.store.transaction(async (tx) => {
		const current = requireParticipant(await tx.getParticipant(participantId), { id: participantId });
		const patch: ParticipantPatch = {};
		if (ids.personId !== undefined) patch.pipedrivePersonId = ids.personId;
		if (ids.leadId !== undefined) patch.pipedriveLeadId = ids.leadId;
		if (ids.dealId !== undefined) patch.pipedriveDealId = ids.dealId;
		if (!differs(current, patch)) return current;
		return requireParticipant(await tx.updateParticipant(participantId, patch, ctx.now()), { id: participantId });
	});
}

/** Referrals and qualified referrals per referrer, for the metrics written to Pipedrive. */
export async function referralCounts(ctx: ProgramContext, referrerIds: number[]): Promise<Map<number, ReferralCounts>> {
	const counts = new Map<number, ReferralCounts>();
	for (const batch of chunks(unique(referrerIds))) {
		for (const [id, count] of await ctx.store.read((tx) => tx.referralCounts(batch))) counts.set(id, count);
	}
	return counts;
}
