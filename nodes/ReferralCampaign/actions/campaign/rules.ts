import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { invalidInput, ReferralError } from '../../../../lib/referrals/errors';
import { parseCoupons } from '../../../../lib/referrals/issuing';
import type { RewardRules } from '../../../../lib/referrals/model';
import { parseRewardRules } from '../../../../lib/referrals/rewards';
import { parseFraudSettings, type FraudSettingsInput } from '../../../../lib/referrals/validation';
import { RULE_LABELS as L, firstCouponReward, rulesFromForm, type RuleForm } from '../../../../lib/referrals/rule-form';

// Version 2's reward-rule and fraud fields, shared by Create and Update. Labels come from
// lib/referrals/rule-form.ts, which names them in its error messages.

export const RULES_JSON_LABEL = 'Reward Rules (JSON)';
export const COUPON_CODES_LABEL = 'Coupon Codes';

const KIND_OPTIONS = [
	{ name: 'Amount of Money', value: 'amount', description: 'A fixed amount, e.g. 25 EUR, paid out by the nodes after the Reward Issuer' },
	{ name: 'Coupon From the Pool', value: 'coupon', description: 'A code from the campaign’s coupon pool; each code is handed out once' },
	{ name: 'Custom', value: 'custom', description: 'Your own data (a gift, points, a plan upgrade) for the nodes after the Reward Issuer' },
];
const CURRENCY_HINT = 'Three-letter currency code, e.g. EUR, USD, GBP';
const PAYLOAD_HINT = 'What the reward is, as JSON, e.g. {"gift": "hoodie"}; the nodes after the Reward Issuer read it';

const FIELDS = { rewardRulesMode: ['fields'] };
const REFERRER = { ...FIELDS, rewardWho: ['referrer', 'both'] };
const PER_REFERRAL = { ...REFERRER, referrerEarns: ['perReferral'] };
const COMMISSION = { ...REFERRER, referrerEarns: ['commission'] };
const FRIEND = { ...FIELDS, rewardWho: ['referred', 'both'] };
const ANYONE = { ...FIELDS, rewardWho: ['referrer', 'referred', 'both'] };

