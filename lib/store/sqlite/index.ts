// The SQLite backend, over Node's built-in `node:sqlite` (`DatabaseSync`, one connection).
//
// Concurrency: inside one process, every transaction and read holds an async mutex from BEGIN to
// COMMIT, so statements of two transactions never interleave on the shared connection. Between
// processes (several n8n instances on one file), write transactions start with BEGIN IMMEDIATE and
// wait up to `busy_timeout` for the write lock; WAL lets readers run alongside the writer.
//
// The SQL lives in one module per use case (campaigns.ts, participants.ts, rewards.ts, ...); the
// transaction class below hands them its statement cache.

import { AsyncLocalStorage } from 'node:async_hooks';
import { resolve } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';

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
import { StoreClosedError, StoreError, StoreOpenError, TransactionStateError } from '../errors';
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
	ReferralCounts,
	ReferralStore,
	ReferrerTally,
	RewardFilter,
	RewardIdentity,
	RewardInsert,
	RewardPatch,
	SqliteStoreConfig,
	StoreTransaction,
	SeriesRow,
	SeriesSpan,
	TallyRow,
	PipedriveSend,
	PipedriveSendFilter,
	PipedriveSendRow,
} from '../types';
import * as campaigns from './campaigns';
import { BUSY_TIMEOUT_MS, forgetConnection, openDatabase } from './connection';
import * as coordination from './coordination';
import * as dashboard from './dashboard';
import * as eventLog from './events';
import { SQLITE_MIGRATIONS, type SqliteMigration } from './migrations';
import { AsyncMutex } from './mutex';
import * as participants from './participants';
import * as reviews from './reviews';
import * as reconcile from './reconcile';
import * as rewards from './rewards';
import { toIso, toLimit, type Prepare } from './rows';
import * as sends from './sends';
import * as stats from './stats';

export interface SqliteStoreHooks {
	/** Called once when the store is closed (the openStore cache forgets it). */
	onClose?: () => void;
	/** Migrations to apply; defaults to SQLITE_MIGRATIONS (tests may pass a longer list). */
	migrations?: SqliteMigration[];
}

/** Opens (creating when missing) the database file and brings its schema up to date. */
export function openSqliteStore(config: SqliteStoreConfig, hooks: SqliteStoreHooks = {}): SqliteStore {
	if (typeof config.path !== 'string' || config.path.trim() === '') {
		throw new StoreOpenError('the SQLite file path is empty');
	}
	const file = resolve(config.path);
	let connection: DatabaseSync;
	try {
		connection = openDatabase(file, hooks.migrations ?? SQLITE_MIGRATIONS);
	} catch (err) {
		throw new StoreOpenError(`SQLite database ${file}: ${(err as Error).message}`, { cause: err });
	}
	return new SqliteStore(connection, () => {
		forgetConnection(connection);
		hooks.onClose?.();
	});
}

interface TxContext {
	active: boolean;
}

export class SqliteStore implements ReferralStore {
	readonly backend = 'sqlite' as const;

	private db: DatabaseSync | null;
	private readonly statements = new Map<string, StatementSync>();
	private readonly mutex = new AsyncMutex();
	private readonly context = new AsyncLocalStorage<TxContext>();
	private closing: Promise<void> | null = null;
	/** The single-row participant insert, kept apart because it returns arrays. */
	private insertParticipantStatement: StatementSync | null = null;

	constructor(
		db: DatabaseSync,
		private readonly onClose?: () => void,
	) {
		this.db = db;
	}

	transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
		return this.run(fn, true);
	}

	read<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T> {
		return this.run(fn, false);
	}

	/**
	 * Copies the write-ahead log into the main file and truncates it to zero bytes: with
	 * secure_delete on, the erased row's old page images then exist nowhere. A reader in another
	 * process can hold the log for a moment; the checkpoint is retried while it does.
	 */
	async scrub(): Promise<void> {
		if (this.context.getStore()?.active) throw new TransactionStateError('scrub() cannot be called inside a transaction');
		const deadline = Date.now() + BUSY_TIMEOUT_MS;
		for (;;) {
			const busy = await this.mutex.run(async () => {
				const result = this.connection().prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
				return result.busy !== 0;
			});
			if (!busy || Date.now() > deadline) return;
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
	}

	close(): Promise<void> {
		if (this.context.getStore()?.active) {
			return Promise.reject(new TransactionStateError('close() cannot be called inside a transaction'));
		}
		if (!this.closing) {
			// Forgotten by the openStore cache at once, so an openStore call made while queued
			// transactions finish gets a new store rather than this closing one.
			this.onClose?.();
			this.closing = this.mutex.run(async () => {
				const db = this.db;
				this.db = null;
				this.statements.clear();
				this.insertParticipantStatement = null;
				db?.close();
			});
		}
		return this.closing;
	}

	/** The open connection, or a StoreClosedError. */
	connection(): DatabaseSync {
		if (this.db === null) throw new StoreClosedError();
		return this.db;
	}

	/** A prepared statement, cached per SQL text for the life of the connection. */
	prepare(sql: string): StatementSync {
		let statement = this.statements.get(sql);
		if (statement === undefined) {
			statement = this.connection().prepare(sql);
			this.statements.set(sql, statement);
		}
		return statement;
	}

	insertParticipantStmt(): StatementSync {
		if (this.insertParticipantStatement === null) {
			const statement = this.connection().prepare(participants.INSERT_PARTICIPANT_SQL);
			statement.setReturnArrays(true);
			this.insertParticipantStatement = statement;
		}
		return this.insertParticipantStatement;
	}

	private async run<T>(fn: (tx: StoreTransaction) => Promise<T>, write: boolean): Promise<T> {
		if (this.context.getStore()?.active) {
			throw new TransactionStateError(
				'transactions cannot be nested: use the transaction object you were given',
			);
		}
		const release = await this.mutex.acquire();
		try {
			const db = this.connection();
			if (write) {
				db.exec('BEGIN IMMEDIATE');
			} else {
				db.exec('BEGIN');
				db.exec('PRAGMA query_only = ON');
			}
			const ctx: TxContext = { active: true };
			const tx = new SqliteTransaction(this, ctx);
			let result: T;
			try {
				result = await this.context.run(ctx, () => fn(tx));
			} catch (err) {
				ctx.active = false;
				this.rollback(db, write);
				throw err;
			}
			ctx.active = false;
			this.commit(db, write);
			return result;
		} finally {
			release();
		}
	}

	/** Rolls back after `fn` failed; a failing ROLLBACK must not hide the original error. */
	private rollback(db: DatabaseSync, write: boolean): void {
		try {
			if (!write) db.exec('PRAGMA query_only = OFF');
			if (db.isTransaction) db.exec('ROLLBACK');
		} catch {
			// the connection is unusable; the caller gets the error of `fn`
		}
	}

	private commit(db: DatabaseSync, write: boolean): void {
		if (!write) db.exec('PRAGMA query_only = OFF');
		if (!db.isTransaction) {
			// SQLite rolls a transaction back by itself after some errors (SQLITE_FULL, IOERR...).
			throw new StoreError('the transaction was rolled back by SQLite after an error inside it');
		}
		try {
			db.exec('COMMIT');
		} catch (err) {
			if (db.isTransaction) db.exec('ROLLBACK');
			throw err;
		}
	}
}

class SqliteTransaction implements StoreTransaction {
	constructor(
		private readonly store: SqliteStore,
		private readonly ctx: TxContext,
	) {}

	/** Passed to the use-case modules; refuses once the transaction has ended. */
	private readonly stmt: Prepare = (sql) => {
		if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
		return this.store.prepare(sql);
	};

	async insertCampaign(row: CampaignInsert, now: string): Promise<Campaign | null> {
		return campaigns.insertCampaign(this.stmt, row, now);
	}

	async getCampaign(ref: { id: number } | { slug: string }): Promise<Campaign | null> {
		return campaigns.getCampaign(this.stmt, ref);
	}

	async listCampaigns(filter: { status?: CampaignStatus[]; search?: string }, page: Page): Promise<Campaign[]> {
		return campaigns.listCampaigns(this.stmt, filter, page);
	}

	async updateCampaign(id: number, patch: CampaignPatch, now: string): Promise<Campaign | null> {
		return campaigns.updateCampaign(this.stmt, id, patch, now);
	}

	async insertParticipants(rows: ParticipantInsert[], now: string): Promise<Participant[]> {
		const ts = toIso(now);
		if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
		return participants.insertParticipants(this.store.insertParticipantStmt(), rows, ts);
	}

	async getParticipant(id: number): Promise<Participant | null> {
		return participants.getParticipant(this.stmt, id);
	}

