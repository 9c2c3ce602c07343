import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { Campaign } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';
import { participantLookupFields, participantRefOf } from '../../../shared/participant';
import { participantJson } from '../../../shared/json';

export const description = updateDisplayOptions({ show: { resource: ['participant'], operation: ['get'] } }, [
	campaignLocator(),
	...participantLookupFields({ by: 'email', value: '' }),
] as INodeProperties[]);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const cache = new Map<string, Campaign>();
	return await forEachItem(this, async (itemIndex) => {
		const campaign = await campaignOf(this, program, itemIndex, cache);
		return participantJson(await program.getParticipant(campaign.id, participantRefOf(this, itemIndex)));
	});
}
