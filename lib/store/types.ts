import type {
	Campaign,
	CampaignStats,
	CampaignStatus,
	CodeSettings,
	EventType,
	FlagReason,
	FraudSettings,
	Participant,
	ParticipantSource,
	ReferralEvent,
	ReferralReview,
	ReferralStatus,
	Reward,
	RewardRules,
	RewardStatus,
} from '../referrals/model';

// The store is row-level and rule-free: what may be written is decided in lib/referrals, which
// calls these methods inside one transaction per unit of work. Both backends implement the same
// interface and pass the same contract suite (test/store/contract/).

export type StoreConfig = SqliteStoreConfig | PostgresStoreConfig;

export interface SqliteStoreConfig {
	backend: 'sqlite';
	/** Absolute path of the database file (created with its folder when missing). */
	path: string;
}

export interface PostgresStoreConfig {
	backend: 'postgres';
	host: string;
	port: number;
	database: string;
	user: string;
	password: string;
	/** `disable`: plain TCP; `require`: TLS without certificate checks; `verify`: TLS, verified. */
	ssl: 'disable' | 'require' | 'verify';
	/** Schema holding every table; created when missing. Must match /^[a-z_][a-z0-9_]{0,62}$/. */
	schema: string;
}

export interface CampaignInsert {
	slug: string;
	name: string;
	status: CampaignStatus;
	linkTemplate: string;
	codeSettings: CodeSettings;
	fraudSettings: FraudSettings;
	rewardRules: RewardRules;
}

export type CampaignPatch = Partial<
	Pick<Campaign, 'name' | 'status' | 'linkTemplate' | 'codeSettings' | 'fraudSettings' | 'rewardRules'>
>;

export type RewardInsert = Pick<
	Reward,
	| 'campaignId'
	| 'beneficiaryId'
	| 'beneficiaryRole'
	| 'rule'
	| 'ordinal'
	| 'referralId'
	| 'kind'
	| 'amount'
	| 'currency'
	| 'payload'
	| 'status'
	| 'dueAt'
>;

export type RewardPatch = Partial<
	Pick<Reward, 'status' | 'leaseUntil' | 'attempts' | 'externalRef' | 'failureReason' | 'couponCode' | 'issuedAt' | 'dueAt'>
>;

export interface TallyRow {
	metric: string;
	/** Empty for counts that have no currency. */
	currency: string;
	bucket: number;
	n: number;
	amount: number;
}

export interface SeriesSpan {
	from: number;
	to: number;
	width: number;
}

export interface SeriesRow {
	metric: string;
	span: number;
	slice: number;
	n: number;
}

export interface BoardRow {
	participantId: number;
	email: string | null;
	firstName: string | null;
	lastName: string | null;
	code: string;
	pipedrivePersonId: number | null;
	referrals: number;
	qualified: number;
	/** The referrer's rewards that are not cancelled. */
	liveRewards: number;
}

export interface RewardFilter {
	campaignId?: number;
	beneficiaryId?: number;
	referralId?: number;
	status?: RewardStatus[];
}

export interface ClaimRequest {
	campaignId?: number;
	beneficiaryId?: number;
	limit: number;
	/** Claims hold until then; a claim whose lease ran out may be released. */
	leaseUntil: string;
}

export interface ParticipantInsert {
	campaignId: number;
	email: string;
	/** The person behind the email (lib/referrals/email.ts emailIdentity): unique per campaign. */
	emailIdentity: string;
	firstName: string | null;
	lastName: string | null;
	source: ParticipantSource;
	code: string;
	link: string;
	referredBy: number | null;
	referralStatus: ReferralStatus;
	metadata: Record<string, unknown>;
	/** Set when the participant comes from a Pipedrive person (contact sync). */
	pipedrivePersonId?: number | null;
}

export type ParticipantPatch = Partial<
	Pick<
		Participant,
		| 'firstName'
		| 'lastName'
		| 'link'
		| 'metadata'
		| 'referralStatus'
		| 'qualifiedAt'
		| 'saleValue'
		| 'saleCurrency'
		| 'pipedrivePersonId'
		| 'pipedriveLeadId'
		| 'pipedriveDealId'
	>
>;

export interface ParticipantFilter {
	referralStatus?: ReferralStatus[];
	source?: ParticipantSource[];
	referredBy?: number;
	/** Only participants whose updatedAt is >= this ISO timestamp. */
	updatedSince?: string;
	/** Erased participants are left out unless this is true. */
	includeErased?: boolean;
}

/** Keyset pagination in ascending id order. */
export interface Page {
	limit: number;
	/** Only rows with an id greater than this. */
	afterId?: number;
}

export type PipedriveSendState = 'queued' | 'sent' | 'failed';

