import type { INodeProperties } from 'n8n-workflow';

import type { Operation } from '../types';
import * as setUp from './setUp.operation';

export const operations: Record<string, Operation> = { setUp: setUp.execute };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['field'] } },
		options: [
			{
				name: 'Set Up Fields',
				value: 'setUp',
				description: 'Create the referral fields that are missing in Pipedrive, with the suggested names',
				action: 'Set up the referral fields in pipedrive',
			},
		],
		default: 'setUp',
	},
	...setUp.description,
];
