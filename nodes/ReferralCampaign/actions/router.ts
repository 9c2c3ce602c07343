import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { guardSetup } from '../../shared/errors';
import { programFor } from '../../shared/store';
import * as campaign from './campaign';
import * as participant from './participant';
import type { Operation } from './types';

const resources: Record<string, Record<string, Operation>> = {
	campaign: campaign.operations,
	participant: participant.operations,
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	// Resource and operation cannot be expressions, so item 0 speaks for every item.
	const resource = this.getNodeParameter('resource', 0) as string;
	const operation = this.getNodeParameter('operation', 0) as string;
	const execute = resources[resource]?.[operation];
	if (!execute) {
		throw new NodeOperationError(this.getNode(), `The operation "${operation}" of "${resource}" is not supported`);
	}
	return [await guardSetup(this, async () => await execute.call(this, await programFor(this)))];
}
