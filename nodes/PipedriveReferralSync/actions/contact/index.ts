import type { INodeProperties } from 'n8n-workflow';

import type { Operation } from '../types';
import * as sync from './sync.operation';

export const operations: Record<string, Operation> = { sync: sync.execute };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['contact'] } },
		options: [
			{
				name: 'Sync Contacts',
				value: 'sync',
				description: 'Give Pipedrive persons referral links and write them into person fields',
				action: 'Sync pipedrive contacts into the campaign',
			},
		],
		default: 'sync',
	},
	...sync.description,
];
