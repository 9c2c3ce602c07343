// Normalises Pipedrive webhook deliveries, v2 and v1, into one shape.
//
// v2 (default since March 2025; the only version with lead webhooks):
//   { meta: { action: create|change|delete, entity, entity_id, id (event id), attempt (1..4),
//             timestamp, version: "2.0", webhook_id, user_id, company_id, change_source, ... },
//     data: <current object, null on delete>, previous: <only the changed fields; last state on delete> }
// v1:
//   { v: 1, event: "updated.deal", meta: { v: 1, action: added|updated|deleted|merged, object: "deal",
//     id: <the object's id>, timestamp (unix s), timestamp_micro, user_id, company_id, ... },
//     current: <object>, previous: <whole previous object>, retry: 0.. }
// v1 carries no event id (its `meta.id` is the object's id), so `eventId` is derived from the event,
// object id and the micro/milli timestamp — stable across v1 retries of the same event.
//
// Merges. v2 ([G2] https://pipedrive.readme.io/docs/guide-for-webhooks-v2, meta block): a merge sends
// a `delete` of the merged object whose meta has `merged_to_id` ("A string value that is only present
// for delete events that were done as part of a merge action") and a `change` of the surviving
// object whose meta has `merged_from_id` ("... only present for change events that were done as part
// of a merge action"). v1 ([G1] https://pipedrive.readme.io/docs/guide-for-webhooks, "Current and
// previous"): `merged.[object]` about the object merged into (current and previous state) and
// `deleted.[object]` about the object merged; the v1 meta block documents no merge ids.

export type WebhookAction = 'create' | 'change' | 'delete';

export interface NormalizedWebhook {
	version: '2.0' | '1.0';
	action: WebhookAction;
	/** `deal`, `lead`, `person`, `organization`, `activity`, `note`, `pipeline`, `product`, `stage`, `user`... */
	entity: string;
	/** Numeric ids as numbers (deals, persons...), UUIDs as strings (leads); null if absent. */
	entityId: number | string | null;
	/** v2: `meta.id` (unique per event). v1: `v1:<event>:<object id>:<timestamp>`. */
	eventId: string;
	/** Delivery attempt, 1 for the first (v2 `meta.attempt`; v1 `retry` + 1). */
	attempt: number;
	/** ISO-8601 time of the event. */
	timestamp: string;
	/** The object as it is now (null on delete). */
	current: Record<string, unknown> | null;
	/**
	 * Previous values of the changed fields only (v2 semantics, also for v1); on delete the last state
	 * of the object; null on create.
	 */
	previous: Record<string, unknown> | null;
	/** Names of the fields that changed (top-level; `custom_fields.<key>` too for v2 custom fields). */
	changed: string[];
	userId: number | string | null;
	companyId: number | string | null;
	webhookId: number | string | null;
	/**
	 * On the delete of an object merged into another (v2 `meta.merged_to_id`): the surviving object's id.
	 * Null otherwise (v1 documents no such field; it is read from v1 meta too, should it ever be there).
	 */
	mergedToId: number | string | null;
	/** On the change of the surviving object of a merge (v2 `meta.merged_from_id`): the merged object's id. */
	mergedFromId: number | string | null;
	/** `app` or `api` when Pipedrive says. */
	changeSource: string | null;
	isBulkEdit: boolean;
	/** The `meta` block as received. */
	meta: Record<string, unknown>;
}

export class PipedriveWebhookError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'PipedriveWebhookError';
	}
}

const V1_ACTIONS: Record<string, WebhookAction> = {
	added: 'create',
	updated: 'change',
	deleted: 'delete',
	merged: 'change',
	create: 'create',
	change: 'change',
	delete: 'delete',
};

