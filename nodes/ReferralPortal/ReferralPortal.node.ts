import type {
	IExecuteFunctions,
	INodeExecutionData,
	INodeParameterResourceLocator,
	INodeType,
	INodeTypeDescription,
} from 'n8n-workflow';
import { NodeConnectionTypes } from 'n8n-workflow';

import { notFoundPage, parseBranding, type Branding } from '../../lib/portal/html';
import { answerPortalRequest } from '../../lib/portal/pages';
import { DEFAULT_SHARE_MESSAGE, DEFAULT_SHARE_SUBJECT, parseShareSettings, type ShareSettings } from '../../lib/portal/share';
import { parseSecret } from '../../lib/portal/tokens';
import type { Campaign } from '../../lib/referrals/model';
import { campaignLocator, campaignRefOf, searchCampaigns } from '../shared/campaign';
import { guardSetup } from '../shared/errors';
import { forEachItem } from '../shared/items';
import { referralPortalSecretTest } from '../shared/portal';
import { programFor, referralStoreConnectionTest } from '../shared/store';

const STATS_ONLY = { show: { page: ['stats'] } };

/**
 * Renders the referrer's pages for a Webhook → Referral Portal → Respond to Webhook workflow: the
 * share page (by referral code) and the personal stats page (by signed token). Every link that
 * leads nowhere gets the same 404 page; the output is only `statusCode` and `html`.
 */
export class ReferralPortal implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Referral Portal',
		name: 'referralPortal',
		icon: { light: 'file:../../icons/referralCampaign.svg', dark: 'file:../../icons/referralCampaign.dark.svg' },
		group: ['transform'],
		version: 1,
		subtitle: '={{"Render " + $parameter["page"] + " page"}}',
		description: 'Render a referrer’s share page or personal stats page as HTML',
		defaults: { name: 'Referral Portal' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [
			{ name: 'referralStoreApi', required: true, testedBy: 'referralStoreConnectionTest' },
			{ name: 'referralPortalApi', required: true, testedBy: 'referralPortalSecretTest', displayOptions: STATS_ONLY },
		],
		properties: [
			{
				displayName: 'Operation',
				name: 'operation',
				type: 'options',
				noDataExpression: true,
				options: [{ name: 'Render Page', value: 'renderPage', description: 'Render a referrer page as HTML', action: 'Render a referrer page' }],
				default: 'renderPage',
			},
			campaignLocator(),
			{
				displayName: 'Page',
				name: 'page',
				type: 'options',
				noDataExpression: true,
				options: [
					{ name: 'Share Page', value: 'share', description: 'The link, a copy button, share buttons and a QR code; found by referral code' },
					{ name: 'Stats Page', value: 'stats', description: 'Friends referred, their status, rewards and milestones; found by a signed token' },
				],
				default: 'share',
			},
			{
				displayName: 'Referral Code',
				name: 'code',
				type: 'string',
				default: '={{ $json.query.ref }}',
				description: 'The code the visitor’s link carries (the Webhook’s query parameter "ref")',
				displayOptions: { show: { page: ['share'] } },
			},
			{
				displayName: 'Token',
				name: 'token',
				type: 'string',
				typeOptions: { password: true },
				default: '={{ $json.query.t }}',
				description: 'The signed token the visitor’s link carries (the Webhook’s query parameter "t")',
				displayOptions: STATS_ONLY,
			},
			{
				displayName: 'Page Title',
				name: 'pageTitle',
				type: 'string',
				default: 'Refer a friend',
				description: 'Shown at the top of every page, like the forms’ title',
			},
			{
				displayName: 'Share Message',
				name: 'shareMessage',
				type: 'string',
				typeOptions: { rows: 3 },
				default: DEFAULT_SHARE_MESSAGE,
				description: 'Prefilled in every share button (email, WhatsApp, SMS, X); {{link}} is replaced by the referrer’s link',
			},
			{
				displayName: 'Options',
				name: 'options',
				type: 'collection',
				placeholder: 'Add option',
				default: {},
				options: [
					{ displayName: 'Accent Colour', name: 'accentColor', type: 'color', default: '#017737', description: 'Buttons, links and progress bars' },
					{
						displayName: 'Custom CSS',
						name: 'customCss',
						type: 'string',
						typeOptions: { rows: 6 },
						default: '',
						placeholder: ':root { --bg: #f5f7fb; --radius: 12px; }',
						description: 'Added last, so it overrides the page’s styles (variables: --accent, --bg, --card, --text, --muted, --line, --radius)',
					},
					{ displayName: 'Email Subject', name: 'shareSubject', type: 'string', default: DEFAULT_SHARE_SUBJECT, description: 'Subject of the email share button' },
					{ displayName: 'Logo URL', name: 'logoUrl', type: 'string', default: '', placeholder: 'https://example.com/logo.png' },
				],
			},
		],
	};

	methods = {
		credentialTest: { referralStoreConnectionTest, referralPortalSecretTest },
		listSearch: { searchCampaigns },
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return [
			await guardSetup(this, async () => {
				const program = await programFor(this);
				const page = this.getNodeParameter('page', 0) as 'share' | 'stats';
				const secret = page === 'stats' ? parseSecret((await this.getCredentials('referralPortalApi')).secret) : '';
				const campaigns = new Map<string, Campaign | null>();
				return await forEachItem(this, async (itemIndex) => {
					const look = lookOf(this, itemIndex);
					const ref = campaignRefOf(this.getNodeParameter('campaign', itemIndex) as INodeParameterResourceLocator);
					const key = JSON.stringify(ref);
					if (!campaigns.has(key)) campaigns.set(key, await program.findCampaign(ref));
					const campaign = campaigns.get(key)!;
					// No campaign yet (nobody signed up so far): no page can exist, the same 404.
					if (!campaign) return { statusCode: 404, html: notFoundPage(look.branding) };
					const request =
						page === 'share'
							? { page, code: this.getNodeParameter('code', itemIndex, '') }
							: { page, token: this.getNodeParameter('token', itemIndex, ''), secret };
					const answer = await answerPortalRequest(program, campaign, request, look, new Date());
					return { statusCode: answer.statusCode, html: answer.html };
				});
			}),
		];
	}
}

function lookOf(context: IExecuteFunctions, itemIndex: number): { branding: Branding; share: ShareSettings } {
	const options = context.getNodeParameter('options', itemIndex, {}) as Record<string, unknown>;
	return {
		branding: parseBranding({
			title: context.getNodeParameter('pageTitle', itemIndex, ''),
			accentColor: options.accentColor,
			logoUrl: options.logoUrl,
			customCss: options.customCss,
		}),
		share: parseShareSettings({ message: context.getNodeParameter('shareMessage', itemIndex, ''), subject: options.shareSubject }),
	};
}
