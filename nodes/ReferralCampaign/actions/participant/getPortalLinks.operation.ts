import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import {
	parseBaseUrl,
	parseExpiryDays,
	parsePagePath,
	portalLinks,
	SHARE_PAGE_PATH,
	STATS_PAGE_PATH,
	type PortalLinkSettings,
} from '../../../../lib/portal/links';
import { parseSecret } from '../../../../lib/portal/tokens';
import type { Campaign } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';
import { participantLookupFields, participantRefOf } from '../../../shared/participant';
import { publicUrlOf } from '../../../shared/publicUrl';

const properties: INodeProperties[] = [
	campaignLocator(),
	...participantLookupFields({ by: 'id', value: '={{ $json.id }}' }),
	{
		displayName: 'Stats Link Expires After (Days)',
		name: 'expiresAfterDays',
		type: 'number',
		typeOptions: { minValue: 0, maxValue: 3650 },
		default: 0,
		description: 'Days the personal stats link works; 0 means it never expires',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		options: [
			{
				displayName: 'Pages Base URL',
				name: 'pagesBaseUrl',
				type: 'string',
				default: '',
				placeholder: 'https://n8n.example.com/webhook',
				description: 'Where the referrer-portal workflow is reached. Empty: this n8n’s public URL followed by /webhook.',
			},
			{
				displayName: 'Share Page Path',
				name: 'sharePath',
				type: 'string',
				default: SHARE_PAGE_PATH,
				description: 'The path of the share page’s Webhook node',
			},
			{
				displayName: 'Stats Page Path',
				name: 'statsPath',
				type: 'string',
				default: STATS_PAGE_PATH,
				description: 'The path of the stats page’s Webhook node',
			},
		],
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['participant'], operation: ['getPortalLinks'] } },
	properties,
);

/** A participant's share-page and signed stats-page links, for emails and Pipedrive fields. */
export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const secret = parseSecret((await this.getCredentials('referralPortalApi')).secret);
	const publicUrl = publicUrlOf(this);
	const cache = new Map<string, Campaign>();
	return await forEachItem(this, async (itemIndex) => {
		const options = this.getNodeParameter('options', itemIndex, {}) as Record<string, unknown>;
		const base = typeof options.pagesBaseUrl === 'string' && options.pagesBaseUrl.trim() !== '' ? options.pagesBaseUrl : `${publicUrl().replace(/\/+$/, '')}/webhook`;
		const settings: PortalLinkSettings = {
			pagesBaseUrl: parseBaseUrl(base),
			sharePath: parsePagePath(options.sharePath ?? SHARE_PAGE_PATH, 'sharePath'),
			statsPath: parsePagePath(options.statsPath ?? STATS_PAGE_PATH, 'statsPath'),
			expiresAfterDays: parseExpiryDays(this.getNodeParameter('expiresAfterDays', itemIndex, 0)),
		};
		const campaign = await campaignOf(this, program, itemIndex, cache);
		const participant = await program.getParticipant(campaign.id, participantRefOf(this, itemIndex));
		const links = portalLinks(secret, campaign, participant, settings, new Date());
		return {
			participantId: participant.id,
			campaignId: campaign.id,
			email: participant.email,
			firstName: participant.firstName,
			code: participant.code,
			link: participant.link,
			...links,
		};
	});
}
