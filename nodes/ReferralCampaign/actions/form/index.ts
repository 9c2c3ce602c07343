import type { INodeProperties } from 'n8n-workflow';

import * as check from './check.operation';

import type { Operation } from '../types';

export const operations: Record<string, Operation> = {
	check: check.execute,
};

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['form'] } },
		options: [
			{
				name: 'Check for Bots',
				value: 'check',
				description: 'Tell a person’s form submission from a bot’s: bot-trap field, signed render time, stamp used once',
				action: 'Check a form submission for bots',
			},
		],
		default: 'check',
	},
	...check.description,
];
