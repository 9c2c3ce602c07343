import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { searchCampaigns } from '../shared/campaign';
import { authenticationProperty, pipedriveLoadOptions } from '../shared/pipedrive';
import { referralPortalSecretTest } from '../shared/portal';
import { referralStoreConnectionTest } from '../shared/store';
import * as contact from './actions/contact';
import * as field from './actions/field';
import * as participant from './actions/participant';
import * as referral from './actions/referral';
import { router } from './actions/router';

export class PipedriveReferralSync implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Pipedrive Referral Sync',
		name: 'pipedriveReferralSync',
		icon: { light: 'file:../../icons/pipedriveReferral.svg', dark: 'file:../../icons/pipedriveReferral.dark.svg' },
		group: ['output'],
		version: 1,
		subtitle: '={{$parameter["operation"] + ": " + $parameter["resource"]}}',
		description:
			'Send referred people to Pipedrive (queued while it is unavailable), reconcile missed deal and lead changes, sync Pipedrive contacts into a campaign, write referral metrics, set up the referral fields',
		defaults: { name: 'Pipedrive Referral Sync' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'referralStoreApi', required: true, testedBy: 'referralStoreConnectionTest' },
			{ name: 'pipedriveReferralApi', required: true, displayOptions: { show: { authentication: ['apiToken'] } } },
			{ name: 'pipedriveReferralOAuth2Api', required: true, displayOptions: { show: { authentication: ['oAuth2'] } } },
			// Only for Sync Contacts' optional stats-page link field.
			{ name: 'referralPortalApi', required: false, testedBy: 'referralPortalSecretTest', displayOptions: { show: { resource: ['contact'], operation: ['sync'] } } },
		],
		properties: [
			authenticationProperty,
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				options: [
					{ name: 'Contact', value: 'contact' },
					{ name: 'Field', value: 'field' },
					{ name: 'Participant', value: 'participant' },
					{ name: 'Referral', value: 'referral' },
				],
				default: 'participant',
			},
			...contact.description,
			...field.description,
			...participant.description,
			...referral.description,
		],
	};

	methods = {
		credentialTest: { referralStoreConnectionTest, referralPortalSecretTest },
		listSearch: { searchCampaigns },
		loadOptions: pipedriveLoadOptions,
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
