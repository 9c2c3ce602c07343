// Reconciliation: what Pipedrive's webhooks would have told us, read back from Pipedrive's lists.
//
// Webhooks get lost (n8n down through Pipedrive's three retries, a 30-minute ban, a webhook deleted
// after 3 days without success). A pass reads the deals and the leads changed since the last
// complete pass (one paged list per entity: `GET /api/v2/deals?updated_since=` by cursor, and
// `GET /v1/leads?updated_since=&sort=update_time` (ascending) by offset, the only paging v1 leads have),
// and applies to each referral what the campaign's qualification rule makes of its record as it is
// now, through the same transitions and idempotency keys as the webhook path
// (lib/referrals/qualification-rule.ts). So a webhook arriving late, twice or never gives the same
// end state. Keys applied before are skipped with one read per page: a pass over records that did
// not change writes nothing to the store. A pass writes to Pipedrive only to restore the Pipedrive
// Referral Trigger's webhooks Pipedrive banned or deleted (webhook-health.ts).

import type { PipedriveClient } from '../pipedrive/client';
import { readCustomFieldValue } from '../pipedrive/fields';
import { codeOrNull } from '../referrals/codes';
import { ReferralError } from '../referrals/errors';
import { dealTransitions, leadTransitions, type QualificationRule, type Transition } from '../referrals/qualification-rule';
import type { ReferralLookup, ReferralProgram } from '../referrals/program';
import { fieldsOf } from './mapping';
import { restoreTriggerWebhooks, type RestoredWebhook } from './webhook-health';
import { resolveField } from '../pipedrive/fields';

export interface ReconcileSettings {
	campaignId: number;
	/** The deal field (leads use deal fields) holding the referral code, by key or name. */
	codeField: string;
	/** Stop after this many records per entity (the rest waits for the next run, which resumes). */
	maxRecords?: number;
	pageSize?: number;
	/** Restore the Pipedrive Referral Trigger's banned and deleted webhooks (one webhook list read per run). */
	restoreWebhooks?: boolean;
}

export interface ReconcileChange {
	entity: 'deal' | 'lead';
	entityId: number | string;
	action: 'qualify' | 'unqualify';
	reason: string;
	key: string;
	participantId: number;
	referrerId: number | null;
	changed: boolean;
	stale: boolean;
}

export interface EntityPass {
	seen: number;
	/** True when the pass went through every changed record; false when it stopped early and will resume. */
	complete: boolean;
	resumed: boolean;
	since: string | null;
}

export interface ReconcileSummary {
	campaignId: number;
	rule: QualificationRule;
	deals: EntityPass;
	leads: EntityPass;
	/** Transitions applied now (a status changed, or a key claimed whose change was already there). */
	applied: number;
	/** Of them, the ones that changed a referral's status. */
	changed: number;
	/** Transitions applied before (by a webhook or an earlier pass): skipped without a write. */
	alreadyApplied: number;
	/** Records with a transition but no referral of this campaign behind them. */
	notReferrals: number;
	/** Write transactions this pass made in the store (0 when nothing changed in Pipedrive). */
	storeWrites: number;
	/** Banned or deleted trigger webhooks registered again (see webhook-health.ts). */
	webhooksRestored: RestoredWebhook[];
	changes: ReconcileChange[];
}

interface SavedPass {
	/** The latest update_time (Pipedrive's clock) of a record a complete pass read. */
	watermark?: string;
	inProgress?: { updatedSince: string | null; cursor: string | null; start: number; latest: string | null };
}

/**
 * Read again behind the watermark: a change Pipedrive commits with a slightly earlier update_time
 * than one already listed is not missed. Records read again are skipped (keys applied), and the
 * watermark moves only when a later record was read, so an unchanged account costs no write.
 */
const OVERLAP_MS = 60 * 1000;

interface RecordTransitions {
	entity: 'deal' | 'lead';
	updateTime: string | null;
	entityId: number | string;
	code: string | null;
	/** Another way to find the referral when the record carries no code. */
	fallback: ReferralLookup | null;
	transitions: Transition[];
	saleValue?: number;
	currency?: string;
}

