import type { EventInsert, RewardInsert, StoreTransaction } from '../store/types';
import type { Campaign, Participant, Reward, RewardRules, RewardStatus } from './model';
import {
	identityOf,
	impliedRewards,
	registrationReward,
	rewardsAddedBy,
	rulesFingerprint,
	type QualifiedReferral,
} from './rewards';

// The reward side of a referral's changes, run inside the transaction that makes the change, so
// a qualification and the rewards it earns are written together or not at all.

/** Rewards that may still be withdrawn without anyone having been paid. */
const WITHDRAWABLE: RewardStatus[] = ['pending_approval', 'pending_hold', 'due', 'failed'];
/** Rewards that went out, or may be going out right now: withdrawing them needs a person. */
const PAID_OR_PAYING: RewardStatus[] = ['issuing', 'issued'];
const PAGE = 500;

export interface LedgerChange {
	created: Reward[];
	cancelled: Reward[];
	reversalNeeded: Reward[];
}

/**
 * The rewards a referral's qualification earns, in the transaction that qualifies it (after its
 * status is written, so the referrer's tally counts it). When the referrer's rewards are settled
 * under the current rules, only what this referral adds is looked at: the cost is the same whatever
 * the referrer's size. Otherwise (rules changed, the cap held rewards back, a reward was cancelled by
 * hand) the referrer's rewards are recomputed in full once, exactly as Evaluate Rewards does.
 */
export async function grantOnQualification(
	tx: StoreTransaction,
	campaign: Campaign,
	referral: Participant,
	now: string,
): Promise<Reward[]> {
	const rules = campaign.rewardRules;
	const referrerId = referral.referredBy!;
	if (!givesRewardsOnQualification(rules)) return [];
	const tally = await tx.referrerTally(referrerId);
	if (tally.settledRules !== rulesFingerprint(rules)) {
		return await grantImpliedRewards(tx, campaign, referrerId, [referral.id], now);
	}
	const added = rewardsAddedBy(rules, campaign.id, referrerId, tally.qualified, asQualified(referral), now);
	const live = new Set((await tx.findRewards(added)).filter((r) => r.status !== 'cancelled').map(identityOf));
	const missing = added.filter((row) => !live.has(identityOf(row)));
	const allowed = withinCap(missing, rules.maxPerReferrer, tally.liveRewards);
	// Held back by the cap: no longer settled, so a later qualification fills the room when it opens.
	if (allowed.length < missing.length) await tx.settleReferrerTally(referrerId, null);
	return allowed.length === 0 ? [] : await tx.insertRewards(allowed, now);
}

/**
 * Creates every reward a referrer's qualified referrals imply that does not exist yet (or was
 * cancelled), within the campaign's maximum per referrer, reading all of them: Evaluate Rewards,
 * and a qualification whose referrer is not settled under the current rules. Idempotent: rewards
 * have identities. Rewards of referred people are considered for `referralIds` only (a
 * qualification concerns its own referral; a back-fill passes them all). Settles the referrer when
 * nothing they are owed is left out.
 */
export async function grantImpliedRewards(
	tx: StoreTransaction,
	campaign: Campaign,
	referrerId: number,
	referralIds: number[],
	now: string,
): Promise<Reward[]> {
	const rules = campaign.rewardRules;
	if (!givesRewardsOnQualification(rules)) return [];
	const qualified = await qualifiedReferralsOf(tx, campaign.id, referrerId);
	const concerned = new Set(referralIds);
	const implied = impliedRewards(rules, campaign.id, referrerId, qualified, now).filter(
		(row) => row.beneficiaryRole === 'referrer' || concerned.has(row.beneficiaryId),
	);
	const existing = new Map<string, Reward>();
	for (const reward of await rewardsOf(tx, { campaignId: campaign.id, beneficiaryId: referrerId })) {
		existing.set(identityOf(reward), reward);
	}
	for (const id of concerned) {
		for (const reward of await rewardsOf(tx, { campaignId: campaign.id, beneficiaryId: id })) {
			existing.set(identityOf(reward), reward);
		}
	}
	const active = (identity: string) => {
		const reward = existing.get(identity);
		return reward !== undefined && reward.status !== 'cancelled';
	};
	const missing = implied.filter((row) => !active(identityOf(row)));
	const live = [...existing.values()].filter((r) => r.beneficiaryRole === 'referrer' && r.status !== 'cancelled').length;
	const allowed = withinCap(missing, rules.maxPerReferrer, live);
	await tx.settleReferrerTally(referrerId, allowed.length === missing.length ? rulesFingerprint(rules) : null);
	return allowed.length === 0 ? [] : await tx.insertRewards(allowed, now);
}

/** The referred person's reward on registration, when the campaign gives one. */
export async function grantRegistrationReward(
	tx: StoreTransaction,
	campaign: Campaign,
	referral: Participant,
	now: string,
): Promise<Reward[]> {
	const row = registrationReward(campaign.rewardRules, campaign.id, referral, now);
	return row ? await tx.insertRewards([row], now) : [];
}