/** What is kept about sending a participant to Pipedrive when the first try could not (lib/sync/send-queue.ts). */
export interface PipedriveSendRow {
	participantId: number;
	campaignId: number;
	state: PipedriveSendState;
	attempts: number;
	/** When a queued send is tried next; null once sent or failed. */
	nextAttemptAt: string | null;
	lastError: string | null;
	/** The send settings and item to replay (no personal data: the participant is referenced by id). */
	request: Record<string, unknown>;
}

export interface PipedriveSendFilter {
	state: PipedriveSendState;
	campaignId?: number;
	participantIds?: number[];
}

export interface PipedriveSend extends PipedriveSendRow {
	updatedAt: string;
}

/** Pipedrive ids to look participants up by; any of the lists may be given. */
export interface PipedriveIds {
	personIds?: number[];
	dealIds?: number[];
	leadIds?: string[];
}

export interface ReferralCounts {
	/** Everyone the referrer referred, whatever their status. */
	referrals: number;
	qualified: number;
}

/** A referrer's running figures, kept in step with their referrals and rewards by the store itself. */
export interface ReferrerTally {
	/** Their referrals whose referral status is qualified. */
	qualified: number;
	/** Their own rewards (beneficiary role referrer) that are not cancelled. */
	liveRewards: number;
	/**
	 * The fingerprint of the reward rules under which every referrer reward their qualified
	 * referrals imply was granted (or the cap was reached); null when that is not known.
	 */
	settledRules: string | null;
}

/** A reward's identity: (campaign, beneficiary, rule, ordinal) is unique. */
export type RewardIdentity = Pick<Reward, 'campaignId' | 'beneficiaryId' | 'rule' | 'ordinal'>;

export interface EventInsert {
	type: EventType;
	campaignId: number;
	participantId: number | null;
	referrerId: number | null;
	payload: Record<string, unknown>;
}

export interface EventFilter {
	/** Only events with an id greater than this. */
	afterId?: number;
	types?: EventType[];
	campaignId?: number;
}

/** The operations available inside a transaction. `now` is the ISO time to stamp rows with. */
export interface StoreTransaction {
	/** Null when the slug is taken. */
	insertCampaign(row: CampaignInsert, now: string): Promise<Campaign | null>;
	getCampaign(ref: { id: number } | { slug: string }): Promise<Campaign | null>;
	/** Ascending id order; `search` matches name or slug, case-insensitively. */
	listCampaigns(
		filter: { status?: CampaignStatus[]; search?: string },
		page: Page,
	): Promise<Campaign[]>;
	/** Null when there is no such campaign. */
	updateCampaign(id: number, patch: CampaignPatch, now: string): Promise<Campaign | null>;

