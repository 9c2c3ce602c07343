import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import type { PipedriveClient } from '../../../lib/pipedrive/client';
import type { ReferralProgram } from '../../../lib/referrals/program';

export type Operation = (
	this: IExecuteFunctions,
	program: ReferralProgram,
	client: PipedriveClient,
) => Promise<INodeExecutionData[]>;
