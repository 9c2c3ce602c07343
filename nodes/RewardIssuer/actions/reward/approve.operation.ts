import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { ReferralProgram } from '../../../../lib/referrals/program';
import { rewardIdField } from '../common';
import { eachRewardChange } from './transition';

export const description = updateDisplayOptions({ show: { resource: ['reward'], operation: ['approve'] } }, [
	rewardIdField(),
] as INodeProperties[]);

/** A reward waiting for approval becomes due (or held, when the campaign's hold has not ended). */
export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	return await eachRewardChange(this, async (rewardId) => await program.rewards.approve(rewardId));
}
