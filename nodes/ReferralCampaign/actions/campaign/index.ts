import type { INodeProperties } from 'n8n-workflow';

import * as create from './create.operation';
import * as evaluateRewards from './evaluateRewards.operation';
import * as get from './get.operation';
import * as getAll from './getAll.operation';
import * as getStats from './getStats.operation';
import * as update from './update.operation';

import type { Operation } from '../types';

export const operations: Record<string, Operation> = {
	create: create.execute,
	evaluateRewards: evaluateRewards.execute,
	get: get.execute,
	getAll: getAll.execute,
	getStats: getStats.execute,
	update: update.execute,
};

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['campaign'] } },
		options: [
			{ name: 'Create', value: 'create', description: 'Create a campaign', action: 'Create a campaign' },
			{
				name: 'Evaluate Rewards',
				value: 'evaluateRewards',
				description: 'Back-fill the rewards the current rules give for earlier referrals',
				action: 'Evaluate rewards of a campaign',
			},
			{ name: 'Get', value: 'get', description: 'Get a campaign', action: 'Get a campaign' },
			{ name: 'Get Many', value: 'getAll', description: 'Get many campaigns', action: 'Get many campaigns' },
			{
				name: 'Get Stats',
				value: 'getStats',
				description: 'Get participants, referrals, conversion rate and top referrers',
				action: 'Get campaign stats',
			},
			{ name: 'Update', value: 'update', description: 'Update a campaign', action: 'Update a campaign' },
		],
		default: 'create',
	},
	...create.description,
	...evaluateRewards.description,
	...get.description,
	...getAll.description,
	...getStats.description,
	...update.description,
];
