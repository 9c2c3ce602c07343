// A participant's Pipedrive send state (design.md: not needed | queued | sent | failed, with
// attempts). Only sends that could not go out at once have a record; "not needed" is no record.

import type { PipedriveSend, PipedriveSendFilter } from '../store/types';
import type { ProgramContext } from './context';

export interface QueueSendInput {
	participantId: number;
	campaignId: number;
	request: Record<string, unknown>;
	error: string;
	/** Attempts made so far; by default one more than the queued send had (1 for a new one). */
	attempts?: number;
	/** How long from now to try again (the program's clock). */
	retryInMs: number;
}

/** Queues a send that failed transiently (attempt 1), or records one more failed attempt of a queued one. */
export async function queueSend(ctx: ProgramContext, input: QueueSendInput): Promise<PipedriveSend> {
	return await ctx.store.transaction(async (tx) => {
		const [current] = await tx.getPipedriveSends([input.participantId]);
		const attempts = input.attempts ?? (current?.state === 'queued' ? current.attempts + 1 : 1);
		const row = {
			participantId: input.participantId,
			campaignId: input.campaignId,
			request: input.request,
			nextAttemptAt: new Date(Date.parse(ctx.now()) + input.retryInMs).toISOString(),
			state: 'queued' as const,
			attempts,
			lastError: input.error.slice(0, 500),
		};
		await tx.savePipedriveSend(row, ctx.now());
		return { ...row, updatedAt: ctx.now() };
	});
}

/** Records a send as done; writes only when the participant had a record (a queued or failed send). */
export async function markSent(ctx: ProgramContext, participantId: number): Promise<void> {
	const [current] = await ctx.store.read((tx) => tx.getPipedriveSends([participantId]));
	if (!current || current.state === 'sent') return;
	await ctx.store.transaction(async (tx) => {
		await tx.savePipedriveSend({ ...current, state: 'sent', nextAttemptAt: null, lastError: null }, ctx.now());
	});
}

/** Gives a send up: state failed and a `pipedrive.send_failed` event, in one transaction. */
export async function markFailed(ctx: ProgramContext, send: PipedriveSend, error: string, attempts: number): Promise<void> {
	await ctx.store.transaction(async (tx) => {
		const now = ctx.now();
		await tx.savePipedriveSend({ ...send, state: 'failed', attempts, nextAttemptAt: null, lastError: error.slice(0, 500) }, now);
		await tx.appendEvents(
			[
				{
					type: 'pipedrive.send_failed',
					campaignId: send.campaignId,
					participantId: send.participantId,
					referrerId: null,
					payload: { attempts, error: error.slice(0, 500) },
				},
			],
			now,
		);
	});
}

/** Takes the queued sends that are due, for one sweep; they stay claimed for `leaseMs`. */
export async function claimDueSends(ctx: ProgramContext, leaseMs: number, limit: number): Promise<PipedriveSend[]> {
	const now = ctx.now();
	return await ctx.store.transaction((tx) => tx.claimDueSends(now, new Date(Date.parse(now) + leaseMs).toISOString(), limit));
}

/** Queues failed sends again from attempt zero, due now; returns them. */
export async function retryFailedSends(ctx: ProgramContext, filter: Omit<PipedriveSendFilter, 'state'>, limit: number): Promise<PipedriveSend[]> {
	return await ctx.store.transaction(async (tx) => {
		const now = ctx.now();
		const failed = await tx.listPipedriveSends({ ...filter, state: 'failed' }, limit);
		const queued = failed.map((send) => ({ ...send, state: 'queued' as const, attempts: 0, nextAttemptAt: now }));
		for (const send of queued) await tx.savePipedriveSend(send, now);
		return queued;
	});
}

export async function listSends(ctx: ProgramContext, filter: PipedriveSendFilter, limit: number): Promise<PipedriveSend[]> {
	return await ctx.store.read((tx) => tx.listPipedriveSends(filter, limit));
}

/** How long ago (the program's clock) a queued send last failed; null when none is queued. */
export async function msSinceLastQueuedFailure(ctx: ProgramContext): Promise<number | null> {
	const at = await ctx.store.read((tx) => tx.latestQueuedSendAt());
	return at === null ? null : Date.parse(ctx.now()) - Date.parse(at);
}
