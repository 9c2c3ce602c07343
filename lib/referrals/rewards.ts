import { createHash } from 'node:crypto';

import { describeType } from './email';
import { invalidInput } from './errors';
import { REWARD_KINDS, type Participant, type Reward, type RewardRules, type RewardSpec, type RewardStatus } from './model';
import type { RewardInsert } from '../store/types';

export const EMPTY_REWARD_RULES: RewardRules = {
	perReferral: null,
	milestones: [],
	commission: null,
	maxPerReferrer: null,
	referred: null,
	holdDays: 0,
	approval: false,
};

const DAY_MS = 24 * 60 * 60 * 1000;
const CURRENCY = /^[A-Z]{3}$/;

/** Reward rules given as JSON text or an object; every mistake names the rule and the field. */
export function parseRewardRules(input: unknown): RewardRules {
	if (input === undefined || input === null || input === '') return EMPTY_REWARD_RULES;
	let raw = input;
	if (typeof input === 'string') {
		try {
			raw = JSON.parse(input);
		} catch {
			throw invalidInput('rewardRules', 'The reward rules are not valid JSON');
		}
	}
	if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
		throw invalidInput('rewardRules', `The reward rules must be a JSON object, not ${describeType(raw)}`);
	}
	const rules = raw as Record<string, unknown>;
	const known = new Set(Object.keys(EMPTY_REWARD_RULES));
	const unknown = Object.keys(rules).filter((key) => !known.has(key));
	if (unknown.length > 0) {
		throw invalidInput('rewardRules', `Unknown reward rule "${unknown[0]}"; the rules are ${[...known].join(', ')}`);
	}
	const perReferral = optionalObject(rules.perReferral, 'perReferral');
	const commission = optionalObject(rules.commission, 'commission');
	const referred = optionalObject(rules.referred, 'referred');
	const milestones = rules.milestones ?? [];
	if (!Array.isArray(milestones)) throw invalidInput('rewardRules.milestones', 'The milestones must be a list');
	const parsed: RewardRules = {
		perReferral: perReferral && {
			every: wholeNumber(perReferral.every ?? 1, 'perReferral.every', 1),
			reward: parseSpec(perReferral.reward, 'perReferral.reward'),
		},
		milestones: milestones
			.map((milestone, index) => {
				const entry = optionalObject(milestone, `milestones[${index}]`);
				if (!entry) throw invalidInput(`rewardRules.milestones[${index}]`, 'A milestone must be an object');
				return {
					at: wholeNumber(entry.at, `milestones[${index}].at`, 1),
					reward: parseSpec(entry.reward, `milestones[${index}].reward`),
				};
			})
			.sort((a, b) => a.at - b.at),
		commission: commission && {
			percent: amount(commission.percent, 'commission.percent', 100),
			cap: commission.cap === undefined || commission.cap === null ? null : amount(commission.cap, 'commission.cap'),
			currency: currency(commission.currency, 'commission.currency'),
		},
		maxPerReferrer:
			rules.maxPerReferrer === undefined || rules.maxPerReferrer === null
				? null
				: wholeNumber(rules.maxPerReferrer, 'maxPerReferrer', 1),
		referred: referred && {
			on: referred.on === 'registration' || referred.on === 'qualification'
				? referred.on
				: fail('referred.on', 'The referred person’s reward comes "on": "registration" or "qualification"'),
			reward: parseSpec(referred.reward, 'referred.reward'),
		},
		holdDays: wholeNumber(rules.holdDays ?? 0, 'holdDays', 0),
		approval: rules.approval === undefined ? false : bool(rules.approval, 'approval'),
	};
	const thresholds = parsed.milestones.map((m) => m.at);
	if (new Set(thresholds).size !== thresholds.length) {
		throw invalidInput('rewardRules.milestones', 'Two milestones have the same threshold');
	}
	return parsed;
}

/** The referrer's qualified referrals in the order they qualified, for the rewards they imply. */
export interface QualifiedReferral {
	id: number;
	qualifiedAt: string | null;
	saleValue: number | null;
	saleCurrency: string | null;
}

/**
 * Every reward the current state implies for one referrer and their qualified referrals, by
 * identity. Inserting them is idempotent (existing identities are skipped), so the same function
 * serves a new qualification and a back-fill after a rule change.
 */
