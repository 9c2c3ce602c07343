import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { ReferralProgram } from '../../../../lib/referrals/program';
import { rewardIdField } from '../common';
import { eachRewardChange } from './transition';

export const description = updateDisplayOptions({ show: { resource: ['reward'], operation: ['cancel'] } }, [
	rewardIdField(),
] as INodeProperties[]);

/** Cancels a reward not issued yet; cancelling a cancelled one again changes nothing (changed: false). */
export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	return await eachRewardChange(this, async (rewardId) => await program.rewards.cancel(rewardId));
}
