import type { INodeProperties } from 'n8n-workflow';

import type { Operation } from '../types';
import * as reconcile from './reconcile.operation';

export const operations: Record<string, Operation> = { reconcile: reconcile.execute };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['referral'] } },
		options: [
			{
				name: 'Reconcile Deals and Leads',
				value: 'reconcile',
				description: 'Apply the deal and lead changes that webhooks missed (won, lost, stage reached, lead labelled or converted), once',
				action: 'Reconcile deals and leads with pipedrive',
			},
		],
		default: 'reconcile',
	},
	...reconcile.description,
];
