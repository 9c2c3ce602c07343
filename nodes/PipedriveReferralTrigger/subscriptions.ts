// Registering, finding and removing this trigger's Pipedrive webhooks (`/v1/webhooks`).
//
// The node's static data holds what was registered:
//   { webhooks: [{ id, object, action }], httpAuthUser, httpAuthPassword, subscriptionUrl, recordedCampaignId }
// One webhook per entity the chosen events need (deal, lead, person), payload version "2.0",
// basic auth with a password generated on activation. A trigger with the referral store also
// records them there (record.ts), for the reconciliation pass to restore ones Pipedrive deletes.

import type { IDataObject, IHookFunctions, INodeParameterResourceLocator } from 'n8n-workflow';

import type { PipedriveClient } from '../../lib/pipedrive/client';
import { isPipedriveApiError } from '../../lib/pipedrive/errors';
import type { CreateWebhookBody, Webhook } from '../../lib/pipedrive/types';
import { ReferralError } from '../../lib/referrals/errors';
import { campaignRefOf } from '../shared/campaign';
import { toNodeError } from '../shared/errors';
import { pipedriveClientFor } from '../shared/pipedrive';
import { isBanned } from '../../lib/sync/webhook-health';
import type { RecordedWebhook } from '../../lib/sync/trigger-webhooks';
import { WEBHOOK_USER, generatePassword } from './auth';
import { neededSubscriptions, type TriggerEvent } from './events';
import { forgetWebhooks, recordPlacesOf, recordWebhooks, triggerStoreOf, underWebhooksLease, type TriggerStore } from './record';

export interface StoredWebhook {
	id: number;
	object: string;
	action: string;
}

export interface TriggerStaticData extends IDataObject {
	webhooks?: StoredWebhook[];
	httpAuthUser?: string;
	httpAuthPassword?: string;
	subscriptionUrl?: string;
	/** The campaign under which the webhooks are recorded in the referral store. */
	recordedCampaignId?: number;
}

export function staticDataOf(context: { getWorkflowStaticData(type: string): IDataObject }): TriggerStaticData {
	return context.getWorkflowStaticData('node') as TriggerStaticData;
}

function chosenEvents(context: IHookFunctions): TriggerEvent[] {
	return (context.getNodeParameter('events', []) as TriggerEvent[]) ?? [];
}

function subscriptionUrl(context: IHookFunctions): string {
	const url = context.getNodeWebhookUrl('default');
	if (!url) throw toNodeError(context.getNode(), new Error('n8n has no URL for this trigger\'s webhook'));
	return url;
}

const isNotFound = (error: unknown) => isPipedriveApiError(error) && (error.status === 404 || error.status === 410);

/** Deletes a webhook; one that is already gone counts as deleted. */
async function deleteQuietly(client: PipedriveClient, id: number): Promise<void> {
	await client.deleteWebhook(id).catch((error: unknown) => {
		if (!isNotFound(error)) throw error;
	});
}

/**
 * True when every webhook the chosen events need is registered in Pipedrive as stored: same id,
 * URL, entity, action and auth user (and this node knows the password), and not banned. n8n asks
 * this when the workflow is activated, also when n8n starts: a webhook Pipedrive deleted (3 days
 * without a successful delivery) or banned (10 failures in a row) is then registered again.
 */
export async function webhooksExist(context: IHookFunctions): Promise<boolean> {
	const data = staticDataOf(context);
	const stored = Array.isArray(data.webhooks) ? data.webhooks : [];
	if (!data.httpAuthPassword || stored.length === 0) return false;
	const url = subscriptionUrl(context);
	const needed = neededSubscriptions(chosenEvents(context));
	const sameSet =
		needed.length === stored.length && needed.every((n) => stored.some((s) => s.object === n.object && s.action === n.action));
	if (!sameSet) return false;
	try {
		const client = await pipedriveClientFor(context);
		const registered = await client.listWebhooks();
		return stored.every((s) =>
			registered.some(
				(w) =>
					Number(w.id) === Number(s.id) &&
					w.subscription_url === url &&
					w.event_object === s.object &&
					w.event_action === s.action &&
					!isBanned(w) &&
					(w.http_auth_user === undefined || w.http_auth_user === data.httpAuthUser),
			),
		);
	} catch (error) {
		throw toNodeError(context.getNode(), error);
	}
}

