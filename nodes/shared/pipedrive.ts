import type {
	IExecuteFunctions,
	IHookFunctions,
	IHttpRequestOptions,
	ILoadOptionsFunctions,
	INodeProperties,
	INodePropertyOptions,
	IWebhookFunctions,
} from 'n8n-workflow';
import { sleep } from 'n8n-workflow';

import { PipedriveClient } from '../../lib/pipedrive/client';
import { AccountListsCache } from '../../lib/pipedrive/fields';
import { createN8nRequest, resolveBaseUrl } from '../../lib/pipedrive/request';

type PipedriveUser = IExecuteFunctions | ILoadOptionsFunctions | IHookFunctions | IWebhookFunctions;


/** The authentication switch of every node that talks to Pipedrive (n8n's usual parameter). */
export const authenticationProperty: INodeProperties = {
	displayName: 'Authentication',
	name: 'authentication',
	type: 'options',
	options: [
		{ name: 'API Token', value: 'apiToken' },
		{ name: 'OAuth2', value: 'oAuth2' },
	],
	default: 'apiToken',
};

/**
 * Fields, pipelines and stages per account, for five minutes: a burst of signups or deliveries
 * fetches them once instead of once per execution (each list costs API tokens). A field added in
 * Pipedrive meanwhile is found anyway: a miss refreshes the lists (see PipedriveSender.prepare).
 */
const ACCOUNT_LISTS = new AccountListsCache(5 * 60_000);

/**
 * A Pipedrive client over n8n's authenticated requests (n8n keeps the credentials and refreshes
 * OAuth tokens), created once per execution. `fresh` skips the kept lists (the editor's dropdowns).
 */
export async function pipedriveClientFor(context: PipedriveUser, options: { fresh?: boolean } = {}): Promise<PipedriveClient> {
	const oauth = context.getNodeParameter('authentication', 0, 'apiToken') === 'oAuth2';
	const credentialType = oauth ? 'pipedriveReferralOAuth2Api' : 'pipedriveReferralApi';
	const credentials = await context.getCredentials(credentialType);
	const tokenData = credentials.oauthTokenData as { api_domain?: string } | undefined;
	const baseUrl = resolveBaseUrl({
		companyDomain: credentials.companyDomain as string | undefined,
		baseUrlOverride: credentials.baseUrl as string | undefined,
		apiDomain: tokenData?.api_domain,
	});
	const credentialId = context.getNode().credentials?.[credentialType]?.id ?? '';
	return new PipedriveClient({
		baseUrl,
		authType: oauth ? 'oauth2' : 'apiToken',
		accountLists: options.fresh ? undefined : { cache: ACCOUNT_LISTS, scope: `${credentialType}:${credentialId}:${baseUrl}` },
		sleep,
		request: createN8nRequest(
			async (options) =>
				await context.helpers.httpRequestWithAuthentication.call(
					context,
					credentialType,
					options as unknown as IHttpRequestOptions,
				),
		),
	});
}

// Dropdown loaders. Each asks Pipedrive once per call; the editor calls them on demand.

async function options<T>(
	context: ILoadOptionsFunctions,
	load: (client: PipedriveClient) => Promise<T[]>,
	toOption: (item: T) => INodePropertyOptions | null,
): Promise<INodePropertyOptions[]> {
	const items = await load(await pipedriveClientFor(context, { fresh: true }));
	return items
		.map(toOption)
		.filter((option): option is INodePropertyOptions => option !== null)
		.sort((a, b) => a.name.localeCompare(b.name));
}

export const pipedriveLoadOptions = {
	async getPipelines(this: ILoadOptionsFunctions) {
		return await options(this, (c) => c.listPipelines(), (p) => (p.is_deleted ? null : { name: p.name, value: p.id }));
	},
	/** Stages of the pipeline chosen in the `pipelineId` parameter, in pipeline order. */
	async getStages(this: ILoadOptionsFunctions) {
		const pipelineId = Number(this.getCurrentNodeParameter('pipelineId'));
		if (!pipelineId) return [];
		const client = await pipedriveClientFor(this);
		const stages = (await client.listStages(pipelineId)).filter((s) => !s.is_deleted);
		stages.sort((a, b) => (a.order_nr ?? 0) - (b.order_nr ?? 0));
		return stages.map((s, index) => ({ name: `${index + 1}. ${s.name}`, value: s.id }));
	},
	async getPersonFields(this: ILoadOptionsFunctions) {
		return await options(this, (c) => c.listPersonFields(), (f) => (f.isCustom ? { name: f.name, value: f.key } : null));
	},
	async getDealFields(this: ILoadOptionsFunctions) {
		return await options(this, (c) => c.listDealFields(), (f) => (f.isCustom ? { name: f.name, value: f.key } : null));
	},
	async getLeadFields(this: ILoadOptionsFunctions) {
		return await options(this, (c) => c.listLeadFields(), (f) => (f.isCustom ? { name: f.name, value: f.key } : null));
	},
	async getLeadLabels(this: ILoadOptionsFunctions) {
		return await options(this, (c) => c.listLeadLabels(), (l) => ({ name: l.name, value: l.id }));
	},
	async getPersonFilters(this: ILoadOptionsFunctions) {
		return await options(this, (c) => c.listFilters('people'), (f) => ({ name: f.name, value: f.id }));
	},
	async getUsers(this: ILoadOptionsFunctions) {
		return await options(this, (c) => c.listUsers(), (u) => (u.active_flag === false ? null : { name: u.name ?? u.email ?? String(u.id), value: u.id }));
	},
};
