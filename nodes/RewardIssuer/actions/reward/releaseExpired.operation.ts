import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { ReferralProgram } from '../../../../lib/referrals/program';
import { rewardJson, runOnce } from '../common';

const properties: INodeProperties[] = [
	{
		displayName:
			'Runs once per execution. Rewards claimed but neither confirmed nor failed before their lease ran out (a worker stopped mid-delivery) become due again, so the next claim issues them. Run it on a schedule.',
		name: 'releaseNotice',
		type: 'notice',
		default: '',
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['reward'], operation: ['releaseExpired'] } },
	properties,
);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	return await runOnce(this, async () => {
		const released = await program.rewards.releaseExpiredClaims();
		return [{ released: released.length, rewards: released.map(rewardJson) }];
	});
}
