import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { invalidInput } from '../../../../lib/referrals/errors';
import type { Campaign } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';
import { participantLookupFields, participantRefOf } from '../../../shared/participant';
import { participantJson } from '../../../shared/json';
import { metadataField, nameFields } from './fields';

const properties: INodeProperties[] = [
	campaignLocator(),
	...participantLookupFields({ by: 'email', value: '' }),
	{
		displayName: 'Update Fields',
		name: 'updateFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		options: [
			...nameFields,
			metadataField,
			{
				displayName: 'Metadata Mode',
				name: 'metadataMode',
				type: 'options',
				options: [
					{ name: 'Merge', value: 'merge', description: 'Add the given keys, overwriting the same keys' },
					{ name: 'Replace', value: 'replace', description: 'Keep exactly the given object' },
				],
				default: 'merge',
			},
		],
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['participant'], operation: ['update'] } },
	properties,
);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const cache = new Map<string, Campaign>();
	return await forEachItem(this, async (itemIndex) => {
		const campaign = await campaignOf(this, program, itemIndex, cache);
		const fields = this.getNodeParameter('updateFields', itemIndex, {}) as IDataObject;
		if (Object.keys(fields).filter((key) => key !== 'metadataMode').length === 0) {
			throw invalidInput('updateFields', 'Nothing to update: add at least one field under Update Fields');
		}
		const updated = await program.updateParticipant(campaign.id, participantRefOf(this, itemIndex), {
			firstName: fields.firstName,
			lastName: fields.lastName,
			metadata: fields.metadata,
			metadataMode: fields.metadataMode === 'replace' ? 'replace' : 'merge',
		});
		return participantJson(updated);
	});
}
