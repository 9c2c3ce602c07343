import type {
	IHookFunctions,
	INodeProperties,
	INodeType,
	INodeTypeDescription,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { campaignLocator, searchCampaigns } from '../shared/campaign';
import { authenticationProperty, pipedriveLoadOptions } from '../shared/pipedrive';
import { referralStoreConnectionTest } from '../shared/store';
import { receiveDelivery } from './receive';
import { createWebhooks, deleteWebhooks, webhooksExist } from './subscriptions';

/**
 * Which matching events start the workflow. In a real pipeline most deals carry no referral code:
 * filtering here answers Pipedrive 200 and starts no execution for them (no CPU, no execution row).
 */
const START_FOR: INodeProperties = {
	displayName: 'Start Workflow For',
	name: 'startFor',
	type: 'options',
	options: [
		{
			name: 'Every Matching Event',
			value: 'all',
			description: 'Also deals, leads and persons without a referral code (referralCode is null)',
		},
		{
			name: 'Events With a Referral Code',
			value: 'withCode',
			description: 'Records whose referral code field is empty, or holds text that cannot be a code, start nothing',
		},
		{
			name: 'Referrals of a Campaign',
			value: 'campaignReferrals',
			description:
				'Only codes of people referred in the chosen campaign; other codes, garbage and empty fields start nothing (one look-up in the referral store)',
		},
	],
	default: 'withCode',
};

export class PipedriveReferralTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Pipedrive Referral Trigger',
		name: 'pipedriveReferralTrigger',
		icon: { light: 'file:../../icons/pipedriveReferral.svg', dark: 'file:../../icons/pipedriveReferral.dark.svg' },
		group: ['trigger'],
		version: [1, 1.1],
		defaultVersion: 1.1,
		subtitle: '={{($parameter["events"] || []).join(", ")}}',
		description:
			'Starts the workflow when a referred deal reaches a stage, is won or lost, a lead gets a label or is converted, or a person changes in Pipedrive',
		defaults: { name: 'Pipedrive Referral Trigger' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'pipedriveReferralApi', required: true, displayOptions: { show: { authentication: ['apiToken'] } } },
			{ name: 'pipedriveReferralOAuth2Api', required: true, displayOptions: { show: { authentication: ['oAuth2'] } } },
			{
				name: 'referralStoreApi',
				required: true,
				testedBy: 'referralStoreConnectionTest',
				displayOptions: { show: { startFor: ['campaignReferrals'] } },
			},
		],
		webhooks: [
			{
				name: 'default',
				httpMethod: 'POST',
				responseMode: 'onReceived',
				path: 'webhook',
			},
		],
		properties: [
			authenticationProperty,
			{
				displayName: 'Trigger On',
				name: 'events',
				type: 'multiOptions',
				required: true,
				default: [],
				description:
					'The Pipedrive events that start the workflow. The trigger registers the Pipedrive webhooks they need when the workflow is activated and removes them when it is deactivated.',
				options: [
					{
						name: "Campaign's Qualification Rule",
						value: 'campaignRule',
						description:
							'A deal or lead change that qualifies or un-qualifies a referral under the rule set on the campaign (Referral Campaign node, Qualification): the item carries action, idempotencyKey and time for Qualify With Code. Needs Start Workflow For: Referrals of a Campaign.',
					},
					{
						name: 'Deal Entered Stage',
						value: 'dealEnteredStage',
						description: 'A deal was moved to (or created in) one of the chosen stages',
					},
					{ name: 'Deal Lost', value: 'dealLost', description: 'A deal was marked as lost' },
					{ name: 'Deal Won', value: 'dealWon', description: 'A deal was marked as won' },
					{
						name: 'Lead Converted to a Deal',
						value: 'leadConverted',
						description: 'A lead was converted to a deal (the item carries both IDs)',
					},
					{
						name: 'Lead Labelled',
						value: 'leadLabelled',
						description: 'One of the chosen labels was added to a lead (or a new lead has it)',
					},
					{
						name: 'Person Created or Updated',
						value: 'personCreatedOrUpdated',
						description: 'A person was added or changed',
					},
				],
			},
			{
				displayName: 'Pipeline Name or ID',
				name: 'pipelineId',
				type: 'options',
				typeOptions: { loadOptionsMethod: 'getPipelines' },
				default: '',
				description:
					'The pipeline of the stages. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
				displayOptions: { show: { events: ['dealEnteredStage'] } },
			},
			{
				displayName: 'Stage Names or IDs',
				name: 'stageIds',
				type: 'multiOptions',
				typeOptions: { loadOptionsMethod: 'getStages', loadOptionsDependsOn: ['pipelineId'] },
				default: [],
				description:
					'The stages a deal must enter; none means any stage of the pipeline. Choose from the list, or specify IDs using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
				displayOptions: { show: { events: ['dealEnteredStage'] } },
			},
			{
				displayName: 'Lead Label Names or IDs',
				name: 'labelIds',
				type: 'multiOptions',
				typeOptions: { loadOptionsMethod: 'getLeadLabels' },
				default: [],
				description:
					'Labels that start the workflow when added to a lead; none means any label. Choose from the list, or specify IDs using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
				displayOptions: { show: { events: ['leadLabelled'] } },
			},
			// Version 1 started the workflow for every matching event; 1.1 only for those with a code.
			{ ...START_FOR, default: 'all', displayOptions: { show: { '@version': [1] } } },
			{ ...START_FOR, default: 'withCode', displayOptions: { show: { '@version': [{ _cnd: { gte: 1.1 } }] } } },
			{
				...campaignLocator({ show: { startFor: ['campaignReferrals'] } }),
				description: 'Only codes of people referred in this campaign start the workflow',
			},
			{
				displayName: 'Referral Code Field Name or ID',
				name: 'codeField',
				type: 'options',
				typeOptions: { loadOptionsMethod: 'getDealFields' },
				default: '',
				description:
					'The deal custom field holding the referral code (leads use the deal fields); an expression may give its key or its name. Output as referralCode; empty when not set. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
			},
			{
				displayName: 'Person Referral Code Field Name or ID',
				name: 'personCodeField',
				type: 'options',
				typeOptions: { loadOptionsMethod: 'getPersonFields' },
				default: '',
				description:
					'The person custom field holding a referral code, for person events; an expression may give its key or its name. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
				displayOptions: { show: { events: ['personCreatedOrUpdated'] } },
			},
			{
				displayName:
					'Pipedrive retries a delivery up to 3 times and may send one twice: each item carries eventId and attempt, so the next node can ignore repeats (e.g. Qualify With Code with eventId as its Idempotency Key)',
				name: 'retryNotice',
				type: 'notice',
				default: '',
			},
		],
	};

	methods = {
		loadOptions: pipedriveLoadOptions,
		listSearch: { searchCampaigns },
		credentialTest: { referralStoreConnectionTest },
	};

	webhookMethods = {
		default: {
			async checkExists(this: IHookFunctions): Promise<boolean> {
				return await webhooksExist(this);
			},
			async create(this: IHookFunctions): Promise<boolean> {
				return await createWebhooks(this);
			},
			async delete(this: IHookFunctions): Promise<boolean> {
				return await deleteWebhooks(this);
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		return await receiveDelivery(this);
	}
}
