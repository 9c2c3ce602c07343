import type {
	IDataObject,
	IExecuteFunctions,
	INodeExecutionData,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { ReferralError } from '../../lib/referrals/errors';
import type { Campaign } from '../../lib/referrals/model';
import type { ReferralLookup, ReferralProgram } from '../../lib/referrals/program';
import { campaignLocator, campaignOf, searchCampaigns } from '../shared/campaign';
import { errorItem, guardSetup, toNodeError } from '../shared/errors';
import { participantJson, referrerJson } from '../shared/json';
import { programFor, referralStoreConnectionTest } from '../shared/store';

const byEmail = { show: { findBy: ['email'] } };
/** Version 1.1 scopes every way of finding a referral to a campaign (1 only the email look-up). */
const scopedSince = { '@version': [{ _cnd: { gte: 1.1 } }] };
const byIdInOneCampaign = { show: { ...scopedSince, findBy: ['code', 'dealId', 'leadId'], campaignScope: ['one'] } };

export class QualifyWithCode implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Qualify With Code',
		name: 'qualifyWithCode',
		icon: { light: 'file:../../icons/qualifyWithCode.svg', dark: 'file:../../icons/qualifyWithCode.dark.svg' },
		group: ['transform'],
		version: [1, 1.1],
		defaultVersion: 1.1,
		subtitle: '={{$parameter["action"] + " by " + $parameter["findBy"]}}',
		description: 'Qualify or un-qualify a referral found by its code, email or Pipedrive deal or lead',
		defaults: { name: 'Qualify With Code' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'referralStoreApi', required: true, testedBy: 'referralStoreConnectionTest' }],
		properties: [
			{
				displayName: 'Action',
				name: 'action',
				type: 'options',
				options: [
					{
						name: 'Qualify',
						value: 'qualify',
						description: 'The referred person converted (deal won, paid, ...)',
						action: 'Qualify a referral',
					},
					{
						name: 'Unqualify',
						value: 'unqualify',
						description: 'A refund, or a deal lost after it was won',
						action: 'Unqualify a referral',
					},
				],
				default: 'qualify',
			},
			{
				displayName: 'Find Referral By',
				name: 'findBy',
				type: 'options',
				options: [
					{ name: 'Email (in a Campaign)', value: 'email' },
					{ name: 'Pipedrive Deal ID', value: 'dealId' },
					{ name: 'Pipedrive Lead ID', value: 'leadId' },
					{ name: 'Referral Code', value: 'code' },
				],
				default: 'code',
			},
			{
				displayName: 'Referrals Of',
				name: 'campaignScope',
				type: 'options',
				options: [
					{
						name: 'One Campaign',
						value: 'one',
						description: 'A referral of another campaign counts as not found (with Ignore Records That Are Not Referrals: passes through)',
					},
					{
						name: 'Any Campaign',
						value: 'any',
						description: 'Codes and Pipedrive IDs are unique across campaigns, so the referral is found wherever it is',
					},
				],
				default: 'one',
				displayOptions: { show: { ...scopedSince, findBy: ['code', 'dealId', 'leadId'] } },
			},
			{ ...campaignLocator(byEmail) },
			{ ...campaignLocator(byIdInOneCampaign) },
			{
				displayName: 'Referral Code',
				name: 'code',
				type: 'string',
				default: '={{ $json.referralCode ?? $json.code }}',
				required: true,
				description: 'The referred person’s own code, as written into the Pipedrive deal or lead',
				displayOptions: { show: { findBy: ['code'] } },
			},
			{
				displayName: 'Email',
				name: 'email',
				type: 'string',
				placeholder: 'name@email.com',
				default: '={{ $json.email }}',
				required: true,
				displayOptions: byEmail,
			},
			{
				displayName: 'Deal ID',
				name: 'dealId',
				type: 'string',
				default: '={{ $json.dealId }}',
				required: true,
				displayOptions: { show: { findBy: ['dealId'] } },
			},
			{
				displayName: 'Lead ID',
				name: 'leadId',
				type: 'string',
				default: '={{ $json.leadId }}',
				required: true,
				displayOptions: { show: { findBy: ['leadId'] } },
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add Option',
				default: {},
				options: [
					{
						displayName: 'Currency',
						name: 'currency',
						type: 'string',
						default: '',
						placeholder: 'EUR',
						description: 'Three-letter currency code of the sale value',
					},
					{
						displayName: 'Event Time',
						name: 'occurredAt',
						type: 'string',
						default: '',
						placeholder: '={{ $json.time }}',
						description:
							'When the change happened at its source (e.g. the Pipedrive event time). A change older than the latest one applied to this referral is ignored (stale: true), so a delivery retried late cannot undo a later change.',
					},
					{
						displayName: 'Idempotency Key',
						name: 'idempotencyKey',
						type: 'string',
						default: '',
						placeholder: '={{ $json.eventId }}',
						description:
							'Identifies this qualification, e.g. the Pipedrive event ID or an order ID: a key seen before is not applied again, so a retried delivery cannot undo a later change',
					},
					{
						displayName: 'Ignore Records That Are Not Referrals',
						name: 'ignoreNonReferrals',
						type: 'boolean',
						default: false,
						description:
							'Whether codes, deals or emails that belong to no referral pass through with isReferral: false instead of failing (most deals in a pipeline are not referrals)',
					},
					{
						displayName: 'Sale Value',
						name: 'saleValue',
						type: 'number',
						default: 0,
						description: 'What the referred person bought, for commission rewards',
					},
				],
			},
		],
	};

	methods = {
		credentialTest: { referralStoreConnectionTest },
		listSearch: { searchCampaigns },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return [await guardSetup(this, async () => await qualifyItems(this, await programFor(this)))];
	}
}

