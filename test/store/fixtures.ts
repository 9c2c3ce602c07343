// Fixtures shared by the store suites and their child-process scripts (no jest globals here).

import type { RewardRules } from '../../lib/referrals/model';

/** The empty reward rule set: also the database default of campaigns.reward_rules (migration 4). */
export const NO_REWARD_RULES: RewardRules = {
	perReferral: null,
	milestones: [],
	commission: null,
	maxPerReferrer: null,
	referred: null,
	holdDays: 0,
	approval: false,
};
