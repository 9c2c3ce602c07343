import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { searchCampaigns } from '../shared/campaign';
import { referralStoreConnectionTest } from '../shared/store';
import { searchCampaignsOrAll } from './actions/common';
import * as reward from './actions/reward';
import { router } from './actions/router';

export class RewardIssuer implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Reward Issuer',
		name: 'rewardIssuer',
		icon: { light: 'file:../../icons/rewardIssuer.svg', dark: 'file:../../icons/rewardIssuer.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description: 'Issue referral rewards exactly once: claim due rewards, confirm or fail them, manage coupons',
		defaults: { name: 'Reward Issuer' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'referralStoreApi', required: true, testedBy: 'referralStoreConnectionTest' }],
		properties: [
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				options: [{ name: 'Reward', value: 'reward' }],
				default: 'reward',
			},
			...reward.description,
		],
	};

	methods = {
		credentialTest: { referralStoreConnectionTest },
		listSearch: { searchCampaigns, searchCampaignsOrAll },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
