import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { ReferralProgram } from '../../../../lib/referrals/program';
import { forEachItem } from '../../../shared/items';
import { campaignJson, campaignSettingFields } from '../common';

const properties: INodeProperties[] = [
	{
		displayName: 'Name',
		name: 'name',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'Spring referral program',
	},
	{
		displayName: 'If It Already Exists',
		name: 'ifExists',
		type: 'options',
		default: 'error',
		options: [
			{
				name: 'Fail',
				value: 'error',
				description: 'A campaign with the same slug is an error',
			},
			{
				name: 'Use It',
				value: 'useExisting',
				description:
					'Output the campaign with the same slug, unchanged (created: false). The fields here apply only when it is new; change an existing campaign with Update.',
			},
		],
		description: 'What happens when a campaign with this slug (made from the name when no slug is set) exists',
	},
	{
		displayName: 'Additional Fields',
		name: 'additionalFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		options: ([
			...campaignSettingFields,
			{
				displayName: 'Slug',
				name: 'slug',
				type: 'string',
				default: '',
				placeholder: 'spring-2026',
				description: 'A short unique name to pick the campaign by; made from the name when empty',
			},
		] satisfies INodeProperties[]).sort((a, b) => a.displayName.localeCompare(b.displayName)),
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['campaign'], operation: ['create'] } },
	properties,
);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	return await forEachItem(this, async (itemIndex) => {
		const name = this.getNodeParameter('name', itemIndex);
		const fields = this.getNodeParameter('additionalFields', itemIndex, {}) as IDataObject;
		if (this.getNodeParameter('ifExists', itemIndex, 'error') === 'useExisting') {
			const { campaign, created } = await program.ensureCampaign({ name, ...fields });
			return { ...campaignJson(campaign), created };
		}
		return { ...campaignJson(await program.createCampaign({ name, ...fields })), created: true };
	});
}
