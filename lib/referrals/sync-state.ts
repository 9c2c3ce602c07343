import { randomUUID } from 'node:crypto';

import type { ProgramContext } from './context';

/** How often a caller waiting for a lease asks again. */
const LEASE_POLL_MS = 100;

export async function getSyncState(ctx: ProgramContext, campaignId: number, key: string): Promise<Record<string, unknown> | null> {
	return await ctx.store.read((tx) => tx.getSyncState(campaignId, key));
}

export async function saveSyncState(ctx: ProgramContext, campaignId: number, key: string, state: Record<string, unknown>): Promise<void> {
	await ctx.store.transaction((tx) => tx.setSyncState(campaignId, key, state, ctx.now()));
}

/**
 * Runs `task` while holding the lease `key`: no other execution or worker runs a task with the
 * same key meanwhile; a second caller waits until the first is done. A holder that dies keeps
 * the lease for at most `leaseMs`. `sleep` waits between tries (lib/ uses no timers itself).
 */
export async function exclusively<T>(
	ctx: ProgramContext,
	key: string,
	leaseMs: number,
	sleep: (ms: number) => Promise<unknown>,
	task: () => Promise<T>,
): Promise<T> {
	const holder = randomUUID();
	for (;;) {
		const now = ctx.now();
		const until = new Date(Date.parse(now) + leaseMs).toISOString();
		if (await ctx.store.transaction((tx) => tx.acquireLease(key, holder, until, now))) break;
		await sleep(LEASE_POLL_MS);
	}
	try {
		return await task();
	} finally {
		await ctx.store.transaction((tx) => tx.releaseLease(key, holder));
	}
}
