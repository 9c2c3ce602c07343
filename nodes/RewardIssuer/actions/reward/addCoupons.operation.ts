import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { Campaign } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';

const properties: INodeProperties[] = [
	campaignLocator(),
	{
		displayName: 'Coupons',
		name: 'coupons',
		type: 'string',
		typeOptions: { rows: 6 },
		default: '',
		required: true,
		placeholder: 'WELCOME-7F3K\nWELCOME-9Q2M',
		description:
			'Coupon codes, one per line or separated by commas or semicolons (a one-column CSV file’s text works), or a list from an expression. Codes already in the pool are ignored; each code is handed out at most once.',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['reward'], operation: ['addCoupons'] } }, properties);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const cache = new Map<string, Campaign>();
	return await forEachItem(this, async (itemIndex) => {
		const campaign = await campaignOf(this, program, itemIndex, cache);
		const result = await program.rewards.addCoupons(campaign.id, this.getNodeParameter('coupons', itemIndex));
		return { campaignId: campaign.id, ...result };
	});
}