/** Reward rules as fields, or as JSON (the advanced mode, for expressions). */
export const rewardRuleProperties: INodeProperties[] = [
	{
		displayName: 'Define Rewards',
		name: 'rewardRulesMode',
		type: 'options',
		noDataExpression: true,
		options: [
			{ name: 'Using Fields Below', value: 'fields', description: 'Pick who earns what and when' },
			{ name: 'Using JSON', value: 'json', description: 'Advanced: the rules as JSON, e.g. from an expression' },
		],
		default: 'fields',
	},
	{
		displayName: RULES_JSON_LABEL,
		name: 'rewardRulesJson',
		type: 'json',
		default: '{"perReferral": {"every": 1, "reward": {"kind": "amount", "amount": 25, "currency": "EUR"}}}',
		description: 'The rules as JSON; see the README’s "Advanced: reward rules as JSON"',
		displayOptions: { show: { rewardRulesMode: ['json'] } },
	},
	{
		displayName: L.rewardWho,
		name: 'rewardWho',
		type: 'options',
		options: [
			{ name: 'Both (Double-Sided)', value: 'both', description: 'The referrer and the friend they referred' },
			{ name: 'Nobody Yet', value: 'nobody', description: 'No rewards for now; referrals are still counted' },
			{ name: 'The Referred Friend', value: 'referred', description: 'The person who signed up with a referral link' },
			{ name: 'The Referrer', value: 'referrer', description: 'The person who shared their referral link' },
		],
		default: 'referrer',
		displayOptions: { show: FIELDS },
	},
	{
		displayName: L.referrerEarns,
		name: 'referrerEarns',
		type: 'multiOptions',
		options: [
			{ name: 'A Commission on the Sale', value: 'commission', description: 'A percentage of what the referred friend buys' },
			{ name: 'A Reward per Qualified Referral', value: 'perReferral', description: 'For each qualified referral, or every few' },
			{ name: 'Rewards at Milestones', value: 'milestones', description: 'When their qualified referrals reach a number' },
		],
		default: ['perReferral'],
		description: 'How the referrer earns rewards; a referral counts once it qualifies (e.g. the deal is won)',
		displayOptions: { show: REFERRER },
	},
	{
		displayName: L.every,
		name: 'every',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 1,
		description: '1: a reward for each qualified referral; 3: one reward for every three',
		displayOptions: { show: PER_REFERRAL },
	},
	{
		displayName: L.referrerRewardType,
		name: 'referrerRewardType',
		type: 'options',
		options: KIND_OPTIONS,
		default: 'amount',
		description: 'What the referrer gets for each qualified referral (or every few)',
		displayOptions: { show: PER_REFERRAL },
	},
	{
		displayName: L.referrerAmount,
		name: 'referrerAmount',
		type: 'number',
		typeOptions: { numberPrecision: 2 },
		default: 25,
		displayOptions: { show: { ...PER_REFERRAL, referrerRewardType: ['amount'] } },
	},
	{
		displayName: L.referrerCurrency,
		name: 'referrerCurrency',
		type: 'string',
		default: 'EUR',
		description: CURRENCY_HINT,
		displayOptions: { show: { ...PER_REFERRAL, referrerRewardType: ['amount'] } },
	},
	{
		displayName: L.referrerPayload,
		name: 'referrerPayload',
		type: 'json',
		default: '{}',
		description: PAYLOAD_HINT,
		displayOptions: { show: { ...PER_REFERRAL, referrerRewardType: ['custom'] } },
	},
	{
		displayName: L.milestones,
		name: 'milestones',
		type: 'fixedCollection',
		placeholder: 'Add Milestone',
		typeOptions: { multipleValues: true, sortable: true },
		default: { milestone: [{ at: 5, rewardType: 'amount', amount: 50, currency: 'EUR' }] },
		description: 'Bonus rewards when the referrer’s qualified referrals reach a number',
		options: [
			{
				name: 'milestone',
				displayName: 'Milestone',
				values: [
					{
						displayName: L.at,
						name: 'at',
						type: 'number',
						typeOptions: { minValue: 1 },
						default: 5,
						description: 'The reward comes when the referrer’s qualified referrals reach this number',
					},
					{ displayName: L.rewardType, name: 'rewardType', type: 'options', options: KIND_OPTIONS, default: 'amount' },
					{
						displayName: L.amount,
						name: 'amount',
						type: 'number',
						typeOptions: { numberPrecision: 2 },
						default: 50,
						displayOptions: { show: { rewardType: ['amount'] } },
					},
					{
						displayName: L.currency,
						name: 'currency',
						type: 'string',
						default: 'EUR',
						description: CURRENCY_HINT,
						displayOptions: { show: { rewardType: ['amount'] } },
					},
					{
						displayName: L.payload,
						name: 'payload',
						type: 'json',
						default: '{}',
						description: PAYLOAD_HINT,
						displayOptions: { show: { rewardType: ['custom'] } },
					},
				],
			},
		],
		displayOptions: { show: { ...REFERRER, referrerEarns: ['milestones'] } },
	},
	{
		displayName: L.commissionPercent,
		name: 'commissionPercent',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 100, numberPrecision: 2 },
		default: 10,
		description: 'Of the sale value sent with the qualification (e.g. the won deal’s value)',
		displayOptions: { show: COMMISSION },
	},
	{
		displayName: L.commissionCap,
		name: 'commissionCap',
		type: 'number',
		typeOptions: { minValue: 0, numberPrecision: 2 },
		default: 0,
		description: 'The most one sale earns; 0 means no cap',
		displayOptions: { show: COMMISSION },
	},
	{
		displayName: L.commissionCurrency,
		name: 'commissionCurrency',
		type: 'string',
		default: 'EUR',
		description: 'For the cap, and for sales that arrive without a currency',
		displayOptions: { show: COMMISSION },
	},
	{
		displayName: L.maxRewardsPerReferrer,
		name: 'maxRewardsPerReferrer',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 0,
		description: 'The most rewards one referrer can earn in this campaign; 0 means no limit',
		displayOptions: { show: REFERRER },
	},
	{
		displayName: L.friendRewardOn,
		name: 'friendRewardOn',
		type: 'options',
		options: [
			{ name: 'When They Sign Up', value: 'registration', description: 'A welcome reward as soon as they register with the link' },
			{ name: 'When Their Referral Qualifies', value: 'qualification', description: 'Once they become a customer' },
		],
		default: 'registration',
		displayOptions: { show: FRIEND },
	},
	{
		displayName: L.friendRewardType,
		name: 'friendRewardType',
		type: 'options',
		options: KIND_OPTIONS,
		default: 'amount',
		description: 'What the referred friend gets',
		displayOptions: { show: FRIEND },
	},
	{
		displayName: L.friendAmount,
		name: 'friendAmount',
		type: 'number',
		typeOptions: { numberPrecision: 2 },
		default: 10,
		displayOptions: { show: { ...FRIEND, friendRewardType: ['amount'] } },
	},
	{
		displayName: L.friendCurrency,
		name: 'friendCurrency',
		type: 'string',
		default: 'EUR',
		description: CURRENCY_HINT,
		displayOptions: { show: { ...FRIEND, friendRewardType: ['amount'] } },
	},
	{
		displayName: L.friendPayload,
		name: 'friendPayload',
		type: 'json',
		default: '{}',
		description: PAYLOAD_HINT,
		displayOptions: { show: { ...FRIEND, friendRewardType: ['custom'] } },
	},
	{
		displayName: L.holdDays,
		name: 'holdDays',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 0,
		description: 'Days a reward waits before it can be paid out, e.g. your refund window; a refund meanwhile cancels it',
		displayOptions: { show: ANYONE },
	},
	{
		displayName: L.requireApproval,
		name: 'requireApproval',
		type: 'boolean',
		default: false,
		description: 'Whether someone on your team approves each reward (Reward Issuer → Approve) before it is paid out',
		displayOptions: { show: ANYONE },
	},
	{
		displayName: COUPON_CODES_LABEL,
		name: 'couponCodes',
		type: 'string',
		typeOptions: { rows: 3 },
		default: '',
		placeholder: 'WELCOME-7GQ2\nWELCOME-K9PX',
		description:
			'For coupon rewards: codes to add to the campaign’s pool, one per line. Each is handed out once; codes already in the pool are ignored. More can be added later with Reward Issuer → Add Coupons.',
	},
];

