// This trigger's webhooks recorded in the referral store (lib/sync/trigger-webhooks.ts), so the
// reconciliation pass registers again one Pipedrive deleted while n8n runs. Only a trigger with
// the store and a campaign (Start Workflow For: Referrals of a Campaign) records: at activation,
// or, when the campaign did not exist yet then (the bundled one is made by the first referrer), at
// its first delivery with the campaign there. A failure to record is logged and never fails the
// activation or the delivery (the trigger still restores its webhooks when n8n activates it again).

import type { IHookFunctions, INodeParameterResourceLocator, IWebhookFunctions } from 'n8n-workflow';
import { sleep } from 'n8n-workflow';

import type { ReferralProgram } from '../../lib/referrals/program';
import { type RecordedTrigger, recordedTriggers, saveRecordedTrigger, withTriggerWebhooksLease } from '../../lib/sync/trigger-webhooks';
import { campaignRefOf } from '../shared/campaign';
import { programFor } from '../shared/store';

export interface TriggerStore {
	program: ReferralProgram;
	campaignId: number;
}

const warn = (context: IHookFunctions | IWebhookFunctions, message: string) => context.logger.warn(`Pipedrive Referral Trigger "${context.getNode().name}": ${message}`);

/** The store and campaign this trigger filters on, or null without them (or when the store cannot be reached). */
export async function triggerStoreOf(context: IHookFunctions): Promise<TriggerStore | null> {
	if (context.getNodeParameter('startFor', 'all') !== 'campaignReferrals') return null;
	try {
		const program = await programFor(context);
		const campaign = await program.findCampaign(campaignRefOf(context.getNodeParameter('campaign', undefined) as INodeParameterResourceLocator));
		return campaign ? { program, campaignId: campaign.id } : null;
	} catch (error) {
		warn(context, `could not reach the referral store: ${(error as Error).message}`);
		return null;
	}
}

/** Runs `task` under the lease the reconciliation pass takes to restore webhooks (none without a store). */
export async function underWebhooksLease<T>(program: ReferralProgram | null, task: () => Promise<T>): Promise<T> {
	return program ? await withTriggerWebhooksLease(program, sleep, task) : await task();
}

/**
 * Records `trigger` (null: nothing registered) at `url` under the campaign; an activation for a
 * test event records nothing (its webhooks live minutes). A record under another campaign from
 * before is removed. Returns the campaign recorded under, or undefined.
 */
export async function recordWebhooks(
	context: IHookFunctions,
	store: TriggerStore | null,
	url: string,
	trigger: RecordedTrigger | null,
	before: number | undefined,
): Promise<number | undefined> {
	if (!store) return undefined;
	try {
		if (before !== undefined && before !== store.campaignId) await saveRecordedTrigger(store.program, before, url, null);
		const recording = trigger !== null && context.getMode() !== 'manual';
		await saveRecordedTrigger(store.program, store.campaignId, url, recording ? trigger : null);
		return recording ? store.campaignId : undefined;
	} catch (error) {
		warn(context, `could not record its webhooks in the referral store (the reconciliation cannot restore them if Pipedrive deletes them): ${(error as Error).message}`);
		return undefined;
	}
}

/**
 * Where the record may be at deactivation: the campaign recorded under at activation, and the
 * trigger's campaign (recorded at a delivery). Null: no store to remove it from.
 */
export async function recordPlacesOf(context: IHookFunctions, recordedCampaignId: unknown): Promise<{ program: ReferralProgram; campaignIds: number[] } | null> {
	const store = await triggerStoreOf(context);
	const campaignIds = [...new Set([store?.campaignId, recordedCampaignId].filter((id): id is number => typeof id === 'number'))];
	if (campaignIds.length === 0) return null;
	try {
		return { program: store?.program ?? (await programFor(context)), campaignIds };
	} catch (error) {
		warn(context, `could not remove the record of its webhooks from the referral store: ${(error as Error).message}`);
		return null;
	}
}

export async function forgetWebhooks(
	context: IHookFunctions,
	places: { program: ReferralProgram; campaignIds: number[] } | null,
	subscriptionUrl: string | undefined,
): Promise<void> {
	if (!places || !subscriptionUrl) return;
	try {
		for (const campaignId of places.campaignIds) await saveRecordedTrigger(places.program, campaignId, subscriptionUrl, null);
	} catch (error) {
		warn(context, `could not remove the record of its webhooks from the referral store: ${(error as Error).message}`);
	}
}

/** The registrations (URL and password) this process knows to be recorded: checked once each. */
const knownRecorded = new Set<string>();

/**
 * At a delivery for the campaign: records the registration in the static data if no record of its
 * URL exists (an activation before the campaign existed recorded nothing). Once per process.
 */
export async function recordAtDelivery(
	context: IWebhookFunctions,
	data: {
		webhooks?: Array<{ id: number; object: string; action: string }>;
		httpAuthUser?: string;
		httpAuthPassword?: string;
		subscriptionUrl?: string;
		recordedCampaignId?: number;
	},
	program: ReferralProgram,
	campaignId: number,
): Promise<void> {
	const url = data.subscriptionUrl;
	if (data.recordedCampaignId === campaignId || context.getMode() === 'manual') return;
	if (!url || !data.httpAuthUser || !data.httpAuthPassword || !data.webhooks?.length) return;
	const known = `${campaignId}\n${url}\n${data.httpAuthPassword}`;
	if (knownRecorded.has(known)) return;
	const trigger: RecordedTrigger = {
		subscriptionUrl: url,
		companyId: null,
		authUser: data.httpAuthUser,
		authPassword: data.httpAuthPassword,
		webhooks: data.webhooks.map((w) => ({ id: Number(w.id), object: w.object, action: w.action, name: `n8n ${context.getNode().name}: ${w.object}`.slice(0, 255) })),
	};
	const recorded = async () => (await recordedTriggers(program, campaignId)).some((t) => t.subscriptionUrl === url);
	try {
		if (!(await recorded())) {
			await withTriggerWebhooksLease(program, sleep, async () => {
				if (!(await recorded())) await saveRecordedTrigger(program, campaignId, url, trigger);
			});
		}
		knownRecorded.add(known);
	} catch (error) {
		warn(context, `could not record its webhooks in the referral store: ${(error as Error).message}`);
	}
}
