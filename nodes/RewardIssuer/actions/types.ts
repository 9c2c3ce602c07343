import type { IExecuteFunctions, INodeExecutionData } from 'n8n-workflow';

import type { ReferralProgram } from '../../../lib/referrals/program';

export type Operation = (this: IExecuteFunctions, program: ReferralProgram) => Promise<INodeExecutionData[]>;
