// Reward rules as the Referral Campaign node's form fields show them (version 2), and back.
// The form is plain data in the shape n8n hands over the node's parameters; nothing here knows
// n8n. Every mistake names the field as the editor labels it ("Milestones → Reward Amount"), so
// the labels live here and the node's descriptions use them too.

import { invalidInput } from './errors';
import type { RewardRules, RewardSpec } from './model';
import { parseRewardRules } from './rewards';

export const RULE_LABELS = {
	rewardWho: 'Who Gets Rewarded',
	referrerEarns: 'Referrer Earns',
	every: 'Qualified Referrals per Reward',
	referrerRewardType: 'Referrer Reward',
	referrerAmount: 'Referrer Reward Amount',
	referrerCurrency: 'Referrer Reward Currency',
	referrerPayload: 'Referrer Reward Payload',
	milestones: 'Milestones',
	at: 'At Qualified Referrals',
	rewardType: 'Reward Type',
	amount: 'Reward Amount',
	currency: 'Currency',
	payload: 'Custom Payload',
	commissionPercent: 'Commission (% of Sale Value)',
	commissionCap: 'Commission Cap per Sale',
	commissionCurrency: 'Commission Currency',
	friendRewardOn: 'Friend Rewarded',
	friendRewardType: 'Friend’s Reward',
	friendAmount: 'Friend’s Reward Amount',
	friendCurrency: 'Friend’s Reward Currency',
	friendPayload: 'Friend’s Reward Payload',
	maxRewardsPerReferrer: 'Max Rewards per Referrer',
	holdDays: 'Hold Days',
	requireApproval: 'Require Approval',
} as const;

export type RewardWho = 'referrer' | 'referred' | 'both' | 'nobody';
export type ReferrerRule = 'perReferral' | 'milestones' | 'commission';
type Kind = RewardSpec['kind'];

export interface MilestoneFields {
	at?: number;
	rewardType?: Kind;
	amount?: number;
	currency?: string;
	/** JSON text (as the editor's JSON field gives it) or an object. */
	payload?: unknown;
}

/**
 * The node's reward-rule parameters in "Using Fields" mode. Single settings are top-level fields
 * (n8n cannot prefill a single-value fixedCollection); milestones are a fixedCollection list.
 */
export interface RuleForm {
	rewardWho?: RewardWho;
	referrerEarns?: ReferrerRule[];
	every?: number;
	referrerRewardType?: Kind;
	referrerAmount?: number;
	referrerCurrency?: string;
	referrerPayload?: unknown;
	milestones?: { milestone?: MilestoneFields[] };
	commissionPercent?: number;
	commissionCap?: number;
	commissionCurrency?: string;
	friendRewardOn?: 'registration' | 'qualification';
	friendRewardType?: Kind;
	friendAmount?: number;
	friendCurrency?: string;
	friendPayload?: unknown;
	maxRewardsPerReferrer?: number;
	holdDays?: number;
	requireApproval?: boolean;
}

const MAX_WHOLE = 1_000_000;
const label = (...parts: string[]) => parts.join(' → ');

function fail(field: string, message: string): never {
	throw invalidInput(field, message);
}

function wholeNumber(value: unknown, field: string, min: number, where = ''): number {
	if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_WHOLE) {
		fail(field, `${field} must be a whole number from ${min} up${where}`);
	}
	return value;
}

function positive(value: unknown, field: string, where = '', max = Infinity): number {
	if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > max) {
		fail(field, `${field} must be a number above 0${max < Infinity ? ` and at most ${max}` : ''}${where}`);
	}
	return value;
}

function currencyCode(value: unknown, field: string, where = ''): string {
	const code = typeof value === 'string' ? value.trim().toUpperCase() : '';
	if (!/^[A-Z]{3}$/.test(code)) fail(field, `${field} must be a three-letter currency code such as EUR${where}`);
	return code;
}

function payloadObject(value: unknown, field: string, where = ''): Record<string, unknown> {
	let raw = value;
	if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) return {};
	if (typeof raw === 'string') {
		try {
			raw = JSON.parse(raw);
		} catch {
			fail(field, `${field} is not valid JSON${where}`);
		}
	}
	if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(field, `${field} must be a JSON object${where}`);
	return raw as Record<string, unknown>;
}