/** Start Workflow For needs the code field (and a campaign): refused at activation, not per delivery. */
function checkStartFor(context: IHookFunctions): void {
	const startFor = context.getNodeParameter('startFor', 'all') as string;
	const events = chosenEvents(context);
	if (events.includes('campaignRule') && startFor !== 'campaignReferrals') {
		throw toNodeError(
			context.getNode(),
			new ReferralError('invalid_input', "The Campaign's Qualification Rule needs Start Workflow For: Referrals of a Campaign (the rule is the campaign's)", 'startFor'),
		);
	}
	if (startFor === 'all') return;
	const dealOrLead = events.some((event) => event !== 'personCreatedOrUpdated');
	const missing =
		(dealOrLead && String(context.getNodeParameter('codeField', '') ?? '').trim() === '') ||
		(events.includes('personCreatedOrUpdated') && String(context.getNodeParameter('personCodeField', '') ?? '').trim() === '');
	if (missing) {
		throw toNodeError(
			context.getNode(),
			new ReferralError('invalid_input', 'Choose the Referral Code Field: "Start Workflow For" looks at it', 'codeField'),
		);
	}
	if (startFor === 'campaignReferrals') {
		try {
			campaignRefOf(context.getNodeParameter('campaign', undefined) as INodeParameterResourceLocator);
		} catch (error) {
			throw toNodeError(context.getNode(), error);
		}
	}
}

/**
 * Registers the webhooks the chosen events need, with a new password. Webhooks left from before
 * with this trigger's URL are deleted first, so a change of events, lost static data or copies the
 * reconciliation registered never leave duplicates behind. With the store, all of it runs under
 * the lease the reconciliation takes to restore webhooks, and the new ones are recorded.
 */
export async function createWebhooks(context: IHookFunctions): Promise<boolean> {
	const url = subscriptionUrl(context);
	const needed = neededSubscriptions(chosenEvents(context));
	if (needed.length === 0) {
		throw toNodeError(context.getNode(), new Error('Choose at least one event in "Trigger On"'));
	}
	checkStartFor(context);
	const node = context.getNode();
	const client = await pipedriveClientFor(context).catch((error) => {
		throw toNodeError(node, error);
	});
	const store = await triggerStoreOf(context);
	return await underWebhooksLease(store?.program ?? null, async () => await register(context, client, store, url, needed));
}

async function register(
	context: IHookFunctions,
	client: PipedriveClient,
	store: TriggerStore | null,
	url: string,
	needed: Array<{ object: string; action: string }>,
): Promise<boolean> {
	const data = staticDataOf(context);
	const node = context.getNode();
	const created: StoredWebhook[] = [];
	const recorded: RecordedWebhook[] = [];
	let companyId: number | null = null;
	// What this URL had registered before: gone or banned now means Pipedrive removed it (a new activation has none).
	const before = Array.isArray(data.webhooks) && data.subscriptionUrl === url ? [...data.webhooks] : [];
	try {
		const existing = await client.listWebhooks();
		const lost = before.filter((s) => !existing.some((w) => Number(w.id) === Number(s.id) && !isBanned(w)));
		// Only webhooks pointing at this very URL: a test URL ("Listen for test event") never removes
		// the production webhooks, nor the other way round.
		for (const w of existing) if (w.subscription_url === url) await deleteQuietly(client, Number(w.id));
		data.webhooks = [];

		const password = generatePassword();
		for (const { object, action } of needed) {
			const body = {
				subscription_url: url,
				event_action: action as CreateWebhookBody['event_action'],
				event_object: object as CreateWebhookBody['event_object'],
				name: `n8n ${node.name}: ${object}`.slice(0, 255),
				http_auth_user: WEBHOOK_USER,
				http_auth_password: password,
				version: '2.0' as const,
			};
			// After a failure of unknown outcome, the webhook counts as created only if it carries this password.
			const findExisting = async () =>
				(await client.listWebhooks()).find(
					(w: Webhook) =>
						w.subscription_url === url &&
						w.event_object === object &&
						w.event_action === action &&
						w.http_auth_password === password,
				) ?? null;
			const webhook = await client.createWebhook(body, { findExisting });
			created.push({ id: Number(webhook.id), object, action });
			recorded.push({ id: Number(webhook.id), object, action, name: body.name });
			if (typeof webhook.company_id === 'number') companyId = webhook.company_id;
		}
		data.webhooks = created;
		data.httpAuthUser = WEBHOOK_USER;
		data.httpAuthPassword = password;
		data.subscriptionUrl = url;
		const trigger = { subscriptionUrl: url, companyId, authUser: WEBHOOK_USER, authPassword: password, webhooks: recorded };
		const recordedUnder = await recordWebhooks(context, store, url, trigger, data.recordedCampaignId);
		if (recordedUnder === undefined) delete data.recordedCampaignId;
		else data.recordedCampaignId = recordedUnder;
		if (lost.length > 0) await logRestored(context, store, lost, created);
		return true;
	} catch (error) {
		// Half a registration is none: remove what was created, keep nothing that could authorise.
		for (const w of created) await deleteQuietly(client, w.id).catch(() => undefined);
		delete data.webhooks;
		delete data.httpAuthUser;
		delete data.httpAuthPassword;
		delete data.subscriptionUrl;
		// Nor a record the reconciliation would register again.
		await recordWebhooks(context, store, url, null, data.recordedCampaignId);
		delete data.recordedCampaignId;
		throw toNodeError(node, error);
	}
}

