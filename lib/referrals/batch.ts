import type { EventInsert, StoreTransaction } from '../store/types';
import type { ProgramContext } from './context';
import { ItemFailedError, ReferralError } from './errors';

/** Each batch item ends as a value or as the error that stopped it. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

export interface BatchOptions {
	/**
	 * True: the first failing item aborts the whole batch with an ItemFailedError and nothing is
	 * written. False: failing items get an error outcome and the others are written.
	 */
	stopOnError: boolean;
}

/** A validated batch item and its place in the caller's list. */
export interface Pending<T> {
	index: number;
	input: T;
}

// Store calls take at most this many rows or keys at once.
export const CHUNK = 500;

/**
 * Validates every input, then writes all valid ones in one transaction. If that transaction
 * fails for a reason that is not an item's fault (and the caller wants the others written),
 * items are retried one per transaction so that only the culprit fails.
 */
export async function runBatch<I, V, R>(
	ctx: ProgramContext,
	inputs: I[],
	options: BatchOptions,
	validate: (input: I) => V,
	write: (tx: StoreTransaction, items: Array<Pending<V>>, now: string) => Promise<Map<number, Outcome<R>>>,
): Promise<Array<Outcome<R>>> {
	const outcomes: Array<Outcome<R>> = new Array(inputs.length);
	const valid: Array<Pending<V>> = [];
	inputs.forEach((input, index) => {
		try {
			valid.push({ index, input: validate(input) });
		} catch (error) {
			if (!(error instanceof ReferralError)) throw error;
			if (options.stopOnError) throw new ItemFailedError(index, error);
			outcomes[index] = { ok: false, error };
		}
	});
	if (valid.length === 0) return outcomes;
	const runOnce = async (items: Array<Pending<V>>) => {
		const now = ctx.now();
		const written = await ctx.store.transaction((tx) => write(tx, items, now));
		for (const [index, outcome] of written) outcomes[index] = outcome;
	};
	try {
		await runOnce(valid);
	} catch (error) {
		if (options.stopOnError || error instanceof ItemFailedError || valid.length === 1) throw error;
		for (const item of valid) {
			try {
				await runOnce([item]);
			} catch (itemError) {
				outcomes[item.index] = { ok: false, error: itemError as Error };
			}
		}
	}
	return outcomes;
}

/** An item's refusal: aborts the batch when the caller asked for that, else becomes its outcome. */
export function failItem<T>(
	outcomes: Map<number, Outcome<T>>,
	index: number,
	error: ReferralError,
	options: BatchOptions,
): void {
	if (options.stopOnError) throw new ItemFailedError(index, error);
	outcomes.set(index, { ok: false, error });
}

export async function appendInChunks(tx: StoreTransaction, events: EventInsert[], now: string): Promise<void> {
	for (const batch of chunks(events)) await tx.appendEvents(batch, now);
}

export function unique<T>(values: T[]): T[] {
	return [...new Set(values)];
}

export function chunks<T>(values: T[]): T[][] {
	const out: T[][] = [];
	for (let i = 0; i < values.length; i += CHUNK) out.push(values.slice(i, i + CHUNK));
	return out;
}
