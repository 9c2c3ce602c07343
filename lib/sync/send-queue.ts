// Sending to Pipedrive without making anyone wait for it, and without losing a send.
//
// A send that fails because Pipedrive is unavailable for now (5xx, timeouts and network errors,
// 429, the daily token budget) is kept as the participant's send state `queued`, with its settings,
// and the item goes on normally. A sweep sends the queued ones when they are due, with backoff; each
// person, lead and deal is still created once (the participant keeps its Pipedrive ids, and the
// sender's lease per email serialises concurrent sends). After `maxAttempts` the send is `failed`
// and a `pipedrive.send_failed` event says so; Retry Failed Sends queues it again.

import type { PipedriveClient } from '../pipedrive/client';
import { isPipedriveApiError } from '../pipedrive/errors';
import type { ReferralProgram } from '../referrals/program';
import type { PipedriveSend } from '../store/types';
import { PipedriveSender, type SendItem, type SendResult, type SendSettings } from './send';

export interface SendQueueSettings {
	/** First retry after this long; each next one waits twice as long, up to `maxBackoffMs`. */
	firstBackoffMs: number;
	maxBackoffMs: number;
	/** A send still failing after this many attempts is given up (`failed`). */
	maxAttempts: number;
}

export const DEFAULT_SEND_QUEUE: SendQueueSettings = { firstBackoffMs: 30_000, maxBackoffMs: 2 * 60_000, maxAttempts: 720 };

/** How long a sweep holds the sends it took; a sweep that dies leaves them due again after that. */
const SWEEP_LEASE_MS = 10 * 60_000;

export type QueuedSendResult = SendResult & { queued?: boolean; attempts?: number; nextAttemptAt?: string };

/** Pipedrive cannot take the send now, but will later without anyone changing anything. */
export function isTransientSendError(error: unknown): boolean {
	return isPipedriveApiError(error) && (error.transient || error.kind === 'daily_budget');
}

export function backoffMs(attempts: number, settings: SendQueueSettings): number {
	return Math.min(settings.firstBackoffMs * 2 ** Math.max(0, attempts - 1), settings.maxBackoffMs);
}

/** What a queued send replays: the node's settings and the item, with the participant by id only. */
interface StoredRequest {
	settings: SendSettings;
	item: Omit<SendItem, 'participant'>;
}

/**
 * Sends like `PipedriveSender`, but queues what Pipedrive cannot take now. `prepare()` failing
 * transiently (the fields or pipelines could not be read) queues every item of the run.
 */
export class QueueingSender {
	private readonly sender: PipedriveSender;
	private unavailable: unknown = null;

	constructor(
		private readonly program: ReferralProgram,
		client: PipedriveClient,
		private readonly settings: SendSettings,
		private readonly queue: SendQueueSettings = DEFAULT_SEND_QUEUE,
	) {
		this.sender = new PipedriveSender(program, client, settings);
	}

	async prepare(): Promise<void> {
		// Pipedrive failed a send moments ago and the queue is not empty: it is still down, most
		// likely. Queue at once rather than have this run wait through the client's retries (and add
		// to the failing requests); the sweep sends it as soon as Pipedrive answers again.
		const sinceFailure = await this.program.msSinceLastQueuedFailure();
		if (sinceFailure !== null && sinceFailure < this.queue.firstBackoffMs) {
			this.unavailable = new Error('Pipedrive failed a send less than a retry interval ago');
			return;
		}
		try {
			await this.sender.prepare();
		} catch (error) {
			if (!isTransientSendError(error)) throw error;
			this.unavailable = error;
		}
	}

	async send(item: SendItem): Promise<QueuedSendResult> {
		if (this.unavailable === null) {
			try {
				const result = await this.sender.send(item);
				if (!result.skipped) await this.program.markSendDone(result.participantId);
				return result;
			} catch (error) {
				if (!isTransientSendError(error)) throw error;
				return await this.enqueue(item, error);
			}
		}
		return await this.enqueue(item, this.unavailable);
	}