/** The form fields' parameter names, in the order the editor shows them. */
const FORM_FIELDS = rewardRuleProperties.map((property) => property.name).filter((name) => !['rewardRulesMode', 'rewardRulesJson', 'couponCodes'].includes(name));

const FRAUD_LABELS: Record<string, string> = {
	blockedEmailDomains: 'Fraud Protection → Blocked Email Domains',
	maxReferralsPerReferrerPerDay: 'Fraud Protection → Daily Referral Limit per Referrer',
	maxReferralsPerReferrerPerHour: 'Fraud Protection → Hourly Referral Limit per Referrer',
	velocityAction: 'Fraud Protection → Past a Limit',
	disposableEmailAction: 'Fraud Protection → Disposable Email Addresses',
	sameDeviceAction: 'Fraud Protection → Same Device as Referrer',
};

const FRAUD_ACTION_OPTIONS = [
	{ name: 'Allow', value: 'allow', description: 'Register the referral as usual' },
	{ name: 'Hold for Review', value: 'flag', description: 'Record it as flagged: not sent to Pipedrive, not rewarded until approved' },
	{ name: 'Refuse', value: 'block', description: 'Do not register it (the visitor still sees the thank-you page)' },
];

/** Fraud settings as fields; only the ones added are set, the others keep their defaults. */
export const fraudSettingsProperty: INodeProperties = {
	displayName: 'Fraud Protection',
	name: 'fraudSettings',
	type: 'collection',
	placeholder: 'Add Setting',
	default: {},
	options: [
		{
			displayName: 'Blocked Email Domains',
			name: 'blockedEmailDomains',
			type: 'fixedCollection',
			placeholder: 'Add Domain',
			typeOptions: { multipleValues: true },
			default: {},
			description: 'Friends signing up with an email at one of these domains are refused, e.g. throwaway-mail services',
			options: [
				{
					name: 'domain',
					displayName: 'Domain',
					values: [{ displayName: 'Domain', name: 'domain', type: 'string', default: '', placeholder: 'mailinator.com' }],
				},
			],
		},
		{
			displayName: 'Daily Referral Limit per Referrer',
			name: 'maxReferralsPerReferrerPerDay',
			type: 'number',
			typeOptions: { minValue: 0 },
			default: 5,
			description: 'Referrals one referrer may register in any 24 hours; more are held or refused (Past a Limit). 0 means no limit.',
		},
		{
			displayName: 'Disposable Email Addresses',
			name: 'disposableEmailAction',
			type: 'options',
			options: FRAUD_ACTION_OPTIONS,
			default: 'flag',
			description: 'Friends signing up with a throwaway address (list from the disposable-email-domains package)',
		},
		{
			displayName: 'Hourly Referral Limit per Referrer',
			name: 'maxReferralsPerReferrerPerHour',
			type: 'number',
			typeOptions: { minValue: 0 },
			default: 3,
			description: 'Referrals one referrer may register in any hour; more are held or refused (Past a Limit). 0 means no limit.',
		},
		{
			displayName: 'Past a Limit',
			name: 'velocityAction',
			type: 'options',
			options: FRAUD_ACTION_OPTIONS.filter((option) => option.value !== 'allow'),
			default: 'flag',
			description: 'What happens to a referral past the hourly or daily limit',
		},
		{
			displayName: 'Same Device as Referrer',
			name: 'sameDeviceAction',
			type: 'options',
			options: FRAUD_ACTION_OPTIONS,
			default: 'flag',
			description:
				'Friends signing up with the same IP address and browser (user agent) as the referrer did. Needs Client IP and User Agent on Enrol and Register Referred; without an IP it does not apply.',
		},
	],
};

