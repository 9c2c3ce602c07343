import type { ProgramContext } from './context';
import { findParticipantIn, requireParticipant, type ParticipantRef } from './lookups';
import type { Participant } from './model';

/**
 * Erasure: removes the person's data and keeps an anonymous row, so the referrer's counts,
 * statuses and the event log stay right.
 */
export async function eraseParticipant(ctx: ProgramContext, campaignId: number, ref: ParticipantRef): Promise<Participant> {
	const result = await ctx.store.transaction(async (tx) => {
		const current = requireParticipant(await findParticipantIn(tx, campaignId, ref), ref);
		if (current.erasedAt) return current;
		const now = ctx.now();
		const erased = requireParticipant(await tx.eraseParticipant(current.id, now), ref);
		await tx.deletePipedriveSend(current.id);
		await tx.appendEvents(
			[
				{
					type: 'participant.erased',
					campaignId,
					participantId: current.id,
					referrerId: current.referredBy,
					payload: {},
				},
			],
			now,
		);
		return erased;
	});
	// Erased means erased in every file of the store, the write-ahead log included.
	await ctx.store.scrub();
	return result;
}