interface RewardLabels {
	type: string;
	amount: string;
	currency: string;
	payload: string;
}

const MILESTONE_LABELS: RewardLabels = {
	type: label(RULE_LABELS.milestones, RULE_LABELS.rewardType),
	amount: label(RULE_LABELS.milestones, RULE_LABELS.amount),
	currency: label(RULE_LABELS.milestones, RULE_LABELS.currency),
	payload: label(RULE_LABELS.milestones, RULE_LABELS.payload),
};
const REFERRER_LABELS: RewardLabels = {
	type: RULE_LABELS.referrerRewardType,
	amount: RULE_LABELS.referrerAmount,
	currency: RULE_LABELS.referrerCurrency,
	payload: RULE_LABELS.referrerPayload,
};
const FRIEND_LABELS: RewardLabels = {
	type: RULE_LABELS.friendRewardType,
	amount: RULE_LABELS.friendAmount,
	currency: RULE_LABELS.friendCurrency,
	payload: RULE_LABELS.friendPayload,
};

function rewardOf(kind: Kind | undefined, amount: unknown, currency: unknown, payload: unknown, labels: RewardLabels, where = ''): RewardSpec {
	const type = kind ?? 'amount';
	if (type === 'amount') {
		return { kind: type, amount: positive(amount, labels.amount, where), currency: currencyCode(currency, labels.currency, where) };
	}
	if (type === 'coupon') return { kind: type };
	if (type === 'custom') return { kind: type, payload: payloadObject(payload, labels.payload, where) };
	return fail(labels.type, `${labels.type} must be an amount, a coupon or custom${where}`);
}

/** The reward rules the form describes; the result is what `parseRewardRules` gives for the same rules as JSON. */
export function rulesFromForm(form: RuleForm): RewardRules {
	const who = form.rewardWho ?? 'referrer';
	if (!['referrer', 'referred', 'both', 'nobody'].includes(who)) {
		fail(RULE_LABELS.rewardWho, `${RULE_LABELS.rewardWho} must be the referrer, the referred friend, both or nobody`);
	}
	const rules: Record<string, unknown> = {};
	if (who === 'referrer' || who === 'both') {
		const earns = form.referrerEarns ?? ['perReferral'];
		if (earns.length === 0) fail(RULE_LABELS.referrerEarns, `${RULE_LABELS.referrerEarns}: pick at least one way the referrer earns a reward`);
		if (earns.includes('perReferral')) {
			rules.perReferral = {
				every: wholeNumber(form.every ?? 1, RULE_LABELS.every, 1),
				reward: rewardOf(form.referrerRewardType, form.referrerAmount, form.referrerCurrency, form.referrerPayload, REFERRER_LABELS),
			};
		}
		if (earns.includes('milestones')) {
			const list = form.milestones?.milestone ?? [];
			if (list.length === 0) fail(RULE_LABELS.milestones, `${RULE_LABELS.milestones}: add at least one milestone`);
			const seen = new Set<number>();
			const atLabel = label(RULE_LABELS.milestones, RULE_LABELS.at);
			rules.milestones = list.map((m, index) => {
				const where = ` (milestone ${index + 1})`;
				const at = wholeNumber(m.at, atLabel, 1, where);
				if (seen.has(at)) fail(atLabel, `${atLabel}: two milestones are at ${at} qualified referrals`);
				seen.add(at);
				return { at, reward: rewardOf(m.rewardType, m.amount, m.currency, m.payload, MILESTONE_LABELS, where) };
			});
		}
		if (earns.includes('commission')) {
			const cap = form.commissionCap ?? 0;
			if (typeof cap !== 'number' || !Number.isFinite(cap) || cap < 0) {
				fail(RULE_LABELS.commissionCap, `${RULE_LABELS.commissionCap} must be 0 (no cap) or more`);
			}
			rules.commission = {
				percent: positive(form.commissionPercent, RULE_LABELS.commissionPercent, '', 100),
				cap: cap === 0 ? null : cap,
				currency: currencyCode(form.commissionCurrency, RULE_LABELS.commissionCurrency),
			};
		}
		const max = wholeNumber(form.maxRewardsPerReferrer ?? 0, RULE_LABELS.maxRewardsPerReferrer, 0);
		if (max > 0) rules.maxPerReferrer = max;
	}
	if (who === 'referred' || who === 'both') {
		const on = form.friendRewardOn ?? 'registration';
		if (on !== 'registration' && on !== 'qualification') {
			fail(RULE_LABELS.friendRewardOn, `${RULE_LABELS.friendRewardOn} must be on sign-up or on qualification`);
		}
		rules.referred = { on, reward: rewardOf(form.friendRewardType, form.friendAmount, form.friendCurrency, form.friendPayload, FRIEND_LABELS) };
	}
	if (who !== 'nobody') {
		rules.holdDays = wholeNumber(form.holdDays ?? 0, RULE_LABELS.holdDays, 0);
		const approval = form.requireApproval ?? false;
		if (typeof approval !== 'boolean') fail(RULE_LABELS.requireApproval, `${RULE_LABELS.requireApproval} must be on or off`);
		rules.approval = approval;
	}
	return parseRewardRules(rules);
}