/**
 * Webhooks this trigger had that Pipedrive deleted or banned, registered again now: said in n8n's
 * log, and as a `pipedrive.webhook_restored` event the Referral Trigger can watch when the trigger
 * knows its campaign (Start Workflow For: Referrals of a Campaign). Never fails the activation.
 */
async function logRestored(context: IHookFunctions, store: TriggerStore | null, lost: StoredWebhook[], created: StoredWebhook[]): Promise<void> {
	const what = lost.map((w) => `${w.object} (webhook ${w.id})`).join(', ');
	context.logger.warn(`Pipedrive Referral Trigger "${context.getNode().name}": Pipedrive had deleted or banned its webhooks for ${what}; registered them again`);
	if (!store) return;
	try {
		for (const w of lost) {
			const copy = created.find((c) => c.object === w.object);
			await store.program.logProgramEvent(store.campaignId, 'pipedrive.webhook_restored', {
				replacedId: w.id,
				webhookId: copy?.id ?? null,
				object: w.object,
				action: w.action,
				reason: 'deleted or banned',
			});
		}
	} catch (error) {
		context.logger.warn(`Pipedrive Referral Trigger: could not log the restored webhooks: ${(error as Error).message}`);
	}
}

/**
 * Deletes the stored webhooks, and copies the reconciliation registered for banned ones (same URL).
 * Returns false (keeping the ids) when Pipedrive refused a deletion.
 */
export async function deleteWebhooks(context: IHookFunctions): Promise<boolean> {
	const data = staticDataOf(context);
	const places = await recordPlacesOf(context, data.recordedCampaignId);
	return await underWebhooksLease(places?.program ?? null, async () => {
		// The record goes first: the reconciliation never registers again what is being deleted.
		await forgetWebhooks(context, places, data.subscriptionUrl);
		delete data.recordedCampaignId;
		return await deleteRegistered(context, data);
	});
}

async function deleteRegistered(context: IHookFunctions, data: TriggerStaticData): Promise<boolean> {
	const stored = Array.isArray(data.webhooks) ? data.webhooks : [];
	const left: StoredWebhook[] = [];
	if (stored.length) {
		const client = await pipedriveClientFor(context);
		const url = data.subscriptionUrl;
		const copies = url ? (await client.listWebhooks().catch(() => [])).filter((w) => w.subscription_url === url && !stored.some((s) => Number(s.id) === Number(w.id))) : [];
		for (const w of [...stored, ...copies.map((c) => ({ id: Number(c.id), object: c.event_object, action: c.event_action }))]) {
			try {
				await deleteQuietly(client, w.id);
			} catch (error) {
				context.logger.warn(`Pipedrive Referral Trigger: could not delete Pipedrive webhook ${w.id}: ${(error as Error).message}`);
				left.push(w);
			}
		}
	}
	if (left.length) {
		data.webhooks = left;
		return false;
	}
	delete data.webhooks;
	delete data.httpAuthUser;
	delete data.httpAuthPassword;
	delete data.subscriptionUrl;
	return true;
}
