import type {
	IDataObject,
	IExecuteFunctions,
	ILoadOptionsFunctions,
	INodeExecutionData,
	INodeListSearchResult,
	INodeParameterResourceLocator,
	INodeProperties,
} from 'n8n-workflow';

import { invalidInput } from '../../../lib/referrals/errors';
import type { RewardView } from '../../../lib/referrals/issuing';
import type { Campaign, Participant, Reward } from '../../../lib/referrals/model';
import type { ReferralProgram } from '../../../lib/referrals/program';
import { campaignLocator, campaignOf, searchCampaigns } from '../../shared/campaign';
import { errorItem, toNodeError } from '../../shared/errors';
import { participantFields, referrerJson } from '../../shared/json';

/** The list-mode value of the campaign picker that stands for every campaign. */
export const ALL_CAMPAIGNS = 'all';
export const SEARCH_CAMPAIGNS_OR_ALL = 'searchCampaignsOrAll';

/** The campaign picker of operations that may also work across all campaigns (the default). */
export function optionalCampaignLocator(description: string): INodeProperties {
	const locator = campaignLocator();
	return {
		...locator,
		required: false,
		default: { mode: 'list', value: ALL_CAMPAIGNS, cachedResultName: 'All Campaigns' },
		description,
		modes: locator.modes?.map((mode) =>
			mode.name === 'list' ? { ...mode, typeOptions: { ...mode.typeOptions, searchListMethod: SEARCH_CAMPAIGNS_OR_ALL } } : mode,
		),
	};
}

/** The store's campaigns, with "All Campaigns" first on the first page. */
export async function searchCampaignsOrAll(
	this: ILoadOptionsFunctions,
	filter?: string,
	paginationToken?: string,
): Promise<INodeListSearchResult> {
	const found = await searchCampaigns.call(this, filter, paginationToken);
	const wanted = filter?.trim().toLowerCase() ?? '';
	if (!paginationToken && 'all campaigns'.includes(wanted)) {
		found.results.unshift({ name: 'All Campaigns', value: ALL_CAMPAIGNS });
	}
	return found;
}

/** The campaign id the optional picker selects, or undefined for all campaigns (also when left empty). */
export async function campaignFilterOf(
	context: IExecuteFunctions,
	program: ReferralProgram,
	itemIndex: number,
	cache: Map<string, Campaign>,
): Promise<number | undefined> {
	const locator = context.getNodeParameter('campaign', itemIndex, {}) as Partial<INodeParameterResourceLocator>;
	const value = String(locator.value ?? '').trim();
	// A slug may well be "all"; only the list entry (and an empty picker) mean every campaign.
	if (value === '' || (locator.mode === 'list' && value === ALL_CAMPAIGNS)) return undefined;
	return (await campaignOf(context, program, itemIndex, cache)).id;
}

/** The reward an operation acts on; nodes after Claim Due Rewards or Get Many find it in `reward.id`. */
export function rewardIdField(description?: string): INodeProperties {
	return {
		displayName: 'Reward ID',
		name: 'rewardId',
		type: 'string',
		default: '={{ $json.reward.id }}',
		required: true,
		placeholder: '42',
		description:
			description ??
			'The reward’s ID. The default reads it from an item of Claim Due Rewards, Get or Get Many.',
	};
}

export function rewardIdOf(context: IExecuteFunctions, itemIndex: number): number {
	const raw = context.getNodeParameter('rewardId', itemIndex) as unknown;
	const text = String(raw ?? '').trim();
	if (text === '') {
		throw invalidInput('rewardId', 'The reward ID is missing', 'Map it from the claimed reward, e.g. {{ $json.reward.id }}');
	}
	if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(Number(text)) || Number(text) === 0) {
		throw invalidInput('rewardId', `"${text.slice(0, 40)}" is not a reward ID`, 'A reward ID is a whole number from 1 up');
	}
	return Number(text);
}

/** An optional participant id parameter (0 or empty: none). */
export function participantIdOf(value: unknown, field: string): number | undefined {
	if (value === undefined || value === null || value === '' || value === 0 || value === '0') return undefined;
	const id = Number(value);
	if (!Number.isSafeInteger(id) || id < 0) throw invalidInput(field, `"${String(value)}" is not a participant ID`);
	return id;
}

export function rewardJson(reward: Reward): IDataObject {
	return { ...reward } as unknown as IDataObject;
}

/** What downstream nodes need of the referral behind a reward. */
export function referralJson(referral: Participant | null): IDataObject | null {
	return participantFields(referral, [
		'id',
		'email',
		'firstName',
		'lastName',
		'code',
		'referralStatus',
		'qualifiedAt',
		'saleValue',
		'saleCurrency',
		'pipedrivePersonId',
		'pipedriveLeadId',
		'pipedriveDealId',
	]);
}

/**
 * A reward with who gets it and the referral that earned it. What delivery needs sits at the top
 * level, so a Send Email node can use {{ $json.beneficiary.email }} and {{ $json.couponCode }}.
 */
export function rewardViewJson(view: RewardView): IDataObject {
	const { reward } = view;
	return {
		reward: rewardJson(reward),
		beneficiary: referrerJson(view.beneficiary),
		referral: referralJson(view.referral),
		amount: reward.amount,
		currency: reward.currency,
		couponCode: reward.couponCode,
		kind: reward.kind,
		payload: reward.payload as IDataObject,
	};
}

/**
 * Runs an operation that works once per execution, not per input item (claiming, releasing):
 * its parameters are read from the first item and every output item is paired with it. A failure
 * stops the node, or with "Continue On Fail" becomes one error item.
 */
export async function runOnce(
	context: IExecuteFunctions,
	work: () => Promise<IDataObject[]>,
): Promise<INodeExecutionData[]> {
	try {
		return (await work()).map((json) => ({ json, pairedItem: { item: 0 } }));
	} catch (error) {
		if (!context.continueOnFail()) throw toNodeError(context.getNode(), error, 0);
		return [errorItem(error, 0)];
	}
}
