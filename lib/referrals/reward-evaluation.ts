import { appendInChunks, CHUNK } from './batch';
import { getCampaign } from './campaigns';
import type { ProgramContext } from './context';
import { grantImpliedRewards, grantRegistrationReward, ledgerEvents, type LedgerChange } from './ledger';

/**
 * Evaluate Rewards: back-fills the rewards the campaign's current rules imply for referrals
 * qualified (or registered) before, after a rule change. A full recomputation per referrer, the
 * reference the incremental path of a qualification agrees with. Idempotent: existing rewards are
 * never duplicated.
 */
export async function evaluateRewards(ctx: ProgramContext, campaignId: number): Promise<{ referrers: number; created: number }> {
	const campaign = await getCampaign(ctx, { id: campaignId });
	const referrers = new Map<number, number[]>();
	let afterId: number | undefined;
	for (;;) {
		const page = await ctx.store.read((tx) =>
			tx.listParticipants(campaignId, { source: ['referred'], includeErased: true }, { limit: CHUNK, afterId }),
		);
		for (const referral of page) {
			if (referral.referredBy === null) continue;
			const ids = referrers.get(referral.referredBy) ?? [];
			ids.push(referral.id);
			referrers.set(referral.referredBy, ids);
		}
		if (page.length < CHUNK) break;
		afterId = page[page.length - 1].id;
	}
	let created = 0;
	for (const [referrerId, referralIds] of referrers) {
		created += await ctx.store.transaction(async (tx) => {
			// As a qualification does: the referrer's row lock before their tally and rewards.
			await tx.lockParticipants([referrerId]);
			const now = ctx.now();
			const change: LedgerChange = { created: [], cancelled: [], reversalNeeded: [] };
			change.created.push(...(await grantImpliedRewards(tx, campaign, referrerId, referralIds, now)));
			for (const id of referralIds) {
				const referral = await tx.getParticipant(id);
				if (referral) change.created.push(...(await grantRegistrationReward(tx, campaign, referral, now)));
			}
			await appendInChunks(tx, ledgerEvents(change, 'evaluation'), now);
			return change.created.length;
		});
	}
	return { referrers: referrers.size, created };
}
