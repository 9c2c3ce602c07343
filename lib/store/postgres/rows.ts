// What rows look like on the PostgreSQL side: row → model mappers, column lists, and the whitelists
// of patchable columns that are the only names a patch puts into SQL text.

import { withFraudDefaults, type Campaign, type CampaignStatus, type Participant, type ReferralEvent, type Reward } from '../../referrals/model';
import type { CampaignPatch, ParticipantPatch, RewardPatch } from '../types';

export type Row = Record<string, unknown>;
export type Param = string | number | null | string[] | number[] | Array<string | null> | Array<number | null>;

/** The transaction's query function (refuses once the transaction has ended). */
export type Query = (sql: string, params: Param[]) => Promise<Row[]>;

export function toIso(value: string): string {
	const date = new Date(value);
	if (Number.isNaN(date.getTime())) throw new TypeError(`not a valid timestamp: ${String(value)}`);
	return date.toISOString();
}

export function toLimit(limit: number): number {
	if (typeof limit !== 'number' || Number.isNaN(limit)) throw new TypeError('limit must be a number');
	return Math.max(0, Math.floor(Math.min(limit, Number.MAX_SAFE_INTEGER)));
}

export function rowToCampaign(r: Row): Campaign {
	return {
		id: r.id as number,
		slug: r.slug as string,
		name: r.name as string,
		status: r.status as CampaignStatus,
		linkTemplate: r.link_template as string,
		codeSettings: r.code_settings as Campaign['codeSettings'],
		fraudSettings: withFraudDefaults(r.fraud_settings as Campaign['fraudSettings']),
		rewardRules: r.reward_rules as Campaign['rewardRules'],
		createdAt: r.created_at as string,
		updatedAt: r.updated_at as string,
	};
}

export function rowToParticipant(r: Row): Participant {
	return {
		id: r.id as number,
		campaignId: r.campaign_id as number,
		email: r.email as string | null,
		firstName: r.first_name as string | null,
		lastName: r.last_name as string | null,
		source: r.source as Participant['source'],
		code: r.code as string,
		link: r.link as string,
		referredBy: r.referred_by as number | null,
		referralStatus: r.referral_status as Participant['referralStatus'],
		qualifiedAt: r.qualified_at as string | null,
		saleValue: r.sale_value as number | null,
		saleCurrency: r.sale_currency as string | null,
		pipedrivePersonId: r.pipedrive_person_id as number | null,
		pipedriveLeadId: r.pipedrive_lead_id as string | null,
		pipedriveDealId: r.pipedrive_deal_id as number | null,
		metadata: r.metadata as Record<string, unknown>,
		createdAt: r.created_at as string,
		updatedAt: r.updated_at as string,
		erasedAt: r.erased_at as string | null,
	};
}

export function rowToEvent(r: Row): ReferralEvent {
	return {
		id: r.id as number,
		type: r.type as ReferralEvent['type'],
		campaignId: r.campaign_id as number,
		participantId: r.participant_id as number | null,
		referrerId: r.referrer_id as number | null,
		payload: r.payload as Record<string, unknown>,
		createdAt: r.created_at as string,
	};
}

export function rowToReward(r: Row): Reward {
	return {
		id: r.id as number,
		campaignId: r.campaign_id as number,
		beneficiaryId: r.beneficiary_id as number,
		beneficiaryRole: r.beneficiary_role as Reward['beneficiaryRole'],
		rule: r.rule as Reward['rule'],
		ordinal: r.ordinal as number,
		referralId: r.referral_id as number | null,
		kind: r.kind as Reward['kind'],
		amount: r.amount as number | null,
		currency: r.currency as string | null,
		couponCode: r.coupon_code as string | null,
		payload: r.payload as Record<string, unknown>,
		status: r.status as Reward['status'],
		dueAt: r.due_at as string,
		leaseUntil: r.lease_until as string | null,
		attempts: r.attempts as number,
		externalRef: r.external_ref as string | null,
		failureReason: r.failure_reason as string | null,
		issuedAt: r.issued_at as string | null,
		createdAt: r.created_at as string,
		updatedAt: r.updated_at as string,
	};
}

