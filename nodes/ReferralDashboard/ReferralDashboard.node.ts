import type { IExecuteFunctions, INodeExecutionData, INodeType, INodeTypeDescription } from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { answerDashboardRequest, type DashboardSettings } from '../../lib/dashboard/page';
import { parseSecret } from '../../lib/portal/tokens';
import { invalidInput } from '../../lib/referrals/errors';
import { guardSetup } from '../shared/errors';
import { forEachItem } from '../shared/items';
import { referralPortalSecretTest } from '../shared/portal';
import { programFor, referralStoreConnectionTest } from '../shared/store';

const ACTION_ONLY = { show: { operation: ['handleAction'] } };

/**
 * The team's program dashboard for a Webhook (behind Basic Auth) → Referral Dashboard → Respond to
 * Webhook workflow: Render Page answers the GET, Handle Action the buttons' POSTs (CSRF-checked,
 * applied once). A node of its own, not a page of Referral Portal: the portal's pages are public
 * and read-only, this one is for the team and writes, so its credentials and parameters differ.
 */
export class ReferralDashboard implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Referral Dashboard',
		name: 'referralDashboard',
		icon: { light: 'file:../../icons/referralCampaign.svg', dark: 'file:../../icons/referralCampaign.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{$parameter["operation"] === "handleAction" ? "Handle action" : "Render page"}}',
		description: 'Render the team’s program dashboard (KPIs, funnel, trends, leaderboard, rewards to approve) as HTML and apply its buttons',
		defaults: { name: 'Referral Dashboard' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'referralStoreApi', required: true, testedBy: 'referralStoreConnectionTest' },
			{ name: 'referralPortalApi', required: true, testedBy: 'referralPortalSecretTest' },
		],
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [
					{ name: 'Render Page', value: 'renderPage', description: 'Render the dashboard as HTML', action: 'Render the dashboard' },
					{
						name: 'Handle Action',
						value: 'handleAction',
						description: 'Apply a button of the dashboard (approve or cancel a reward), then render the page',
						action: 'Apply a dashboard button',
					},
				],
				default: 'renderPage',
			},
			{
				displayName: 'Campaign',
				name: 'campaign',
				type: 'string',
				default: '={{ $json.query.campaign }}',
				description: 'Slug or ID of the campaign to show (the page’s picker sets the query parameter "campaign"); empty: the first active campaign',
			},
			{
				displayName: 'Period',
				name: 'period',
				type: 'string',
				default: '={{ $json.query.period }}',
				description: 'Days to show: 7, 30, 90 or all (the page’s picker sets the query parameter "period"); empty: 30',
			},
			{
				displayName: 'Action',
				name: 'action',
				type: 'string',
				default: '={{ $json.body.action }}',
				description: 'The button’s action, e.g. reward.approve (the form field "action")',
				displayOptions: ACTION_ONLY,
			},
			{
				displayName: 'Subject ID',
				name: 'subject',
				type: 'string',
				default: '={{ $json.body.subject }}',
				description: 'The reward the button acts on (the form field "subject")',
				displayOptions: ACTION_ONLY,
			},
			{
				displayName: 'CSRF Token',
				name: 'token',
				type: 'string',
				typeOptions: { password: true },
				default: '={{ $json.body.token }}',
				description: 'The signed token the button’s form carries (the form field "token")',
				displayOptions: ACTION_ONLY,
			},
			{
				displayName: 'Time Zone',
				name: 'timeZone',
				type: 'string',
				default: '',
				placeholder: 'Europe/Berlin',
				description: 'Days start at midnight in this zone (IANA name); empty: the workflow’s time zone (Settings → Timezone), else the instance’s GENERIC_TIMEZONE',
			},
			{
				displayName: 'Page Title',
				name: 'pageTitle',
				type: 'string',
				default: 'Referral program',
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add option',
				default: {},
				options: [
					{ displayName: 'Accent Colour', name: 'accentColor', type: 'color', default: '#017737', description: 'Buttons and links' },
					{
						displayName: 'Pipedrive Company Domain',
						name: 'pipedriveDomain',
						type: 'string',
						default: '',
						placeholder: 'acme',
						description: 'For links from the leaderboard to the Pipedrive person (acme for acme.pipedrive.com); empty: no links',
					},
					{
						displayName: 'Top Referrers',
						name: 'topReferrers',
						type: 'number',
						typeOptions: { minValue: 0, maxValue: 100 },
						default: 10,
						description: 'How many referrers the leaderboard lists',
					},
				],
			},
		],
	};

	methods = {
		credentialTest: { referralStoreConnectionTest, referralPortalSecretTest },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return [
			await guardSetup(this, async () => {
				const program = await programFor(this);
				const secret = parseSecret((await this.getCredentials('referralPortalApi')).secret);
				const operation = this.getNodeParameter('operation', 0) as 'renderPage' | 'handleAction';
				return await forEachItem(this, async (itemIndex) => {
					const answer = await answerDashboardRequest(
						program,
						secret,
						settingsOf(this, itemIndex),
						{
							campaign: this.getNodeParameter('campaign', itemIndex, ''),
							period: this.getNodeParameter('period', itemIndex, ''),
							action:
								operation === 'handleAction'
									? {
											name: this.getNodeParameter('action', itemIndex, ''),
											subject: this.getNodeParameter('subject', itemIndex, ''),
											token: this.getNodeParameter('token', itemIndex, ''),
										}
									: undefined,
						},
						new Date(),
					);
					return { statusCode: answer.statusCode, html: answer.html, ...(answer.outcome ? { outcome: { ...answer.outcome } } : {}) };
				});
			}),
		];
	}
}

function settingsOf(context: IExecuteFunctions, itemIndex: number): DashboardSettings {
	const options = context.getNodeParameter('options', itemIndex, {}) as Record<string, unknown>;
	const domain = String(options.pipedriveDomain ?? '').trim().toLowerCase();
	if (domain !== '' && !/^[a-z0-9][a-z0-9-]{0,62}$/.test(domain)) {
		throw invalidInput('pipedriveDomain', `"${domain}" is not a Pipedrive company domain`, 'Use the part before .pipedrive.com, e.g. acme');
	}
	const zone = String(context.getNodeParameter('timeZone', itemIndex, '') ?? '').trim();
	return {
		title: String(context.getNodeParameter('pageTitle', itemIndex, '')),
		accentColor: String(options.accentColor ?? ''),
		pipedriveDomain: domain,
		topReferrers: Number(options.topReferrers ?? 10),
		timeZone: zone || context.getTimezone(),
	};
}