	async getParticipants(ids: number[]): Promise<Participant[]> {
		return participants.getParticipants(this.stmt, ids);
	}

	async findParticipantsByEmail(campaignId: number, emails: string[], identities: string[]): Promise<Participant[]> {
		return participants.findParticipantsByEmail(this.stmt, campaignId, emails, identities);
	}

	async findParticipantsByCode(codes: string[]): Promise<Participant[]> {
		return participants.findParticipantsByCode(this.stmt, codes);
	}

	async listParticipants(campaignId: number, filter: ParticipantFilter, page: Page): Promise<Participant[]> {
		return participants.listParticipants(this.stmt, campaignId, filter, page);
	}

	async updateParticipant(id: number, patch: ParticipantPatch, now: string): Promise<Participant | null> {
		return participants.updateParticipant(this.stmt, id, patch, now);
	}

	async findParticipantsByPipedrive(ids: PipedriveIds, campaignId?: number): Promise<Participant[]> {
		return participants.findParticipantsByPipedrive(this.stmt, ids, campaignId);
	}

	async referralCounts(referrerIds: number[]): Promise<Map<number, ReferralCounts>> {
		return participants.referralCounts(this.stmt, referrerIds);
	}

	async claimIdempotencyKey(key: string, participantId: number, now: string): Promise<boolean> {
		return coordination.claimIdempotencyKey(this.stmt, key, participantId, now);
	}

	async acquireLease(key: string, holder: string, until: string, now: string): Promise<boolean> {
		return coordination.acquireLease(this.stmt, key, holder, until, now);
	}

	async releaseLease(key: string, holder: string): Promise<void> {
		coordination.releaseLease(this.stmt, key, holder);
	}

	async deleteExpiredLeases(prefix: string, now: string, limit: number): Promise<number> {
		return coordination.deleteExpiredLeases(this.stmt, prefix, now, limit);
	}

	async insertRewards(rows: RewardInsert[], now: string): Promise<Reward[]> {
		return rewards.insertRewards(this.stmt, rows, now);
	}

	async getReward(id: number): Promise<Reward | null> {
		return rewards.getReward(this.stmt, id);
	}

	async findRewards(identities: RewardIdentity[]): Promise<Reward[]> {
		return rewards.findRewards(this.stmt, identities);
	}

	async liveRewardsAbove(campaignId: number, beneficiaryId: number, rule: Reward['rule'], ordinal: number): Promise<Reward[]> {
		return rewards.liveRewardsAbove(this.stmt, campaignId, beneficiaryId, rule, ordinal);
	}

	async listRewards(filter: RewardFilter, page: Page): Promise<Reward[]> {
		return rewards.listRewards(this.stmt, filter, page);
	}

	async updateReward(id: number, patch: RewardPatch, fromStatus: RewardStatus[], now: string): Promise<Reward | null> {
		return rewards.updateReward(this.stmt, id, patch, fromStatus, now);
	}

	async claimRewards(request: ClaimRequest, now: string): Promise<Reward[]> {
		return rewards.claimRewards(this.stmt, request, now);
	}

	async promoteHeldRewards(now: string): Promise<Reward[]> {
		return rewards.promoteHeldRewards(this.stmt, now);
	}

	async releaseExpiredClaims(now: string): Promise<Reward[]> {
		return rewards.releaseExpiredClaims(this.stmt, now);
	}

	async addCoupons(campaignId: number, codes: string[], now: string): Promise<number> {
		return rewards.addCoupons(this.stmt, campaignId, codes, now);
	}

	async takeCoupon(campaignId: number, rewardId: number, now: string): Promise<string | null> {
		return rewards.takeCoupon(this.stmt, campaignId, rewardId, now);
	}

	async couponPool(campaignId: number): Promise<{ total: number; available: number }> {
		return rewards.couponPool(this.stmt, campaignId);
	}

	async getSyncState(campaignId: number, key: string): Promise<Record<string, unknown> | null> {
		return coordination.getSyncState(this.stmt, campaignId, key);
	}

	async setSyncState(campaignId: number, key: string, state: Record<string, unknown>, now: string): Promise<void> {
		coordination.setSyncState(this.stmt, campaignId, key, state, now);
	}

	async findIdempotencyKeys(keys: string[]): Promise<string[]> {
		return reconcile.findIdempotencyKeys(this.stmt, keys);
	}

