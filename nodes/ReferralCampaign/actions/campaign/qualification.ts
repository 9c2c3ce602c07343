// The campaign's qualification rule as fields of the Referral Campaign node (version 2): what
// counts as qualified in Pipedrive, read by the Pipedrive Referral Trigger (event "Campaign's
// Qualification Rule") and by Pipedrive Referral Sync's Reconcile Deals and Leads.

import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { parseQualificationRule, type QualificationRule } from '../../../../lib/referrals/qualification-rule';
import type { ReferralProgram } from '../../../../lib/referrals/program';

export const qualificationProperty: INodeProperties = {
	displayName: 'Qualification',
	name: 'qualification',
	type: 'collection',
	placeholder: 'Change What Qualifies',
	default: {},
	description:
		'What counts as qualified in Pipedrive, for the webhook trigger (event "Campaign\'s Qualification Rule") and the reconciliation alike: the one place to set it. Not set: a won deal qualifies, a lost deal un-qualifies.',
	options: [
		{
			displayName: 'Deal Lost Un-Qualifies',
			name: 'dealLostUnqualifies',
			type: 'boolean',
			default: true,
			description: 'Whether a deal marked lost (also after it was won: a refund, a cancelled contract) un-qualifies its referral',
		},
		{
			displayName: 'Deal Stage IDs',
			name: 'dealStageIds',
			type: 'string',
			default: '',
			placeholder: '3, 8',
			description: 'A deal in one of these Pipedrive stages qualifies its referral (comma-separated stage IDs; the stage list is under Pipelines in Pipedrive)',
		},
		{
			displayName: 'Deal Won Qualifies',
			name: 'dealWon',
			type: 'boolean',
			default: true,
			description: 'Whether a deal marked won qualifies its referral',
		},
		{
			displayName: 'Lead Converted Qualifies',
			name: 'leadConverted',
			type: 'boolean',
			default: false,
			description: 'Whether a lead converted to a deal qualifies its referral',
		},
		{
			displayName: 'Lead Label IDs',
			name: 'leadLabelIds',
			type: 'string',
			default: '',
			placeholder: 'f981a7f0-45ea-11ee-9d1e-bd0a7bc3b5c1',
			description: 'A lead with one of these Pipedrive lead labels qualifies its referral (comma-separated label IDs)',
		},
	],
};

/** The rule the fields describe; a field not added keeps its default (Create: the node is the whole definition). */
export function readQualificationRule(context: IExecuteFunctions, itemIndex: number): QualificationRule {
	return parseQualificationRule(qualificationFields(context, itemIndex));
}

/** The fields added under Qualification (Update changes only these, like its other fields). */
export function qualificationFields(context: IExecuteFunctions, itemIndex: number): IDataObject {
	return context.getNodeParameter('qualification', itemIndex, {}) as IDataObject;
}

/** Stores the rule on the campaign; the output says whether it changed. */
export async function applyQualificationRule(program: ReferralProgram, campaignId: number, rule: QualificationRule): Promise<IDataObject> {
	const changed = await program.setQualificationRule(campaignId, rule);
	return { qualification: { ...rule }, qualificationChanged: changed };
}
