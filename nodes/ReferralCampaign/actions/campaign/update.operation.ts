import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { invalidInput } from '../../../../lib/referrals/errors';
import type { Campaign } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';
import { campaignJson, campaignSettingFields } from '../common';

const properties: INodeProperties[] = [
	campaignLocator(),
	{
		displayName: 'Update Fields',
		name: 'updateFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		options: ([
			{
				displayName: 'Name',
				name: 'name',
				type: 'string',
				default: '',
			},
			...campaignSettingFields,
		] satisfies INodeProperties[]).sort((a, b) => a.displayName.localeCompare(b.displayName)),
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['campaign'], operation: ['update'] } },
	properties,
);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const cache = new Map<string, Campaign>();
	return await forEachItem(this, async (itemIndex) => {
		const campaign = await campaignOf(this, program, itemIndex, cache);
		const fields = this.getNodeParameter('updateFields', itemIndex, {}) as IDataObject;
		if (Object.keys(fields).length === 0) {
			throw invalidInput('updateFields', 'Nothing to update: add at least one field under Update Fields');
		}
		const updated = await program.updateCampaign(campaign.id, fields);
		cache.clear();
		return campaignJson(updated);
	});
}
