// Which deliveries start the workflow, and the item each matching event becomes.
//
// A Pipedrive delivery (v2 or v1, normalised by lib/pipedrive/webhooks) can hold several events of
// interest at once, e.g. a deal moved into a chosen stage and marked won in one edit: each becomes
// one item. Pipedrive calls are made only when the payload lacks what is needed (the referral code
// field, a deal's origin lead), through `Lookups`, which the node backs with its Pipedrive client.
//
// When does a payload "lack" the code field? A v2 delivery whose `data.custom_fields` is an object
// lists only the fields that hold a value: Pipedrive's own examples ([M2]
// https://pipedrive.readme.io/docs/webhooks-v2-migration-guide) show `"custom_fields": {}` on create
// and only the set fields elsewhere. A key absent there is "no value" (null), with no lookup: a busy
// CRM would otherwise cost one GET per delivery. Without a `custom_fields` object (v1 payloads, whose
// custom fields are top-level hash keys, or a plain body) an absent key is looked up: the v1 guide
// (https://pipedrive.readme.io/docs/guide-for-webhooks, "Current and previous") only says the
// objects conform to the API reference and does not say every custom field is always present.

import type { NormalizedWebhook } from '../../lib/pipedrive/webhooks';
import { dealStageChange, dealStatusChange, leadLabelChange } from '../../lib/pipedrive/webhooks';
import { readCustomFieldValue } from '../../lib/pipedrive/fields';
import { dealTransitions, leadTransitions, transitionKeys, type QualificationRule, type Transition } from '../../lib/referrals/qualification-rule';

/** The events a user can choose (the `events` parameter). */
export const TRIGGER_EVENTS = [
	'campaignRule',
	'dealEnteredStage',
	'dealWon',
	'dealLost',
	'leadLabelled',
	'leadConverted',
	'personCreatedOrUpdated',
] as const;
export type TriggerEvent = (typeof TRIGGER_EVENTS)[number];

/** The `event` of an output item. */
export type ItemEvent =
	| 'campaignRule'
	| 'dealEnteredStage'
	| 'dealWon'
	| 'dealLost'
	| 'leadLabelled'
	| 'leadConverted'
	| 'personCreated'
	| 'personUpdated';

export interface TriggerConfig {
	events: TriggerEvent[];
	/** Deal entered stage: the pipeline (null = any) and its stages (empty = any stage of the pipeline). */
	pipelineId: number | null;
	stageIds: number[];
	/** Lead labelled: the labels (empty = any label). */
	labelIds: string[];
	/** Key of the deal (= lead) custom field holding the referral code ('' = none). */
	codeField: string;
	/** Key of the person custom field holding a referral code ('' = none). */
	personCodeField: string;
}

/** One output item (every key present, null where it does not apply). */
export interface TriggerItem {
	[key: string]: string | number | string[] | null;
	event: ItemEvent;
	entity: string;
	entityId: number | string | null;
	eventId: string;
	attempt: number;
	referralCode: string | null;
	stageId: number | null;
	previousStageId: number | null;
	pipelineId: number | null;
	status: string | null;
	previousStatus: string | null;
	value: number | null;
	currency: string | null;
	personId: number | null;
	leadId: string | null;
	dealId: number | null;
	/** Lead labelled: the chosen labels that were added in this event. */
	labelIds: string[] | null;
	/** Person updated as the survivor of a merge: the id of the person merged into it (v2 `meta.merged_from_id`). */
	mergedFromId: number | null;
	/**
	 * The change's idempotency key as the reconciliation pass computes it (e.g.
	 * `pipedrive:deal:7:won:<won_time>`), so a webhook and a pass apply each change once between
	 * them; null when the payload cannot tell (then use eventId).
	 */
	transitionKey: string | null;
	/** ISO-8601 time of the event in Pipedrive. */
	time: string;
}

