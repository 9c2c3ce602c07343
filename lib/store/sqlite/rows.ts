// What rows look like on the SQLite side: row → model mappers, column lists, and the whitelists
// of patchable columns that are the only names a patch puts into SQL text.

import type { StatementSync } from 'node:sqlite';

import { withFraudDefaults, type Campaign, type CampaignStatus, type Participant, type ReferralEvent, type Reward } from '../../referrals/model';
import type { CampaignPatch, ParticipantPatch, RewardPatch } from '../types';

/** The transaction's statement cache (refuses once the transaction has ended). */
export type Prepare = (sql: string) => StatementSync;

type Row = Record<string, unknown>;

/** Returns `now` as `Date#toISOString()` text, so stored timestamps compare as strings. */
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
		codeSettings: JSON.parse(r.code_settings as string),
		fraudSettings: withFraudDefaults(JSON.parse(r.fraud_settings as string)),
		rewardRules: JSON.parse(r.reward_rules as string),
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
		metadata: JSON.parse(r.metadata as string),
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
		payload: JSON.parse(r.payload as string),
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
		payload: JSON.parse(r.payload as string),
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

export const PARTICIPANT_COLUMNS =
	'id, campaign_id, email, first_name, last_name, source, code, link, referred_by, referral_status, ' +
	'qualified_at, sale_value, sale_currency, pipedrive_person_id, pipedrive_lead_id, pipedrive_deal_id, ' +
	'metadata, created_at, updated_at, erased_at';

export const REWARD_COLUMNS =
	'id, campaign_id, beneficiary_id, beneficiary_role, rule, ordinal, referral_id, kind, amount, currency, ' +
	'coupon_code, payload, status, due_at, lease_until, attempts, external_ref, failure_reason, issued_at, ' +
	'created_at, updated_at';

/** How a patched value is bound: as is, as JSON text, or as a normalised ISO timestamp. */
type PatchKind = 'value' | 'json' | 'time';

/** Patchable campaign fields: [property, column, kind]; the only names that reach SQL text. */
export const CAMPAIGN_PATCH_COLUMNS: ReadonlyArray<readonly [keyof CampaignPatch, string, PatchKind]> = [
	['name', 'name', 'value'],
	['status', 'status', 'value'],
	['linkTemplate', 'link_template', 'value'],
	['codeSettings', 'code_settings', 'json'],
	['fraudSettings', 'fraud_settings', 'json'],
	['rewardRules', 'reward_rules', 'json'],
];

/** Patchable reward fields: [property, column, kind]. */
export const REWARD_PATCH_COLUMNS: ReadonlyArray<readonly [keyof RewardPatch, string, PatchKind]> = [
	['status', 'status', 'value'],
	['leaseUntil', 'lease_until', 'time'],
	['attempts', 'attempts', 'value'],
	['externalRef', 'external_ref', 'value'],
	['failureReason', 'failure_reason', 'value'],
	['couponCode', 'coupon_code', 'value'],
	['issuedAt', 'issued_at', 'time'],
	['dueAt', 'due_at', 'time'],
];

/** Patchable participant fields: [property, column, kind]. */
export const PARTICIPANT_PATCH_COLUMNS: ReadonlyArray<readonly [keyof ParticipantPatch, string, PatchKind]> = [
	['firstName', 'first_name', 'value'],
	['lastName', 'last_name', 'value'],
	['link', 'link', 'value'],
	['metadata', 'metadata', 'json'],
	['referralStatus', 'referral_status', 'value'],
	['qualifiedAt', 'qualified_at', 'time'],
	['saleValue', 'sale_value', 'value'],
	['saleCurrency', 'sale_currency', 'value'],
	['pipedrivePersonId', 'pipedrive_person_id', 'value'],
	['pipedriveLeadId', 'pipedrive_lead_id', 'value'],
	['pipedriveDealId', 'pipedrive_deal_id', 'value'],
];

/**
 * `column = ?` for each field the patch sets, binding its value into `params`; the whitelist's
 * column names are the only names that reach SQL text.
 */
export function assignments<K extends string>(
	columns: ReadonlyArray<readonly [K, string, PatchKind]>,
	patch: Partial<Record<K, unknown>>,
	params: Array<string | number | null>,
): string[] {
	const sets: string[] = [];
	for (const [key, column, kind] of columns) {
		const value = patch[key];
		if (value === undefined) continue;
		sets.push(`${column} = ?`);
		params.push(patchValue(kind, value));
	}
	return sets;
}

function patchValue(kind: PatchKind, value: unknown): string | number | null {
	if (value === null) return null; // a NOT NULL column (metadata, settings) refuses it
	if (kind === 'json') return JSON.stringify(value);
	if (kind === 'time') return toIso(value as string);
	return value as string | number;
}