	/**
	 * Inserts the rows in as few statements as the backend allows. A row that would break the
	 * (campaign, email), (campaign, identity) or the code uniqueness constraint is skipped, not an error: only the rows
	 * actually inserted are returned (any order). Used with up to 1,000 rows at a time.
	 */
	insertParticipants(rows: ParticipantInsert[], now: string): Promise<Participant[]>;
	getParticipant(id: number): Promise<Participant | null>;
	/** The participants with these ids that exist, in ascending id order. */
	getParticipants(ids: number[]): Promise<Participant[]>;
	/** The campaign's participants whose email is one of `emails` or whose identity is one of `identities`. */
	findParticipantsByEmail(campaignId: number, emails: string[], identities: string[]): Promise<Participant[]>;
	/** Codes are unique across the store, so this is not scoped to a campaign. */
	findParticipantsByCode(codes: string[]): Promise<Participant[]>;
	listParticipants(campaignId: number, filter: ParticipantFilter, page: Page): Promise<Participant[]>;
	/** Writes only the given fields and bumps updatedAt. Null when there is no such participant. */
	updateParticipant(id: number, patch: ParticipantPatch, now: string): Promise<Participant | null>;
	/** Participants holding any of these Pipedrive ids, in ascending id order; optionally in one campaign. */
	findParticipantsByPipedrive(ids: PipedriveIds, campaignId?: number): Promise<Participant[]>;
	/** Per referrer id: referrals and qualified referrals (referrers with none are absent). */
	referralCounts(referrerIds: number[]): Promise<Map<number, ReferralCounts>>;
	/**
	 * Serialises concurrent transactions that change these participants' counters (PostgreSQL:
	 * row locks held until commit, taken in id order; SQLite: nothing to do, writes are serial).
	 */
	lockParticipants(ids: number[]): Promise<void>;
	/**
	 * A referrer's tally (zeros and null settledRules when they have none). `qualified` and
	 * `liveRewards` follow every write to participants and rewards in the same transaction (the
	 * database keeps them, so no write path can forget them); reading them costs the same whatever
	 * the referrer's size.
	 */
	referrerTally(referrerId: number): Promise<ReferrerTally>;
	/** Records (or forgets, with null) the rules fingerprint under which the referrer's rewards are settled. */
	settleReferrerTally(referrerId: number, settledRules: string | null): Promise<void>;
	/** Referrals registered since `since` per referrer id (referrers with none are absent). */
	countReferralsSince(referrerIds: number[], since: string): Promise<Map<number, number>>;
	/**
	 * Records participants' sign-up device fingerprints (lib/referrals/device.ts): personal data,
	 * kept apart from Participant and cleared on erasure.
	 */
	setSignupDevices(devices: Map<number, string>): Promise<void>;
	/** The sign-up device fingerprints of these participants (those without one are absent). */
	signupDevices(ids: number[]): Promise<Map<number, string>>;
	/**
	 * Removes personal data (email and its identity, names, metadata, sign-up device) and stamps erasedAt; code, source, statuses,
	 * Pipedrive ids and the referral links to other participants stay so counts stay right.
	 * Returns the erased participant, or null when there is no such participant.
	 */
	eraseParticipant(id: number, now: string): Promise<Participant | null>;
	/** Erased participants count in every figure; `topReferrers` is ordered by qualified, then referrals. */
	campaignStats(campaignId: number, topReferrers: number): Promise<CampaignStats>;
	/**
	 * The campaign's dashboard tallies (kept by triggers, see lib/dashboard/metrics.ts) of these
	 * metrics, summed per metric in each slice of each span: a span is buckets from <= b < to, cut
	 * into slices `width` buckets long (a bucket is a quarter hour, Unix seconds / 900). Rows carry
	 * the span's index and the slice's index in it. Cost follows the buckets read, not the campaign's size.
	 */
	dashboardSeries(campaignId: number, metrics: string[], spans: SeriesSpan[]): Promise<SeriesRow[]>;
	/** The first bucket the campaign has a tally in, or null. */
	dashboardFirstBucket(campaignId: number): Promise<number | null>;
	/** The same tallies summed per metric and currency (bucket 0), in the database. */
	dashboardTotals(campaignId: number, fromBucket: number | null, toBucket: number): Promise<TallyRow[]>;
	/**
	 * Brings the tallies up to date where a backend keeps them as appended deltas (PostgreSQL: no
	 * writer waits on a shared tally row); a no-op elsewhere. Reads are right either way; folding keeps them cheap.
	 */
	foldDashboardTallies(campaignId: number): Promise<void>;
	/** The campaign's best referrers by qualified, then referrals, then id; read from an index. */
	referrerBoard(campaignId: number, limit: number): Promise<BoardRow[]>;

	/**
	 * Records that the change identified by `key` (e.g. a Pipedrive event id) was applied. False when
	 * the key was recorded before: the change must not be applied again. Enforced by a unique key,
	 * so concurrent transactions with the same key apply it once.
	 */
	claimIdempotencyKey(key: string, participantId: number, now: string): Promise<boolean>;

	/**
	 * Takes the lease `key` for `holder` until `until` when no one holds it or its holder's lease ran
	 * out; false when another holder has it. Makes work outside the store (a send to Pipedrive)
	 * exclusive across executions and workers, and recoverable when a holder dies.
	 */
	acquireLease(key: string, holder: string, until: string, now: string): Promise<boolean>;
	/** Gives the lease up, if `holder` still holds it. */
	releaseLease(key: string, holder: string): Promise<void>;
	/** Removes up to `limit` leases whose key starts with `prefix` and that ran out by `now`; how many. */
	deleteExpiredLeases(prefix: string, now: string, limit: number): Promise<number>;

	/**
	 * Inserts rewards by identity (campaign, beneficiary, rule, ordinal). A reward whose identity
	 * exists is left alone, unless it was cancelled: then it is revived with the given row's
	 * content and status. Returns the inserted and revived rewards only.
	 */
	insertRewards(rows: RewardInsert[], now: string): Promise<Reward[]>;
	getReward(id: number): Promise<Reward | null>;
	/** The rewards with these identities that exist, whatever their status (any order). */
	findRewards(identities: RewardIdentity[]): Promise<Reward[]>;
	/**
	 * A beneficiary's rewards of one rule with an ordinal above `ordinal` that are not cancelled, in
	 * ordinal order. Served by the identity index: the cost follows the rows returned, not the
	 * beneficiary's history.
	 */
	liveRewardsAbove(campaignId: number, beneficiaryId: number, rule: Reward['rule'], ordinal: number): Promise<Reward[]>;
	/** Ascending id order, keyset paging. */
	listRewards(filter: RewardFilter, page: Page): Promise<Reward[]>;
	/**
	 * Writes the given fields only if the reward's status is one of `fromStatus` (an atomic
	 * transition); bumps updatedAt. Null when there is no such reward or its status did not match.
	 */
	updateReward(id: number, patch: RewardPatch, fromStatus: RewardStatus[], now: string): Promise<Reward | null>;
	/**
	 * Atomically moves up to `limit` claimable rewards to `issuing` with the lease, oldest first,
	 * and returns them: `due` ones, and `pending_hold` ones whose dueAt has passed. Concurrent
	 * claimers never get the same reward (PostgreSQL: FOR UPDATE SKIP LOCKED).
	 */
	claimRewards(request: ClaimRequest, now: string): Promise<Reward[]>;
	/** Moves `pending_hold` rewards whose dueAt has passed to `due`, returning them. */
	promoteHeldRewards(now: string): Promise<Reward[]>;
	/** Moves `issuing` rewards whose lease ran out back to `due`, returning them. */
	releaseExpiredClaims(now: string): Promise<Reward[]>;
	/** Adds codes to a campaign's coupon pool; codes already there are ignored. Returns how many were added. */
	addCoupons(campaignId: number, codes: string[], now: string): Promise<number>;
	/**
	 * Hands an unused coupon of the campaign to the reward (each coupon at most once, also under
	 * concurrency) and returns its code, or null when the pool is empty.
	 */
	takeCoupon(campaignId: number, rewardId: number, now: string): Promise<string | null>;
	couponPool(campaignId: number): Promise<{ total: number; available: number }>;