	private async enqueue(item: SendItem, error: unknown): Promise<QueuedSendResult> {
		const skipped = await this.sender.skipped(item);
		if (skipped) return skipped;
		const participant = await this.program.getParticipant(item.campaignId, item.participant);
		const { participant: _ref, ...rest } = item;
		const request: StoredRequest = { settings: this.settings, item: rest };
		const queued = await this.program.queueSend({
			participantId: participant.id,
			campaignId: participant.campaignId,
			request: request as unknown as Record<string, unknown>,
			error: (error as Error).message,
			retryInMs: backoffMs(1, this.queue),
		});
		return {
			participantId: participant.id,
			email: participant.email,
			code: participant.code,
			skipped: false,
			queued: true,
			attempts: queued.attempts,
			nextAttemptAt: queued.nextAttemptAt!,
			reason: `Pipedrive is unavailable for now (${(error as Error).message}); the send is queued and retried`,
		};
	}
}

export interface SweepSummary {
	/** Due sends taken by this sweep. */
	taken: number;
	sent: number;
	/** Tried and failed again for now: due again later. */
	retrying: number;
	/** Not tried because Pipedrive failed on an earlier one in this sweep: due again with it. */
	postponed: number;
	/** Given up: state failed, `pipedrive.send_failed` logged. */
	failed: number;
	/** Not sent because the participant is no longer one to send (erased, source no longer chosen). */
	skipped: number;
	results: Array<{ participantId: number; outcome: 'sent' | 'retrying' | 'postponed' | 'failed' | 'skipped'; attempts: number; error?: string }>;
}

/**
 * Sends the queued sends that are due, oldest first, up to `limit`. The first transient failure
 * stops the sweep: Pipedrive is still down, and the rest would only fail too (one failing request
 * per sweep during an outage, not one per queued send); they are due again with it.
 */
export async function sweepQueuedSends(
	program: ReferralProgram,
	client: PipedriveClient,
	options: { limit: number; queue?: SendQueueSettings },
): Promise<SweepSummary> {
	const queue = options.queue ?? DEFAULT_SEND_QUEUE;
	const due = await program.claimDueSends(SWEEP_LEASE_MS, options.limit);
	const summary: SweepSummary = { taken: due.length, sent: 0, retrying: 0, postponed: 0, failed: 0, skipped: 0, results: [] };
	const senders = new Map<string, Promise<PipedriveSender>>();
	const senderFor = (settings: SendSettings) => {
		const key = JSON.stringify(settings);
		let sender = senders.get(key);
		if (!sender) {
			const made = new PipedriveSender(program, client, settings);
			sender = made.prepare().then(() => made);
			senders.set(key, sender);
		}
		return sender;
	};
	let outage: { error: string; retryInMs: number } | null = null;
	for (const send of due) {
		if (outage) {
			await program.queueSend({ ...requeue(send), attempts: send.attempts, ...outage });
			summary.postponed++;
			summary.results.push({ participantId: send.participantId, outcome: 'postponed', attempts: send.attempts });
			continue;
		}
		const { settings, item } = send.request as unknown as StoredRequest;
		const attempts = send.attempts + 1;
		try {
			const result = await (await senderFor(settings)).send({ ...item, participant: { id: send.participantId } });
			await program.markSendDone(send.participantId);
			const outcome = result.skipped ? 'skipped' : 'sent';
			summary[outcome]++;
			summary.results.push({ participantId: send.participantId, outcome, attempts, error: result.reason });
		} catch (error) {
			const message = (error as Error).message;
			if (isTransientSendError(error) && attempts < queue.maxAttempts) {
				const retryInMs = backoffMs(attempts, queue);
				await program.queueSend({ ...requeue(send), attempts, error: message, retryInMs });
				outage = { error: message, retryInMs };
				summary.retrying++;
				summary.results.push({ participantId: send.participantId, outcome: 'retrying', attempts, error: message });
			} else {
				await program.markSendFailed(send, message, attempts);
				summary.failed++;
				summary.results.push({ participantId: send.participantId, outcome: 'failed', attempts, error: message });
			}
		}
	}
	return summary;
}

function requeue(send: PipedriveSend) {
	return { participantId: send.participantId, campaignId: send.campaignId, request: send.request };
}
