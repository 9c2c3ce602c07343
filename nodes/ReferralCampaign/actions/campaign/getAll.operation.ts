import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { CampaignStatus } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { forEachItem } from '../../../shared/items';
import { collectUpTo } from '../../../shared/router';
import { campaignOutput, returnAllFields } from '../common';

const properties: INodeProperties[] = [
	...returnAllFields(),
	{
		displayName: 'Filters',
		name: 'filters',
		type: 'collection',
		placeholder: 'Add Filter',
		default: {},
		options: [
			{
				displayName: 'Search',
				name: 'search',
				type: 'string',
				default: '',
				description: 'Only campaigns whose name or slug contains this text',
			},
			{
				displayName: 'Status',
				name: 'status',
				type: 'multiOptions',
				options: [
					{ name: 'Active', value: 'active' },
					{ name: 'Archived', value: 'archived' },
					{ name: 'Paused', value: 'paused' },
				],
				default: [],
			},
		],
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['campaign'], operation: ['getAll'] } },
	properties,
);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	return await forEachItem(this, async (itemIndex) => {
		const returnAll = this.getNodeParameter('returnAll', itemIndex) as boolean;
		const limit = returnAll ? Infinity : (this.getNodeParameter('limit', itemIndex) as number);
		const filters = this.getNodeParameter('filters', itemIndex, {}) as IDataObject;
		const status = (filters.status as CampaignStatus[] | undefined)?.length ? (filters.status as CampaignStatus[]) : undefined;
		const search = (filters.search as string | undefined)?.trim() || undefined;
		const campaigns = await collectUpTo(limit, (afterId, wanted) => program.listCampaigns({ status, search }, { limit: wanted, afterId }));
		return campaigns.map((campaign) => campaignOutput(this, campaign));
	});
}
