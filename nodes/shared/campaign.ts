import type {
	IExecuteFunctions,
	ILoadOptionsFunctions,
	INodeListSearchResult,
	INodeParameterResourceLocator,
	INodeProperties,
} from 'n8n-workflow';

import { invalidInput } from '../../lib/referrals/errors';
import type { Campaign } from '../../lib/referrals/model';
import type { ReferralProgram } from '../../lib/referrals/program';
import { programFor } from './store';

export const SEARCH_CAMPAIGNS = 'searchCampaigns';

/** The campaign picker: from a searchable list of the store's campaigns, by id or by slug. */
export function campaignLocator(displayOptions?: INodeProperties['displayOptions']): INodeProperties {
	return {
		displayName: 'Campaign',
		name: 'campaign',
		type: 'resourceLocator',
		default: { mode: 'list', value: '' },
		required: true,
		description: 'The referral campaign',
		displayOptions,
		modes: [
			{
				displayName: 'From List',
				name: 'list',
				type: 'list',
				typeOptions: { searchListMethod: SEARCH_CAMPAIGNS, searchable: true },
			},
			{
				displayName: 'By ID',
				name: 'id',
				type: 'string',
				placeholder: '1',
				validation: [
					{ type: 'regex', properties: { regex: '^[0-9]+$', errorMessage: 'A campaign ID is a whole number' } },
				],
			},
			{
				displayName: 'By Slug',
				name: 'slug',
				type: 'string',
				placeholder: 'spring-2026',
			},
		],
	};
}

const SEARCH_PAGE = 100;

export async function searchCampaigns(
	this: ILoadOptionsFunctions,
	filter?: string,
	paginationToken?: string,
): Promise<INodeListSearchResult> {
	const program = await programFor(this);
	const afterId = paginationToken ? Number(paginationToken) : undefined;
	const campaigns = await program.listCampaigns(
		{ search: filter?.trim() || undefined },
		{ limit: SEARCH_PAGE, afterId },
	);
	return {
		results: campaigns.map((campaign) => ({
			name: campaign.status === 'active' ? campaign.name : `${campaign.name} (${campaign.status})`,
			value: String(campaign.id),
		})),
		paginationToken:
			campaigns.length === SEARCH_PAGE ? String(campaigns[campaigns.length - 1].id) : undefined,
	};
}

/**
 * Resolves the item's campaign parameter. Lookups are cached per execution: items usually share
 * one campaign, and the store is asked once for it. A campaign picked without an expression is the
 * same for every item, so the parameter itself is read once too (it matters for thousands of items).
 */
export async function campaignOf(
	context: IExecuteFunctions,
	program: ReferralProgram,
	itemIndex: number,
	cache: Map<string, Campaign>,
): Promise<Campaign> {
	const raw = context.getNode().parameters.campaign as INodeParameterResourceLocator | undefined;
	const fixed = raw !== undefined && !String(raw.value ?? '').startsWith('=');
	const locator = fixed ? raw : (context.getNodeParameter('campaign', itemIndex) as INodeParameterResourceLocator);
	const key = `${locator.mode}:${String(locator.value ?? '').trim()}`;
	let campaign = cache.get(key);
	if (!campaign) {
		campaign = await program.getCampaign(campaignRefOf(locator));
		cache.set(key, campaign);
	}
	return campaign;
}

/** The campaign a locator picks: `{ slug }` or `{ id }`; invalid_input when nothing usable is picked. */
export function campaignRefOf(locator: INodeParameterResourceLocator | undefined): { id: number } | { slug: string } {
	const value = String(locator?.value ?? '').trim();
	if (value === '') throw invalidInput('campaign', 'No campaign is selected');
	if (locator?.mode === 'slug') return { slug: value };
	if (!/^[0-9]+$/.test(value)) throw invalidInput('campaign', `"${value}" is not a campaign ID`);
	return { id: Number(value) };
}
