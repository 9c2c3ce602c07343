// The PostgreSQL backend, over a `pg.Pool`, for n8n queue mode and many workers.
//
// Every table lives in the configured schema: each pooled connection starts with
// `-c search_path=<schema>`, so the SQL text is static and fully parameterised. Writers on
// the same rows are serialised by row locks (`lockParticipants`, unique indexes); writers of the
// event log are serialised by a transaction-level advisory lock so ids become visible in order.
//
// The SQL lives in one module per use case (campaigns.ts, participants.ts, rewards.ts, ...); the
// transaction class below hands them its query function.

import { AsyncLocalStorage } from 'node:async_hooks';

import type pg from 'pg';

import type {
	Campaign,
	CampaignStats,
	CampaignStatus,
	Participant,
	ReferralEvent,
	ReferralReview,
	Reward,
	RewardStatus,
} from '../../referrals/model';
import { redact, StoreClosedError, StoreError, StoreOpenError, TransactionStateError } from '../errors';
import type {
	BoardRow,
	CampaignInsert,
	CampaignPatch,
	ClaimRequest,
	EventFilter,
	EventInsert,
	Page,
	ReviewInsert,
	ParticipantFilter,
	ParticipantInsert,
	ParticipantPatch,
	PipedriveIds,
	PostgresStoreConfig,
	ReferralCounts,
	ReferralStore,
	ReferrerTally,
	RewardFilter,
	RewardIdentity,
	RewardInsert,
	RewardPatch,
	StoreTransaction,
	SeriesRow,
	SeriesSpan,
	TallyRow,
	PipedriveSend,
	PipedriveSendFilter,
	PipedriveSendRow,
} from '../types';
import * as campaigns from './campaigns';
import * as coordination from './coordination';
import * as dashboard from './dashboard';
import * as eventLog from './events';
import { POSTGRES_MIGRATIONS, type PostgresMigration } from './migrations';
import * as participants from './participants';
import { describeTarget, isConnectionError, openPool, validate } from './pool';
import * as reviews from './reviews';
import * as reconcile from './reconcile';
import * as rewards from './rewards';
import { toIso, toLimit, type Param, type Query } from './rows';
import * as sends from './sends';
import * as stats from './stats';

export { SCHEMA_NAME_PATTERN } from './pool';

export interface PostgresStoreHooks {
	/** Called once when the store is closed (the openStore cache forgets it). */
	onClose?: () => void;
	/** Migrations to apply; defaults to POSTGRES_MIGRATIONS (tests may pass a longer list). */
	migrations?: PostgresMigration[];
}

/** Connects, creates the schema when missing and applies the missing migrations. */
export async function openPostgresStore(
	config: PostgresStoreConfig,
	hooks: PostgresStoreHooks = {},
): Promise<PostgresStore> {
	validate(config);
	let pool: pg.Pool;
	try {
		pool = await openPool(config, hooks.migrations ?? POSTGRES_MIGRATIONS);
	} catch (err) {
		const message = redact((err as Error).message ?? String(err), config.password);
		throw new StoreOpenError(`${describeTarget(config)}: ${message}`, { cause: err });
	}
	return new PostgresStore(pool, config.schema, hooks.onClose);
}

interface TxContext {
	active: boolean;
}

export class PostgresStore implements ReferralStore {
	readonly backend = 'postgres' as const;

	private readonly context = new AsyncLocalStorage<TxContext>();
	private closing: Promise<void> | null = null;

	constructor(
		private readonly pool: pg.Pool,
		private readonly schema: string,
		private readonly onClose?: () => void,
	) {}

	transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
		return this.run(fn, true);
	}

	read<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
		return this.run(fn, false);
	}

	async scrub(): Promise<void> {
		if (this.context.getStore()?.active) throw new TransactionStateError('scrub() cannot be called inside a transaction');
		if (this.closing) throw new StoreClosedError();
		// VACUUM runs outside a transaction and waits for others' row versions to be invisible; a
		// role that may not vacuum (not the table's owner) leaves it to autovacuum.
		await this.pool.query('VACUUM participants').catch(() => undefined);
	}

	close(): Promise<void> {
		if (this.context.getStore()?.active) {
			// The pool would wait for this transaction's client, which waits for close().
			return Promise.reject(new TransactionStateError('close() cannot be called inside a transaction'));
		}
		if (!this.closing) {
			this.onClose?.(); // forgotten by the openStore cache at once
			this.closing = this.pool.end();
		}
		return this.closing;
	}

	private async run<T>(fn: (tx: StoreTransaction) => Promise<T>, write: boolean): Promise<T> {
		if (this.closing) throw new StoreClosedError();
		if (this.context.getStore()?.active) {
			// A nested transaction would wait on the outer one's row locks, or on a pool slot.
			throw new TransactionStateError(
				'transactions cannot be nested: use the transaction object you were given',
			);
		}
		const client = await this.pool.connect();
		let broken: Error | undefined;
		try {
			await client.query(write ? 'BEGIN' : 'BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
			const ctx: TxContext = { active: true };
			const tx = new PostgresTransaction(client, ctx, this.schema);
			let result: T;
			try {
				result = await this.context.run(ctx, () => fn(tx));
			} catch (err) {
				ctx.active = false;
				await client.query('ROLLBACK').catch((rollbackErr) => {
					broken = rollbackErr;
				});
				throw err;
			}
			ctx.active = false;
			const commit = await client.query('COMMIT');
			// COMMIT of a transaction in which a statement failed (the error was caught inside
			// `fn`) quietly rolls back; say so instead of reporting success.
			if (commit.command === 'ROLLBACK') {
				throw new StoreError('the transaction was rolled back because one of its statements failed');
			}
			return result;
		} catch (err) {
			if (!broken && isConnectionError(err)) broken = err as Error;
			throw err;
		} finally {
			client.release(broken);
		}
	}
}

class PostgresTransaction implements StoreTransaction {
	private eventsLocked = false;

	constructor(
		private readonly client: pg.PoolClient,
		private readonly ctx: TxContext,
		private readonly schema: string,
	) {}

	/** Passed to the use-case modules; refuses once the transaction has ended. */
	private readonly q: Query = async (sql, params) => {
		if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
		return (await this.client.query(sql, params)).rows;
	};

	/** What a call with nothing to do returns; like a statement, it refuses once the transaction has ended. */
	private nothingToDo<T>(result: T): T {
		if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
		return result;
	}

	async insertCampaign(row: CampaignInsert, now: string): Promise<Campaign | null> {
		return await campaigns.insertCampaign(this.q, row, now);
	}

	async getCampaign(ref: { id: number } | { slug: string }): Promise<Campaign | null> {
		return await campaigns.getCampaign(this.q, ref);
	}

	async listCampaigns(filter: { status?: CampaignStatus[]; search?: string }, page: Page): Promise<Campaign[]> {
		return await campaigns.listCampaigns(this.q, filter, page);
	}

	async updateCampaign(id: number, patch: CampaignPatch, now: string): Promise<Campaign | null> {
		return await campaigns.updateCampaign(this.q, id, patch, now);
	}

	async insertParticipants(rows: ParticipantInsert[], now: string): Promise<Participant[]> {
		return await participants.insertParticipants(this.q, rows, now);
	}

	async getParticipant(id: number): Promise<Participant | null> {
		return await participants.getParticipant(this.q, id);
	}

	async getParticipants(ids: number[]): Promise<Participant[]> {
		return await participants.getParticipants(this.q, ids);
	}

	async findParticipantsByEmail(campaignId: number, emails: string[], identities: string[]): Promise<Participant[]> {
		return await participants.findParticipantsByEmail(this.q, campaignId, emails, identities);
	}

	async findParticipantsByCode(codes: string[]): Promise<Participant[]> {
		return await participants.findParticipantsByCode(this.q, codes);
	}

	async listParticipants(campaignId: number, filter: ParticipantFilter, page: Page): Promise<Participant[]> {
		return await participants.listParticipants(this.q, campaignId, filter, page);
	}

	async updateParticipant(id: number, patch: ParticipantPatch, now: string): Promise<Participant | null> {
		return await participants.updateParticipant(this.q, id, patch, now);
	}

	async findParticipantsByPipedrive(ids: PipedriveIds, campaignId?: number): Promise<Participant[]> {
		return await participants.findParticipantsByPipedrive(this.q, ids, campaignId);
	}

