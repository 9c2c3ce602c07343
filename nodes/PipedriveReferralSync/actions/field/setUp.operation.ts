import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { PipedriveClient } from '../../../../lib/pipedrive/client';
import { setUpReferralFields } from '../../../../lib/sync/field-setup';
import { toNodeError } from '../../../shared/errors';

const properties: INodeProperties[] = [
	{
		displayName:
			'Creates the referral fields that are missing in Pipedrive, under the names the other nodes and the bundled workflows look for: deal fields Referral code, Referrer name, Referrer email, Referral campaign, Referral link; person fields Referral link, Referral code, Referrals, Qualified referrals. Fields that exist under these names are used as they are, so running it again creates nothing. Needs a Pipedrive user allowed to edit data fields (OAuth2: the admin scope).',
		name: 'setUpNotice',
		type: 'notice',
		default: '',
	},
];

export const description = updateDisplayOptions({ show: { resource: ['field'], operation: ['setUp'] } }, properties);

/** Account-wide, so it runs once per execution, whatever the number of input items. */
export async function execute(this: IExecuteFunctions, _program: unknown, client: PipedriveClient): Promise<INodeExecutionData[]> {
	const pairedItem = this.getInputData().map((_, item) => ({ item }));
	try {
		const fields = await setUpReferralFields(client);
		const created = fields.filter((field) => field.status === 'created').length;
		return [{ json: { created, existing: fields.length - created, fields } as unknown as IDataObject, pairedItem }];
	} catch (error) {
		if (!this.continueOnFail()) throw toNodeError(this.getNode(), error, 0);
		return [{ json: { error: (error as Error).message }, pairedItem }];
	}
}
