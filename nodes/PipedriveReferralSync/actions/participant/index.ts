import type { INodeProperties } from 'n8n-workflow';

import type { Operation } from '../types';
import * as send from './send.operation';
import * as updateMetrics from './updateMetrics.operation';

export const operations: Record<string, Operation> = { send: send.execute, updateMetrics: updateMetrics.execute };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['participant'] } },
		options: [
			{
				name: 'Send to Pipedrive',
				value: 'send',
				description: 'Create the person and a lead or deal with the referral fields, once',
				action: 'Send a participant to pipedrive',
			},
			{
				name: 'Update Referrer Metrics',
				value: 'updateMetrics',
				description: 'Write a referrer’s referral and qualified counts into their Pipedrive person',
				action: 'Update referrer metrics in pipedrive',
			},
		],
		default: 'send',
	},
	...send.description,
	...updateMetrics.description,
];
