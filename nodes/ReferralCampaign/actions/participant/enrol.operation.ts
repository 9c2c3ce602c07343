import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { EnrolInput, EnrolResult, ReferralProgram } from '../../../../lib/referrals/program';
import { campaignLocator } from '../../../shared/campaign';
import { runCampaignBatch } from '../batch';
import { participantJson } from '../../../shared/json';
import { clientIpField, DEFINE_BELOW, inputModeField, mappedInput, metadataField, nameFields, userAgentField } from './fields';

const MAPPED_KEYS = ['email', 'firstName', 'lastName', 'source', 'metadata', 'clientIp', 'userAgent'] as const;

const properties: INodeProperties[] = [
	campaignLocator(),
	{
		displayName: 'Email',
		displayOptions: DEFINE_BELOW,
		name: 'email',
		type: 'string',
		placeholder: 'name@email.com',
		default: '',
		required: true,
		description: 'The referrer’s email; enrolling the same email again returns the same code and link',
	},
	{
		displayName: 'Additional Fields',
		name: 'additionalFields',
		displayOptions: DEFINE_BELOW,
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		options: [
			clientIpField,
			...nameFields,
			metadataField,
			{
				displayName: 'Source',
				name: 'source',
				type: 'options',
				options: [
					{ name: 'API', value: 'api', description: 'Added by another system' },
					{ name: 'Direct', value: 'direct', description: 'Signed up as a referrer' },
					{ name: 'Manual', value: 'manual', description: 'Added by the team' },
					{ name: 'Synced', value: 'synced', description: 'Synced from Pipedrive contacts' },
				],
				default: 'direct',
				description: 'How the person joined; kept from the first enrolment',
			},
			userAgentField,
		],
	},
];

const options: INodeProperties = {
	displayName: 'Options',
	name: 'options',
	type: 'collection',
	placeholder: 'Add Option',
	default: {},
	options: [
		{
			displayName: 'Update Existing Participants',
			name: 'updateExisting',
			type: 'boolean',
			default: true,
			description:
				'Whether enrolling someone already in the campaign fills in their missing names and merges the metadata given. Turn off for public forms, where anyone can type anyone’s email: their record then stays exactly as it is.',
		},
	],
};

export const description = [
	inputModeField('enrol', 'email, firstName, lastName, source, metadata, clientIp and userAgent'),
	...updateDisplayOptions({ show: { resource: ['participant'], operation: ['enrol'] } }, [...properties, options]),
];

/** A setting of the whole run, read once. */
function updateExisting(context: IExecuteFunctions): boolean {
	return (context.getNodeParameter('options', 0, {}) as IDataObject).updateExisting !== false;
}

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const autoMap = this.getNodeParameter('inputMode', 0) === 'autoMap';
	return await runCampaignBatch<EnrolInput, EnrolResult>(
		this,
		program,
		(itemIndex) => {
			if (autoMap) return mappedInput(this, itemIndex, MAPPED_KEYS);
			const fields = this.getNodeParameter('additionalFields', itemIndex, {}) as IDataObject;
			return { email: this.getNodeParameter('email', itemIndex), ...fields };
		},
		(campaignId, inputs, batch) => program.enrol(campaignId, inputs, { ...batch, updateExisting: updateExisting(this) }),
		({ participant, created }) => ({ ...participantJson(participant), created }),
	);
}
