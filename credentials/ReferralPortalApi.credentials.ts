import type { ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * The secret that signs the links to referrers' personal stats pages (HMAC-SHA256 of participant,
 * campaign and expiry). A credential of its own, not a field of the Referral Store: it can be
 * rotated (which invalidates every stats link sent) without touching the store's connection, it is
 * shared only with the workflows that make or serve links, and existing store credentials stay
 * complete as they are.
 */
export class ReferralPortalApi implements ICredentialType {
	name = 'referralPortalApi';

	displayName = 'Referral Portal API';

	icon = { light: 'file:../icons/referralCampaign.svg', dark: 'file:../icons/referralCampaign.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-pipedrive-referrals#the-referrers-pages';

	properties: INodeProperties[] = [
		{
			displayName: 'Secret',
			name: 'secret',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description:
				'At least 32 random characters, e.g. from `openssl rand -base64 48`. Signs the stats-page links; changing it makes every link sent so far stop working.',
		},
	];
}
