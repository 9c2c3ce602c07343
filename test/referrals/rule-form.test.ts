import type { RewardRules } from '../../lib/referrals/model';
import { EMPTY_REWARD_RULES, parseRewardRules } from '../../lib/referrals/rewards';
import { firstCouponReward, formFromRules, rulesFromForm, type RuleForm } from '../../lib/referrals/rule-form';
import { summarizeRewardRules } from '../../lib/referrals/rule-summary';

const EUR25 = { kind: 'amount', amount: 25, currency: 'EUR' } as const;

/** One program of each kind, as JSON (what power users write) and as the form fields that say the same. */
const PROGRAMS: Array<{ kind: string; json: object; form: RuleForm; summary: string }> = [
	{
		kind: 'a reward per qualified referral, capped',
		json: { perReferral: { every: 1, reward: EUR25 }, maxPerReferrer: 10 },
		form: { rewardWho: 'referrer', referrerEarns: ['perReferral'], every: 1, referrerRewardType: 'amount', referrerAmount: 25, referrerCurrency: 'eur', maxRewardsPerReferrer: 10 },
		summary: 'Each referrer earns 25 EUR for every qualified referral, at most 10 rewards. Rewards are due at once.',
	},
	{
		kind: 'a reward every N referrals',
		json: { perReferral: { every: 3, reward: { kind: 'coupon' } } },
		form: { rewardWho: 'referrer', referrerEarns: ['perReferral'], every: 3, referrerRewardType: 'coupon' },
		summary: 'Each referrer earns a coupon for every 3 qualified referrals. Rewards are due at once.',
	},
	{
		kind: 'milestones',
		json: {
			milestones: [
				{ at: 3, reward: { kind: 'custom', payload: { gift: 'hoodie' } } },
				{ at: 1, reward: { kind: 'amount', amount: 10, currency: 'USD' } },
			],
			holdDays: 14,
		},
		form: {
			rewardWho: 'referrer',
			referrerEarns: ['milestones'],
			milestones: {
				milestone: [
					{ at: 1, rewardType: 'amount', amount: 10, currency: 'USD' },
					{ at: 3, rewardType: 'custom', payload: '{"gift": "hoodie"}' },
				],
			},
			holdDays: 14,
		},
		summary: 'Each referrer earns 10 USD on reaching 1 qualified referral and a custom reward on reaching 3 qualified referrals. Rewards wait 14 days, then they are due.',
	},
	{
		kind: 'a commission with a cap',
		json: { commission: { percent: 10, cap: 100, currency: 'EUR' }, approval: true },
		form: { rewardWho: 'referrer', referrerEarns: ['commission'], commissionPercent: 10, commissionCap: 100, commissionCurrency: 'EUR', requireApproval: true },
		summary: 'Each referrer earns 10 % of each referred sale (at most 100 EUR a sale). Rewards need approval before they are due.',
	},
	{
		kind: 'a commission without a cap',
		json: { commission: { percent: 7.5, currency: 'GBP' } },
		form: { rewardWho: 'referrer', referrerEarns: ['commission'], commissionPercent: 7.5, commissionCap: 0, commissionCurrency: 'gbp' },
		summary: 'Each referrer earns 7.5 % of each referred sale. Rewards are due at once.',
	},
	{
		kind: 'the referred friend only, on registration',
		json: { referred: { on: 'registration', reward: { kind: 'coupon' } } },
		form: { rewardWho: 'referred', friendRewardOn: 'registration', friendRewardType: 'coupon' },
		summary: 'Referred friends get a coupon when they sign up. Rewards are due at once.',
	},
	{
		kind: 'double-sided, the friend on qualification, held and approved',
		json: {
			perReferral: { every: 1, reward: EUR25 },
			milestones: [{ at: 5, reward: { kind: 'amount', amount: 50, currency: 'EUR' } }],
			referred: { on: 'qualification', reward: { kind: 'amount', amount: 10, currency: 'EUR' } },
			holdDays: 14,
			approval: true,
		},
		form: {
			rewardWho: 'both',
			referrerEarns: ['perReferral', 'milestones'],
			every: 1,
			referrerRewardType: 'amount',
			referrerAmount: 25,
			referrerCurrency: 'EUR',
			milestones: { milestone: [{ at: 5, rewardType: 'amount', amount: 50, currency: 'EUR' }] },
			friendRewardOn: 'qualification',
			friendRewardType: 'amount',
			friendAmount: 10,
			friendCurrency: 'EUR',
			holdDays: 14,
			requireApproval: true,
		},
		summary:
			'Each referrer earns 25 EUR for every qualified referral; plus 50 EUR on reaching 5 qualified referrals. Referred friends get 10 EUR when their referral qualifies. Rewards wait 14 days, then need approval.',
	},
];

