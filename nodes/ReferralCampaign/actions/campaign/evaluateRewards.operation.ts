import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { Campaign } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';

export const description = updateDisplayOptions(
	{ show: { resource: ['campaign'], operation: ['evaluateRewards'] } },
	[campaignLocator()] as INodeProperties[],
);

/** Back-fills the rewards the current rules imply for earlier referrals; running it again adds nothing. */
export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const cache = new Map<string, Campaign>();
	return await forEachItem(this, async (itemIndex) => {
		const campaign = await campaignOf(this, program, itemIndex, cache);
		const result = await program.evaluateRewards(campaign.id);
		return { campaignId: campaign.id, ...result } as IDataObject;
	});
}
