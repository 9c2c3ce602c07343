import type { ClaimRequest, EventInsert, ReferralStore, RewardFilter, StoreTransaction } from '../store/types';
import { ReferralError, invalidInput } from './errors';
import { rewardEvent } from './ledger';
import type { Page } from '../store/types';
import type { Participant, Reward, RewardStatus } from './model';

export interface ClaimOptions {
	campaignId?: number;
	beneficiaryId?: number;
	limit: number;
	/** How long a claim holds before it may be released and issued by someone else. */
	leaseSeconds: number;
}

export interface RewardView {
	reward: Reward;
	beneficiary: Participant | null;
	referral: Participant | null;
}

export interface ClaimResult {
	claimed: RewardView[];
	/** Coupon rewards left due because the campaign's coupon pool is empty. */
	waitingForCoupons: Reward[];
}

const CANCELLABLE: RewardStatus[] = ['pending_approval', 'pending_hold', 'due', 'failed'];

/**
 * Issuing rewards exactly once: claims move due rewards to `issuing` under a lease (concurrent
 * claimers never share one), delivery happens in any n8n node, and confirm / fail close the claim.
 */
export class RewardDesk {
	constructor(
		private readonly store: ReferralStore,
		private readonly clock: () => Date = () => new Date(),
	) {}

