import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { Campaign, RewardStatus } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import type { RewardFilter } from '../../../../lib/store/types';
import { forEachItem } from '../../../shared/items';
import { collectUpTo } from '../../../shared/router';
import { campaignFilterOf, optionalCampaignLocator, participantIdOf, rewardViewJson } from '../common';

const properties: INodeProperties[] = [
	optionalCampaignLocator('The campaign whose rewards to list, or All Campaigns'),
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
	{
		displayName: 'Filters',
		name: 'filters',
		type: 'collection',
		placeholder: 'Add Filter',
		default: {},
		options: [
			{
				displayName: 'Beneficiary (Participant ID)',
				name: 'beneficiaryId',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Only rewards for this participant',
			},
			{
				displayName: 'Referral (Participant ID)',
				name: 'referralId',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Only rewards earned by this referred person',
			},
			{
				displayName: 'Status',
				name: 'status',
				type: 'multiOptions',
				options: [
					{ name: 'Cancelled', value: 'cancelled' },
					{ name: 'Due', value: 'due', description: 'Ready to be claimed and issued' },
					{ name: 'Failed', value: 'failed', description: 'Delivery failed after the last attempt' },
					{ name: 'Issued', value: 'issued' },
					{ name: 'Issuing', value: 'issuing', description: 'Claimed, not confirmed yet' },
					{ name: 'Pending Approval', value: 'pending_approval' },
					{ name: 'Pending Hold', value: 'pending_hold', description: 'Waiting for the refund window to end' },
				],
				default: [],
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['reward'], operation: ['getAll'] } }, properties);

/** Oldest first (ascending ID), read page by page. */
export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const cache = new Map<string, Campaign>();
	return await forEachItem(this, async (itemIndex) => {
		const returnAll = this.getNodeParameter('returnAll', itemIndex) as boolean;
		const limit = returnAll ? Infinity : (this.getNodeParameter('limit', itemIndex) as number);
		const filters = this.getNodeParameter('filters', itemIndex, {}) as IDataObject;
		const filter: RewardFilter = {
			campaignId: await campaignFilterOf(this, program, itemIndex, cache),
			beneficiaryId: participantIdOf(filters.beneficiaryId, 'beneficiaryId'),
			referralId: participantIdOf(filters.referralId, 'referralId'),
		};
		const status = filters.status as RewardStatus[] | undefined;
		if (status?.length) filter.status = status;
		const views = await collectUpTo(
			limit,
			async (afterId, wanted) =>
				(await program.rewards.list(filter, { limit: wanted, afterId })).map((view) => ({ id: view.reward.id, view })),
		);
		return views.map(({ view }) => rewardViewJson(view));
	});
}