	/** A campaign's saved sync progress under `key` (e.g. a contact sync's cursor), or null. */
	getSyncState(campaignId: number, key: string): Promise<Record<string, unknown> | null>;
	/** Saves (replaces) a campaign's sync progress under `key`. */
	setSyncState(campaignId: number, key: string, state: Record<string, unknown>, now: string): Promise<void>;

	/** Of these idempotency keys, the ones recorded (any order). Read-only: lets a pass skip what it applied before. */
	findIdempotencyKeys(keys: string[]): Promise<string[]>;
	/** When the latest qualification change applied to the referral happened in Pipedrive; null if none was timed. */
	getReferralEventTime(participantId: number): Promise<string | null>;
	setReferralEventTime(participantId: number, occurredAt: string): Promise<void>;

	/** Writes a participant's Pipedrive send record (one per participant), replacing the one there. */
	savePipedriveSend(row: PipedriveSendRow, now: string): Promise<void>;
	/** When a queued send last failed (its record was last written), the latest of all; null when none is queued. */
	latestQueuedSendAt(): Promise<string | null>;
	/** Removes a participant's send record (erasure: a stored send may hold a title with their name). */
	deletePipedriveSend(participantId: number): Promise<void>;
	/** The send records of these participants that exist (any order). */
	getPipedriveSends(participantIds: number[]): Promise<PipedriveSend[]>;
	/**
	 * Atomically takes up to `limit` queued sends whose next attempt is due (oldest first) by moving
	 * their next attempt to `leaseUntil`, and returns them: concurrent sweeps never get the same one
	 * (PostgreSQL: FOR UPDATE SKIP LOCKED), and one that dies leaves them due again at `leaseUntil`.
	 */
	claimDueSends(now: string, leaseUntil: string, limit: number): Promise<PipedriveSend[]>;
	/** Sends in one state, ascending participant id, optionally of one campaign or these participants. */
	listPipedriveSends(filter: PipedriveSendFilter, limit: number): Promise<PipedriveSend[]>;

	/**
	 * Appends to the event log. Ids increase in commit order: a reader polling with `afterId`
	 * never skips an event committed later with a smaller id.
	 */
	appendEvents(events: EventInsert[], now: string): Promise<void>;
	listEvents(filter: EventFilter, limit: number, order: 'asc' | 'desc'): Promise<ReferralEvent[]>;

	/** Records why referrals were held for review (one row per referral). */
	insertReferralReviews(rows: ReviewInsert[], now: string): Promise<void>;
	/** The reviews of these referrals, by participant id (referrals never held are absent). */
	getReferralReviews(participantIds: number[]): Promise<Map<number, ReferralReview>>;
	/** Records the review's decision on a held referral. */
	decideReferralReview(participantId: number, decision: 'approved' | 'rejected', reason: string | null, now: string): Promise<void>;
}

export interface ReviewInsert {
	participantId: number;
	campaignId: number;
	reasons: FlagReason[];
}

export interface ReferralStore {
	readonly backend: StoreConfig['backend'];
	/**
	 * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws (the
	 * error is rethrown). Write transactions are serialised where they touch the same rows.
	 */
	transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;
	/** Runs `fn` for reads only; it must not write. */
	read<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;
	/**
	 * After an erasure: leaves no copy of erased data in the store's files where the backend can
	 * promise it. SQLite (secure_delete on) checkpoints and truncates its write-ahead log; PostgreSQL
	 * vacuums the participants table so the old row versions are gone from it (see the README for
	 * what PostgreSQL's own WAL and backups keep).
	 */
	scrub(): Promise<void>;
	close(): Promise<void>;
}
