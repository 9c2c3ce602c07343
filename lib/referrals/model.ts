// The domain model shared by the store, the program logic and the nodes (see shared/design.md).
// Timestamps are ISO-8601 strings in UTC (`Date#toISOString()`), identical on both store backends.

export const CAMPAIGN_STATUSES = ['active', 'paused', 'archived'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export const PARTICIPANT_SOURCES = ['direct', 'referred', 'synced', 'manual', 'api'] as const;
export type ParticipantSource = (typeof PARTICIPANT_SOURCES)[number];

/** `flagged`: held for review by a fraud rule (neither sent nor rewarded); `rejected`: refused after review. */
export const REFERRAL_STATUSES = ['none', 'flagged', 'pending', 'qualified', 'unqualified', 'rejected'] as const;
export type ReferralStatus = (typeof REFERRAL_STATUSES)[number];

export interface CodeSettings {
	/** Random characters after the prefix. */
	length: number;
	/** Upper-case prefix put before the random part, e.g. `ACME-`; empty for none. */
	prefix: string;
}

/** What a fraud rule does to a referral it matches: nothing, hold it for review, or refuse it. */
export const FRAUD_ACTIONS = ['allow', 'flag', 'block'] as const;
export type FraudAction = (typeof FRAUD_ACTIONS)[number];

export interface FraudSettings {
	/** Referred emails at these domains are refused (lower-case, without `@`). */
	blockedEmailDomains: string[];
	/** Referrals one referrer may register in any rolling 24 hours; 0 means no limit. */
	maxReferralsPerReferrerPerDay: number;
	/** Referrals one referrer may register in any rolling hour; 0 means no limit. */
	maxReferralsPerReferrerPerHour: number;
	/** What happens to a referral past either limit. */
	velocityAction: Exclude<FraudAction, 'allow'>;
	/** What happens to a referral from a disposable (throwaway) email domain. */
	disposableEmailAction: FraudAction;
	/** What happens to a referral signed up from the referrer's sign-up device (same IP and user agent). */
	sameDeviceAction: FraudAction;
}

/**
 * Settings stored before a rule existed read as that rule switched off (and limits blocking, as
 * they did then), so existing campaigns behave as before until someone edits them.
 */
export const LEGACY_FRAUD_DEFAULTS: Omit<FraudSettings, 'blockedEmailDomains' | 'maxReferralsPerReferrerPerDay'> = {
	maxReferralsPerReferrerPerHour: 0,
	velocityAction: 'block',
	disposableEmailAction: 'allow',
	sameDeviceAction: 'allow',
};

export function withFraudDefaults(stored: Partial<FraudSettings>): FraudSettings {
	return { blockedEmailDomains: [], maxReferralsPerReferrerPerDay: 0, ...LEGACY_FRAUD_DEFAULTS, ...stored };
}

/** Why a fraud rule held a referral for review. */
export const FLAG_REASONS = ['hourly_limit', 'daily_limit', 'disposable_email', 'same_device'] as const;
export type FlagReason = (typeof FLAG_REASONS)[number];

/** A referral held for review: why, and what the review decided. */
export interface ReferralReview {
	participantId: number;
	campaignId: number;
	reasons: FlagReason[];
	decision: 'approved' | 'rejected' | null;
	/** The reviewer's reason for a rejection. */
	decisionReason: string | null;
	decidedAt: string | null;
	flaggedAt: string;
}

export interface Campaign {
	id: number;
	slug: string;
	name: string;
	status: CampaignStatus;
	/** Absolute URL with a `{{code}}` placeholder. */
	linkTemplate: string;
	codeSettings: CodeSettings;
	fraudSettings: FraudSettings;
	rewardRules: RewardRules;
	createdAt: string;
	updatedAt: string;
}

export const REWARD_KINDS = ['amount', 'coupon', 'custom'] as const;
export type RewardKind = (typeof REWARD_KINDS)[number];

/** What one reward is: an amount, a coupon from the campaign's pool, or free JSON for later nodes. */
export interface RewardSpec {
	kind: RewardKind;
	amount?: number;
	currency?: string;
	payload?: Record<string, unknown>;
}

/** A campaign's reward rules; an empty rule set gives no rewards. */
export interface RewardRules {
	/** A reward for the referrer every `every` qualified referrals (1: each one). */
	perReferral: { every: number; reward: RewardSpec } | null;
	/** A reward each time the referrer's qualified referrals reach a threshold. */
	milestones: Array<{ at: number; reward: RewardSpec }>;
	/** A percentage of the referred person's sale value, optionally capped. */
	commission: { percent: number; cap: number | null; currency: string } | null;
	/** Rewards one referrer can earn at most (cancelled ones do not count); null: no limit. */
	maxPerReferrer: number | null;
	/** Double-sided: a reward for the referred person, on registration or on qualification. */
	referred: { on: 'registration' | 'qualification'; reward: RewardSpec } | null;
	/** Days a reward waits before it becomes due (refund window). */
	holdDays: number;
	/** Rewards wait as pending_approval until someone approves them. */
	approval: boolean;
}

export const REWARD_RULE_NAMES = ['per_referral', 'milestone', 'commission', 'referred'] as const;
export type RewardRuleName = (typeof REWARD_RULE_NAMES)[number];

export const REWARD_STATUSES = [
	'pending_approval',
	'pending_hold',
	'due',
	'issuing',
	'issued',
	'failed',
	'cancelled',
] as const;
export type RewardStatus = (typeof REWARD_STATUSES)[number];

export interface Reward {
	id: number;
	campaignId: number;
	beneficiaryId: number;
	beneficiaryRole: 'referrer' | 'referred';
	/** With `ordinal`, the reward's identity: (campaign, beneficiary, rule, ordinal) is unique. */
	rule: RewardRuleName;
	/** per_referral: the Nth reward; milestone: the threshold; commission / referred: the referral's id. */
	ordinal: number;
	/** The referral that earned it (for per-referral and milestone rewards, the one that crossed the count). */
	referralId: number | null;
	kind: RewardKind;
	amount: number | null;
	currency: string | null;
	couponCode: string | null;
	payload: Record<string, unknown>;
	status: RewardStatus;
	/** When a held reward becomes due. */
	dueAt: string;
	/** While issuing: until when the claim holds; after it, the claim may be released. */
	leaseUntil: string | null;
	/** Issue attempts that failed. */
	attempts: number;
	externalRef: string | null;
	failureReason: string | null;
	issuedAt: string | null;
	createdAt: string;
	updatedAt: string;
}

export interface Participant {
	id: number;
	campaignId: number;
	/** Normalised (trimmed, lower-case); null once the participant is erased. */
	email: string | null;
	firstName: string | null;
	lastName: string | null;
	source: ParticipantSource;
	/** Unique across the whole store. */
	code: string;
	link: string;
	/** The referrer's participant id, or null for people who were not referred. */
	referredBy: number | null;
	referralStatus: ReferralStatus;
	qualifiedAt: string | null;
	saleValue: number | null;
	saleCurrency: string | null;
	pipedrivePersonId: number | null;
	pipedriveLeadId: string | null;
	pipedriveDealId: number | null;
	metadata: Record<string, unknown>;
	createdAt: string;
	updatedAt: string;
	erasedAt: string | null;
}

export const EVENT_TYPES = [
	'participant.enrolled',
	'participant.erased',
	'referral.registered',
	'referral.flagged',
	'referral.approved',
	'referral.rejected',
	'referral.qualified',
	'referral.unqualified',
	'reward.due',
	'reward.issued',
	'reward.failed',
	'reward.cancelled',
	'reward.reversal_needed',
	'pipedrive.send_failed',
	'pipedrive.webhook_restored',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * An entry of the append-only event log. Payloads carry ids, codes and amounts, never personal
 * data, so erasing a participant never has to rewrite the log.
 */
export interface ReferralEvent {
	id: number;
	type: EventType;
	campaignId: number;
	participantId: number | null;
	referrerId: number | null;
	payload: Record<string, unknown>;
	createdAt: string;
}

export interface TopReferrer {
	participantId: number;
	email: string | null;
	firstName: string | null;
	lastName: string | null;
	code: string;
	referrals: number;
	qualified: number;
}

export interface CampaignStats {
	campaignId: number;
	participants: number;
	participantsBySource: Record<ParticipantSource, number>;
	referrals: { total: number; pending: number; qualified: number; unqualified: number };
	/** Qualified referrals / all referrals, 0 when there are none. */
	conversionRate: number;
	topReferrers: TopReferrer[];
}
