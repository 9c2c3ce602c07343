import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { ReferralProgram } from '../../../../lib/referrals/program';
import { rewardIdField } from '../common';
import { eachRewardChange } from './transition';

const properties: INodeProperties[] = [
	rewardIdField(
		'The claimed reward’s ID. The default reads it from the item of Claim Due Rewards; after a node that replaces the item, use {{ $(\'Reward Issuer\').item.json.reward.id }} with the claiming node’s name.',
	),
	{
		displayName: 'External Reference',
		name: 'externalRef',
		type: 'string',
		default: '',
		placeholder: 'stripe:tr_1Nv0',
		description: 'Where the reward was issued, e.g. a payout, order or message ID; kept with the reward',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['reward'], operation: ['confirm'] } }, properties);

/** Issued: the claim ends for good. Confirming an issued reward again changes nothing (changed: false). */
export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	return await eachRewardChange(this, async (rewardId, itemIndex) => {
		const externalRef = String(this.getNodeParameter('externalRef', itemIndex, '') ?? '');
		return await program.rewards.confirm(rewardId, externalRef || undefined);
	});
}