export function impliedRewards(
	rules: RewardRules,
	campaignId: number,
	referrerId: number,
	qualified: QualifiedReferral[],
	now: string,
): RewardInsert[] {
	const ordered = [...qualified].sort(
		(a, b) => (a.qualifiedAt ?? '').localeCompare(b.qualifiedAt ?? '') || a.id - b.id,
	);
	const timing = initialTiming(rules, now);
	const forReferrer = (rule: RewardInsert['rule'], ordinal: number, referralId: number, spec: RewardSpec) =>
		reward(campaignId, referrerId, 'referrer', rule, ordinal, referralId, spec, timing);
	const out: RewardInsert[] = [];
	if (rules.perReferral) {
		const { every } = rules.perReferral;
		for (let n = 1; n * every <= ordered.length; n++) {
			out.push(forReferrer('per_referral', n, ordered[n * every - 1].id, rules.perReferral.reward));
		}
	}
	for (const milestone of rules.milestones) {
		if (milestone.at <= ordered.length) {
			out.push(forReferrer('milestone', milestone.at, ordered[milestone.at - 1].id, milestone.reward));
		}
	}
	for (const referral of ordered) out.push(...commissionOf(rules, campaignId, referrerId, referral, timing));
	for (const referral of ordered) out.push(...referredRewardOf(rules, campaignId, referral, timing));
	return out;
}

/**
 * What one more qualified referral adds to `impliedRewards`, in the same order: the count-based
 * rewards the referrer's new count (`count`, this referral included) reaches, then the referral's
 * commission and the referred person's reward. The qualification's cost does not depend on how many
 * referrals qualified before.
 */
export function rewardsAddedBy(
	rules: RewardRules,
	campaignId: number,
	referrerId: number,
	count: number,
	referral: QualifiedReferral,
	now: string,
): RewardInsert[] {
	const timing = initialTiming(rules, now);
	const out: RewardInsert[] = [];
	if (rules.perReferral && count % rules.perReferral.every === 0) {
		const ordinal = count / rules.perReferral.every;
		out.push(reward(campaignId, referrerId, 'referrer', 'per_referral', ordinal, referral.id, rules.perReferral.reward, timing));
	}
	const milestone = rules.milestones.find((m) => m.at === count);
	if (milestone) out.push(reward(campaignId, referrerId, 'referrer', 'milestone', count, referral.id, milestone.reward, timing));
	return [...out, ...commissionOf(rules, campaignId, referrerId, referral, timing), ...referredRewardOf(rules, campaignId, referral, timing)];
}

/**
 * A fingerprint of the rules (canonical JSON, so key order does not matter): rewards settled
 * under one fingerprint must be recomputed in full under another.
 */
export function rulesFingerprint(rules: RewardRules): string {
	return createHash('sha256').update(canonicalJson(rules)).digest('hex').slice(0, 32);
}

