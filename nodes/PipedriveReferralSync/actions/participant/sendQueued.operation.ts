import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { PipedriveClient } from '../../../../lib/pipedrive/client';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { DEFAULT_SEND_QUEUE, sweepQueuedSends } from '../../../../lib/sync/send-queue';

const properties: INodeProperties[] = [
	{
		displayName:
			'Sends what Send to Pipedrive queued because Pipedrive was unavailable (5xx, timeouts, 429, the daily budget), with the settings of the node that queued it. Runs once per execution, whatever the input.',
		name: 'sendQueuedNotice',
		type: 'notice',
		default: '',
	},
	{
		displayName: 'Max Sends per Run',
		name: 'maxSends',
		type: 'number',
		typeOptions: { minValue: 1 },
		default: 200,
		description: 'Due sends beyond this wait for the next run',
	},
	{
		displayName: 'Options',
		name: 'sweepOptions',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'First Retry After (Seconds)',
				name: 'firstBackoffSeconds',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 30,
				description: 'Each next retry waits twice as long, up to the longest wait',
			},
			{
				displayName: 'Give Up After (Attempts)',
				name: 'maxAttempts',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 720,
				description: 'Then the send is marked failed and a pipedrive.send_failed event is logged (Retry Failed Sends queues it again)',
			},
			{
				displayName: 'Longest Wait (Seconds)',
				name: 'maxBackoffSeconds',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 120,
				description: 'The longest wait between two attempts: how soon after Pipedrive recovers the queue is sent',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['participant'], operation: ['sendQueued'] } }, properties);

export async function execute(this: IExecuteFunctions, program: ReferralProgram, client: PipedriveClient): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('sweepOptions', 0, {}) as { firstBackoffSeconds?: number; maxBackoffSeconds?: number; maxAttempts?: number };
	const summary = await sweepQueuedSends(program, client, {
		limit: this.getNodeParameter('maxSends', 0, 200) as number,
		queue: {
			firstBackoffMs: (options.firstBackoffSeconds ?? DEFAULT_SEND_QUEUE.firstBackoffMs / 1000) * 1000,
			maxBackoffMs: (options.maxBackoffSeconds ?? DEFAULT_SEND_QUEUE.maxBackoffMs / 1000) * 1000,
			maxAttempts: options.maxAttempts ?? DEFAULT_SEND_QUEUE.maxAttempts,
		},
	});
	return [{ json: { ...summary }, pairedItem: { item: 0 } }];
}
