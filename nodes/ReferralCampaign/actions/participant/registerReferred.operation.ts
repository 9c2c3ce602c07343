import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { ReferralProgram, RegisterInput, RegisterResult } from '../../../../lib/referrals/program';
import { campaignLocator } from '../../../shared/campaign';
import { runCampaignBatch } from '../batch';
import { participantJson, referrerJson } from '../common';
import { metadataField, nameFields } from './fields';

const properties: INodeProperties[] = [
	campaignLocator(),
	{
		displayName: 'Referral Code',
		name: 'code',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'AB3K7QZ9M',
		description: 'The referrer’s code, e.g. the ref query parameter of the referral link',
	},
	{
		displayName: 'Email',
		name: 'email',
		type: 'string',
		placeholder: 'name@email.com',
		default: '',
		required: true,
		description: 'The referred person’s email',
	},
	{
		displayName: 'Additional Fields',
		name: 'additionalFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		options: [...nameFields, metadataField],
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['participant'], operation: ['registerReferred'] } },
	properties,
);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	return await runCampaignBatch<RegisterInput, RegisterResult>(
		this,
		program,
		(itemIndex) => {
			const fields = this.getNodeParameter('additionalFields', itemIndex, {}) as IDataObject;
			return {
				code: this.getNodeParameter('code', itemIndex),
				email: this.getNodeParameter('email', itemIndex),
				...fields,
			};
		},
		(campaignId, inputs, options) => program.registerReferred(campaignId, inputs, options),
		({ participant, referrer, created }) => ({
			...participantJson(participant),
			alreadyRegistered: !created,
			referrer: referrerJson(referrer),
		}),
	);
}
