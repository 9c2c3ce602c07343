import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { ItemFailedError } from '../../../lib/referrals/errors';
import type { Campaign } from '../../../lib/referrals/model';
import type { BatchOptions, Outcome, ReferralProgram } from '../../../lib/referrals/program';
import { campaignOf } from '../../shared/campaign';
import { errorItem, toNodeError } from '../../shared/errors';

interface Group<I> {
	itemIndexes: number[];
	inputs: I[];
}

/**
 * Runs a batch operation over all input items: items are grouped by campaign and each group is
 * written in one transaction, which is what makes thousands of items fast. Without "Continue On
 * Fail" the first bad item stops the node and nothing of its campaign's batch is written; with
 * it, bad items come out as error items and the rest are written.
 */
export async function runCampaignBatch<I, R>(
	context: IExecuteFunctions,
	program: ReferralProgram,
	readInput: (itemIndex: number) => I,
	run: (campaignId: number, inputs: I[], options: BatchOptions) => Promise<Array<Outcome<R>>>,
	toJson: (result: R) => IDataObject,
): Promise<INodeExecutionData[]> {
	const count = context.getInputData().length;
	const stopOnError = !context.continueOnFail();
	const output: INodeExecutionData[] = new Array(count);
	const campaigns = new Map<string, Campaign>();
	const groups = new Map<number, Group<I>>();
	for (let itemIndex = 0; itemIndex < count; itemIndex++) {
		try {
			const campaign = await campaignOf(context, program, itemIndex, campaigns);
			const input = readInput(itemIndex);
			let group = groups.get(campaign.id);
			if (!group) groups.set(campaign.id, (group = { itemIndexes: [], inputs: [] }));
			group.itemIndexes.push(itemIndex);
			group.inputs.push(input);
		} catch (error) {
			if (stopOnError) throw toNodeError(context.getNode(), error, itemIndex);
			output[itemIndex] = errorItem(error, itemIndex);
		}
	}
	for (const [campaignId, group] of groups) {
		let outcomes: Array<Outcome<R>>;
		try {
			outcomes = await run(campaignId, group.inputs, { stopOnError });
		} catch (error) {
			if (error instanceof ItemFailedError) {
				throw toNodeError(context.getNode(), error.cause, group.itemIndexes[error.itemIndex]);
			}
			if (stopOnError) throw toNodeError(context.getNode(), error, group.itemIndexes[0]);
			for (const itemIndex of group.itemIndexes) output[itemIndex] = errorItem(error, itemIndex);
			continue;
		}
		outcomes.forEach((outcome, position) => {
			const itemIndex = group.itemIndexes[position];
			output[itemIndex] = outcome.ok
				? { json: toJson(outcome.value), pairedItem: { item: itemIndex } }
				: errorItem(outcome.error, itemIndex);
		});
	}
	return output;
}
