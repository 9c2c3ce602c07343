/**
 * The names of the figures the store keeps per campaign and quarter hour (table dashboard_tallies,
 * kept by triggers in the same transaction as every write):
 *  - signup: every participant, at sign-up; referrer: those who were not referred; referral: those who were;
 *  - referral_sent / referral_qualified / referral_rewarded: referrals, at their sign-up, that are now
 *    in Pipedrive (a person, lead or deal id) / qualified / have an issued reward (cohort figures);
 *  - qualification: qualified referrals, at the time they qualified;
 *  - reward:<status>: rewards, at their creation, by current status and currency, with amounts.
 */
export const METRIC = {
	signup: 'signup',
	referrer: 'referrer',
	referral: 'referral',
	sent: 'referral_sent',
	qualified: 'referral_qualified',
	rewarded: 'referral_rewarded',
	qualification: 'qualification',
} as const;

export const REWARD_METRIC_PREFIX = 'reward:';
