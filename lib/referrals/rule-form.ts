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
	perReferral: 'Reward per Referral',
	every: 'Qualified Referrals per Reward',
	milestones: 'Milestones',
	at: 'At Qualified Referrals',
	commission: 'Commission',
	percent: 'Percent of Sale Value',
	cap: 'Cap per Sale',
	referredReward: 'Referred Friend’s Reward',
	on: 'When',
	rewardType: 'Reward Type',
	amount: 'Reward Amount',
	currency: 'Currency',
	payload: 'Custom Payload',
	maxRewardsPerReferrer: 'Max Rewards per Referrer',
	holdDays: 'Hold Days',
	requireApproval: 'Require Approval',
} as const;

export type RewardWho = 'referrer' | 'referred' | 'both' | 'nobody';
export type ReferrerRule = 'perReferral' | 'milestones' | 'commission';

export interface RewardFields {
	rewardType?: RewardSpec['kind'];
	amount?: number;
	currency?: string;
	/** JSON text (as the editor's JSON field gives it) or an object. */
	payload?: unknown;
}

/** The node's reward-rule parameters in "Using Fields" mode; fixedCollections keep n8n's shape. */
export interface RuleForm {
	rewardWho?: RewardWho;
	referrerEarns?: ReferrerRule[];
	perReferral?: { settings?: RewardFields & { every?: number } };
	milestones?: { milestone?: Array<RewardFields & { at?: number }> };
	commission?: { settings?: { percent?: number; cap?: number; currency?: string } };
	referredReward?: { settings?: RewardFields & { on?: 'registration' | 'qualification' } };
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

function rewardOf(fields: RewardFields, group: string, where = ''): RewardSpec {
	const kind = fields.rewardType ?? 'amount';
	if (kind === 'amount') {
		return {
			kind,
			amount: positive(fields.amount, label(group, RULE_LABELS.amount), where),
			currency: currencyCode(fields.currency, label(group, RULE_LABELS.currency), where),
		};
	}
	if (kind === 'coupon') return { kind };
	if (kind === 'custom') return { kind, payload: payloadObject(fields.payload, label(group, RULE_LABELS.payload), where) };
	return fail(label(group, RULE_LABELS.rewardType), `${label(group, RULE_LABELS.rewardType)} must be an amount, a coupon or custom`);
}

function settingsOf<T>(collection: { settings?: T } | undefined, group: string): T {
	if (!collection?.settings) fail(group, `${group} is not set: fill in its fields`);
	return collection.settings;
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
			const settings = settingsOf(form.perReferral, RULE_LABELS.perReferral);
			rules.perReferral = {
				every: wholeNumber(settings.every ?? 1, label(RULE_LABELS.perReferral, RULE_LABELS.every), 1),
				reward: rewardOf(settings, RULE_LABELS.perReferral),
			};
		}
		if (earns.includes('milestones')) {
			const list = form.milestones?.milestone ?? [];
			if (list.length === 0) fail(RULE_LABELS.milestones, `${RULE_LABELS.milestones}: add at least one milestone`);
			const seen = new Set<number>();
			rules.milestones = list.map((milestone, index) => {
				const where = ` (milestone ${index + 1})`;
				const atLabel = label(RULE_LABELS.milestones, RULE_LABELS.at);
				const at = wholeNumber(milestone.at, atLabel, 1, where);
				if (seen.has(at)) fail(atLabel, `${atLabel}: two milestones are at ${at} qualified referrals`);
				seen.add(at);
				return { at, reward: rewardOf(milestone, RULE_LABELS.milestones, where) };
			});
		}
		if (earns.includes('commission')) {
			const settings = settingsOf(form.commission, RULE_LABELS.commission);
			const capLabel = label(RULE_LABELS.commission, RULE_LABELS.cap);
			const cap = settings.cap ?? 0;
			if (typeof cap !== 'number' || !Number.isFinite(cap) || cap < 0) fail(capLabel, `${capLabel} must be 0 (no cap) or more`);
			rules.commission = {
				percent: positive(settings.percent, label(RULE_LABELS.commission, RULE_LABELS.percent), '', 100),
				cap: cap === 0 ? null : cap,
				currency: currencyCode(settings.currency, label(RULE_LABELS.commission, RULE_LABELS.currency)),
			};
		}
		const max = wholeNumber(form.maxRewardsPerReferrer ?? 0, RULE_LABELS.maxRewardsPerReferrer, 0);
		if (max > 0) rules.maxPerReferrer = max;
	}
	if (who === 'referred' || who === 'both') {
		const settings = settingsOf(form.referredReward, RULE_LABELS.referredReward);
		const on = settings.on ?? 'registration';
		if (on !== 'registration' && on !== 'qualification') {
			fail(label(RULE_LABELS.referredReward, RULE_LABELS.on), `${label(RULE_LABELS.referredReward, RULE_LABELS.on)} must be on sign-up or on qualification`);
		}
		rules.referred = { on, reward: rewardOf(settings, RULE_LABELS.referredReward) };
	}
	if (who !== 'nobody') {
		rules.holdDays = wholeNumber(form.holdDays ?? 0, RULE_LABELS.holdDays, 0);
		if (typeof (form.requireApproval ?? false) !== 'boolean') fail(RULE_LABELS.requireApproval, `${RULE_LABELS.requireApproval} must be on or off`);
		rules.approval = form.requireApproval ?? false;
	}
	return parseRewardRules(rules);
}

function fieldsOf(spec: RewardSpec): RewardFields {
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
		form.perReferral = { settings: { every: rules.perReferral.every, ...fieldsOf(rules.perReferral.reward) } };
	}
	if (rules.milestones.length > 0) {
		earns.push('milestones');
		form.milestones = { milestone: rules.milestones.map((m) => ({ at: m.at, ...fieldsOf(m.reward) })) };
	}
	if (rules.commission) {
		earns.push('commission');
		form.commission = { settings: { percent: rules.commission.percent, cap: rules.commission.cap ?? 0, currency: rules.commission.currency } };
	}
	if (rules.referred) form.referredReward = { settings: { on: rules.referred.on, ...fieldsOf(rules.referred.reward) } };
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
	if (rules.perReferral?.reward.kind === 'coupon') return label(RULE_LABELS.perReferral, RULE_LABELS.rewardType);
	if (rules.milestones.some((m) => m.reward.kind === 'coupon')) return label(RULE_LABELS.milestones, RULE_LABELS.rewardType);
	if (rules.referred?.reward.kind === 'coupon') return label(RULE_LABELS.referredReward, RULE_LABELS.rewardType);
	return null;
}
