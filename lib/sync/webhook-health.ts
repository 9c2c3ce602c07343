// Keeping the Pipedrive Referral Trigger's webhooks alive between activations.
//
// Pipedrive bans a webhook for 30 minutes after 10 failed first attempts in a row (events meanwhile
// are lost) and deletes one with no successful delivery for 3 days. n8n asks the trigger whether
// its webhooks exist only when the workflow is activated (also when n8n starts): a banned or
// deleted webhook is then registered again there (nodes/PipedriveReferralTrigger/subscriptions.ts).
// While n8n runs, the reconciliation pass restores them:
// - banned ones, found in Pipedrive's webhook list by the name and user the trigger gives them: a
//   copy is registered (same URL, entity, action and basic auth, so the trigger accepts its
//   deliveries) and the banned one deleted;
// - deleted ones, which the list no longer shows: the trigger records what it registered in the
//   store (trigger-webhooks.ts) and the pass registers again each recorded webhook missing from
//   the list, under the record's name and password, and records the new id.
// Each is logged as a `pipedrive.webhook_restored` event (reason `banned` or `deleted`), which the
// Referral Trigger can watch. A pass that finds nothing to restore writes nothing, to Pipedrive or
// the store; the work itself runs under the store lease the trigger also takes, so two passes (or a
// pass and an activation) never register the same webhook twice.

import type { PipedriveClient } from '../pipedrive/client';
import { isPipedriveApiError } from '../pipedrive/errors';
import type { CreateWebhookBody, Webhook } from '../pipedrive/types';
import type { ReferralProgram } from '../referrals/program';
import { type RecordedTrigger, recordedTriggers, saveRecordedTrigger, withTriggerWebhooksLease } from './trigger-webhooks';

/** The basic-auth user and name prefix of every webhook the Pipedrive Referral Trigger registers. */
export const TRIGGER_WEBHOOK_USER = 'n8n';
export const TRIGGER_WEBHOOK_NAME_PREFIX = 'n8n ';

export interface RestoredWebhook {
	replacedId: number;
	webhookId: number;
	object: string;
	action: string;
	reason: 'banned' | 'deleted';
}

export interface WebhookHealth {
	restored: RestoredWebhook[];
	/** Write transactions made in the store (0 when every webhook was healthy). */
	storeWrites: number;
}

export function isTriggerWebhook(webhook: Webhook): boolean {
	return webhook.http_auth_user === TRIGGER_WEBHOOK_USER && String(webhook.name ?? '').startsWith(TRIGGER_WEBHOOK_NAME_PREFIX);
}

/** Pipedrive lists a banned webhook with `is_active` 0. */
export function isBanned(webhook: Webhook): boolean {
	return webhook.is_active === 0 || (webhook.is_active as unknown) === false;
}

const serves = (w: Webhook, url: string, object: string, action: string) =>
	w.subscription_url === url && w.event_object === object && w.event_action === action && !isBanned(w);

/** The recorded webhooks of `trigger` not in `listed` (healthy, under the recorded id). */
const missingOf = (trigger: RecordedTrigger, listed: Webhook[]) =>
	trigger.webhooks.filter((r) => !listed.some((w) => Number(w.id) === r.id && serves(w, trigger.subscriptionUrl, r.object, r.action)));

/**
 * Restores the trigger webhooks Pipedrive banned (any trigger's in this account) or deleted (those
 * recorded under `campaignId`). Costs one webhook-list read and one store read when all are
 * healthy (and a `users/me` read when a recorded one is missing, to tell whether it is this account's).
 */
