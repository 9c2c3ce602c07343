import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { ReferralProgram, RegisterInput, RegisterResult } from '../../../../lib/referrals/program';
import { campaignLocator } from '../../../shared/campaign';
import { runCampaignBatch } from '../batch';
import { participantJson, referrerJson } from '../../../shared/json';
import { clientIpField, DEFINE_BELOW, inputModeField, mappedInput, metadataField, nameFields, userAgentField } from './fields';

const MAPPED_KEYS = ['code', 'email', 'firstName', 'lastName', 'metadata', 'clientIp', 'userAgent'] as const;

const properties: INodeProperties[] = [
	campaignLocator(),
	{
		displayName: 'Referral Code',
		name: 'code',
		displayOptions: DEFINE_BELOW,
		type: 'string',
		default: '',
		required: true,
		placeholder: 'AB3K7QZ9M',
		description: 'The referrer’s code, e.g. the ref query parameter of the referral link',
	},
	{
		displayName: 'Email',
		name: 'email',
		displayOptions: DEFINE_BELOW,
		type: 'string',
		placeholder: 'name@email.com',
		default: '',
		required: true,
		description: 'The referred person’s email',
	},
	{
		displayName: 'Additional Fields',
		name: 'additionalFields',
		displayOptions: DEFINE_BELOW,
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		options: [clientIpField, ...nameFields, metadataField, userAgentField],
	},
];

export const description = [
	inputModeField('registerReferred', 'code, email, firstName, lastName, metadata, clientIp and userAgent'),
	...updateDisplayOptions({ show: { resource: ['participant'], operation: ['registerReferred'] } }, properties),
];

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const autoMap = this.getNodeParameter('inputMode', 0) === 'autoMap';
	return await runCampaignBatch<RegisterInput, RegisterResult>(
		this,
		program,
		(itemIndex) => {
			if (autoMap) return mappedInput(this, itemIndex, MAPPED_KEYS);
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
