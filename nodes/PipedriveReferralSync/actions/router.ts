import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import { pipedriveClientFor } from '../../shared/pipedrive';
import { guardSetup } from '../../shared/errors';
import { chosenOperation } from '../../shared/router';
import { programFor } from '../../shared/store';
import * as contact from './contact';
import * as field from './field';
import * as participant from './participant';
import * as referral from './referral';
import type { Operation } from './types';

const resources: Record<string, Record<string, Operation>> = {
	contact: contact.operations,
	field: field.operations,
	participant: participant.operations,
	referral: referral.operations,
};

export async function router(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
	const execute = chosenOperation(this, resources);
	// One client per execution: field definitions, pipelines and stages are fetched once.
	return [
		await guardSetup(this, async () => {
			const [program, client] = await Promise.all([programFor(this), pipedriveClientFor(this)]);
			return await execute.call(this, program, client);
		}),
	];
}
