import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { Campaign } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';

const properties: INodeProperties[] = [
	campaignLocator(),
	{
		displayName: 'Top Referrers',
		name: 'topReferrers',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 1000 },
		default: 10,
		description: 'How many of the best referrers to list, by qualified referrals',
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['campaign'], operation: ['getStats'] } },
	properties,
);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const cache = new Map<string, Campaign>();
	return await forEachItem(this, async (itemIndex) => {
		const campaign = await campaignOf(this, program, itemIndex, cache);
		const top = this.getNodeParameter('topReferrers', itemIndex, 10) as number;
		const stats = await program.getCampaignStats(campaign.id, top);
		return { campaignName: campaign.name, ...stats } as unknown as IDataObject;
	});
}