	async getReferralEventTime(participantId: number): Promise<string | null> {
		return reconcile.getReferralEventTime(this.stmt, participantId);
	}

	async setReferralEventTime(participantId: number, occurredAt: string): Promise<void> {
		reconcile.setReferralEventTime(this.stmt, participantId, toIso(occurredAt));
	}

	async savePipedriveSend(row: PipedriveSendRow, now: string): Promise<void> {
		sends.savePipedriveSend(this.stmt, row, toIso(now));
	}

	async latestQueuedSendAt(): Promise<string | null> {
		return sends.latestQueuedSendAt(this.stmt);
	}

	async deletePipedriveSend(participantId: number): Promise<void> {
		sends.deletePipedriveSend(this.stmt, participantId);
	}

	async getPipedriveSends(participantIds: number[]): Promise<PipedriveSend[]> {
		return sends.getPipedriveSends(this.stmt, participantIds);
	}

	async claimDueSends(now: string, leaseUntil: string, limit: number): Promise<PipedriveSend[]> {
		return sends.claimDueSends(this.stmt, toIso(now), toIso(leaseUntil), toLimit(limit));
	}

	async listPipedriveSends(filter: PipedriveSendFilter, limit: number): Promise<PipedriveSend[]> {
		return sends.listPipedriveSends(this.stmt, filter, toLimit(limit));
	}

	async lockParticipants(_ids: number[]): Promise<void> {
		// Write transactions are already serial (BEGIN IMMEDIATE + the in-process mutex).
		if (!this.ctx.active) throw new TransactionStateError('this transaction has already ended');
	}

	async referrerTally(referrerId: number): Promise<ReferrerTally> {
		return stats.referrerTally(this.stmt, referrerId);
	}

	async settleReferrerTally(referrerId: number, settledRules: string | null): Promise<void> {
		stats.settleReferrerTally(this.stmt, referrerId, settledRules);
	}

	async countReferralsSince(referrerIds: number[], since: string): Promise<Map<number, number>> {
		return stats.countReferralsSince(this.stmt, referrerIds, since);
	}

	async setSignupDevices(devices: Map<number, string>): Promise<void> {
		participants.setSignupDevices(this.stmt, devices);
	}

	async signupDevices(ids: number[]): Promise<Map<number, string>> {
		return participants.signupDevices(this.stmt, ids);
	}

	async eraseParticipant(id: number, now: string): Promise<Participant | null> {
		return participants.eraseParticipant(this.stmt, id, now);
	}

	async campaignStats(campaignId: number, topReferrers: number): Promise<CampaignStats> {
		return stats.campaignStats(this.stmt, campaignId, topReferrers);
	}

	async dashboardSeries(campaignId: number, metrics: string[], spans: SeriesSpan[]): Promise<SeriesRow[]> {
		return dashboard.dashboardSeries(this.stmt, campaignId, metrics, spans);
	}

	async dashboardFirstBucket(campaignId: number): Promise<number | null> {
		return dashboard.dashboardFirstBucket(this.stmt, campaignId);
	}

	async dashboardTotals(campaignId: number, fromBucket: number | null, toBucket: number): Promise<TallyRow[]> {
		return dashboard.dashboardTotals(this.stmt, campaignId, fromBucket, toBucket);
	}

	async foldDashboardTallies(): Promise<void> {}

	async referrerBoard(campaignId: number, limit: number): Promise<BoardRow[]> {
		return dashboard.referrerBoard(this.stmt, campaignId, toLimit(limit));
	}

	async appendEvents(events: EventInsert[], now: string): Promise<void> {
		eventLog.appendEvents(this.stmt, events, now);
	}

	async insertReferralReviews(rows: ReviewInsert[], now: string): Promise<void> {
		reviews.insertReferralReviews(this.stmt, rows, toIso(now));
	}

	async getReferralReviews(participantIds: number[]): Promise<Map<number, ReferralReview>> {
		return reviews.getReferralReviews(this.stmt, participantIds);
	}

	async decideReferralReview(participantId: number, decision: 'approved' | 'rejected', reason: string | null, now: string): Promise<void> {
		reviews.decideReferralReview(this.stmt, participantId, decision, reason, toIso(now));
	}

	async listEvents(filter: EventFilter, limit: number, order: 'asc' | 'desc'): Promise<ReferralEvent[]> {
		return eventLog.listEvents(this.stmt, filter, limit, order);
	}
}