	async referralCounts(referrerIds: number[]): Promise<Map<number, ReferralCounts>> {
		return await participants.referralCounts(this.q, referrerIds);
	}

	async claimIdempotencyKey(key: string, participantId: number, now: string): Promise<boolean> {
		return await coordination.claimIdempotencyKey(this.q, key, participantId, now);
	}

	async acquireLease(key: string, holder: string, until: string, now: string): Promise<boolean> {
		return await coordination.acquireLease(this.q, key, holder, until, now);
	}

	async releaseLease(key: string, holder: string): Promise<void> {
		await coordination.releaseLease(this.q, key, holder);
	}

	async deleteExpiredLeases(prefix: string, now: string, limit: number): Promise<number> {
		return await coordination.deleteExpiredLeases(this.q, prefix, now, limit);
	}

	async insertRewards(rows: RewardInsert[], now: string): Promise<Reward[]> {
		const ts = toIso(now);
		if (rows.length === 0) return this.nothingToDo([]);
		return await rewards.insertRewards(this.q, rows, ts);
	}

	async getReward(id: number): Promise<Reward | null> {
		return await rewards.getReward(this.q, id);
	}

	async findRewards(identities: RewardIdentity[]): Promise<Reward[]> {
		if (identities.length === 0) return this.nothingToDo([]);
		return await rewards.findRewards(this.q, identities);
	}

	async liveRewardsAbove(campaignId: number, beneficiaryId: number, rule: Reward['rule'], ordinal: number): Promise<Reward[]> {
		return await rewards.liveRewardsAbove(this.q, campaignId, beneficiaryId, rule, ordinal);
	}

	async listRewards(filter: RewardFilter, page: Page): Promise<Reward[]> {
		return await rewards.listRewards(this.q, filter, page);
	}

	async updateReward(id: number, patch: RewardPatch, fromStatus: RewardStatus[], now: string): Promise<Reward | null> {
		return await rewards.updateReward(this.q, id, patch, fromStatus, now);
	}

	async claimRewards(request: ClaimRequest, now: string): Promise<Reward[]> {
		return await rewards.claimRewards(this.q, request, now);
	}

	async promoteHeldRewards(now: string): Promise<Reward[]> {
		return await rewards.promoteHeldRewards(this.q, now);
	}

	async releaseExpiredClaims(now: string): Promise<Reward[]> {
		return await rewards.releaseExpiredClaims(this.q, now);
	}

	async addCoupons(campaignId: number, codes: string[], now: string): Promise<number> {
		const ts = toIso(now);
		const clean = rewards.couponCodes(codes);
		if (clean.length === 0) return this.nothingToDo(0);
		return await rewards.addCoupons(this.q, campaignId, clean, ts);
	}

	async takeCoupon(campaignId: number, rewardId: number, now: string): Promise<string | null> {
		return await rewards.takeCoupon(this.q, campaignId, rewardId, now);
	}

	async couponPool(campaignId: number): Promise<{ total: number; available: number }> {
		return await rewards.couponPool(this.q, campaignId);
	}

	async getSyncState(campaignId: number, key: string): Promise<Record<string, unknown> | null> {
		return await coordination.getSyncState(this.q, campaignId, key);
	}

	async setSyncState(campaignId: number, key: string, state: Record<string, unknown>, now: string): Promise<void> {
		await coordination.setSyncState(this.q, campaignId, key, state, now);
	}

	async findIdempotencyKeys(keys: string[]): Promise<string[]> {
		return await reconcile.findIdempotencyKeys(this.q, keys);
	}

	async getReferralEventTime(participantId: number): Promise<string | null> {
		return await reconcile.getReferralEventTime(this.q, participantId);
	}

	async setReferralEventTime(participantId: number, occurredAt: string): Promise<void> {
		await reconcile.setReferralEventTime(this.q, participantId, toIso(occurredAt));
	}

	async savePipedriveSend(row: PipedriveSendRow, now: string): Promise<void> {
		await sends.savePipedriveSend(this.q, row, toIso(now));
	}

	async latestQueuedSendAt(): Promise<string | null> {
		return await sends.latestQueuedSendAt(this.q);
	}