/**
 * After a referral is un-qualified (its status written): the referrer's count-based rewards beyond
 * the new count and the referral's own rewards are cancelled if nobody was paid yet; paid ones are
 * reported. Reads only those rewards, through their identities.
 */
export async function withdrawRewards(
	tx: StoreTransaction,
	campaign: Campaign,
	referral: Participant,
	now: string,
): Promise<LedgerChange> {
	const change: LedgerChange = { created: [], cancelled: [], reversalNeeded: [] };
	if (referral.referredBy === null) return change;
	const rules = campaign.rewardRules;
	const referrerId = referral.referredBy;
	const { qualified: count } = await tx.referrerTally(referrerId);
	const every = rules.perReferral?.every ?? 1;
	const beyondCount = [
		...(await tx.liveRewardsAbove(campaign.id, referrerId, 'per_referral', Math.floor(count / every))),
		...(await tx.liveRewardsAbove(campaign.id, referrerId, 'milestone', count)),
	];
	const commission = await tx.findRewards([{ campaignId: campaign.id, beneficiaryId: referrerId, rule: 'commission', ordinal: referral.id }]);
	// A registration reward was earned by registering and stays.
	const own = rules.referred?.on === 'registration'
		? []
		: await tx.findRewards([{ campaignId: campaign.id, beneficiaryId: referral.id, rule: 'referred', ordinal: referral.id }]);
	const withdrawn = [...[...beyondCount, ...commission].sort((a, b) => a.id - b.id), ...own];
	for (const reward of withdrawn) {
		if (WITHDRAWABLE.includes(reward.status)) {
			const cancelled = await tx.updateReward(reward.id, { status: 'cancelled', leaseUntil: null }, WITHDRAWABLE, now);
			if (cancelled) change.cancelled.push(cancelled);
		} else if (PAID_OR_PAYING.includes(reward.status)) {
			change.reversalNeeded.push(reward);
		}
	}
	return change;
}

/** The event-log entries for a ledger change (rewards that became due, cancelled, to reverse). */
export function ledgerEvents(change: LedgerChange, reason: string): EventInsert[] {
	return [
		...change.created.filter((reward) => reward.status === 'due').map((reward) => rewardEvent('reward.due', reward, reason)),
		...change.cancelled.map((reward) => rewardEvent('reward.cancelled', reward, reason)),
		...change.reversalNeeded.map((reward) => rewardEvent('reward.reversal_needed', reward, reason)),
	];
}

/** A reward's event: ids and amounts only, never personal data. */
export function rewardEvent(type: EventInsert['type'], reward: Reward, reason: string | null): EventInsert {
	return {
		type,
		campaignId: reward.campaignId,
		participantId: reward.beneficiaryId,
		referrerId: null,
		payload: {
			rewardId: reward.id,
			rule: reward.rule,
			kind: reward.kind,
			amount: reward.amount,
			currency: reward.currency,
			referralId: reward.referralId,
			reason,
		},
	};
}

function givesRewardsOnQualification(rules: RewardRules): boolean {
	return Boolean(rules.perReferral || rules.milestones.length > 0 || rules.commission || rules.referred?.on === 'qualification');
}

/** The rows the cap lets through, in order: the referrer's within the room left, the referred person's always. */
function withinCap(rows: RewardInsert[], maxPerReferrer: number | null, liveRewards: number): RewardInsert[] {
	let room = maxPerReferrer === null ? Infinity : maxPerReferrer - liveRewards;
	return rows.filter((row) => row.beneficiaryRole === 'referred' || room-- > 0);
}

function asQualified(referral: Participant): QualifiedReferral {
	return { id: referral.id, qualifiedAt: referral.qualifiedAt, saleValue: referral.saleValue, saleCurrency: referral.saleCurrency };
}

async function qualifiedReferralsOf(tx: StoreTransaction, campaignId: number, referrerId: number): Promise<QualifiedReferral[]> {
	const out: QualifiedReferral[] = [];
	let afterId: number | undefined;
	for (;;) {
		const page = await tx.listParticipants(
			campaignId,
			{ referredBy: referrerId, referralStatus: ['qualified'], includeErased: true },
			{ limit: PAGE, afterId },
		);
		for (const p of page) out.push({ id: p.id, qualifiedAt: p.qualifiedAt, saleValue: p.saleValue, saleCurrency: p.saleCurrency });
		if (page.length < PAGE) return out;
		afterId = page[page.length - 1].id;
	}
}

async function rewardsOf(
	tx: StoreTransaction,
	filter: { campaignId: number; beneficiaryId?: number; referralId?: number },
): Promise<Reward[]> {
	const out: Reward[] = [];
	let afterId: number | undefined;
	for (;;) {
		const page = await tx.listRewards(filter, { limit: PAGE, afterId });
		out.push(...page);
		if (page.length < PAGE) return out;
		afterId = page[page.length - 1].id;
	}
}