export async function restoreTriggerWebhooks(program: ReferralProgram, client: PipedriveClient, campaignId: number): Promise<WebhookHealth> {
	let companyId: number | null | undefined;
	const thisAccount = async (trigger: RecordedTrigger) => {
		if (trigger.companyId === null) return true;
		companyId ??= (await client.getCurrentUser()).company_id ?? null;
		return companyId === null || companyId === trigger.companyId;
	};
	const look = async () => {
		const listed = await client.listWebhooks();
		const banned = listed.filter((w) => isTriggerWebhook(w) && isBanned(w) && Boolean(w.http_auth_password));
		const stale: RecordedTrigger[] = [];
		for (const trigger of await recordedTriggers(program, campaignId)) {
			if (missingOf(trigger, listed).length > 0 && (await thisAccount(trigger))) stale.push(trigger);
		}
		return { listed, banned, stale };
	};
	const first = await look();
	if (first.banned.length === 0 && first.stale.length === 0) return { restored: [], storeWrites: 0 };
	return await withTriggerWebhooksLease(program, client.sleep, async () => {
		// Again, holding the lease: another pass or the trigger may have done it meanwhile.
		const { listed, banned, stale } = await look();
		const health: WebhookHealth = { restored: [], storeWrites: 2 }; // the lease, taken and given up
		for (const webhook of banned) {
			health.restored.push(await replaceBanned(program, client, campaignId, webhook));
			health.storeWrites++;
		}
		const current = banned.length > 0 ? await client.listWebhooks() : listed;
		for (const trigger of stale) {
			const missing = missingOf(trigger, current);
			if (missing.length === 0) continue;
			for (const recorded of missing) {
				// Registered again by the trigger, or a banned one replaced: the record follows it.
				const now = current.find((w) => isTriggerWebhook(w) && serves(w, trigger.subscriptionUrl, recorded.object, recorded.action));
				if (now) {
					recorded.id = Number(now.id);
					if (now.http_auth_password) trigger.authPassword = String(now.http_auth_password);
					continue;
				}
				const copy = await register(client, {
					subscription_url: trigger.subscriptionUrl,
					event_action: recorded.action as CreateWebhookBody['event_action'],
					event_object: recorded.object as CreateWebhookBody['event_object'],
					name: recorded.name,
					http_auth_user: trigger.authUser,
					http_auth_password: trigger.authPassword,
					version: '2.0',
				});
				const entry: RestoredWebhook = { replacedId: recorded.id, webhookId: Number(copy.id), object: recorded.object, action: recorded.action, reason: 'deleted' };
				recorded.id = entry.webhookId;
				await program.logProgramEvent(campaignId, 'pipedrive.webhook_restored', { ...entry });
				health.restored.push(entry);
				health.storeWrites++;
			}
			await saveRecordedTrigger(program, campaignId, trigger.subscriptionUrl, trigger);
			health.storeWrites++;
		}
		return health;
	});
}

/** Registers `body`; after a failure of unknown outcome, a webhook with its URL, event and password counts as it. */
async function register(client: PipedriveClient, body: CreateWebhookBody): Promise<Webhook> {
	return await client.createWebhook(body, {
		findExisting: async () =>
			(await client.listWebhooks()).find(
				(w) => serves(w, body.subscription_url, body.event_object, body.event_action) && w.http_auth_password === body.http_auth_password,
			) ?? null,
	});
}

async function replaceBanned(program: ReferralProgram, client: PipedriveClient, campaignId: number, banned: Webhook): Promise<RestoredWebhook> {
	const copy = await register(client, {
		subscription_url: banned.subscription_url,
		event_action: banned.event_action as CreateWebhookBody['event_action'],
		event_object: banned.event_object as CreateWebhookBody['event_object'],
		name: String(banned.name),
		http_auth_user: TRIGGER_WEBHOOK_USER,
		http_auth_password: String(banned.http_auth_password),
		version: '2.0',
	});
	await client.deleteWebhook(Number(banned.id)).catch((error: unknown) => {
		if (!(isPipedriveApiError(error) && error.kind === 'not_found')) throw error;
	});
	const entry: RestoredWebhook = { replacedId: Number(banned.id), webhookId: Number(copy.id), object: banned.event_object, action: banned.event_action, reason: 'banned' };
	await program.logProgramEvent(campaignId, 'pipedrive.webhook_restored', { ...entry });
	return entry;
}
