import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { invalidInput } from '../../../../lib/referrals/errors';
import type { ClaimResult } from '../../../../lib/referrals/issuing';
import type { Campaign } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { campaignFilterOf, optionalCampaignLocator, participantIdOf, rewardViewJson, runOnce } from '../common';

const properties: INodeProperties[] = [
	{
		displayName:
			'Runs once per execution, whatever the number of input items: each claimed reward comes out as one item. Deliver it (Send Email, a payout API, ...), then confirm it with Confirm Issued or report it with Mark Failed. Nothing due: no items, so the workflow stops here.',
		name: 'claimNotice',
		type: 'notice',
		default: '',
	},
	optionalCampaignLocator('The campaign whose rewards to claim, or All Campaigns'),
	{
		displayName: 'Limit',
		name: 'limit',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 50,
		description: 'Max number of results to return',
		hint: 'Up to 1,000 rewards per run',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Beneficiary (Participant ID)',
				name: 'beneficiaryId',
				type: 'number',
				typeOptions: { minValue: 0 },
				default: 0,
				description: 'Only rewards for this participant; 0 for everyone',
			},
			{
				displayName: 'Lease (Minutes)',
				name: 'leaseMinutes',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 10080 },
				default: 15,
				description:
					'How long the claim holds. A reward neither confirmed nor failed by then (say, the worker died) can be released with Release Expired Claims and claimed again.',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['reward'], operation: ['claim'] } }, properties);

/**
 * Claims due rewards under a lease. Coupon rewards whose campaign has no coupons left stay due;
 * when they are all there is, one item says so (claimed: 0, poolEmpty: true) instead of nothing.
 */
export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	return await runOnce(this, async () => {
		const campaignId = await campaignFilterOf(this, program, 0, new Map<string, Campaign>());
		const options = this.getNodeParameter('options', 0, {}) as IDataObject;
		const result = await program.rewards.claim({
			campaignId,
			beneficiaryId: participantIdOf(options.beneficiaryId, 'beneficiaryId'),
			limit: Number(this.getNodeParameter('limit', 0, 50)),
			leaseSeconds: leaseSecondsOf(options.leaseMinutes),
		});
		const claim = { claimed: result.claimed.length, waitingForCoupons: result.waitingForCoupons.length };
		if (claim.claimed === 0 && claim.waitingForCoupons > 0) return [waitingItem(result)];
		return result.claimed.map((view) => ({ ...rewardViewJson(view), claim: { ...claim } }));
	});
}

function waitingItem(result: ClaimResult): IDataObject {
	const waiting = result.waitingForCoupons.length;
	const campaignIds = [...new Set(result.waitingForCoupons.map((reward) => reward.campaignId))];
	const which = campaignIds.length === 1 ? `campaign ${campaignIds[0]}` : `campaigns ${campaignIds.join(', ')}`;
	return {
		claimed: 0,
		waitingForCoupons: waiting,
		poolEmpty: true,
		campaignIds,
		message: `${waiting} coupon reward${waiting === 1 ? '' : 's'} wait${waiting === 1 ? 's' : ''} for coupons: the coupon pool of ${which} is empty. Add codes with Add Coupons; the rewards stay due and are claimed then.`,
	};
}

/** The lease in seconds, as the library takes it; the node's field is in minutes. */
function leaseSecondsOf(value: unknown): number {
	const minutes = value === undefined || value === '' ? 15 : Number(value);
	if (!(minutes >= 1 && minutes <= 10080)) {
		throw invalidInput('leaseMinutes', `The lease must be from 1 to 10,080 minutes (7 days), not ${String(value)}`);
	}
	return Math.round(minutes * 60);
}
