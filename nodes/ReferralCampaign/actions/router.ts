import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { guardSetup } from '../../shared/errors';
import { chosenOperation } from '../../shared/router';
import { programFor } from '../../shared/store';
import * as campaign from './campaign';
import * as form from './form';
import * as participant from './participant';
import type { Operation } from './types';

const resources: Record<string, Record<string, Operation>> = {
	campaign: campaign.operations,
	form: form.operations,
	participant: participant.operations,
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const execute = chosenOperation(this, resources);
	return [await guardSetup(this, async () => await execute.call(this, await programFor(this)))];
}