function canonicalJson(value: unknown): string {
	if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
	if (value !== null && typeof value === 'object') {
		const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
		return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(',')}}`;
	}
	return JSON.stringify(value) ?? 'null';
}

/** The referrer's commission on one qualified referral's sale, when the rules give one. */
function commissionOf(
	rules: RewardRules,
	campaignId: number,
	referrerId: number,
	referral: QualifiedReferral,
	timing: { status: RewardStatus; dueAt: string },
): RewardInsert[] {
	if (!rules.commission || referral.saleValue === null || referral.saleValue <= 0) return [];
	const { percent, cap, currency: commissionCurrency } = rules.commission;
	const raw = Math.round(referral.saleValue * percent) / 100;
	const amount = cap === null ? raw : Math.min(raw, cap);
	const spec: RewardSpec = { kind: 'amount', amount, currency: referral.saleCurrency ?? commissionCurrency };
	return [reward(campaignId, referrerId, 'referrer', 'commission', referral.id, referral.id, spec, timing)];
}

/** The referred person's own reward for qualifying, when the rules give one on qualification. */
function referredRewardOf(
	rules: RewardRules,
	campaignId: number,
	referral: QualifiedReferral,
	timing: { status: RewardStatus; dueAt: string },
): RewardInsert[] {
	if (rules.referred?.on !== 'qualification') return [];
	return [reward(campaignId, referral.id, 'referred', 'referred', referral.id, referral.id, rules.referred.reward, timing)];
}

/** The referred person's reward on registration, when the campaign gives one. */
export function registrationReward(rules: RewardRules, campaignId: number, referral: Participant, now: string): RewardInsert | null {
	if (rules.referred?.on !== 'registration') return null;
	return reward(campaignId, referral.id, 'referred', 'referred', referral.id, referral.id, rules.referred.reward, initialTiming(rules, now));
}

/** Where a new reward starts: waiting for approval, held until the hold ends, or due now. */
export function initialTiming(rules: RewardRules, now: string): { status: RewardStatus; dueAt: string } {
	const dueAt = new Date(Date.parse(now) + rules.holdDays * DAY_MS).toISOString();
	if (rules.approval) return { status: 'pending_approval', dueAt };
	return { status: rules.holdDays > 0 ? 'pending_hold' : 'due', dueAt };
}

/** The same identity as a stored reward. */
export function identityOf(reward: Pick<Reward, 'beneficiaryId' | 'rule' | 'ordinal'>): string {
	return `${reward.beneficiaryId}:${reward.rule}:${reward.ordinal}`;
}

function reward(
	campaignId: number,
	beneficiaryId: number,
	beneficiaryRole: 'referrer' | 'referred',
	rule: RewardInsert['rule'],
	ordinal: number,
	referralId: number,
	spec: RewardSpec,
	timing: { status: RewardStatus; dueAt: string },
): RewardInsert {
	return {
		campaignId,
		beneficiaryId,
		beneficiaryRole,
		rule,
		ordinal,
		referralId,
		kind: spec.kind,
		amount: spec.kind === 'amount' ? (spec.amount ?? null) : null,
		currency: spec.kind === 'amount' ? (spec.currency ?? null) : null,
		payload: spec.payload ?? {},
		...timing,
	};
}

function parseSpec(value: unknown, field: string): RewardSpec {
	const spec = optionalObject(value, field);
	if (!spec) throw invalidInput(`rewardRules.${field}`, `The reward of ${field.split('.')[0]} is missing`);
	if (!(REWARD_KINDS as readonly unknown[]).includes(spec.kind)) {
		throw invalidInput(`rewardRules.${field}.kind`, `A reward's kind is ${REWARD_KINDS.join(', ')}`);
	}
	if (spec.kind === 'amount') {
		return { kind: 'amount', amount: amount(spec.amount, `${field}.amount`), currency: currency(spec.currency, `${field}.currency`) };
	}
	if (spec.kind === 'custom') {
		const payload = optionalObject(spec.payload, `${field}.payload`) ?? {};
		return { kind: 'custom', payload };
	}
	return { kind: 'coupon' };
}

function optionalObject(value: unknown, field: string): Record<string, unknown> | null {
	if (value === undefined || value === null) return null;
	if (typeof value !== 'object' || Array.isArray(value)) {
		throw invalidInput(`rewardRules.${field}`, `${field} must be an object, not ${describeType(value)}`);
	}
	return value as Record<string, unknown>;
}

function wholeNumber(value: unknown, field: string, min: number): number {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 1_000_000) {
		throw invalidInput(`rewardRules.${field}`, `${field} must be a whole number from ${min} up`);
	}
	return value;
}

function amount(value: unknown, field: string, max = 1e12): number {
	if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
		throw invalidInput(`rewardRules.${field}`, `${field} must be a positive number${max < 1e12 ? ` up to ${max}` : ''}`);
	}
	return value;
}

function currency(value: unknown, field: string): string {
	const code = typeof value === 'string' ? value.trim().toUpperCase() : '';
	if (!CURRENCY.test(code)) throw invalidInput(`rewardRules.${field}`, `${field} must be a three-letter currency code such as EUR`);
	return code;
}

function bool(value: unknown, field: string): boolean {
	if (typeof value !== 'boolean') throw invalidInput(`rewardRules.${field}`, `${field} must be true or false`);
	return value;
}

function fail(field: string, message: string): never {
	throw invalidInput(`rewardRules.${field}`, message);
}
