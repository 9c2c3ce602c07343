import type {
	IAuthenticateGeneric,
	ICredentialTestRequest,
	ICredentialType,
	INodeProperties,
} from 'n8n-workflow';

/** A Pipedrive API token; it travels in the `x-api-token` header, never in a URL. */
export class PipedriveReferralApi implements ICredentialType {
	name = 'pipedriveReferralApi';

	displayName = 'Pipedrive Referral API';

	icon = { light: 'file:../icons/pipedriveReferral.svg', dark: 'file:../icons/pipedriveReferral.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-pipedrive-referrals#pipedrive-credentials';

	properties: INodeProperties[] = [
		{
			displayName: 'API Token',
			name: 'apiToken',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			required: true,
			description: 'In Pipedrive: your name (top right) → Personal preferences → API',
		},
		{
			displayName: 'Company Domain',
			name: 'companyDomain',
			type: 'string',
			default: '',
			placeholder: 'acme',
			description: 'The part before .pipedrive.com in your Pipedrive address, e.g. acme for acme.pipedrive.com',
		},
		{
			displayName: 'Base URL Override',
			name: 'baseUrl',
			type: 'string',
			default: '',
			placeholder: 'http://localhost:4010',
			description: 'Only for a proxy or the Pipedrive sandbox: requests go here instead of https://<domain>.pipedrive.com',
		},
	];

	authenticate: IAuthenticateGeneric = {
		type: 'generic',
		properties: { headers: { 'x-api-token': '={{$credentials.apiToken}}' } },
	};

	test: ICredentialTestRequest = {
		request: {
			baseURL:
				'={{ $credentials.baseUrl ? $credentials.baseUrl.replace(/\\/+$/, "") : "https://" + $credentials.companyDomain.trim().replace(/^https?:\\/\\//, "").replace(/\\.pipedrive\\.com.*$/, "") + ".pipedrive.com" }}',
			url: '/v1/users/me',
		},
		rules: [
			{
				type: 'responseCode',
				properties: { value: 401, message: 'Pipedrive refused the API token: copy it again from Personal preferences → API' },
			},
			{
				type: 'responseCode',
				properties: { value: 403, message: 'The API token may not read the account (users/me): check the user’s permissions' },
			},
			{
				type: 'responseCode',
				properties: { value: 404, message: 'No Pipedrive API at this address: check the company domain (or the base URL)' },
			},
		],
	};
}
