import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { PipedriveClient } from '../../../../lib/pipedrive/client';
import type { ParticipantSource } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { roleLabel, type RecordRole, type SendTarget } from '../../../../lib/sync/send';
import { QueueingSender } from '../../../../lib/sync/send-queue';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';
import { participantLookupFields, participantRefOf } from '../../../shared/participant';
import { chosenFields, fieldPicker, runSettings } from '../fields';

const DEAL_OR_LEAD = { show: { target: ['deal', 'lead'] } };

const properties: INodeProperties[] = [
	campaignLocator(),
	...participantLookupFields({ by: 'id', value: '={{ $json.id }}' }),
	{
		displayName: 'Send As',
		name: 'target',
		type: 'options',
		noDataExpression: true,
		options: [
			{ name: 'Person + Deal', value: 'deal', description: 'A person and a deal in the chosen pipeline' },
			{ name: 'Person + Lead', value: 'lead', description: 'A person and a lead in the Leads Inbox' },
			{ name: 'Person Only', value: 'person' },
		],
		default: 'deal',
	},
	{
		displayName: 'Participants to Send',
		name: 'sources',
		type: 'multiOptions',
		options: [
			{ name: 'Added Manually or by API', value: 'manual,api' },
			{ name: 'Direct Sign-Ups (Referrers)', value: 'direct' },
			{ name: 'Referred People', value: 'referred' },
			{ name: 'Synced From Pipedrive', value: 'synced' },
		],
		default: ['referred'],
		description: 'Participants from other sources pass through marked as skipped',
	},
	{
		displayName: 'Pipeline Name or ID',
		name: 'pipelineId',
		type: 'options',
		typeOptions: { loadOptionsMethod: 'getPipelines' },
		default: '',
		description:
			'The pipeline of new deals; empty means the account’s first pipeline. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
		displayOptions: { show: { target: ['deal'] } },
	},
	{
		displayName: 'Stage Name or ID',
		name: 'stageId',
		type: 'options',
		typeOptions: { loadOptionsMethod: 'getStages', loadOptionsDependsOn: ['pipelineId'] },
		default: '',
		description:
			'The first stage of new deals; empty means the pipeline’s first stage. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
		displayOptions: { show: { target: ['deal'] } },
	},
	{
		displayName: 'Lead Label Names or IDs',
		name: 'leadLabelIds',
		type: 'multiOptions',
		typeOptions: { loadOptionsMethod: 'getLeadLabels' },
		default: [],
		description: 'Choose from the list, or specify IDs using an <a href="https://docs.n8n.io/code/expressions/">expression</a>',
		displayOptions: { show: { target: ['lead'] } },
	},
	{
		displayName: 'Title',
		name: 'title',
		type: 'string',
		default: '',
		placeholder: 'Referral: {{ $json.firstName }} {{ $json.lastName }}',
		description: 'Empty: "Referral: Bo Friend (from Ann Lee)", with the referred person’s and the referrer’s names',
		displayOptions: DEAL_OR_LEAD,
	},
	{
		...fieldPicker('Referral Code Field Name or ID', 'codeField', 'getDealFields', 'The deal field (leads use deal fields) that receives the referral code; qualification from Pipedrive reads it back', true),
		displayOptions: DEAL_OR_LEAD,
	},
	{
		displayName: 'Referral Fields',
		name: 'recordFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		displayOptions: DEAL_OR_LEAD,
		options: [
			fieldPicker('Campaign Name Field Name or ID', 'campaignNameField', 'getDealFields', 'Receives the campaign name'),
			fieldPicker('Referral Link Field Name or ID', 'linkField', 'getDealFields', 'Receives the referred person’s own referral link'),
			fieldPicker('Referrer Email Field Name or ID', 'referrerEmailField', 'getDealFields', 'Receives the referrer’s email'),
			fieldPicker('Referrer Name Field Name or ID', 'referrerNameField', 'getDealFields', 'Receives the referrer’s name'),
		],
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{ displayName: 'Currency', name: 'currency', type: 'string', default: '', placeholder: 'EUR' },
			{
				displayName: 'Extra Fields',
				name: 'extraFields',
				type: 'fixedCollection',
				typeOptions: { multipleValues: true },
				default: {},
				placeholder: 'Add Extra Field',
				description: 'More deal or lead fields set on creation',
				options: [
					{
						displayName: 'Field',
						name: 'field',
						values: [
							fieldPicker('Field Name or ID', 'field', 'getDealFields', 'The deal field'),
							{ displayName: 'Value', name: 'value', type: 'string', default: '' },
						],
					},
				],
			},
			{
				...fieldPicker('Person Referral Code Field Name or ID', 'personCodeField', 'getPersonFields', 'A person field that receives the participant’s own referral code'),
			},
			{
				...fieldPicker('Person Referral Link Field Name or ID', 'personLinkField', 'getPersonFields', 'A person field that receives the participant’s own referral link'),
			},
			{
				displayName: 'Owner Name or ID',
				name: 'ownerId',
				type: 'options',
				typeOptions: { loadOptionsMethod: 'getUsers' },
				default: '',
				description: 'Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>',
			},
			{ displayName: 'Value', name: 'value', type: 'number', default: 0, description: 'Deal or lead value' },
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['participant'], operation: ['send'] } }, properties);