/** Reads from Pipedrive, each at most once per delivery; null when the entity no longer exists. */
export interface Lookups {
	/** `GET /api/v2/deals/{id}?include_fields=source_lead_id`. */
	deal(id: number): Promise<Record<string, unknown> | null>;
	/** `GET /v1/leads/{id}`. */
	lead(id: string): Promise<Record<string, unknown> | null>;
	/** `GET /api/v2/persons/{id}`. */
	person(id: number): Promise<Record<string, unknown> | null>;
}

/** The Pipedrive webhooks (entity, action) the chosen events need: one per entity. */
export function neededSubscriptions(events: readonly TriggerEvent[]): Array<{ object: 'deal' | 'lead' | 'person'; action: 'create' | 'change' | '*' }> {
	const actions: Record<'deal' | 'lead' | 'person', Set<'create' | 'change'>> = { deal: new Set(), lead: new Set(), person: new Set() };
	for (const event of events) {
		if (event === 'campaignRule') {
			// The rule may change after activation (stages, labels, conversion): every deal and lead event.
			for (const entity of [actions.deal, actions.lead]) {
				entity.add('create');
				entity.add('change');
			}
		}
		if (event === 'dealEnteredStage') {
			// A deal created in a chosen stage has entered it too.
			actions.deal.add('create');
			actions.deal.add('change');
		}
		if (event === 'dealWon' || event === 'dealLost') actions.deal.add('change');
		if (event === 'leadConverted') actions.deal.add('create');
		if (event === 'leadLabelled') {
			actions.lead.add('create');
			actions.lead.add('change');
		}
		if (event === 'personCreatedOrUpdated') {
			actions.person.add('create');
			actions.person.add('change');
		}
	}
	const result: Array<{ object: 'deal' | 'lead' | 'person'; action: 'create' | 'change' | '*' }> = [];
	for (const object of ['deal', 'lead', 'person'] as const) {
		const set = actions[object];
		if (set.size === 0) continue;
		result.push({ object, action: set.size > 1 ? '*' : [...set][0] });
	}
	return result;
}

// ---------------------------------------------------------------- small readers

