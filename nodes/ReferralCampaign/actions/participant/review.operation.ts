import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { Campaign } from '../../../../lib/referrals/model';
import type { ReferralProgram, ReviewResult } from '../../../../lib/referrals/program';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';
import { participantJson } from '../../../shared/json';
import { participantLookupFields, participantRefOf } from '../../../shared/participant';

// Approve / Reject: the decision on a referral a fraud rule held for review (status flagged).

export const description = [
	...updateDisplayOptions({ show: { resource: ['participant'], operation: ['approve', 'reject'] } }, [
		campaignLocator(),
		...participantLookupFields({ by: 'code', value: '' }),
	] as INodeProperties[]),
	...updateDisplayOptions({ show: { resource: ['participant'], operation: ['reject'] } }, [
		{
			displayName: 'Reason',
			name: 'reason',
			type: 'string',
			required: true,
			default: '',
			placeholder: 'Same person as an earlier referral',
			description: 'Why the referral is rejected; kept with it for the team',
		},
	]),
];

export async function approve(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	return await decideEach(this, program, (campaign, itemIndex) => program.approveReferral(campaign.id, participantRefOf(this, itemIndex)));
}

export async function reject(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	return await decideEach(this, program, (campaign, itemIndex) =>
		program.rejectReferral(campaign.id, participantRefOf(this, itemIndex), this.getNodeParameter('reason', itemIndex)),
	);
}

async function decideEach(
	context: IExecuteFunctions,
	program: ReferralProgram,
	decide: (campaign: Campaign, itemIndex: number) => Promise<ReviewResult>,
): Promise<INodeExecutionData[]> {
	const cache = new Map<string, Campaign>();
	return await forEachItem(context, async (itemIndex) => {
		const campaign = await campaignOf(context, program, itemIndex, cache);
		const { participant, review, changed } = await decide(campaign, itemIndex);
		return { ...participantJson(participant), review, changed };
	});
}