export async function reconcile(program: ReferralProgram, client: PipedriveClient, settings: ReconcileSettings): Promise<ReconcileSummary> {
	await program.getCampaign({ id: settings.campaignId });
	const rule = await program.getQualificationRule(settings.campaignId);
	const codeKey = resolveField(await fieldsOf(client, 'deal'), settings.codeField, 'deal').key;
	const summary: ReconcileSummary = {
		campaignId: settings.campaignId,
		rule,
		deals: { seen: 0, complete: false, resumed: false, since: null },
		leads: { seen: 0, complete: false, resumed: false, since: null },
		applied: 0,
		changed: 0,
		alreadyApplied: 0,
		notReferrals: 0,
		storeWrites: 0,
		webhooksRestored: [],
		changes: [],
	};
	if (settings.restoreWebhooks) {
		const health = await restoreTriggerWebhooks(program, client, settings.campaignId);
		summary.webhooksRestored = health.restored;
		summary.storeWrites += health.storeWrites;
	}
	const pageSize = Math.min(500, settings.pageSize ?? 500);
	await pass(program, settings, summary, 'deals', async (position) => {
		const body = await client.request<{ data?: Array<Record<string, unknown>>; additional_data?: { next_cursor?: string | null } }>('GET', '/api/v2/deals', {
			qs: {
				updated_since: position.updatedSince ?? undefined,
				sort_by: 'update_time',
				sort_direction: 'asc',
				include_fields: 'source_lead_id',
				custom_fields: codeKey,
				limit: pageSize,
				cursor: position.cursor ?? undefined,
			},
		});
		const next = body.additional_data?.next_cursor;
		return {
			records: (body.data ?? []).map((deal) => dealRecord(rule, deal, codeKey)),
			next: typeof next === 'string' && next !== '' ? { cursor: next, start: 0 } : null,
		};
	});
	// Pipedrive has no lead transitions in a rule without labels: the leads list is not read.
	if (rule.leadLabelIds.length > 0) {
		await pass(program, settings, summary, 'leads', async (position) => {
			const body = await client.request<{ data?: Array<Record<string, unknown>>; additional_data?: { pagination?: { more_items_in_collection?: boolean } } }>(
				'GET',
				'/v1/leads',
				{ qs: { updated_since: position.updatedSince ?? undefined, sort: 'update_time', start: position.start, limit: pageSize } },
			);
			const records = (body.data ?? []).map((lead) => leadRecord(rule, lead, codeKey));
			return { records, next: body.additional_data?.pagination?.more_items_in_collection ? { cursor: null, start: position.start + records.length } : null };
		});
	} else {
		summary.leads.complete = true;
	}
	return summary;
}

type PageReader = (position: { updatedSince: string | null; cursor: string | null; start: number }) => Promise<{
	records: RecordTransitions[];
	next: { cursor: string | null; start: number } | null;
}>;

/** One entity's pass: resumes a pass stopped half-way, saves its place after every page but the last. */
async function pass(program: ReferralProgram, settings: ReconcileSettings, summary: ReconcileSummary, entity: 'deals' | 'leads', read: PageReader) {
	const key = `reconcile:${entity}`;
	const saved = ((await program.getSyncState(settings.campaignId, key)) ?? {}) as SavedPass;
	const out = summary[entity];
	out.resumed = saved.inProgress !== undefined;
	const position = saved.inProgress ?? {
		updatedSince: saved.watermark ? new Date(Date.parse(saved.watermark) - OVERLAP_MS).toISOString() : null,
		cursor: null,
		start: 0,
		latest: saved.watermark ?? null,
	};
	out.since = position.updatedSince;
	for (;;) {
		if (settings.maxRecords !== undefined && out.seen >= settings.maxRecords) return;
		const page = await read(position);
		out.seen += page.records.length;
		await applyPage(program, settings.campaignId, page.records, summary);
		for (const record of page.records) {
			if (record.updateTime && (position.latest === null || Date.parse(record.updateTime) > Date.parse(position.latest))) {
				position.latest = new Date(Date.parse(record.updateTime)).toISOString();
			}
		}
		if (page.next === null) {
			out.complete = true;
			if (position.latest !== (saved.watermark ?? null) || out.resumed) {
				await program.saveSyncState(settings.campaignId, key, position.latest === null ? {} : { watermark: position.latest });
				summary.storeWrites++;
			}
			return;
		}
		Object.assign(position, page.next);
		await program.saveSyncState(settings.campaignId, key, { ...saved, inProgress: position });
		summary.storeWrites++;
	}
}