	async deletePipedriveSend(participantId: number): Promise<void> {
		await sends.deletePipedriveSend(this.q, participantId);
	}

	async getPipedriveSends(participantIds: number[]): Promise<PipedriveSend[]> {
		return await sends.getPipedriveSends(this.q, participantIds);
	}

	async claimDueSends(now: string, leaseUntil: string, limit: number): Promise<PipedriveSend[]> {
		return await sends.claimDueSends(this.q, toIso(now), toIso(leaseUntil), toLimit(limit));
	}

	async listPipedriveSends(filter: PipedriveSendFilter, limit: number): Promise<PipedriveSend[]> {
		return await sends.listPipedriveSends(this.q, filter, toLimit(limit));
	}

	async lockParticipants(ids: number[]): Promise<void> {
		if (ids.length === 0) return this.nothingToDo(undefined);
		await participants.lockParticipants(this.q, ids);
	}

	async referrerTally(referrerId: number): Promise<ReferrerTally> {
		return await stats.referrerTally(this.q, referrerId);
	}

	async settleReferrerTally(referrerId: number, settledRules: string | null): Promise<void> {
		await stats.settleReferrerTally(this.q, referrerId, settledRules);
	}

	async countReferralsSince(referrerIds: number[], since: string): Promise<Map<number, number>> {
		return await stats.countReferralsSince(this.q, referrerIds, since);
	}

	async setSignupDevices(devices: Map<number, string>): Promise<void> {
		await participants.setSignupDevices(this.q, devices);
	}

	async signupDevices(ids: number[]): Promise<Map<number, string>> {
		return await participants.signupDevices(this.q, ids);
	}

	async eraseParticipant(id: number, now: string): Promise<Participant | null> {
		return await participants.eraseParticipant(this.q, id, now);
	}

	async campaignStats(campaignId: number, topReferrers: number): Promise<CampaignStats> {
		return await stats.campaignStats(this.q, campaignId, topReferrers);
	}

	async dashboardSeries(campaignId: number, metrics: string[], spans: SeriesSpan[]): Promise<SeriesRow[]> {
		return await dashboard.dashboardSeries(this.q, campaignId, metrics, spans);
	}

	async dashboardFirstBucket(campaignId: number): Promise<number | null> {
		return await dashboard.dashboardFirstBucket(this.q, campaignId);
	}

	async dashboardTotals(campaignId: number, fromBucket: number | null, toBucket: number): Promise<TallyRow[]> {
		return await dashboard.dashboardTotals(this.q, campaignId, fromBucket, toBucket);
	}

	async foldDashboardTallies(campaignId: number): Promise<void> {
		await dashboard.foldDashboardTallies(this.q, this.schema, campaignId);
	}

	async referrerBoard(campaignId: number, limit: number): Promise<BoardRow[]> {
		return await dashboard.referrerBoard(this.q, campaignId, toLimit(limit));
	}

	async appendEvents(events: EventInsert[], now: string): Promise<void> {
		const ts = toIso(now);
		if (events.length === 0) return;
		if (!this.eventsLocked) {
			await eventLog.lockEventLog(this.q, this.schema);
			this.eventsLocked = true;
		}
		await eventLog.appendEvents(this.q, events, ts);
	}

	async insertReferralReviews(rows: ReviewInsert[], now: string): Promise<void> {
		await reviews.insertReferralReviews(this.reviewQuery, rows, toIso(now));
	}

	async getReferralReviews(participantIds: number[]): Promise<Map<number, ReferralReview>> {
		return await reviews.getReferralReviews(this.reviewQuery, participantIds);
	}

	async decideReferralReview(participantId: number, decision: 'approved' | 'rejected', reason: string | null, now: string): Promise<void> {
		await reviews.decideReferralReview(this.reviewQuery, participantId, decision, reason, toIso(now));
	}

	private readonly reviewQuery = (sql: string, params: unknown[]) => this.q(sql, params as Param[]);

	async listEvents(filter: EventFilter, limit: number, order: 'asc' | 'desc'): Promise<ReferralEvent[]> {
		return await eventLog.listEvents(this.q, filter, limit, order);
	}
}
