import type { ICredentialTestRequest, ICredentialType, INodeProperties } from 'n8n-workflow';

/**
 * Pipedrive OAuth 2.0. Requests go to the `api_domain` of Pipedrive's token answer. Scopes are set
 * on the Pipedrive app (Developer Hub), not here: sending referred people needs
 * contacts:full, deals:full and leads:full; reading pipelines, fields and filters deals:read and
 * contacts:read; the Pipedrive Referral Trigger's webhooks need admin.
 */
export class PipedriveReferralOAuth2Api implements ICredentialType {
	name = 'pipedriveReferralOAuth2Api';

	extends = ['oAuth2Api'];

	displayName = 'Pipedrive Referral OAuth2 API';

	icon = { light: 'file:../icons/pipedriveReferral.svg', dark: 'file:../icons/pipedriveReferral.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-pipedrive-referrals#pipedrive-credentials';

	properties: INodeProperties[] = [
		{ displayName: 'Grant Type', name: 'grantType', type: 'hidden', default: 'authorizationCode' },
		{
			displayName: 'Authorization URL',
			name: 'authUrl',
			type: 'hidden',
			default: 'https://oauth.pipedrive.com/oauth/authorize',
			required: true,
		},
		{
			displayName: 'Access Token URL',
			name: 'accessTokenUrl',
			type: 'hidden',
			default: 'https://oauth.pipedrive.com/oauth/token',
			required: true,
		},
		{ displayName: 'Scope', name: 'scope', type: 'hidden', default: '' },
		{ displayName: 'Auth URI Query Parameters', name: 'authQueryParameters', type: 'hidden', default: '' },
		// Pipedrive wants the client id and secret in a basic-auth header at the token endpoint.
		{ displayName: 'Authentication', name: 'authentication', type: 'hidden', default: 'header' },
	];

	test: ICredentialTestRequest = {
		request: {
			baseURL: '={{ ($credentials.oauthTokenData && $credentials.oauthTokenData.api_domain) || "https://api.pipedrive.com" }}',
			url: '/v1/users/me',
		},
		rules: [
			{
				type: 'responseCode',
				properties: { value: 401, message: 'Pipedrive refused the access token: connect the account again' },
			},
			{
				type: 'responseCode',
				properties: { value: 403, message: 'The Pipedrive app lacks a scope this call needs: check its scopes in the Developer Hub' },
			},
		],
	};
}