async function qualifyItems(context: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const items = context.getInputData();
	const campaigns = new Map<string, Campaign>();
	const output: INodeExecutionData[] = [];
	for (let itemIndex = 0; itemIndex < items.length; itemIndex++) {
		const options = context.getNodeParameter('options', itemIndex, {}) as IDataObject;
		try {
			const result = await program.qualify(await lookupOf(context, program, itemIndex, campaigns), {
				action: context.getNodeParameter('action', itemIndex) as 'qualify' | 'unqualify',
				saleValue: options.saleValue === 0 ? undefined : options.saleValue,
				currency: options.currency,
				idempotencyKey: options.idempotencyKey,
				occurredAt: options.occurredAt,
				via: 'qualifyWithCode',
			});
			output.push({
				json: {
					isReferral: true,
					changed: result.changed,
					duplicate: result.duplicate,
					stale: result.stale ?? false,
					previousStatus: result.previousStatus,
					status: result.status,
					referral: participantJson(result.participant),
					referrer: referrerJson(result.referrer),
				},
				pairedItem: { item: itemIndex },
			});
		} catch (error) {
			const notAReferral = error instanceof ReferralError && isNotAReferral(error);
			if (notAReferral && options.ignoreNonReferrals) {
				output.push({
					json: { ...items[itemIndex].json, isReferral: false, reason: error.message },
					pairedItem: { item: itemIndex },
				});
				continue;
			}
			if (!context.continueOnFail()) throw toNodeError(context.getNode(), error, itemIndex);
			output.push(errorItem(error, itemIndex));
		}
	}
	return output;
}

/** The lookup field of each way of finding a referral, as lib/referrals names it in errors. */
const LOOKUP_FIELDS = new Set(['code', 'email', 'pipedriveDealId', 'pipedriveLeadId']);

/**
 * A record that is no referral: none found, not a referred person, or no usable code, email or
 * ID at all (most deals carry an empty or a free-text code field).
 */
function isNotAReferral(error: ReferralError): boolean {
	if (error.kind === 'not_found' || error.kind === 'not_a_referral') return error.field !== 'campaign';
	return error.kind === 'invalid_input' && LOOKUP_FIELDS.has(error.field ?? '');
}

async function lookupOf(
	context: IExecuteFunctions,
	program: ReferralProgram,
	itemIndex: number,
	campaigns: Map<string, Campaign>,
): Promise<ReferralLookup> {
	const findBy = context.getNodeParameter('findBy', itemIndex) as 'code' | 'email' | 'dealId' | 'leadId';
	if (findBy === 'email') {
		const campaign = await campaignOf(context, program, itemIndex, campaigns);
		return { email: context.getNodeParameter('email', itemIndex), campaignId: campaign.id };
	}
	const scoped = context.getNode().typeVersion >= 1.1 && context.getNodeParameter('campaignScope', itemIndex, 'one') === 'one';
	const campaignId = scoped ? (await campaignOf(context, program, itemIndex, campaigns)).id : undefined;
	if (findBy === 'dealId') return { pipedriveDealId: context.getNodeParameter('dealId', itemIndex), campaignId };
	if (findBy === 'leadId') return { pipedriveLeadId: context.getNodeParameter('leadId', itemIndex), campaignId };
	return { code: context.getNodeParameter('code', itemIndex), campaignId };
}
