import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { pipedriveClientFor } from '../../shared/pipedrive';
import { guardSetup } from '../../shared/errors';
import { programFor } from '../../shared/store';
import * as contact from './contact';
import * as participant from './participant';
import type { Operation } from './types';

const resources: Record<string, Record<string, Operation>> = {
	contact: contact.operations,
	participant: participant.operations,
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const resource = this.getNodeParameter('resource', 0) as string;
	const operation = this.getNodeParameter('operation', 0) as string;
	const execute = resources[resource]?.[operation];
	if (!execute) {
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" of "${resource}" is not supported`);
	}
	// One client per execution: field definitions, pipelines and stages are fetched once.
	return [
		await guardSetup(this, async () => {
			const [program, client] = await Promise.all([programFor(this), pipedriveClientFor(this)]);
			return await execute.call(this, program, client);
		}),
	];
}
