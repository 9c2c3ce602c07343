// What the Pipedrive Referral Trigger registered, kept in the referral store.
//
// Pipedrive deletes a webhook with no successful delivery for 3 days; it then no longer appears in
// the webhook list, so only a record of it lets the reconciliation pass register it again while
// n8n runs (webhook-health.ts). A trigger with a store (Start Workflow For: Referrals of a
// Campaign) records its webhooks under its campaign at activation and removes them at
// deactivation. The record holds the basic-auth password, so a copy authenticates like the original.
//
// Registering (trigger), removing (trigger) and restoring (pass) run under one store lease: a pass
// never re-creates a webhook the trigger is replacing or removing, and two passes never both re-create it.

import type { ReferralProgram } from '../referrals/program';

export interface RecordedWebhook {
	id: number;
	object: string;
	action: string;
	name: string;
}

export interface RecordedTrigger {
	subscriptionUrl: string;
	/** The Pipedrive company the webhooks were registered in: a pass on another account leaves them alone. */
	companyId: number | null;
	authUser: string;
	authPassword: string;
	webhooks: RecordedWebhook[];
}

/** sync_state key (per campaign): `{ triggers: RecordedTrigger[] }`. */
export const TRIGGER_WEBHOOKS_KEY = 'pipedrive:trigger-webhooks';
const LEASE_KEY = 'pipedrive:trigger-webhooks';
/** Held while webhooks are listed, deleted and created (a few requests, with the client's retries). */
const LEASE_MS = 2 * 60_000;

export async function recordedTriggers(program: ReferralProgram, campaignId: number): Promise<RecordedTrigger[]> {
	const state = await program.getSyncState(campaignId, TRIGGER_WEBHOOKS_KEY);
	return Array.isArray(state?.triggers) ? (state.triggers as RecordedTrigger[]) : [];
}

/** Replaces the record of `subscriptionUrl` with `trigger` (none: removes it). Call it holding the lease. */
export async function saveRecordedTrigger(program: ReferralProgram, campaignId: number, subscriptionUrl: string, trigger: RecordedTrigger | null): Promise<void> {
	const all = await recordedTriggers(program, campaignId);
	const others = all.filter((t) => t.subscriptionUrl !== subscriptionUrl);
	if (trigger === null && others.length === all.length) return;
	await program.saveSyncState(campaignId, TRIGGER_WEBHOOKS_KEY, { triggers: trigger ? [...others, trigger] : others });
}

/** Runs `task` holding the lease over the trigger webhooks of every campaign and account. */
export function withTriggerWebhooksLease<T>(program: ReferralProgram, sleep: (ms: number) => Promise<unknown>, task: () => Promise<T>): Promise<T> {
	return program.exclusively(LEASE_KEY, LEASE_MS, sleep, task);
}
