// Handling one delivery from Pipedrive.
//
// How n8n 2.41 treats what `webhook()` returns (packages/cli webhook-helpers): without
// `workflowData` no execution starts; `noWebhookResponse: true` means the node has written the
// HTTP response itself (as n8n's own Webhook node does for a failed basic auth: writeHead(401) +
// end, then `{ noWebhookResponse: true }`); a `webhookResponse` without `workflowData` is sent with
// status 200. A `webhook()` that throws does start an execution, which fails with the error.
//
//   wrong or missing basic auth     -> 401, written here, no execution
//   body that is no Pipedrive hook  -> 400, written here, no execution
//   delivery no chosen event needs  -> 200 `{ received: true }`, no execution
//   events Start Workflow For drops -> the same: no code, or no referral of the chosen campaign
//   matching events                 -> one item each; n8n answers 200 and runs the workflow
//   Pipedrive lookup failed         -> 500 written here (Pipedrive retries), and the error surfaces
//                                      as a failed execution

import type { IDataObject, INodeParameterResourceLocator, IWebhookFunctions, IWebhookResponseData } from 'n8n-workflow';

import type { PipedriveClient } from '../../lib/pipedrive/client';
import { isPipedriveApiError } from '../../lib/pipedrive/errors';
import { resolveField } from '../../lib/pipedrive/fields';
import { normalizeWebhook, PipedriveWebhookError, type NormalizedWebhook } from '../../lib/pipedrive/webhooks';
import { codeOrNull } from '../../lib/referrals/codes';
import { campaignRefOf } from '../shared/campaign';
import { programFor } from '../shared/store';
import { toNodeError } from '../shared/errors';
import { pipedriveClientFor } from '../shared/pipedrive';
import { isAuthorized } from './auth';
import { itemsFor, mayConcernRule, ruleItems, type Lookups, type TriggerConfig, type TriggerEvent, type TriggerItem } from './events';
import { recordAtDelivery } from './record';
import { staticDataOf } from './subscriptions';

type Response = ReturnType<IWebhookFunctions['getResponseObject']>;

function respond(response: Response, status: number, body: IDataObject, headers: Record<string, string> = {}): IWebhookResponseData {
	response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
	response.end(JSON.stringify(body));
	return { noWebhookResponse: true };
}

/** Pipedrive custom-field keys are 40 hex characters; anything else is taken as a field name. */
const FIELD_KEY = /^[0-9a-f]{40}$/i;

/** The key of a field given by key or by name (deliveries carry keys; a bundled workflow names its fields). */
async function fieldKeyOf(context: IWebhookFunctions, entity: 'deal' | 'person', keyOrName: string): Promise<string> {
	if (keyOrName === '' || FIELD_KEY.test(keyOrName)) return keyOrName;
	const client = await pipedriveClientFor(context);
	const fields = entity === 'deal' ? await client.listDealFields() : await client.listPersonFields();
	return resolveField(fields, keyOrName, entity).key;
}

type StartFor = 'all' | 'withCode' | 'campaignReferrals';

interface TriggerSettings {
	config: TriggerConfig;
	startFor: StartFor;
	campaign: INodeParameterResourceLocator | undefined;
}

const SETTINGS_TTL_MS = 10 * 60_000;
const settingsCache = new Map<string, { settings: Promise<TriggerSettings>; at: number }>();

/**
 * The node's settings, with field names resolved to keys. Read once per ten minutes per node and
 * settings, not per delivery: an expression (the bundled workflows name their field with one) costs
 * n8n's default expression engine tens of milliseconds, and one field-list GET per name, which a
 * busy CRM would pay thousands of times a day. Changed settings (or credentials) are another key.
 */
async function settingsOf(context: IWebhookFunctions): Promise<TriggerSettings> {
	const node = context.getNode();
	const cacheKey = JSON.stringify([context.getWorkflow().id, node.name, node.typeVersion, node.parameters, node.credentials ?? {}]);
	const now = Date.now();
	const cached = settingsCache.get(cacheKey);
	if (cached && now - cached.at < SETTINGS_TTL_MS) return await cached.settings;
	for (const [key, entry] of settingsCache) if (now - entry.at >= SETTINGS_TTL_MS) settingsCache.delete(key);
	const settings = readSettings(context);
	settingsCache.set(cacheKey, { settings, at: now });
	settings.catch(() => settingsCache.delete(cacheKey));
	return await settings;
}