export const CAMPAIGN_COLUMNS =
	'id, slug, name, status, link_template, code_settings, fraud_settings, reward_rules, created_at, updated_at';

export const REWARD_COLUMNS =
	'id, campaign_id, beneficiary_id, beneficiary_role, rule, ordinal, referral_id, kind, amount, currency, ' +
	'coupon_code, payload, status, due_at, lease_until, attempts, external_ref, failure_reason, issued_at, ' +
	'created_at, updated_at';

export const PARTICIPANT_COLUMNS =
	'id, campaign_id, email, first_name, last_name, source, code, link, referred_by, referral_status, ' +
	'qualified_at, sale_value, sale_currency, pipedrive_person_id, pipedrive_lead_id, pipedrive_deal_id, ' +
	'metadata, created_at, updated_at, erased_at';

export const EVENT_COLUMNS = 'id, type, campaign_id, participant_id, referrer_id, payload, created_at';

/**
 * `column = $n` for each field the patch sets, binding its value into `params`; the whitelist's
 * column names are the only names that reach SQL text.
 */
export function assignments<K extends string>(
	columns: ReadonlyArray<readonly [K, string, string]>,
	patch: Partial<Record<K, unknown>>,
	params: Param[],
): string[] {
	const sets: string[] = [];
	for (const [key, column, cast] of columns) {
		const value = patch[key];
		if (value === undefined) continue;
		params.push(patchValue(cast, value));
		sets.push(`${column} = $${params.length}${cast}`);
	}
	return sets;
}

/** Binds a patched value: JSON columns as JSON text, timestamps normalised like `now`. */
function patchValue(cast: string, value: unknown): Param {
	if (value === null) return null; // a NOT NULL column (metadata, settings) refuses it
	if (cast === '::jsonb') return JSON.stringify(value);
	if (cast === '::timestamptz') return toIso(value as string);
	return value as string | number;
}

/** Patchable campaign fields: [property, column, cast]; the only names that reach SQL text. */
export const CAMPAIGN_PATCH_COLUMNS: ReadonlyArray<readonly [keyof CampaignPatch, string, string]> = [
	['name', 'name', ''],
	['status', 'status', ''],
	['linkTemplate', 'link_template', ''],
	['codeSettings', 'code_settings', '::jsonb'],
	['fraudSettings', 'fraud_settings', '::jsonb'],
	['rewardRules', 'reward_rules', '::jsonb'],
];

/** Patchable reward fields: [property, column, cast]. */
export const REWARD_PATCH_COLUMNS: ReadonlyArray<readonly [keyof RewardPatch, string, string]> = [
	['status', 'status', ''],
	['leaseUntil', 'lease_until', '::timestamptz'],
	['attempts', 'attempts', '::integer'],
	['externalRef', 'external_ref', ''],
	['failureReason', 'failure_reason', ''],
	['couponCode', 'coupon_code', ''],
	['issuedAt', 'issued_at', '::timestamptz'],
	['dueAt', 'due_at', '::timestamptz'],
];

/** Patchable participant fields: [property, column, cast]. */
export const PARTICIPANT_PATCH_COLUMNS: ReadonlyArray<readonly [keyof ParticipantPatch, string, string]> = [
	['firstName', 'first_name', ''],
	['lastName', 'last_name', ''],
	['link', 'link', ''],
	['metadata', 'metadata', '::jsonb'],
	['referralStatus', 'referral_status', ''],
	['qualifiedAt', 'qualified_at', '::timestamptz'],
	['saleValue', 'sale_value', '::numeric'],
	['saleCurrency', 'sale_currency', ''],
	['pipedrivePersonId', 'pipedrive_person_id', '::bigint'],
	['pipedriveLeadId', 'pipedrive_lead_id', ''],
	['pipedriveDealId', 'pipedrive_deal_id', '::bigint'],
];

