import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { PipedriveClient } from '../../../../lib/pipedrive/client';
import type { Campaign } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { MetricsWriter } from '../../../../lib/sync/metrics';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';
import { participantLookupFields, participantRefOf } from '../../../shared/participant';
import { chosenFields, fieldPicker, runSettings } from '../fields';

const properties: INodeProperties[] = [
	campaignLocator(),
	...participantLookupFields({ by: 'id', value: '={{ $json.referrer ? $json.referrer.id : $json.id }}' }),
	fieldPicker('Referrals Field Name or ID', 'referralsField', 'getPersonFields', 'A numeric person field that receives how many people the referrer referred'),
	fieldPicker('Qualified Referrals Field Name or ID', 'qualifiedField', 'getPersonFields', 'A numeric person field that receives how many of them qualified'),
];

export const description = updateDisplayOptions(
	{ show: { resource: ['participant'], operation: ['updateMetrics'] } },
	properties,
);

export async function execute(
	this: IExecuteFunctions,
	program: ReferralProgram,
	client: PipedriveClient,
): Promise<INodeExecutionData[]> {
	const writer = new MetricsWriter(
		program,
		client,
		chosenFields(runSettings(this, ['referralsField', 'qualifiedField']), [
			{ role: 'referrals' as const, parameter: 'referralsField', label: 'Referrals Field' },
			{ role: 'qualified' as const, parameter: 'qualifiedField', label: 'Qualified Referrals Field' },
		]),
	);
	await writer.prepare();
	const campaigns = new Map<string, Campaign>();
	return await forEachItem(this, async (itemIndex) => {
		const campaign = await campaignOf(this, program, itemIndex, campaigns);
		return (await writer.update(campaign.id, participantRefOf(this, itemIndex))) as unknown as IDataObject;
	});
}