describe('reward rules as form fields', () => {
	it.each(PROGRAMS)('give the same rules as JSON: $kind', ({ json, form }) => {
		const fromJson = parseRewardRules(JSON.stringify(json));
		expect(rulesFromForm(form)).toEqual(fromJson);
		// And back: the fields that show the rules define them again.
		expect(rulesFromForm(formFromRules(fromJson))).toEqual(fromJson);
		expect(parseRewardRules(rulesFromForm(formFromRules(fromJson)))).toEqual(fromJson);
	});

	it.each(PROGRAMS)('are explained in plain words: $kind', ({ json, summary }) => {
		expect(summarizeRewardRules(parseRewardRules(json))).toBe(summary);
	});

	it('"Nobody Yet" gives no rewards, and says so', () => {
		expect(rulesFromForm({ rewardWho: 'nobody', holdDays: 5 })).toEqual(EMPTY_REWARD_RULES);
		expect(summarizeRewardRules(EMPTY_REWARD_RULES)).toBe('No rewards are set up.');
		expect(formFromRules(EMPTY_REWARD_RULES)).toEqual({ rewardWho: 'nobody' });
	});

	it('start from the node’s defaults: 25 EUR per qualified referral', () => {
		expect(rulesFromForm({ every: 1, referrerRewardType: 'amount', referrerAmount: 25, referrerCurrency: 'EUR' })).toEqual({
			...EMPTY_REWARD_RULES,
			perReferral: { every: 1, reward: EUR25 },
		});
	});

	const perReferral = (fields: RuleForm): RuleForm => ({ referrerEarns: ['perReferral'], every: 1, ...fields });
	it.each<[string, RuleForm, string, string]>([
		['a milestone at 0', { referrerEarns: ['milestones'], milestones: { milestone: [{ at: 1, rewardType: 'coupon' }, { at: 0, rewardType: 'coupon' }] } }, 'Milestones → At Qualified Referrals', 'must be a whole number from 1 up (milestone 2)'],
		['a negative amount', perReferral({ referrerRewardType: 'amount', referrerAmount: -5, referrerCurrency: 'EUR' }), 'Referrer Reward Amount', 'must be a number above 0'],
		['a negative milestone amount', { referrerEarns: ['milestones'], milestones: { milestone: [{ at: 2, rewardType: 'amount', amount: -1, currency: 'EUR' }] } }, 'Milestones → Reward Amount', '(milestone 1)'],
		['a commission over 100 %', { referrerEarns: ['commission'], commissionPercent: 120, commissionCap: 0, commissionCurrency: 'EUR' }, 'Commission (% of Sale Value)', 'at most 100'],
		['a negative cap', { referrerEarns: ['commission'], commissionPercent: 10, commissionCap: -1, commissionCurrency: 'EUR' }, 'Commission Cap per Sale', '0 (no cap) or more'],
		['a currency that is not three letters', perReferral({ referrerRewardType: 'amount', referrerAmount: 5, referrerCurrency: 'EURO' }), 'Referrer Reward Currency', 'three-letter currency code'],
		['a friend’s currency', { rewardWho: 'referred', friendRewardOn: 'registration', friendRewardType: 'amount', friendAmount: 5, friendCurrency: '€' }, 'Friend’s Reward Currency', 'three-letter'],
		['every 0 referrals', perReferral({ every: 0, referrerRewardType: 'coupon' }), 'Qualified Referrals per Reward', 'whole number from 1'],
		['two milestones at the same count', { referrerEarns: ['milestones'], milestones: { milestone: [{ at: 2, rewardType: 'coupon' }, { at: 2, rewardType: 'coupon' }] } }, 'Milestones → At Qualified Referrals', 'two milestones are at 2'],
		['no milestone at all', { referrerEarns: ['milestones'], milestones: {} }, 'Milestones', 'add at least one milestone'],
		['no way to earn', { rewardWho: 'referrer', referrerEarns: [] }, 'Referrer Earns', 'pick at least one'],
		['a payload that is no JSON object', perReferral({ referrerRewardType: 'custom', referrerPayload: '[1, 2]' }), 'Referrer Reward Payload', 'must be a JSON object'],
		['negative hold days', perReferral({ referrerRewardType: 'coupon', holdDays: -2 }), 'Hold Days', 'whole number from 0'],
		['a fractional limit', perReferral({ referrerRewardType: 'coupon', maxRewardsPerReferrer: 2.5 }), 'Max Rewards per Referrer', 'whole number from 0'],
	])('refuse %s, naming the field as the editor labels it', (_what, form, field, message) => {
		let caught: unknown;
		try {
			rulesFromForm(form);
		} catch (error) {
			caught = error;
		}
		expect(caught).toMatchObject({ kind: 'invalid_input', field });
		expect((caught as Error).message).toContain(field);
		expect((caught as Error).message).toContain(message);
	});

	it('name the first coupon reward, which needs codes in the pool', () => {
		const rules = (json: object): RewardRules => parseRewardRules(json);
		expect(firstCouponReward(rules({ perReferral: { reward: EUR25 } }))).toBeNull();
		expect(firstCouponReward(rules({ perReferral: { reward: { kind: 'coupon' } } }))).toBe('Referrer Reward');
		expect(firstCouponReward(rules({ milestones: [{ at: 2, reward: { kind: 'coupon' } }] }))).toBe('Milestones → Reward Type');
		expect(firstCouponReward(rules({ referred: { on: 'registration', reward: { kind: 'coupon' } } }))).toBe('Friend’s Reward');
	});
});
