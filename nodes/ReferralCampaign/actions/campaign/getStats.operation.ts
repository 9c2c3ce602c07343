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
	{
		displayName: 'Period',
		name: 'period',
		type: 'options',
		options: [
			{ name: 'Last 7 Days', value: '7' },
			{ name: 'Last 30 Days', value: '30' },
			{ name: 'Last 90 Days', value: '90' },
			{ name: 'All Time', value: 'all' },
		],
		default: '30',
		description: 'The period of the figures under "dashboard" (what the program dashboard shows): KPIs, rewards per currency, the funnel and a series per day',
	},
	{
		displayName: 'Time Zone',
		name: 'timeZone',
		type: 'string',
		default: '',
		placeholder: 'Europe/Berlin',
		description: 'Days start at midnight in this zone (IANA name); empty: the workflow’s time zone (Settings → Timezone), else the instance’s GENERIC_TIMEZONE',
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
		const { topReferrers: _sameAsAbove, ...dashboard } = await program.getDashboardFigures(campaign.id, {
			period: this.getNodeParameter('period', itemIndex, '30') as string,
			timeZone: (this.getNodeParameter('timeZone', itemIndex, '') as string).trim() || this.getTimezone(),
			topReferrers: 0,
		});
		return { campaignName: campaign.name, ...stats, dashboard } as unknown as IDataObject;
	});
}