const RECORD_ROLES: Array<{ role: RecordRole; parameter: string }> = [
	{ role: 'code', parameter: 'codeField' },
	{ role: 'referrerName', parameter: 'referrerNameField' },
	{ role: 'referrerEmail', parameter: 'referrerEmailField' },
	{ role: 'campaignName', parameter: 'campaignNameField' },
	{ role: 'link', parameter: 'linkField' },
];

export async function execute(
	this: IExecuteFunctions,
	program: ReferralProgram,
	client: PipedriveClient,
): Promise<INodeExecutionData[]> {
	// What and where to send holds for the whole run; checked once before anything is sent.
	const target = this.getNodeParameter('target', 0) as SendTarget;
	const settings = runSettings(this, target === 'person' ? [] : ['codeField']);
	const recordFields = { ...settings, ...(target === 'person' ? {} : (this.getNodeParameter('recordFields', 0, {}) as IDataObject)) };
	const options = this.getNodeParameter('options', 0, {}) as IDataObject;
	const extras = ((options.extraFields as IDataObject | undefined)?.field as IDataObject[] | undefined) ?? [];
	// Pipedrive unavailable for now (5xx, timeouts, 429, the daily budget): the send is queued for
	// the Send Queued operation and the item goes on, so no one waits for Pipedrive.
	const sender = new QueueingSender(program, client, {
		target,
		sources: (this.getNodeParameter('sources', 0, ['referred']) as string[]).flatMap((s) => s.split(',')) as ParticipantSource[],
		pipelineId: target === 'deal' ? Number(this.getNodeParameter('pipelineId', 0)) || undefined : undefined,
		stageId: target === 'deal' ? Number(this.getNodeParameter('stageId', 0, '')) || undefined : undefined,
		leadLabelIds: target === 'lead' ? (this.getNodeParameter('leadLabelIds', 0, []) as string[]) : undefined,
		recordFields: chosenFields(recordFields, RECORD_ROLES.map((r) => ({ ...r, label: roleLabel(r.role) }))),
		extraRecordFields: target === 'person' ? [] : extras.filter((e) => e.field).map((e) => ({ field: String(e.field), value: e.value })),
		personFields: chosenFields(options, [
			{ role: 'personLink' as const, parameter: 'personLinkField', label: roleLabel('personLink') },
			{ role: 'personCode' as const, parameter: 'personCodeField', label: roleLabel('personCode') },
		]),
	});
	await sender.prepare();
	const campaigns = new Map();
	return await forEachItem(this, async (itemIndex) => {
		const campaign = await campaignOf(this, program, itemIndex, campaigns);
		const itemOptions = this.getNodeParameter('options', itemIndex, {}) as IDataObject;
		const value = itemOptions.value === undefined || itemOptions.value === 0 ? undefined : Number(itemOptions.value);
		const result = await sender.send({
			campaignId: campaign.id,
			participant: participantRefOf(this, itemIndex),
			title: target === 'person' ? undefined : (this.getNodeParameter('title', itemIndex, '') as string),
			value,
			currency: (itemOptions.currency as string | undefined) || undefined,
			ownerId: Number(itemOptions.ownerId) || undefined,
		});
		return result as unknown as IDataObject;
	});
}
