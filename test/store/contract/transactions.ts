// The store contract: transactions (rollback, isolation, read-only reads, misuse).

import { setTimeout as sleep } from 'node:timers/promises';
import { TransactionStateError, type StoreTransaction } from '../../../lib/store';
import { campaignRow, NOW, personRow, uid, type ContractContext } from './shared';

/** Transactions: all or nothing, independent of each other, refused when misused. */
export function transactionTests(ctx: ContractContext): void {
	const { tx, read, newCampaign } = ctx;

	it('rolls back everything written when the function throws, and rethrows the error', async () => {
		const slug = `rollback-${uid()}`;
		const boom = new Error('boom');
		let campaignId = 0;
		await expect(
			ctx.store.transaction(async (t) => {
				const c = (await t.insertCampaign(campaignRow({ slug }), NOW))!;
				campaignId = c.id;
				await t.insertParticipants([personRow(c.id, 'rb@example.com')], NOW);
				await t.appendEvents([{ type: 'participant.enrolled', campaignId: c.id, participantId: null, referrerId: null, payload: {} }], NOW);
				// visible inside the transaction
				expect(await t.findParticipantsByEmail(c.id, ['rb@example.com'], [])).toHaveLength(1);
				throw boom;
			}),
		).rejects.toBe(boom);
		expect(await read((t) => t.getCampaign({ slug }))).toBeNull();
		expect(await read((t) => t.findParticipantsByEmail(campaignId, ['rb@example.com'], []))).toEqual([]);
		expect(await read((t) => t.listEvents({ campaignId }, 10, 'asc'))).toEqual([]);
	});

	it('rolls back a failed transaction without touching concurrent ones', async () => {
		const c = await newCampaign();
		const results = await Promise.allSettled(
			Array.from({ length: 6 }, (_, i) =>
				ctx.store.transaction(async (t) => {
					await t.insertParticipants([personRow(c.id, `conc-${i}@example.com`)], NOW);
					await sleep(1);
					await t.insertParticipants([personRow(c.id, `conc-${i}-b@example.com`)], NOW);
					if (i % 2 === 1) throw new Error(`fail ${i}`);
					return i;
				}),
			),
		);
		expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected']);
		const emails = (await read((t) => t.listParticipants(c.id, {}, { limit: 100 }))).map((p) => p.email).sort();
		expect(emails).toEqual(
			['conc-0', 'conc-0-b', 'conc-2', 'conc-2-b', 'conc-4', 'conc-4-b'].map((e) => `${e}@example.com`).sort(),
		);
	});

	it('returns the value of the function', async () => {
		expect(await ctx.store.transaction(async () => 42)).toBe(42);
		expect(await ctx.store.read(async (t) => (await t.getCampaign({ id: 987654 })) ?? 'none')).toBe('none');
	});

	it('refuses writes in read()', async () => {
		const slug = `ro-${uid()}`;
		await expect(ctx.store.read((t) => t.insertCampaign(campaignRow({ slug }), NOW))).rejects.toThrow();
		expect(await read((t) => t.getCampaign({ slug }))).toBeNull();
		// and the store still works afterwards
		expect(await tx((t) => t.insertCampaign(campaignRow({ slug }), NOW))).not.toBeNull();
	});

	it('refuses a transaction object used after its transaction ended, nested transactions and close() inside one', async () => {
		let leaked: StoreTransaction | undefined;
		await ctx.store.transaction(async (t) => {
			leaked = t;
		});
		await expect(leaked!.getCampaign({ id: 1 })).rejects.toBeInstanceOf(TransactionStateError);
		await expect(ctx.store.transaction(async () => ctx.store.transaction(async () => 1))).rejects.toBeInstanceOf(
			TransactionStateError,
		);
		await expect(ctx.store.transaction(async () => ctx.store.read(async () => 1))).rejects.toBeInstanceOf(TransactionStateError);
		await expect(ctx.store.transaction(async () => ctx.store.close())).rejects.toBeInstanceOf(TransactionStateError);
		expect(await ctx.store.read(async () => 'still open')).toBe('still open');
	});

	it('rejects an invalid timestamp', async () => {
		await expect(tx((t) => t.insertCampaign(campaignRow(), 'not a date'))).rejects.toThrow(/timestamp/);
	});
}
