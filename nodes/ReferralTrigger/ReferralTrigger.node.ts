import type { INodeExecutionData, INodeType, INodeTypeDescription, IPollFunctions } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { campaignLocator, searchCampaigns } from '../shared/campaign';
import { referralStoreConnectionTest } from '../shared/store';
import { pollEvents } from './poll';

export class ReferralTrigger implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Referral Trigger',
		name: 'referralTrigger',
		icon: { light: 'file:../../icons/referralCampaign.svg', dark: 'file:../../icons/referralCampaign.dark.svg' },
		group: ['trigger'],
		version: 1,
		subtitle: '={{($parameter["events"] || []).join(", ")}}',
		description:
			'Starts the workflow on referral program events: participants enrolled, referrals registered or qualified, rewards due, issued or failed',
		defaults: { name: 'Referral Trigger' },
		polling: true,
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'referralStoreApi', required: true, testedBy: 'referralStoreConnectionTest' }],
		properties: [
			{
				displayName: 'Events',
				name: 'events',
				type: 'multiOptions',
				required: true,
				default: [],
				description: 'The events that start the workflow',
				options: [
					{
						name: 'Participant Enrolled',
						value: 'participant.enrolled',
						description: 'A referrer joined a campaign and got a code and link',
					},
					{
						name: 'Participant Erased',
						value: 'participant.erased',
						description: 'A participant’s personal data was erased',
					},
					{
						name: 'Pipedrive Send Failed',
						value: 'pipedrive.send_failed',
						description: 'A participant could not be sent to Pipedrive after every retry (Retry Failed Sends tries again)',
					},
					{
						name: 'Pipedrive Webhook Restored',
						value: 'pipedrive.webhook_restored',
						description: 'Pipedrive had deleted or banned a Pipedrive Referral Trigger webhook, and it was registered again',
					},
					{
						name: 'Referral Approved',
						value: 'referral.approved',
						description: 'A referral held for review was approved: it goes on as if it had just arrived',
					},
					{
						name: 'Referral Flagged',
						value: 'referral.flagged',
						description: 'A fraud rule held a referral for review (not sent, not rewarded until approved)',
					},
					{
						name: 'Referral Qualified',
						value: 'referral.qualified',
						description: 'A referred person met the campaign’s goal (e.g. their deal was won)',
					},
					{
						name: 'Referral Registered',
						value: 'referral.registered',
						description: 'Someone signed up with a referral code',
					},
					{
						name: 'Referral Rejected',
						value: 'referral.rejected',
						description: 'A referral held for review was rejected',
					},
					{
						name: 'Referral Unqualified',
						value: 'referral.unqualified',
						description: 'A qualified referral was taken back (e.g. refund, deal lost after won)',
					},
					{
						name: 'Reward Cancelled',
						value: 'reward.cancelled',
						description: 'A reward not yet issued was cancelled',
					},
					{ name: 'Reward Due', value: 'reward.due', description: 'A reward is ready to be issued' },
					{ name: 'Reward Failed', value: 'reward.failed', description: 'Issuing a reward failed' },
					{ name: 'Reward Issued', value: 'reward.issued', description: 'A reward was issued' },
					{
						name: 'Reward Reversal Needed',
						value: 'reward.reversal_needed',
						description: 'An issued reward belongs to a referral that was unqualified',
					},
				],
			},
			{
				displayName: 'Campaigns',
				name: 'campaignScope',
				type: 'options',
				default: 'all',
				description: 'Whether to trigger on the events of every campaign or of one',
				options: [
					{ name: 'All Campaigns', value: 'all' },
					{ name: 'One Campaign', value: 'one' },
				],
			},
			campaignLocator({ show: { campaignScope: ['one'] } }),
		],
	};

	methods = {
		credentialTest: { referralStoreConnectionTest },
		listSearch: { searchCampaigns },
	};

	async poll(this: IPollFunctions): Promise<INodeExecutionData[][] | null> {
		return await pollEvents.call(this);
	}
}
