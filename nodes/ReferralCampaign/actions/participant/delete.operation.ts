import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { Campaign } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';
import { participantLookupFields, participantRefOf } from '../../../shared/participant';

const properties: INodeProperties[] = [
	campaignLocator(),
	...participantLookupFields({ by: 'email', value: '' }),
	{
		displayName:
			'Deleting erases the person: email, names, metadata and sign-up device are removed for good. An anonymous row stays so referral counts and rewards stay right.',
		name: 'erasureNotice',
		type: 'notice',
		default: '',
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['participant'], operation: ['delete'] } },
	properties,
);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const cache = new Map<string, Campaign>();
	return await forEachItem(this, async (itemIndex) => {
		const campaign = await campaignOf(this, program, itemIndex, cache);
		const erased = await program.eraseParticipant(campaign.id, participantRefOf(this, itemIndex));
		return { id: erased.id, erased: true, erasedAt: erased.erasedAt };
	});
}
