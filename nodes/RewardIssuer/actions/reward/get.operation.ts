import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { ReferralProgram } from '../../../../lib/referrals/program';
import { forEachItem } from '../../../shared/items';
import { rewardIdField, rewardIdOf, rewardViewJson } from '../common';

export const description = updateDisplayOptions({ show: { resource: ['reward'], operation: ['get'] } }, [
	rewardIdField(),
] as INodeProperties[]);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	return await forEachItem(this, async (itemIndex) => rewardViewJson(await program.rewards.get(rewardIdOf(this, itemIndex))));
}