function isObject(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A numeric id from a number, a numeric string or a v1 `{ value }` / `{ id }` object. */
function numericId(v: unknown): number | null {
	if (isObject(v)) return numericId(v.value ?? v.id);
	if (typeof v === 'number' && Number.isFinite(v)) return v;
	if (typeof v === 'string' && /^\d{1,15}$/.test(v.trim())) return Number(v.trim());
	return null;
}

function numberOrNull(v: unknown): number | null {
	if (typeof v === 'number' && Number.isFinite(v)) return v;
	if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
	return null;
}

function stringOrNull(v: unknown): string | null {
	return typeof v === 'string' && v !== '' ? v : null;
}

/** A referral code as text: trimmed, null when empty or not a scalar. */
export function codeOf(v: unknown): string | null {
	if (typeof v === 'number' && Number.isFinite(v)) return String(v);
	if (typeof v === 'string') return v.trim() === '' ? null : v.trim();
	return null;
}

/** The custom field value, or undefined when the object does not carry the field at all. */
function fieldOf(entity: Record<string, unknown> | null | undefined, key: string): unknown {
	if (!key || !entity) return undefined;
	return readCustomFieldValue(entity, key);
}

/**
 * A custom field's value as the delivery carries it: the value (API v2 shape), null when the field
 * has no value (also when a v2 delivery's `custom_fields` object simply does not list it: Pipedrive
 * sends only the set fields), undefined when the payload cannot tell and Pipedrive must be asked
 * (no `custom_fields` object: v1 payloads, plain bodies; or no key / no object given).
 */
export function fieldInPayload(webhook: NormalizedWebhook, entity: Record<string, unknown> | null | undefined, key: string): unknown {
	if (!key || !entity) return undefined;
	const value = readCustomFieldValue(entity, key);
	if (value !== undefined) return value;
	return webhook.version === '2.0' && isObject(entity.custom_fields) ? null : undefined;
}

// ---------------------------------------------------------------- items

function emptyItem(event: ItemEvent, webhook: NormalizedWebhook): TriggerItem {
	return {
		event,
		entity: webhook.entity,
		entityId: webhook.entityId,
		eventId: webhook.eventId,
		attempt: webhook.attempt,
		referralCode: null,
		stageId: null,
		previousStageId: null,
		pipelineId: null,
		status: null,
		previousStatus: null,
		value: null,
		currency: null,
		personId: null,
		leadId: null,
		dealId: null,
		labelIds: null,
		mergedFromId: null,
		transitionKey: null,
		time: webhook.timestamp,
	};
}

function dealItem(event: ItemEvent, webhook: NormalizedWebhook, deal: Record<string, unknown>): TriggerItem {
	const item = emptyItem(event, webhook);
	const previous = webhook.previous ?? {};
	item.dealId = numericId(deal.id) ?? numericId(webhook.entityId);
	item.stageId = numericId(deal.stage_id);
	item.pipelineId = numericId(deal.pipeline_id);
	item.status = stringOrNull(deal.status);
	item.value = numberOrNull(deal.value);
	item.currency = stringOrNull(deal.currency);
	item.personId = numericId(deal.person_id);
	if (webhook.changed.includes('stage_id')) item.previousStageId = numericId(previous.stage_id);
	if (webhook.changed.includes('status')) item.previousStatus = stringOrNull(previous.status);
	const dealId = item.dealId;
	const wonTime = stringOrNull(deal.won_time);
	const lostTime = stringOrNull(deal.lost_time);
	if (dealId !== null) {
		if (event === 'dealWon' && wonTime) item.transitionKey = transitionKeys.dealWon(dealId, wonTime);
		if (event === 'dealLost' && lostTime) item.transitionKey = transitionKeys.dealLost(dealId, lostTime);
		if (event === 'dealEnteredStage' && item.stageId !== null) item.transitionKey = transitionKeys.dealStage(dealId, item.stageId);
	}
	return item;
}

function leadItem(webhook: NormalizedWebhook, lead: Record<string, unknown>, added: string[]): TriggerItem {
	const item = emptyItem('leadLabelled', webhook);
	const value = isObject(lead.value) ? lead.value : null;
	item.leadId = stringOrNull(lead.id) ?? (webhook.entityId === null ? null : String(webhook.entityId));
	item.value = numberOrNull(value?.amount);
	item.currency = stringOrNull(value?.currency);
	item.personId = numericId(lead.person_id);
	item.labelIds = added;
	if (item.leadId && added.length > 0) item.transitionKey = transitionKeys.leadLabel(item.leadId, added[0]);
	return item;
}

/**
 * The items a delivery produces for the chosen events, in the order of `TRIGGER_EVENTS`
 * (none when nothing matches).
 */
export async function itemsFor(webhook: NormalizedWebhook, config: TriggerConfig, lookups: Lookups): Promise<TriggerItem[]> {
	const chosen = new Set(config.events);
	const current = webhook.current;
	// Deletes carry no current object and start nothing: a deleted deal, lead or person, also the
	// lead deleted by its conversion and the person deleted by a merge (`meta.merged_to_id`).
	if (!current) return [];

	if (webhook.entity === 'deal') return await dealItems(webhook, current, config, chosen, lookups);

	if (webhook.entity === 'lead' && chosen.has('leadLabelled')) {
		const change = leadLabelChange(webhook);
		if (!change) return [];
		const wanted = config.labelIds.map(String);
		const added = wanted.length ? change.added.filter((id) => wanted.includes(id)) : change.added;
		if (added.length === 0) return [];
		const item = leadItem(webhook, current, added);
		let code = fieldInPayload(webhook, current, config.codeField);
		if (code === undefined && config.codeField && item.leadId) code = fieldOf(await lookups.lead(item.leadId), config.codeField);
		item.referralCode = codeOf(code);
		return [item];
	}

	// The survivor of a merge arrives as a change with `mergedFromId` (the merged person's delete started nothing above).
	if (webhook.entity === 'person' && chosen.has('personCreatedOrUpdated') && webhook.action !== 'delete') {
		const item = emptyItem(webhook.action === 'create' ? 'personCreated' : 'personUpdated', webhook);
		item.personId = numericId(current.id) ?? numericId(webhook.entityId);
		item.mergedFromId = numericId(webhook.mergedFromId);
		let code = fieldInPayload(webhook, current, config.personCodeField);
		if (code === undefined && config.personCodeField && item.personId !== null) {
			code = fieldOf(await lookups.person(item.personId), config.personCodeField);
		}
		item.referralCode = codeOf(code);
		return [item];
	}
	return [];
}

async function dealItems(
	webhook: NormalizedWebhook,
	deal: Record<string, unknown>,
	config: TriggerConfig,
	chosen: Set<TriggerEvent>,
	lookups: Lookups,
): Promise<TriggerItem[]> {
	const dealId = numericId(deal.id) ?? numericId(webhook.entityId);
	const items: TriggerItem[] = [];

	if (chosen.has('dealEnteredStage')) {
		let entered: number | null = null;
		if (webhook.action === 'create') entered = numericId(deal.stage_id);
		else entered = dealStageChange(webhook)?.to ?? null;
		if (entered !== null && stageChosen(config, entered, numericId(deal.pipeline_id))) items.push(dealItem('dealEnteredStage', webhook, deal));
	}
	if (webhook.action === 'change' && (chosen.has('dealWon') || chosen.has('dealLost'))) {
		const status = dealStatusChange(webhook);
		if (status?.to === 'won' && chosen.has('dealWon')) items.push(dealItem('dealWon', webhook, deal));
		if (status?.to === 'lost' && chosen.has('dealLost')) items.push(dealItem('dealLost', webhook, deal));
	}

	let fetched: Record<string, unknown> | null | undefined;
	const fetchDeal = async () => {
		if (fetched === undefined) fetched = dealId === null ? null : await lookups.deal(dealId);
		return fetched;
	};

	// A lead converted to a deal: Pipedrive sends create.deal (and delete.lead); only the deal knows
	// its origin lead, and only `GET /api/v2/deals/{id}?include_fields=source_lead_id` tells.
	let sourceLeadId: string | null = null;
	if (webhook.action === 'create' && chosen.has('leadConverted')) {
		sourceLeadId = 'source_lead_id' in deal ? stringOrNull(deal.source_lead_id) : stringOrNull((await fetchDeal())?.source_lead_id);
		if (sourceLeadId) {
			const item = dealItem('leadConverted', webhook, deal);
			item.leadId = sourceLeadId;
			item.transitionKey = transitionKeys.leadConverted(sourceLeadId);
			items.push(item);
		}
	}
	if (items.length === 0) return [];

	let code = fieldInPayload(webhook, deal, config.codeField);
	if (code === undefined && config.codeField) code = fieldOf(await fetchDeal(), config.codeField) ?? null;
	// The deal was read anyway (its origin lead): its value costs nothing and is the freshest.
	else if (code === null && config.codeField && fetched) code = fieldOf(fetched, config.codeField) ?? null;
	let referralCode = codeOf(code);
	if (referralCode === null && config.codeField && sourceLeadId) {
		// The converted deal has no code: the lead it came from may have had one (if Pipedrive still has it).
		referralCode = codeOf(fieldOf(await lookups.lead(sourceLeadId), config.codeField));
	}
	for (const item of items) item.referralCode = referralCode;
	return items;
}

function stageChosen(config: TriggerConfig, stageId: number, pipelineId: number | null): boolean {
	if (config.stageIds.length) return config.stageIds.includes(stageId);
	if (config.pipelineId !== null) return pipelineId === config.pipelineId;
	return true;
}

// ---------------------------------------------------------------- the campaign's qualification rule

/**
 * Whether any qualification rule could make something of this delivery: a created deal, a deal's
 * status or stage changed, a lead given a label. Everything else (a title edited, a note, a person)
 * is answered without reading the campaign's rule from the store: most CRM traffic is that.
 */
export function mayConcernRule(webhook: NormalizedWebhook): boolean {
	if (!webhook.current || webhook.action === 'delete') return false;
	if (webhook.entity === 'deal') return webhook.action === 'create' || webhook.changed.includes('status') || webhook.changed.includes('stage_id');
	if (webhook.entity === 'lead') return (leadLabelChange(webhook)?.added.length ?? 0) > 0;
	return false;
}

/**
 * Items for the event "Campaign's Qualification Rule": one per change the rule makes of this
 * delivery (qualify or unqualify), with the idempotency key and time the reconciliation pass uses
 * for the same change (lib/referrals/qualification-rule.ts), so whichever comes first applies it.
 * Only what changed in this event counts: a note added to a won deal qualifies nothing again; a
 * deal or lead without a referral code concerns no referral and gives no item.
 */
export async function ruleItems(webhook: NormalizedWebhook, rule: QualificationRule, codeField: string, lookups: Lookups): Promise<TriggerItem[]> {
	const current = webhook.current;
	if (!current || webhook.action === 'delete') return [];
	if (webhook.entity === 'deal') {
		const dealId = numericId(current.id) ?? numericId(webhook.entityId);
		if (dealId === null) return [];
		let sourceLeadId: string | null = null;
		if (webhook.action === 'create' && rule.leadConverted) {
			sourceLeadId = 'source_lead_id' in current ? stringOrNull(current.source_lead_id) : stringOrNull((await lookups.deal(dealId))?.source_lead_id);
		}
		const changed = (field: string) => webhook.action === 'create' || webhook.changed.includes(field);
		const transitions = dealTransitions(rule, {
			id: dealId,
			status: stringOrNull(current.status),
			stageId: numericId(current.stage_id),
			wonTime: stringOrNull(current.won_time),
			lostTime: stringOrNull(current.lost_time),
			updateTime: stringOrNull(current.update_time) ?? webhook.timestamp,
			sourceLeadId,
		}).filter((t) => (t.reason === 'stage' ? changed('stage_id') : t.reason === 'converted' ? webhook.action === 'create' : changed('status')));
		if (transitions.length === 0) return [];
		let code = fieldInPayload(webhook, current, codeField);
		if (code === undefined && codeField) code = fieldOf(await lookups.deal(dealId), codeField) ?? null;
		let referralCode = codeOf(code);
		if (referralCode === null && codeField && sourceLeadId) referralCode = codeOf(fieldOf(await lookups.lead(sourceLeadId), codeField));
		if (referralCode === null) return [];
		return transitions.map((t) => withTransition(dealItem('campaignRule', webhook, current), t, referralCode, sourceLeadId));
	}
	if (webhook.entity === 'lead') {
		const change = leadLabelChange(webhook);
		const leadId = stringOrNull(current.id) ?? (webhook.entityId === null ? null : String(webhook.entityId));
		if (!change || !leadId) return [];
		const transitions = leadTransitions(rule, { id: leadId, labelIds: change.added, updateTime: stringOrNull(current.update_time) ?? webhook.timestamp });
		if (transitions.length === 0) return [];
		let code = fieldInPayload(webhook, current, codeField);
		if (code === undefined && codeField) code = fieldOf(await lookups.lead(leadId), codeField);
		const referralCode = codeOf(code);
		if (referralCode === null) return [];
		return transitions.map((t) => withTransition(leadItem(webhook, current, change.added), t, referralCode, leadId));
	}
	return [];
}

function withTransition(item: TriggerItem, transition: Transition, referralCode: string | null, leadId: string | null): TriggerItem {
	return {
		...item,
		event: 'campaignRule',
		referralCode,
		leadId: item.leadId ?? leadId,
		action: transition.action,
		reason: transition.reason,
		idempotencyKey: transition.key,
		transitionKey: transition.key,
		time: transition.occurredAt,
	};
}
