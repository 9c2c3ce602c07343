// Keeping the Pipedrive Referral Trigger's webhooks alive between activations.
//
// Pipedrive bans a webhook for 30 minutes after 10 failed first attempts in a row (events meanwhile
// are lost) and deletes one with no successful delivery for 3 days. n8n asks the trigger whether
// its webhooks exist only when the workflow is activated (also when n8n starts): a banned or
// deleted webhook is then registered again there (nodes/PipedriveReferralTrigger/subscriptions.ts).
// While n8n runs, the reconciliation pass replaces banned ones: it recognises the trigger's webhooks
// by the name and user the trigger gives them, registers a copy (same URL, entity, action and
// basic auth, so the trigger accepts its deliveries) and deletes the banned one. Each replacement is
// logged as a `pipedrive.webhook_restored` event, which the Referral Trigger can watch.

import type { PipedriveClient } from '../pipedrive/client';
import { isPipedriveApiError } from '../pipedrive/errors';
import type { CreateWebhookBody, Webhook } from '../pipedrive/types';
import type { ReferralProgram } from '../referrals/program';

/** The basic-auth user and name prefix of every webhook the Pipedrive Referral Trigger registers. */
export const TRIGGER_WEBHOOK_USER = 'n8n';
export const TRIGGER_WEBHOOK_NAME_PREFIX = 'n8n ';

export interface RestoredWebhook {
	replacedId: number;
	webhookId: number;
	object: string;
	action: string;
	reason: 'banned';
}

export function isTriggerWebhook(webhook: Webhook): boolean {
	return webhook.http_auth_user === TRIGGER_WEBHOOK_USER && String(webhook.name ?? '').startsWith(TRIGGER_WEBHOOK_NAME_PREFIX);
}

/** Pipedrive lists a banned webhook with `is_active` 0. */
export function isBanned(webhook: Webhook): boolean {
	return webhook.is_active === 0 || (webhook.is_active as unknown) === false;
}

export async function replaceBannedTriggerWebhooks(program: ReferralProgram, client: PipedriveClient, campaignId: number): Promise<RestoredWebhook[]> {
	const restored: RestoredWebhook[] = [];
	for (const banned of (await client.listWebhooks()).filter((w) => isTriggerWebhook(w) && isBanned(w))) {
		if (!banned.http_auth_password) continue; // Without the password the trigger would refuse the copy's deliveries.
		const body: CreateWebhookBody = {
			subscription_url: banned.subscription_url,
			event_action: banned.event_action as CreateWebhookBody['event_action'],
			event_object: banned.event_object as CreateWebhookBody['event_object'],
			name: String(banned.name),
			http_auth_user: TRIGGER_WEBHOOK_USER,
			http_auth_password: String(banned.http_auth_password),
			version: '2.0',
		};
		const copy = await client.createWebhook(body, {
			findExisting: async () =>
				(await client.listWebhooks()).find(
					(w) => w.id !== banned.id && w.subscription_url === body.subscription_url && w.event_object === body.event_object && w.event_action === body.event_action && !isBanned(w),
				) ?? null,
		});
		await client.deleteWebhook(Number(banned.id)).catch((error: unknown) => {
			if (!(isPipedriveApiError(error) && error.kind === 'not_found')) throw error;
		});
		const entry: RestoredWebhook = { replacedId: Number(banned.id), webhookId: Number(copy.id), object: body.event_object, action: body.event_action, reason: 'banned' };
		await program.logProgramEvent(campaignId, 'pipedrive.webhook_restored', { ...entry });
		restored.push(entry);
	}
	return restored;
}
