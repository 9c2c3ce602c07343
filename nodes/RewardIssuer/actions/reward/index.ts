import type { INodeProperties } from 'n8n-workflow';

import * as addCoupons from './addCoupons.operation';
import * as approve from './approve.operation';
import * as cancel from './cancel.operation';
import * as claim from './claim.operation';
import * as confirm from './confirm.operation';
import * as get from './get.operation';
import * as getAll from './getAll.operation';
import * as markFailed from './markFailed.operation';
import * as releaseExpired from './releaseExpired.operation';

import type { Operation } from '../types';

export const operations: Record<string, Operation> = {
	addCoupons: addCoupons.execute,
	approve: approve.execute,
	cancel: cancel.execute,
	claim: claim.execute,
	confirm: confirm.execute,
	get: get.execute,
	getAll: getAll.execute,
	markFailed: markFailed.execute,
	releaseExpired: releaseExpired.execute,
};

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['reward'] } },
		options: [
			{
				name: 'Add Coupons',
				value: 'addCoupons',
				description: 'Add codes to a campaign’s coupon pool',
				action: 'Add coupons to a campaign',
			},
			{
				name: 'Approve',
				value: 'approve',
				description: 'Approve a reward waiting for approval',
				action: 'Approve a reward',
			},
			{
				name: 'Cancel',
				value: 'cancel',
				description: 'Cancel a reward not issued yet',
				action: 'Cancel a reward',
			},
			{
				name: 'Claim Due Rewards',
				value: 'claim',
				description: 'Claim rewards that are due, one item each, to deliver them exactly once',
				action: 'Claim due rewards',
			},
			{
				name: 'Confirm Issued',
				value: 'confirm',
				description: 'Record that a claimed reward was delivered',
				action: 'Confirm a reward as issued',
			},
			{ name: 'Get', value: 'get', description: 'Get a reward', action: 'Get a reward' },
			{ name: 'Get Many', value: 'getAll', description: 'Get many rewards', action: 'Get many rewards' },
			{
				name: 'Mark Failed',
				value: 'markFailed',
				description: 'Record that delivering a claimed reward failed; it is retried up to a limit',
				action: 'Mark a reward as failed',
			},
			{
				name: 'Release Expired Claims',
				value: 'releaseExpired',
				description: 'Make claims whose lease ran out due again',
				action: 'Release expired reward claims',
			},
		],
		default: 'claim',
	},
	...addCoupons.description,
	...approve.description,
	...cancel.description,
	...claim.description,
	...confirm.description,
	...get.description,
	...getAll.description,
	...markFailed.description,
	...releaseExpired.description,
];