async function applyPage(program: ReferralProgram, campaignId: number, records: RecordTransitions[], summary: ReconcileSummary) {
	const withTransitions = records.filter((record) => record.transitions.length > 0);
	if (withTransitions.length === 0) return;
	const applied = await program.appliedKeys(withTransitions.flatMap((record) => record.transitions.map((t) => t.key)));
	const referralCodes = await program.referralCodesIn(
		campaignId,
		withTransitions.map((record) => record.code),
	);
	for (const record of withTransitions) {
		const pending = record.transitions.filter((t) => !applied.has(t.key));
		summary.alreadyApplied += record.transitions.length - pending.length;
		if (pending.length === 0) continue;
		const lookup: ReferralLookup | null =
			record.code !== null && referralCodes.has(record.code) ? { code: record.code, campaignId } : record.fallback && { ...record.fallback, campaignId };
		if (!lookup) {
			summary.notReferrals++;
			continue;
		}
		for (const transition of pending) {
			try {
				const result = await program.qualify(lookup, {
					action: transition.action,
					idempotencyKey: transition.key,
					occurredAt: transition.occurredAt,
					via: 'reconciliation',
					saleValue: transition.action === 'qualify' ? record.saleValue : undefined,
					currency: transition.action === 'qualify' ? record.currency : undefined,
				});
				summary.storeWrites++;
				if (result.duplicate) {
					summary.alreadyApplied++;
					continue;
				}
				summary.applied++;
				if (result.changed) summary.changed++;
				summary.changes.push({
					entity: record.entity,
					entityId: record.entityId,
					action: transition.action,
					reason: transition.reason,
					key: transition.key,
					participantId: result.participant.id,
					referrerId: result.participant.referredBy,
					changed: result.changed,
					stale: result.stale ?? false,
				});
			} catch (error) {
				if (error instanceof ReferralError && (error.kind === 'not_found' || error.kind === 'not_a_referral')) {
					summary.notReferrals++;
					break;
				}
				throw error;
			}
		}
	}
}

const str = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
const num = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : null);

function dealRecord(rule: QualificationRule, deal: Record<string, unknown>, codeKey: string): RecordTransitions {
	const id = Number(deal.id);
	const sourceLeadId = str(deal.source_lead_id);
	const value = num(deal.value);
	return {
		entity: 'deal',
		updateTime: str(deal.update_time),
		entityId: id,
		code: codeOrNull(readCustomFieldValue(deal, codeKey)),
		fallback: sourceLeadId ? { pipedriveLeadId: sourceLeadId } : { pipedriveDealId: id },
		transitions: dealTransitions(rule, {
			id,
			status: str(deal.status),
			stageId: num(deal.stage_id),
			wonTime: str(deal.won_time),
			lostTime: str(deal.lost_time),
			updateTime: str(deal.update_time) ?? new Date().toISOString(),
			sourceLeadId,
		}),
		saleValue: value ?? undefined,
		currency: value === null ? undefined : (str(deal.currency) ?? undefined),
	};
}

function leadRecord(rule: QualificationRule, lead: Record<string, unknown>, codeKey: string): RecordTransitions {
	const id = String(lead.id);
	const value = lead.value && typeof lead.value === 'object' ? (lead.value as Record<string, unknown>) : null;
	return {
		entity: 'lead',
		updateTime: str(lead.update_time),
		entityId: id,
		code: codeOrNull(readCustomFieldValue(lead, codeKey)),
		fallback: { pipedriveLeadId: id },
		transitions: leadTransitions(rule, {
			id,
			labelIds: Array.isArray(lead.label_ids) ? lead.label_ids.map(String) : [],
			updateTime: str(lead.update_time) ?? new Date().toISOString(),
		}),
		saleValue: num(value?.amount) ?? undefined,
		currency: num(value?.amount) === null ? undefined : (str(value?.currency) ?? undefined),
	};
}
