import type { INodeProperties } from 'n8n-workflow';

import type { Operation } from '../types';
import * as retryFailedSends from './retryFailedSends.operation';
import * as send from './send.operation';
import * as sendQueued from './sendQueued.operation';
import * as updateMetrics from './updateMetrics.operation';

export const operations: Record<string, Operation> = {
	send: send.execute,
	sendQueued: sendQueued.execute,
	retryFailedSends: retryFailedSends.execute,
	updateMetrics: updateMetrics.execute,
};

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
				name: 'Retry Failed Sends',
				value: 'retryFailedSends',
				description: 'Queue sends that were given up again, for all participants or one',
				action: 'Retry failed sends to pipedrive',
			},
			{
				name: 'Send Queued',
				value: 'sendQueued',
				description: 'Send what was queued while Pipedrive was unavailable, with backoff',
				action: 'Send queued participants to pipedrive',
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
	...sendQueued.description,
	...retryFailedSends.description,
	...updateMetrics.description,
];
