import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import type { Campaign } from '../../../lib/referrals/model';
import { summarizeRewardRules } from '../../../lib/referrals/rule-summary';

/** Settings a campaign is created with and that Update can change, in every version. */
export const campaignBasicFields: INodeProperties[] = [
	{
		displayName: 'Code Length',
		name: 'codeLength',
		type: 'number',
		typeOptions: { minValue: 9, maxValue: 32 },
		default: 9,
		description:
			'Random characters in each referral code, after the prefix. 9 is the least that keeps codes unguessable (44 bits).',
	},
	{
		displayName: 'Code Prefix',
		name: 'codePrefix',
		type: 'string',
		default: '',
		placeholder: 'SPRING-',
		description: 'Put before every new code of this campaign (letters, digits, - and _)',
	},
	{
		displayName: 'Link Template',
		name: 'linkTemplate',
		type: 'string',
		default: '',
		placeholder: 'https://example.com/join?ref={{code}}',
		description:
			'The referral link, with {{code}} where the code goes. Empty on create: the referred-signup form of this n8n instance (/form/refer?ref={{code}}).',
	},


	{
		displayName: 'Status',
		name: 'status',
		type: 'options',
		options: [
			{ name: 'Active', value: 'active', description: 'Accepts participants and referrals' },
			{ name: 'Paused', value: 'paused', description: 'Refuses new referrals for now' },
			{ name: 'Archived', value: 'archived', description: 'Refuses new participants and referrals' },
		],
		default: 'active',
	},
];

/** Version 1's fraud and reward settings, as text and JSON (version 2 has fields for them). */
export const campaignSettingFieldsV1: INodeProperties[] = [
	{
		displayName: 'Blocked Email Domains',
		name: 'blockedEmailDomains',
		type: 'string',
		default: '',
		placeholder: 'mailinator.com, tempmail.io',
		description: 'Referred people with an email at one of these domains are refused (comma-separated)',
	},
	{
		displayName: 'Max Referrals per Referrer per Day',
		name: 'maxReferralsPerReferrerPerDay',
		type: 'number',
		typeOptions: { minValue: 0 },
		default: 0,
		description: 'Referrals one referrer may register in any 24 hours; 0 means no limit',
	},
	{
		displayName: 'Reward Rules',
		name: 'rewardRules',
		type: 'json',
		default: '{}',
		description:
			'Rewards as JSON. Example: {"perReferral": {"every": 1, "reward": {"kind": "amount", "amount": 25, "currency": "EUR"}}, "milestones": [{"at": 5, "reward": {"kind": "coupon"}}], "commission": {"percent": 10, "cap": 100, "currency": "EUR"}, "maxPerReferrer": 20, "referred": {"on": "registration", "reward": {"kind": "coupon"}}, "holdDays": 14, "approval": false}. Changes apply to later qualifications; use Evaluate Rewards to back-fill earlier ones.',
	},
	...campaignBasicFields,
];

export function returnAllFields(): INodeProperties[] {
	return [
		{
			displayName: 'Return All',
			name: 'returnAll',
			type: 'boolean',
			default: false,
			description: 'Whether to return all results or only up to a given limit',
		},
		{
			displayName: 'Limit',
			name: 'limit',
			type: 'number',
			typeOptions: { minValue: 1 },
			default: 50,
			description: 'Max number of results to return',
			displayOptions: { show: { returnAll: [false] } },
		},
	];
}

export function campaignJson(campaign: Campaign): IDataObject {
	return { ...campaign } as unknown as IDataObject;
}

/** Version 2 adds the rules in plain words, for the team to check what the fields say. */
export function campaignOutput(context: IExecuteFunctions, campaign: Campaign): IDataObject {
	if (context.getNode().typeVersion < 2) return campaignJson(campaign);
	return { ...campaignJson(campaign), rewardSummary: summarizeRewardRules(campaign.rewardRules) };
}

export const V1_ONLY = { '@version': [1] };
export const FROM_V2 = { '@version': [{ _cnd: { gte: 2 } }] };