/** The rules the node's fields (or its JSON) define, checked; nothing is written yet. */
export function readRewardRules(context: IExecuteFunctions, itemIndex: number): RewardRules {
	if (context.getNodeParameter('rewardRulesMode', itemIndex, 'fields') === 'json') {
		try {
			return parseRewardRules(context.getNodeParameter('rewardRulesJson', itemIndex, '{}'));
		} catch (error) {
			throw relabel(error, RULES_JSON_LABEL);
		}
	}
	const form: Record<string, unknown> = {};
	for (const name of FORM_FIELDS) {
		// Fields hidden by the choices above are not set; null marks them (undefined means "no fallback").
		const value = context.getNodeParameter(name, itemIndex, null);
		if (value !== null) form[name] = value;
	}
	return rulesFromForm(form as RuleForm);
}

/** The fraud settings the node sets, in the campaign input's terms (absent ones: undefined), checked. */
export function readFraudSettings(context: IExecuteFunctions, itemIndex: number): FraudSettingsInput {
	const fraud = context.getNodeParameter('fraudSettings', itemIndex, {}) as IDataObject;
	const out: FraudSettingsInput = {};
	if (fraud.blockedEmailDomains !== undefined) {
		const entries = ((fraud.blockedEmailDomains as IDataObject).domain ?? []) as IDataObject[];
		out.blockedEmailDomains = entries.map((entry) => String(entry.domain ?? ''));
	}
	for (const key of ['maxReferralsPerReferrerPerDay', 'maxReferralsPerReferrerPerHour', 'velocityAction', 'disposableEmailAction', 'sameDeviceAction'] as const) {
		if (fraud[key] !== undefined) out[key] = fraud[key];
	}
	try {
		parseFraudSettings(out);
	} catch (error) {
		const field = error instanceof ReferralError && error.field ? FRAUD_LABELS[error.field] : undefined;
		throw relabel(error, field ?? FRAUD_LABELS.maxReferralsPerReferrerPerDay);
	}
	return out;
}

/** The coupon codes given on the node (none: empty list), checked. */
export function readCouponCodes(context: IExecuteFunctions, itemIndex: number): string[] {
	const text = context.getNodeParameter('couponCodes', itemIndex, '') as string;
	if (!text || text.trim() === '') return [];
	try {
		return parseCoupons(text);
	} catch (error) {
		throw relabel(error, COUPON_CODES_LABEL);
	}
}

/** A coupon reward needs codes: in the pool already or given on the node. */
export function requireCoupons(rules: RewardRules, couponsInPool: number, codes: string[], jsonMode: boolean): void {
	const field = firstCouponReward(rules);
	if (field === null || couponsInPool > 0 || codes.length > 0) return;
	const where = jsonMode ? RULES_JSON_LABEL : field;
	throw invalidInput(
		where,
		`${where}: a coupon reward needs coupon codes, and the campaign’s pool is empty`,
		`Add codes under ${COUPON_CODES_LABEL} (one per line), or with Reward Issuer → Add Coupons first`,
	);
}

/** The same error, naming the field as the editor labels it. */
function relabel(error: unknown, field: string): unknown {
	if (!(error instanceof ReferralError) || error.kind !== 'invalid_input') return error;
	return new ReferralError(error.kind, `${field}: ${error.message}`, field, error.hint);
}