async function readSettings(context: IWebhookFunctions): Promise<TriggerSettings> {
	const events = (context.getNodeParameter('events', []) as TriggerEvent[]) ?? [];
	const stageEvents = events.includes('dealEnteredStage');
	const pipelineId = stageEvents ? Number(context.getNodeParameter('pipelineId', '')) : 0;
	const startFor = context.getNodeParameter('startFor', 'all') as StartFor;
	return {
		config: {
			events,
			pipelineId: Number.isFinite(pipelineId) && pipelineId > 0 ? pipelineId : null,
			stageIds: stageEvents ? ((context.getNodeParameter('stageIds', []) as unknown[]) ?? []).map(Number).filter(Number.isFinite) : [],
			labelIds: events.includes('leadLabelled') ? ((context.getNodeParameter('labelIds', []) as unknown[]) ?? []).map(String) : [],
			codeField: await fieldKeyOf(context, 'deal', String(context.getNodeParameter('codeField', '') ?? '').trim()),
			personCodeField: events.includes('personCreatedOrUpdated')
				? await fieldKeyOf(context, 'person', String(context.getNodeParameter('personCodeField', '') ?? '').trim())
				: '',
		},
		startFor,
		campaign: startFor === 'campaignReferrals' ? (context.getNodeParameter('campaign', undefined) as INodeParameterResourceLocator) : undefined,
	};
}

const isGone = (error: unknown) => isPipedriveApiError(error) && (error.status === 404 || error.status === 410);

/** Pipedrive reads for one delivery: the client is made on first use, each entity read once. */
function lookupsFor(context: IWebhookFunctions): Lookups {
	let client: Promise<PipedriveClient> | undefined;
	const memo = new Map<string, Promise<Record<string, unknown> | null>>();
	const once = (key: string, load: (c: PipedriveClient) => Promise<unknown>) => {
		let p = memo.get(key);
		if (!p) {
			client ??= pipedriveClientFor(context);
			p = client.then(load).then(
				(entity) => (entity && typeof entity === 'object' ? (entity as Record<string, unknown>) : null),
				(error) => {
					if (isGone(error)) return null;
					throw error;
				},
			);
			memo.set(key, p);
		}
		return p;
	};
	return {
		deal: (id) =>
			once(`deal:${id}`, async (c) => (await c.request<{ data?: unknown }>('GET', `/api/v2/deals/${id}`, { qs: { include_fields: 'source_lead_id' } })).data),
		lead: (id) => once(`lead:${id}`, async (c) => await c.getLead(id)),
		person: (id) => once(`person:${id}`, async (c) => await c.getPerson(id)),
	};
}

/** What the campaign's qualification rule makes of this delivery (read per delivery: the rule may change any time). */
async function campaignRuleItems(context: IWebhookFunctions, settings: TriggerSettings, webhook: NormalizedWebhook, lookups: Lookups): Promise<TriggerItem[]> {
	if (!settings.campaign || !mayConcernRule(webhook)) return [];
	const program = await programFor(context);
	const campaign = await program.findCampaign(campaignRefOf(settings.campaign));
	if (!campaign) return [];
	await recordAtDelivery(context, staticDataOf(context), program, campaign.id);
	return await ruleItems(webhook, await program.getQualificationRule(campaign.id), settings.config.codeField, lookups);
}

/** The items that start the workflow, after the node's Start Workflow For. */
async function startingItems(context: IWebhookFunctions, settings: TriggerSettings, items: TriggerItem[]): Promise<TriggerItem[]> {
	const { startFor } = settings;
	if (startFor === 'all' || items.length === 0) return items;
	const withCode = items.filter((item) => codeOrNull(item.referralCode) !== null);
	if (startFor === 'withCode' || withCode.length === 0) return withCode;
	const program = await programFor(context);
	// A campaign that does not exist yet (the bundled one is made by the first referrer) has no referrals.
	const campaign = await program.findCampaign(campaignRefOf(settings.campaign));
	if (!campaign) return [];
	await recordAtDelivery(context, staticDataOf(context), program, campaign.id);
	const referrals = await program.referralCodesIn(campaign.id, withCode.map((item) => item.referralCode));
	return withCode.filter((item) => referrals.has(codeOrNull(item.referralCode)!));
}

export async function receiveDelivery(context: IWebhookFunctions): Promise<IWebhookResponseData> {
	const request = context.getRequestObject();
	const response = context.getResponseObject();
	const data = staticDataOf(context);

	if (!isAuthorized(request.headers.authorization, data.httpAuthUser, data.httpAuthPassword)) {
		return respond(response, 401, { error: 'Unauthorized' }, { 'WWW-Authenticate': 'Basic realm="Pipedrive Referral Trigger"' });
	}

	let webhook: NormalizedWebhook;
	try {
		webhook = normalizeWebhook(context.getBodyData());
	} catch (error) {
		if (error instanceof PipedriveWebhookError) return respond(response, 400, { error: error.message });
		throw toNodeError(context.getNode(), error);
	}

	let items;
	try {
		const settings = await settingsOf(context);
		const lookups = lookupsFor(context);
		const produced = await itemsFor(webhook, settings.config, lookups);
		if (settings.config.events.includes('campaignRule')) produced.push(...(await campaignRuleItems(context, settings, webhook, lookups)));
		items = await startingItems(context, settings, produced);
	} catch (error) {
		// Not a 2xx: Pipedrive tries again (3 s, 30 s, 150 s later); the failed execution shows why.
		respond(response, 500, { error: 'Could not read the event; Pipedrive will retry' });
		throw toNodeError(context.getNode(), error);
	}
	if (items.length === 0) return { webhookResponse: { received: true } };
	return { workflowData: [items.map((json) => ({ json }))] };
}
