import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { ReferralProgram } from '../../../../lib/referrals/program';
import { rewardIdField } from '../common';
import { eachRewardChange } from './transition';

const properties: INodeProperties[] = [
	rewardIdField(
		'The claimed reward’s ID. On the error output of a delivery node the item holds only the error: use {{ $(\'Reward Issuer\').item.json.reward.id }} with the claiming node’s name.',
	),
	{
		displayName: 'Reason',
		name: 'reason',
		type: 'string',
		default: '={{ $json.error }}',
		description: 'Why delivery failed; the default reads the error of a delivery node’s error output',
	},
	{
		displayName: 'Max Attempts',
		name: 'maxAttempts',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 3,
		description:
			'Failed attempts after which the reward is failed for good; before that it is due again and the next claim retries it',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['reward'], operation: ['markFailed'] } }, properties);

/** Back to due while attempts remain (retrying: true), else failed for good (retrying: false). */
export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	return await eachRewardChange(
		this,
		async (rewardId, itemIndex) =>
			await program.rewards.fail(
				rewardId,
				reasonText(this.getNodeParameter('reason', itemIndex, '')),
				Number(this.getNodeParameter('maxAttempts', itemIndex, 3)),
			),
		(reward) => ({ retrying: reward.status === 'due' }),
	);
}

/** An error mapped in whole (an object with a message) reads as its message. */
function reasonText(value: unknown): string {
	if (value === undefined || value === null) return '';
	if (typeof value !== 'object') return String(value);
	const message = (value as { message?: unknown }).message;
	return typeof message === 'string' ? message : JSON.stringify(value);
}
