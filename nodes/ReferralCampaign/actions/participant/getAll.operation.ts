import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { invalidInput } from '../../../../lib/referrals/errors';
import type { Campaign, ParticipantSource, ReferralStatus } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import type { ParticipantFilter } from '../../../../lib/store/types';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';
import { collectUpTo } from '../../../shared/router';
import { participantJson } from '../../../shared/json';
import { returnAllFields } from '../common';

const properties: INodeProperties[] = [
	campaignLocator(),
	...returnAllFields(),
	{
		displayName: 'Filters',
		name: 'filters',
		type: 'collection',
		placeholder: 'Add Filter',
		default: {},
		options: [
			{
				displayName: 'Include Erased',
				name: 'includeErased',
				type: 'boolean',
				default: false,
				description: 'Whether to include the anonymous rows left by erasure',
			},
			{
				displayName: 'Referral Status',
				name: 'referralStatus',
				type: 'multiOptions',
				options: [
					{ name: 'None (Not Referred)', value: 'none' },
					{ name: 'Pending', value: 'pending' },
					{ name: 'Qualified', value: 'qualified' },
					{ name: 'Unqualified', value: 'unqualified' },
				],
				default: [],
			},
			{
				displayName: 'Referred By (Participant ID)',
				name: 'referredBy',
				type: 'number',
				default: 0,
				description: 'Only the people this referrer referred',
			},
			{
				displayName: 'Source',
				name: 'source',
				type: 'multiOptions',
				options: [
					{ name: 'API', value: 'api' },
					{ name: 'Direct', value: 'direct' },
					{ name: 'Manual', value: 'manual' },
					{ name: 'Referred', value: 'referred' },
					{ name: 'Synced', value: 'synced' },
				],
				default: [],
			},
			{
				displayName: 'Updated Since',
				name: 'updatedSince',
				type: 'dateTime',
				default: '',
				description: 'Only participants changed at or after this time',
			},
		],
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['participant'], operation: ['getAll'] } },
	properties,
);

function filterOf(filters: IDataObject): ParticipantFilter {
	const filter: ParticipantFilter = {};
	if ((filters.referralStatus as string[] | undefined)?.length) {
		filter.referralStatus = filters.referralStatus as ReferralStatus[];
	}
	if ((filters.source as string[] | undefined)?.length) filter.source = filters.source as ParticipantSource[];
	if (filters.referredBy) filter.referredBy = Number(filters.referredBy);
	if (filters.includeErased) filter.includeErased = true;
	if (filters.updatedSince) {
		const since = new Date(filters.updatedSince as string);
		if (Number.isNaN(since.getTime())) {
			throw invalidInput('updatedSince', `"${String(filters.updatedSince)}" is not a date and time`);
		}
		filter.updatedSince = since.toISOString();
	}
	return filter;
}

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const cache = new Map<string, Campaign>();
	return await forEachItem(this, async (itemIndex) => {
		const campaign = await campaignOf(this, program, itemIndex, cache);
		const returnAll = this.getNodeParameter('returnAll', itemIndex) as boolean;
		const limit = returnAll ? Infinity : (this.getNodeParameter('limit', itemIndex) as number);
		const filter = filterOf(this.getNodeParameter('filters', itemIndex, {}) as IDataObject);
		const participants = await collectUpTo(limit, (afterId, wanted) =>
			program.listParticipants(campaign.id, filter, { limit: wanted, afterId }),
		);
		return participants.map(participantJson);
	});
}
