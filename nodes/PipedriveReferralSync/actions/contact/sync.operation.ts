import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { PipedriveClient } from '../../../../lib/pipedrive/client';
import { parseBaseUrl, portalLinks, SHARE_PAGE_PATH, STATS_PAGE_PATH } from '../../../../lib/portal/links';
import { parseSecret } from '../../../../lib/portal/tokens';
import { ReferralError } from '../../../../lib/referrals/errors';
import type { Campaign, Participant } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { syncContacts, type ContactResult, type ContactRole } from '../../../../lib/sync/contacts';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { toNodeError } from '../../../shared/errors';
import { publicUrlOf } from '../../../shared/publicUrl';
import { chosenFields, fieldPicker, runSettings } from '../fields';

const properties: INodeProperties[] = [
	campaignLocator(),
	{
		displayName: 'Persons',
		name: 'scope',
		type: 'options',
		options: [
			{ name: 'All Persons', value: 'all' },
			{ name: 'Persons in a Filter', value: 'filter' },
		],
		default: 'all',
	},
	{
		displayName: 'Filter Name or ID',
		name: 'filterId',
		type: 'options',
		typeOptions: { loadOptionsMethod: 'getPersonFilters' },
		default: '',
		required: true,
		description: 'A Pipedrive people filter. Choose from the list, or specify an ID using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.',
		displayOptions: { show: { scope: ['filter'] } },
	},
	{
		displayName: 'Sync',
		name: 'mode',
		type: 'options',
		options: [
			{
				name: 'Changed Since Last Sync (Ongoing)',
				value: 'changed',
				description: 'Only persons added or changed since the last complete sync; the first run takes everyone',
			},
			{ name: 'Everyone (Once-Off)', value: 'full', description: 'Every person, every run' },
		],
		default: 'changed',
	},
	fieldPicker('Referral Link Field Name or ID', 'linkField', 'getPersonFields', 'A person field that receives the referral link', true),
	{
		displayName: 'More Fields',
		name: 'moreFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		options: [
			fieldPicker('Qualified Referrals Field Name or ID', 'qualifiedField', 'getPersonFields', 'A numeric person field that receives the qualified referral count'),
			fieldPicker('Referral Code Field Name or ID', 'codeField', 'getPersonFields', 'A person field that receives the referral code'),
			fieldPicker(
				'Stats Page Link Field Name or ID',
				'statsLinkField',
				'getPersonFields',
				'A person field that receives the signed link to the person’s personal stats page (needs a Referral Portal API credential)',
			),
			fieldPicker('Referrals Field Name or ID', 'referralsField', 'getPersonFields', 'A numeric person field that receives the referral count'),
		],
	},
	{
		displayName: 'Output',
		name: 'output',
		type: 'options',
		options: [
			{ name: 'Summary', value: 'summary', description: 'One item with the counts' },
			{ name: 'One Item per Person', value: 'perPerson' },
		],
		default: 'summary',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Max Persons per Run',
				name: 'maxPersons',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 10000,
				description: 'Stop after this many persons; the next run continues where this one stopped',
			},
			{
				displayName: 'Skip Until the Campaign Exists',
				name: 'skipMissingCampaign',
				type: 'boolean',
				default: false,
				description:
					'Whether to end without an error, syncing nobody, while the campaign does not exist yet (a workflow that creates it on the first signup, as the bundled referrer signup does)',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['contact'], operation: ['sync'] } }, properties);

const ROLES: Array<{ role: ContactRole; parameter: string; label: string }> = [
	{ role: 'link', parameter: 'linkField', label: 'Referral Link Field' },
	{ role: 'code', parameter: 'codeField', label: 'Referral Code Field' },
	{ role: 'referrals', parameter: 'referralsField', label: 'Referrals Field' },
	{ role: 'qualified', parameter: 'qualifiedField', label: 'Qualified Referrals Field' },
	{ role: 'statsLink', parameter: 'statsLinkField', label: 'Stats Page Link Field' },
];

/** One sync per run, whatever the number of input items (a schedule or a manual start). */
export async function execute(
	this: IExecuteFunctions,
	program: ReferralProgram,
	client: PipedriveClient,
): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', 0, {}) as IDataObject;
	let campaign: Campaign;
	try {
		campaign = await campaignOf(this, program, 0, new Map<string, Campaign>());
	} catch (error) {
		if (!(options.skipMissingCampaign && error instanceof ReferralError && error.kind === 'not_found')) throw toNodeError(this.getNode(), error);
		return [{ json: { skipped: true, reason: `${error.message}; nothing was synced` }, pairedItem: { item: 0 } }];
	}
	const scope = this.getNodeParameter('scope', 0) as 'all' | 'filter';
	const perPerson = this.getNodeParameter('output', 0) === 'perPerson';
	const fields = { ...runSettings(this, ['linkField']), ...(this.getNodeParameter('moreFields', 0, {}) as IDataObject) };
	const people: ContactResult[] = [];
	const chosen = chosenFields(fields, ROLES);
	// Links that never expire, under the bundled portal paths: the same on every run.
	let statsLink: ((participant: Participant) => string) | undefined;
	if (chosen.some((choice) => choice.role === 'statsLink')) {
		const secret = parseSecret((await this.getCredentials('referralPortalApi')).secret);
		const settings = {
			pagesBaseUrl: parseBaseUrl(`${publicUrlOf(this)().replace(/\/+$/, '')}/webhook`),
			sharePath: SHARE_PAGE_PATH,
			statsPath: STATS_PAGE_PATH,
			expiresAfterDays: 0,
		};
		statsLink = (participant) => portalLinks(secret, campaign, participant, settings, new Date()).statsUrl;
	}
	const summary = await syncContacts(
		program,
		client,
		{
			campaignId: campaign.id,
			filterId: scope === 'filter' ? Number(this.getNodeParameter('filterId', 0)) : undefined,
			mode: this.getNodeParameter('mode', 0) as 'full' | 'changed',
			fields: chosen,
			maxPersons: options.maxPersons === undefined ? undefined : Number(options.maxPersons),
			statsLink,
		},
		perPerson ? (result) => people.push(result) : undefined,
	);
	const items = perPerson ? (people as unknown as IDataObject[]) : [summary as unknown as IDataObject];
	return items.map((json) => ({ json, pairedItem: { item: 0 } }));
}