function isObject(v: unknown): v is Record<string, unknown> {
	return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asId(v: unknown): number | string | null {
	if (typeof v === 'number' && Number.isFinite(v)) return v;
	if (typeof v === 'string' && v.trim() !== '') {
		const t = v.trim();
		return /^\d{1,15}$/.test(t) ? Number(t) : t;
	}
	return null;
}

function toIso(v: unknown): string | null {
	if (typeof v === 'number' && Number.isFinite(v)) {
		// Seconds (10 digits), milliseconds (13) or microseconds (16).
		const ms = v > 1e14 ? v / 1000 : v > 1e11 ? v : v * 1000;
		return new Date(ms).toISOString();
	}
	if (typeof v === 'string' && v.trim() !== '') {
		const t = v.trim();
		if (/^\d+(\.\d+)?$/.test(t)) return toIso(Number(t));
		// Pipedrive v1 also writes "YYYY-MM-DD HH:MM:SS" (UTC).
		const parsed = Date.parse(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(t) ? `${t.replace(' ', 'T')}Z` : t);
		if (Number.isFinite(parsed)) return new Date(parsed).toISOString();
	}
	return null;
}

function deepEqual(a: unknown, b: unknown): boolean {
	if (a === b) return true;
	if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
	if (Array.isArray(a) !== Array.isArray(b)) return false;
	if (Array.isArray(a)) {
		const bb = b as unknown[];
		return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
	}
	const ka = Object.keys(a as object);
	const kb = Object.keys(b as object);
	if (ka.length !== kb.length) return false;
	return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Custom field values: null and absent are the same ("no value"). */
function sameCustomValue(a: unknown, b: unknown): boolean {
	return (a ?? null) === null ? (b ?? null) === null : deepEqual(a, b);
}

function describe(body: unknown): string {
	if (body === null || body === undefined) return 'an empty body';
	if (typeof body !== 'object') return `a ${typeof body}`;
	const keys = Object.keys(body as object);
	return keys.length ? `an object with keys ${keys.slice(0, 8).join(', ')}` : 'an empty object';
}

/**
 * Turns a webhook delivery body (parsed JSON, or the raw JSON text) into a `NormalizedWebhook`.
 * Throws `PipedriveWebhookError` when the body is not a Pipedrive webhook.
 */
export function normalizeWebhook(input: unknown): NormalizedWebhook {
	let body = input;
	if (typeof body === 'string') {
		try {
			body = JSON.parse(body);
		} catch {
			throw new PipedriveWebhookError('Not a Pipedrive webhook: the body is not JSON');
		}
	}
	if (!isObject(body)) throw new PipedriveWebhookError(`Not a Pipedrive webhook: expected a JSON object, got ${describe(body)}`);
	const meta = body.meta;
	if (!isObject(meta)) throw new PipedriveWebhookError(`Not a Pipedrive webhook: no "meta" block (got ${describe(body)})`);

	const isV2 =
		String(meta.version ?? '') === '2.0' ||
		(typeof meta.entity === 'string' && typeof meta.action === 'string' && !('event' in body) && !('current' in body));
	return isV2 ? normalizeV2(body, meta) : normalizeV1(body, meta);
}

function normalizeV2(body: Record<string, unknown>, meta: Record<string, unknown>): NormalizedWebhook {
	const action = typeof meta.action === 'string' ? V1_ACTIONS[meta.action] : undefined;
	if (!action || !['create', 'change', 'delete'].includes(meta.action as string)) {
		throw new PipedriveWebhookError(`Not a Pipedrive v2 webhook: meta.action is ${JSON.stringify(meta.action)} (expected create, change or delete)`);
	}
	const entity = typeof meta.entity === 'string' ? meta.entity : '';
	if (!entity) throw new PipedriveWebhookError('Not a Pipedrive v2 webhook: meta.entity is missing');
	const eventId = meta.id;
	if ((typeof eventId !== 'string' || eventId === '') && typeof eventId !== 'number') {
		throw new PipedriveWebhookError('Not a Pipedrive v2 webhook: meta.id (the event id) is missing');
	}
	const current = isObject(body.data) ? body.data : null;
	const previous = isObject(body.previous) ? body.previous : null;
	const entityId = asId(meta.entity_id) ?? asId(current?.id) ?? asId(previous?.id);

	// A key counts as changed only when its previous value differs from the current one. [M2]
	// (https://pipedrive.readme.io/docs/webhooks-v2-migration-guide) says "The `previous` object now only
	// contains fields whose values have changed", yet its own "Update lead" example lists
	// `"next_activity_id": null` in `previous` while `data.next_activity_id` is null too: trust the values,
	// not the presence of a key. Custom fields are compared one by one (`custom_fields.<key>`); a custom
	// field that is absent and one that is null both mean "no value" ([M2]'s examples list only set
	// fields in `data.custom_fields`, and `previous.custom_fields.<key>: null` for "was empty").
	const changed: string[] = [];
	if (action === 'change' && previous) {
		for (const key of Object.keys(previous)) {
			const before = previous[key];
			if (key === 'custom_fields' && isObject(before)) {
				const now = current && isObject(current.custom_fields) ? current.custom_fields : null;
				const cfChanged = Object.keys(before).filter((cf) => !current || !sameCustomValue(before[cf], now?.[cf]));
				if (cfChanged.length) changed.push(key, ...cfChanged.map((cf) => `custom_fields.${cf}`));
				continue;
			}
			if (!current || !deepEqual(before, current[key])) changed.push(key);
		}
	}
	const attempt = Number(meta.attempt);
	return {
		version: '2.0',
		action,
		entity,
		entityId,
		eventId: String(eventId),
		attempt: Number.isFinite(attempt) && attempt >= 1 ? attempt : 1,
		timestamp: toIso(meta.timestamp) ?? new Date(0).toISOString(),
		current: action === 'delete' ? null : current,
		previous: action === 'create' ? null : previous,
		changed,
		userId: asId(meta.user_id),
		companyId: asId(meta.company_id),
		webhookId: asId(meta.webhook_id),
		mergedToId: action === 'delete' ? asId(meta.merged_to_id) : null,
		mergedFromId: action === 'change' ? asId(meta.merged_from_id) : null,
		changeSource: typeof meta.change_source === 'string' ? meta.change_source : null,
		isBulkEdit: meta.is_bulk_edit === true,
		meta,
	};
}

function normalizeV1(body: Record<string, unknown>, meta: Record<string, unknown>): NormalizedWebhook {
	const event = typeof body.event === 'string' ? body.event : '';
	const m = /^([a-z]+)\.([A-Za-z_]+)$/.exec(event);
	const rawAction = (typeof meta.action === 'string' && meta.action) || m?.[1] || '';
	const entity = (typeof meta.object === 'string' && meta.object) || m?.[2] || '';
	const action = V1_ACTIONS[rawAction];
	const looksV1 = Number(meta.v ?? body.v) === 1 || Boolean(m);
	if (!looksV1 || !action || !entity) {
		throw new PipedriveWebhookError(
			`Not a Pipedrive webhook: neither v2 (meta.version "2.0", meta.action, meta.entity) nor v1 (event like "updated.deal", meta.action, meta.object); got ${describe(body)}`,
		);
	}
	const currentRaw = isObject(body.current) ? body.current : null;
	const previousRaw = isObject(body.previous) ? body.previous : null;
	const entityId = asId(meta.id) ?? asId(currentRaw?.id) ?? asId(previousRaw?.id);

	let previous: Record<string, unknown> | null = null;
	const changed: string[] = [];
	if (action === 'change' && currentRaw && previousRaw) {
		previous = {};
		const keys = new Set([...Object.keys(currentRaw), ...Object.keys(previousRaw)]);
		for (const key of keys) {
			if (!deepEqual(currentRaw[key], previousRaw[key])) {
				changed.push(key);
				previous[key] = key in previousRaw ? previousRaw[key] : null;
			}
		}
	} else if (action === 'delete') {
		previous = previousRaw;
	}

	const stamp = meta.timestamp_micro ?? meta.timestamp_milli ?? meta.timestamp;
	const timestamp = toIso(stamp) ?? toIso(meta.timestamp) ?? new Date(0).toISOString();
	const retry = Number(body.retry ?? meta.retry ?? 0);
	return {
		version: '1.0',
		action,
		entity,
		entityId,
		eventId: `v1:${rawAction}.${entity}:${entityId ?? ''}:${stamp ?? ''}`,
		attempt: Number.isFinite(retry) && retry >= 0 ? retry + 1 : 1,
		timestamp,
		current: action === 'delete' ? null : currentRaw,
		previous,
		changed,
		userId: asId(meta.user_id),
		companyId: asId(meta.company_id),
		webhookId: asId(meta.webhook_id),
		// v1 `merged.[object]` maps to a change, its `deleted.[object]` to a delete. [G1]'s meta block has
		// no merge ids (and no payload field links the two events), so these stay null unless a v1 meta
		// happens to carry v2's names: undocumented for v1.
		mergedToId: action === 'delete' ? asId(meta.merged_to_id) : null,
		mergedFromId: action === 'change' ? asId(meta.merged_from_id) : null,
		changeSource: typeof meta.change_source === 'string' ? meta.change_source : null,
		isBulkEdit: meta.is_bulk_update === true || meta.is_bulk_edit === true,
		meta,
	};
}

// ---------- small readers used by triggers ----------

/**
 * `{ from, to }` stage ids when a deal moved stage in this event, else null. Only a `previous.stage_id`
 * that differs from the current one counts (Pipedrive's examples put unchanged keys in `previous`).
 */
export function dealStageChange(event: NormalizedWebhook): { from: number | null; to: number; pipelineId: number | null } | null {
	if (event.entity !== 'deal' || event.action !== 'change' || !event.changed.includes('stage_id')) return null;
	const to = Number(event.current?.stage_id);
	if (event.current?.stage_id === null || event.current?.stage_id === undefined || !Number.isFinite(to)) return null;
	const fromRaw = event.previous?.stage_id;
	const from = fromRaw === null || fromRaw === undefined || !Number.isFinite(Number(fromRaw)) ? null : Number(fromRaw);
	if (from === to) return null;
	const pipeline = Number(event.current?.pipeline_id);
	return { from, to, pipelineId: Number.isFinite(pipeline) ? pipeline : null };
}

/**
 * The new status when a deal's status changed in this event (`won`, `lost`, `open`), else null.
 * Only a `previous.status` that differs from the current one counts.
 */
export function dealStatusChange(event: NormalizedWebhook): { from: string | null; to: string } | null {
	if (event.entity !== 'deal' || event.action !== 'change' || !event.changed.includes('status')) return null;
	const to = event.current?.status;
	if (typeof to !== 'string') return null;
	const fromRaw = event.previous?.status;
	const from = typeof fromRaw === 'string' ? fromRaw : null;
	if (from === to) return null;
	return { from, to };
}

/** Lead label ids added and removed in this event (null when the labels did not change). */
export function leadLabelChange(event: NormalizedWebhook): { added: string[]; removed: string[]; current: string[] } | null {
	if (event.entity !== 'lead') return null;
	const current = Array.isArray(event.current?.label_ids) ? (event.current?.label_ids as unknown[]).map(String) : [];
	if (event.action === 'create') return current.length ? { added: current, removed: [], current } : null;
	if (event.action !== 'change' || !event.changed.includes('label_ids')) return null;
	const before = Array.isArray(event.previous?.label_ids) ? (event.previous?.label_ids as unknown[]).map(String) : [];
	return {
		added: current.filter((id) => !before.includes(id)),
		removed: before.filter((id) => !current.includes(id)),
		current,
	};
}

/** E-mail addresses of a person object in either shape (v2 `emails`, v1 `email`), primary first. */
export function personEmails(person: Record<string, unknown> | null | undefined): string[] {
	if (!person) return [];
	const list = (Array.isArray(person.emails) ? person.emails : Array.isArray(person.email) ? person.email : []) as unknown[];
	const items = list
		.map((e) => (typeof e === 'string' ? { value: e, primary: false } : isObject(e) ? { value: String(e.value ?? ''), primary: e.primary === true } : null))
		.filter((e): e is { value: string; primary: boolean } => !!e && e.value.trim() !== '');
	items.sort((a, b) => Number(b.primary) - Number(a.primary));
	return items.map((e) => e.value.trim());
}