	async claim(options: ClaimOptions): Promise<ClaimResult> {
		if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > 1000) {
			throw invalidInput('limit', 'Claim between 1 and 1,000 rewards at a time');
		}
		if (!(options.leaseSeconds >= 10 && options.leaseSeconds <= 7 * 24 * 3600)) {
			throw invalidInput('leaseSeconds', 'The claim lease must be between 10 seconds and 7 days');
		}
		return await this.store.transaction(async (tx) => {
			const now = this.now();
			const events: EventInsert[] = (await tx.promoteHeldRewards(now)).map((reward) => rewardEvent('reward.due', reward, 'hold ended'));
			const request: ClaimRequest = {
				campaignId: options.campaignId,
				beneficiaryId: options.beneficiaryId,
				limit: options.limit,
				leaseUntil: new Date(Date.parse(now) + options.leaseSeconds * 1000).toISOString(),
			};
			const claimed: Reward[] = [];
			const waitingForCoupons: Reward[] = [];
			for (const reward of await tx.claimRewards(request, now)) {
				if (reward.kind !== 'coupon') {
					claimed.push(reward);
					continue;
				}
				const code = await tx.takeCoupon(reward.campaignId, reward.id, now);
				if (code) {
					claimed.push({ ...reward, couponCode: code });
					continue;
				}
				// Nothing is lost: the reward waits, due, for coupons to be added.
				const back = await tx.updateReward(reward.id, { status: 'due', leaseUntil: null }, ['issuing'], now);
				waitingForCoupons.push(back ?? reward);
			}
			if (events.length) await tx.appendEvents(events, now);
			return { claimed: await this.views(tx, claimed), waitingForCoupons };
		});
	}

	/** Confirms an issued reward; confirming it again changes nothing. */
	async confirm(rewardId: number, externalRef?: string): Promise<{ reward: Reward; changed: boolean }> {
		return await this.transition(rewardId, ['issuing'], (reward, now) => ({
			patch: { status: 'issued', issuedAt: now, leaseUntil: null, externalRef: externalRef?.trim() || reward.externalRef },
			event: 'reward.issued',
			alreadyDone: reward.status === 'issued',
		}));
	}

	/**
	 * Records a failed delivery: back to due for another try while attempts remain, then failed for
	 * good (with a reward.failed event).
	 */
	async fail(rewardId: number, reason: string, maxAttempts: number): Promise<{ reward: Reward; changed: boolean }> {
		if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw invalidInput('maxAttempts', 'Max attempts must be a whole number from 1 up');
		const why = String(reason ?? '').trim().slice(0, 2000) || 'No reason given';
		return await this.transition(rewardId, ['issuing'], (reward) => {
			const attempts = reward.attempts + 1;
			const final = attempts >= maxAttempts;
			return {
				patch: { status: final ? 'failed' : 'due', attempts, failureReason: why, leaseUntil: null },
				event: final ? 'reward.failed' : 'reward.due',
			};
		});
	}

	/** Approves a reward waiting for approval: due now, or held until its hold ends. */
	async approve(rewardId: number): Promise<{ reward: Reward; changed: boolean }> {
		return await this.transition(rewardId, ['pending_approval'], (reward, now) => {
			const held = reward.dueAt > now;
			return { patch: { status: held ? 'pending_hold' : 'due' }, event: held ? undefined : 'reward.due' };
		});
	}

	async cancel(rewardId: number): Promise<{ reward: Reward; changed: boolean }> {
		return await this.transition(
			rewardId,
			CANCELLABLE,
			(reward) => ({
				patch: { status: 'cancelled', leaseUntil: null },
				event: 'reward.cancelled',
				alreadyDone: reward.status === 'cancelled',
			}),
			async (tx, reward) => {
				// The beneficiary's row lock first, as a qualification takes it before their tally and rewards.
				await tx.lockParticipants([reward.beneficiaryId]);
				// The rules still imply a reward cancelled by hand, so the referrer is no longer settled:
				// their next qualification (or Evaluate Rewards) recomputes their rewards in full.
				if (reward.beneficiaryRole === 'referrer') await tx.settleReferrerTally(reward.beneficiaryId, null);
			},
		);
	}

	async get(rewardId: number): Promise<RewardView> {
		return await this.store.read(async (tx) => {
			const [view] = await this.views(tx, [requireReward(await tx.getReward(rewardId), rewardId)]);
			return view;
		});
	}

	async list(filter: RewardFilter, page: Page): Promise<RewardView[]> {
		return await this.store.read(async (tx) => await this.views(tx, await tx.listRewards(filter, page)));
	}

	/** Adds coupon codes (a list, or text with one code per line or comma-separated); duplicates are ignored. */
	async addCoupons(campaignId: number, codes: unknown): Promise<{ added: number; total: number; available: number }> {
		const list = parseCoupons(codes);
		return await this.store.transaction(async (tx) => {
			const now = this.now();
			const added = await tx.addCoupons(campaignId, list, now);
			return { added, ...(await tx.couponPool(campaignId)) };
		});
	}

	/** How many codes the campaign's pool holds, and how many are not handed out yet. */
	async couponPool(campaignId: number): Promise<{ total: number; available: number }> {
		return await this.store.read((tx) => tx.couponPool(campaignId));
	}

	/** Claims whose lease ran out (an n8n worker died mid-delivery) become due again. */
	async releaseExpiredClaims(): Promise<Reward[]> {
		return await this.store.transaction(async (tx) => {
			const now = this.now();
			const released = await tx.releaseExpiredClaims(now);
			if (released.length) await tx.appendEvents(released.map((reward) => rewardEvent('reward.due', reward, 'claim expired')), now);
			return released;
		});
	}

	private async transition(
		rewardId: number,
		from: RewardStatus[],
		decide: (reward: Reward, now: string) => { patch: Parameters<StoreTransaction['updateReward']>[1]; event?: EventInsert['type']; alreadyDone?: boolean },
		prepare?: (tx: StoreTransaction, reward: Reward) => Promise<void>,
	): Promise<{ reward: Reward; changed: boolean }> {
		return await this.store.transaction(async (tx) => {
			const now = this.now();
			const current = requireReward(await tx.getReward(rewardId), rewardId);
			const decision = decide(current, now);
			if (!from.includes(current.status)) {
				if (decision.alreadyDone) return { reward: current, changed: false };
				throw new ReferralError('conflict', `Reward ${rewardId} is ${current.status.replace('_', ' ')}: it cannot be changed that way`, 'rewardId');
			}
			await prepare?.(tx, current);
			const updated = await tx.updateReward(rewardId, decision.patch, from, now);
			if (!updated) throw new ReferralError('conflict', `Reward ${rewardId} changed meanwhile; try again`, 'rewardId');
			if (decision.event) await tx.appendEvents([rewardEvent(decision.event, updated, null)], now);
			return { reward: updated, changed: true };
		});
	}

	private async views(tx: StoreTransaction, rewards: Reward[]): Promise<RewardView[]> {
		const ids = [...new Set(rewards.flatMap((r) => (r.referralId === null ? [r.beneficiaryId] : [r.beneficiaryId, r.referralId])))];
		const people = new Map((await tx.getParticipants(ids)).map((p) => [p.id, p]));
		return rewards.map((reward) => ({
			reward,
			beneficiary: people.get(reward.beneficiaryId) ?? null,
			referral: reward.referralId === null ? null : (people.get(reward.referralId) ?? null),
		}));
	}


	private now(): string {
		return this.clock().toISOString();
	}
}

function requireReward(reward: Reward | null, id: number): Reward {
	if (!reward) throw new ReferralError('not_found', `There is no reward with id ${id}`, 'rewardId');
	return reward;
}

/** Coupon codes as a list, or text with one code per line or comma-separated; throws when there are none. */
export function parseCoupons(input: unknown): string[] {
	const list = Array.isArray(input) ? input : typeof input === 'string' ? input.split(/[\r\n,;]+/) : null;
	if (list === null) throw invalidInput('coupons', 'Coupons must be a list or text with one code per line');
	const codes = list.map((code) => String(code ?? '').trim()).filter((code) => code !== '');
	for (const code of codes) {
		if (code.length > 200) throw invalidInput('coupons', `The coupon "${code.slice(0, 30)}…" is longer than 200 characters`);
	}
	if (codes.length === 0) throw invalidInput('coupons', 'No coupon codes were given');
	return [...new Set(codes)];
}