function fieldsOf(spec: RewardSpec): { rewardType: Kind; amount?: number; currency?: string; payload?: string } {
	if (spec.kind === 'amount') return { rewardType: 'amount', amount: spec.amount, currency: spec.currency };
	if (spec.kind === 'custom') return { rewardType: 'custom', payload: JSON.stringify(spec.payload ?? {}) };
	return { rewardType: 'coupon' };
}

/** The form that shows these rules (for round trips, and to show JSON rules as fields). */
export function formFromRules(rules: RewardRules): RuleForm {
	const earns: ReferrerRule[] = [];
	const form: RuleForm = {};
	if (rules.perReferral) {
		earns.push('perReferral');
		const reward = fieldsOf(rules.perReferral.reward);
		Object.assign(form, { every: rules.perReferral.every, referrerRewardType: reward.rewardType });
		if (reward.amount !== undefined) Object.assign(form, { referrerAmount: reward.amount, referrerCurrency: reward.currency });
		if (reward.payload !== undefined) form.referrerPayload = reward.payload;
	}
	if (rules.milestones.length > 0) {
		earns.push('milestones');
		form.milestones = { milestone: rules.milestones.map((m) => ({ at: m.at, ...fieldsOf(m.reward) })) };
	}
	if (rules.commission) {
		earns.push('commission');
		Object.assign(form, {
			commissionPercent: rules.commission.percent,
			commissionCap: rules.commission.cap ?? 0,
			commissionCurrency: rules.commission.currency,
		});
	}
	if (rules.referred) {
		const reward = fieldsOf(rules.referred.reward);
		Object.assign(form, { friendRewardOn: rules.referred.on, friendRewardType: reward.rewardType });
		if (reward.amount !== undefined) Object.assign(form, { friendAmount: reward.amount, friendCurrency: reward.currency });
		if (reward.payload !== undefined) form.friendPayload = reward.payload;
	}
	const referrer = earns.length > 0;
	form.rewardWho = referrer && rules.referred ? 'both' : referrer ? 'referrer' : rules.referred ? 'referred' : 'nobody';
	if (referrer) {
		form.referrerEarns = earns;
		form.maxRewardsPerReferrer = rules.maxPerReferrer ?? 0;
	}
	if (form.rewardWho !== 'nobody') {
		form.holdDays = rules.holdDays;
		form.requireApproval = rules.approval;
	}
	return form;
}

/** The editor label of the first coupon reward in the rules, or null when no reward is a coupon. */
export function firstCouponReward(rules: RewardRules): string | null {
	if (rules.perReferral?.reward.kind === 'coupon') return REFERRER_LABELS.type;
	if (rules.milestones.some((m) => m.reward.kind === 'coupon')) return MILESTONE_LABELS.type;
	if (rules.referred?.reward.kind === 'coupon') return FRIEND_LABELS.type;
	return null;
}
