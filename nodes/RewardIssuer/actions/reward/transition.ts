import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import type { Reward } from '../../../../lib/referrals/model';
import { forEachItem } from '../../../shared/items';
import { rewardIdOf, rewardJson } from '../common';

/** A per-item change of one reward's status, output as { reward, changed, ...extra }. */
export async function eachRewardChange(
	context: IExecuteFunctions,
	change: (rewardId: number, itemIndex: number) => Promise<{ reward: Reward; changed: boolean }>,
	extra: (reward: Reward) => IDataObject = () => ({}),
): Promise<INodeExecutionData[]> {
	return await forEachItem(context, async (itemIndex) => {
		const { reward, changed } = await change(rewardIdOf(context, itemIndex), itemIndex);
		return { reward: rewardJson(reward), changed, ...extra(reward) };
	});
}
