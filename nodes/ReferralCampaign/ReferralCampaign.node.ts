import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { searchCampaigns } from '../shared/campaign';
import { referralPortalSecretTest } from '../shared/portal';
import { referralStoreConnectionTest } from '../shared/store';
import * as campaign from './actions/campaign';
import * as form from './actions/form';
import * as participant from './actions/participant';
import { router } from './actions/router';

export class ReferralCampaign implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Referral Campaign',
		name: 'referralCampaign',
		icon: { light: 'file:../../icons/referralCampaign.svg', dark: 'file:../../icons/referralCampaign.dark.svg' },
		group: ['transform'],
		version: [1, 2],
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description: 'Run referral campaigns: enrol referrers with unique codes and links, register referred people',
		defaults: { name: 'Referral Campaign' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'referralStoreApi', required: true, testedBy: 'referralStoreConnectionTest' },
			{ name: 'referralPortalApi', required: true, testedBy: 'referralPortalSecretTest', displayOptions: { show: { resource: ['participant'], operation: ['getPortalLinks'] } } },
		],
		properties: [
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				options: [
					{ name: 'Campaign', value: 'campaign' },
					{ name: 'Form Submission', value: 'form' },
					{ name: 'Participant', value: 'participant' },
				],
				default: 'participant',
			},
			...campaign.description,
			...form.description,
			...participant.description,
		],
	};

	methods = {
		credentialTest: { referralStoreConnectionTest, referralPortalSecretTest },
		listSearch: { searchCampaigns },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
