import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { ReferralProgram } from '../../../../lib/referrals/program';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';
import { participantLookupFields, participantRefOf } from '../../../shared/participant';

const properties: INodeProperties[] = [
	{
		displayName: 'Retry',
		name: 'retryScope',
		type: 'options',
		noDataExpression: true,
		options: [
			{ name: 'All Failed Sends', value: 'all', description: 'Every send given up, in every campaign' },
			{ name: 'One Participant', value: 'participant', description: 'The participant of each input item' },
		],
		default: 'all',
	},
	{ ...campaignLocator(), displayOptions: { show: { retryScope: ['participant'] } } },
	...participantLookupFields({ by: 'id', value: '={{ $json.participantId }}' }).map((property) => ({
		...property,
		displayOptions: { show: { retryScope: ['participant'] } },
	})),
];

export const description = updateDisplayOptions({ show: { resource: ['participant'], operation: ['retryFailedSends'] } }, properties);

/** Queues failed sends again (attempts from zero, due now); the next Send Queued run sends them. */
export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	if (this.getNodeParameter('retryScope', 0) === 'all') {
		const queued = await program.retryFailedSends({}, 10_000);
		return [{ json: { queued: queued.length, participantIds: queued.map((send) => send.participantId) }, pairedItem: { item: 0 } }];
	}
	const campaigns = new Map();
	return await forEachItem(this, async (itemIndex) => {
		const campaign = await campaignOf(this, program, itemIndex, campaigns);
		const participant = await program.getParticipant(campaign.id, participantRefOf(this, itemIndex));
		const queued = await program.retryFailedSends({ participantIds: [participant.id] }, 1);
		return { participantId: participant.id, queued: queued.length === 1 };
	});
}
