// Custom-field lookup and custom-field values on persons, deals and leads.
//
// Where the values live (v1.yaml / v2.yaml):
//   - API v2 persons and deals: `custom_fields: { <40-char key>: value }` (in answers and in bodies).
//     Most types hold a plain value (text, number, date, option id, person/org/user id); some hold
//     an object ([A2] https://pipedrive.readme.io/docs/pipedrive-api-v2-migration-guide): monetary
//     `{value, currency}`, multiple options `[id, ...]`, date range `{value, until}`, time
//     `{value, timezone_id, timezone_name}`, time range `{value, until, timezone_id, timezone_name}`,
//     address `{value, route, ...}`. None of these objects has a `type` key;
//   - v2 webhooks: `data.custom_fields` / `previous.custom_fields` hold typed objects, each with a
//     `type` ([M2] https://pipedrive.readme.io/docs/webhooks-v2-migration-guide, "Custom fields format
//     in webhooks v2"), turned into the API v2 shape by `unwrap` below;
//   - v1 leads and v1 webhooks: top-level `<key>: value` hash keys; leads have no fields of their own,
//     they use the deal fields (`GET /v1/leadFields` lists them in the v1 shape: `key`, `name`,
//     `field_type`).
// Field definitions come from `GET /api/v2/personFields`, `GET /api/v2/dealFields` (v2 shape:
// `field_code`, `field_name`, `field_type`, `is_custom_field`) and `GET /v1/leadFields`.

import { PipedriveApiError } from './errors';
import type { FieldV1, FieldV2, Lead, LeadLabel, Pipeline, Stage } from './types';

export type FieldEntity = 'person' | 'deal' | 'lead';

export interface FieldOption {
	id: number | string;
	label: string;
}

/** One field definition, the same shape whichever API version it came from. */
export interface PipedriveField {
	entity: FieldEntity;
	/** `field_code` (v2) or `key` (v1): the 40-char hash for custom fields, e.g. `name` for system ones. */
	key: string;
	name: string;
	fieldType: string;
	isCustom: boolean;
	options: FieldOption[] | null;
	raw: FieldV2 | FieldV1;
}

const CUSTOM_KEY = /^[0-9a-f]{40}$/i;

export function fieldFromV2(entity: FieldEntity, f: FieldV2): PipedriveField {
	return {
		entity,
		key: f.field_code,
		name: f.field_name,
		fieldType: f.field_type,
		isCustom: Boolean(f.is_custom_field),
		options: Array.isArray(f.options) ? f.options.map((o) => ({ id: o.id, label: o.label })) : null,
		raw: f,
	};
}

export function fieldFromV1(entity: FieldEntity, f: FieldV1): PipedriveField {
	return {
		entity,
		key: f.key,
		name: f.name,
		fieldType: f.field_type,
		isCustom: CUSTOM_KEY.test(f.key) || (f.edit_flag === true && !/^[a-z_]+$/.test(f.key)),
		options: Array.isArray(f.options) ? f.options.map((o) => ({ id: o.id, label: o.label })) : null,
		raw: f,
	};
}

function fold(s: string): string {
	return s.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

/**
 * Finds a field by key (exact) or by name (case- and space-insensitive). Custom fields win over
 * system fields of the same name. Returns undefined when nothing matches; throws when a name is
 * ambiguous.
 */
export function findField(fields: readonly PipedriveField[], keyOrName: string): PipedriveField | undefined {
	const wanted = keyOrName.trim();
	if (!wanted) return undefined;
	const byKey = fields.find((f) => f.key === wanted);
	if (byKey) return byKey;
	const byKeyFolded = fields.filter((f) => f.key.toLowerCase() === wanted.toLowerCase());
	if (byKeyFolded.length === 1) return byKeyFolded[0];
	const byName = fields.filter((f) => fold(f.name) === fold(wanted));
	if (byName.length === 1) return byName[0];
	if (byName.length > 1) {
		const custom = byName.filter((f) => f.isCustom);
		if (custom.length === 1) return custom[0];
		throw new PipedriveApiError({
			kind: 'validation',
			message: `Several ${byName[0].entity} fields are named "${keyOrName}" (${byName.map((f) => f.key).join(', ')}): use the field key instead`,
		});
	}
	return undefined;
}

/** Like `findField`, but throws a clear error naming the entity and a few existing custom fields. */
export function resolveField(fields: readonly PipedriveField[], keyOrName: string, entity?: FieldEntity): PipedriveField {
	const found = findField(fields, keyOrName);
	if (found) return found;
	const what = entity ?? fields[0]?.entity ?? 'the';
	const custom = fields.filter((f) => f.isCustom).map((f) => `"${f.name}"`);
	const hint = custom.length ? ` Custom ${what} fields: ${custom.slice(0, 15).join(', ')}${custom.length > 15 ? ', ...' : ''}.` : '';
	throw new PipedriveApiError({
		kind: 'validation',
		message: `No ${what} field with key or name "${keyOrName}" in Pipedrive.${hint}`,
	});
}

const OPTION_TYPES = new Set(['enum', 'set']);

function matchOption(field: PipedriveField, value: unknown): number | string {
	const options = field.options ?? [];
	if (typeof value === 'number') return options.find((o) => Number(o.id) === value)?.id ?? value;
	const text = String(value).trim();
	const byLabel = options.find((o) => fold(o.label) === fold(text));
	if (byLabel) return byLabel.id;
	const byId = options.find((o) => String(o.id) === text);
	if (byId) return byId.id;
	throw new PipedriveApiError({
		kind: 'validation',
		message: `"${text}" is not an option of the ${field.entity} field "${field.name}" (options: ${options.map((o) => o.label).join(', ') || 'none'})`,
	});
}

/**
 * Turns a user-facing value into what Pipedrive expects for this field: option labels become
 * option ids (`enum`: one id; `set`: an array of ids, or `null` for none — Pipedrive rejects `[]`),
 * Dates become `YYYY-MM-DD` for `date` fields. Other values pass through unchanged.
 */
export function encodeFieldValue(field: PipedriveField, value: unknown): unknown {
	if (value === undefined || value === null) return null;
	if (OPTION_TYPES.has(field.fieldType)) {
		if (field.fieldType === 'set') {
			const list = Array.isArray(value)
				? value
				: typeof value === 'string'
					? value.split(',').map((s) => s.trim()).filter(Boolean)
					: [value];
			if (list.length === 0) return null;
			return list.map((v) => matchOption(field, v));
		}
		if (typeof value === 'string' && value.trim() === '') return null;
		return matchOption(field, value);
	}
	if (value instanceof Date) {
		return field.fieldType === 'date' ? value.toISOString().slice(0, 10) : value.toISOString();
	}
	return value;
}

/**
 * Resolves `{ keyOrName: value }` against the field definitions and encodes every value:
 * the result is `{ <field key>: <encoded value> }`, ready for `custom_fields` (v2) or for the top
 * level of a lead body (v1).
 */
export function buildCustomFieldValues(fields: readonly PipedriveField[], values: Record<string, unknown>): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const [keyOrName, value] of Object.entries(values)) {
		if (value === undefined) continue;
		const field = resolveField(fields, keyOrName);
		out[field.key] = encodeFieldValue(field, value);
	}
	return out;
}

/** Puts already-resolved custom field values where each API expects them. */
export function applyCustomFieldValues<T extends Record<string, unknown>>(entity: FieldEntity, body: T, values: Record<string, unknown>): T {
	if (Object.keys(values).length === 0) return body;
	if (entity === 'lead') return { ...body, ...values };
	const existing = (body.custom_fields as Record<string, unknown> | undefined) ?? {};
	return { ...body, custom_fields: { ...existing, ...values } };
}

type Typed = Record<string, unknown>;

const orNull = (v: unknown): unknown => (v === undefined ? null : v);
const valueOf = (v: Typed): unknown => orNull(v.value);
const idOf = (v: Typed): unknown => orNull(v.id);
const idsOf = (list: unknown): unknown[] => (Array.isArray(list) ? list.map((o) => (o && typeof o === 'object' && 'id' in o ? (o as Typed).id : o)) : []);
/** Objects whose main value may be missing: null then, like an unset field. */
const ifValue = (main: unknown, shape: () => Typed): unknown => (main === undefined || main === null ? null : shape());

/**
 * v2 webhook custom-field objects, by their `type`, to the API v2 value of the same field. The
 * webhook shapes are [M2]'s ("Custom fields format in webhooks v2"), the targets [A2]'s:
 *   Text `{"type": "varchar", "value": "…"}`, Long text `text`, Autocomplete `varchar_auto`,
 *   Numeric `{"type": "double", "value": 123}`, Phone `{"type": "phone", "value": "1234-5678"}`,
 *   Date `{"type": "date", "value": "2023-06-27"}`                      -> the value;
 *   Monetary `{"currency": "EUR", "type": "monetary", "value": 200}`   -> `{value, currency}`;
 *   Single option `{"id": 17, "type": "enum"}`, Person `{"id": 17818, "type": "people"}`,
 *   Org `{"id": 1, "type": "org"}`, User `{"id": 13075973, "type": "user"}` -> the id;
 *   Multiple options `{"values": [{ "id": 13 }, { "id": 14 }], "type": "set"}` -> `[13, 14]`;
 *   Date range `{"from": "2023-06-06", "until": "2023-06-14", "type": "daterange"}` -> `{value, until}`;
 *   Time `{"timezone_id": 310, "type": "time", "value": "00:45:00"}` -> `{value, timezone_id}`;
 *   Time range `{"timezone_id", "from", "until", "type": "timerange"}` -> `{value, until, timezone_id}`;
 *   Address `{…subfields…, "type": "address", "value": "Mustamäe tee 3a, …"}` -> the object without `type`.
 */
const WEBHOOK_TYPES: Record<string, (v: Typed) => unknown> = {
	varchar: valueOf,
	varchar_auto: valueOf,
	text: valueOf,
	double: valueOf,
	phone: valueOf,
	date: valueOf,
	monetary: (v) => ifValue(v.value, () => ({ value: v.value, currency: orNull(v.currency) })),
	enum: idOf,
	people: idOf,
	org: idOf,
	user: idOf,
	set: (v) => (Array.isArray(v.values) ? idsOf(v.values) : Array.isArray(v.value) ? idsOf(v.value) : v.value === null ? null : []),
	daterange: (v) => ifValue(v.from ?? v.value, () => ({ value: v.from ?? v.value, until: orNull(v.until) })),
	time: (v) =>
		ifValue(v.value, () => ({ value: v.value, timezone_id: orNull(v.timezone_id), ...('timezone_name' in v ? { timezone_name: v.timezone_name } : {}) })),
	timerange: (v) =>
		ifValue(v.from ?? v.value, () => ({
			value: v.from ?? v.value,
			until: orNull(v.until),
			timezone_id: orNull(v.timezone_id),
			...('timezone_name' in v ? { timezone_name: v.timezone_name } : {}),
		})),
	address: (v) =>
		ifValue(v.value, () => {
			const rest: Typed = { ...v };
			delete rest.type;
			return rest;
		}),
};

/**
 * One custom-field value in the API v2 shape. v2 webhook objects carry a `type` and are converted
 * by `WEBHOOK_TYPES` (an unknown type gives its `value`, else its `id`, else the object); API v2
 * values, objects included (monetary, address, ... have no `type`), and v1 values pass through.
 */
function unwrap(value: unknown): unknown {
	if (value && typeof value === 'object' && !Array.isArray(value)) {
		const v = value as Typed;
		if (typeof v.type === 'string') {
			const convert = WEBHOOK_TYPES[v.type];
			if (convert) return convert(v);
			if ('value' in v) return v.value;
			if ('id' in v) return v.id;
		}
	}
	return value;
}

/**
 * Reads a custom field's value from a person/deal (API v2 or v2 webhook: `custom_fields[key]`) or a
 * lead / v1 webhook object (top-level `key`), in the API v2 shape (see `unwrap`). With
 * `labels: true`, option ids are turned back into their labels. Returns null when the field is there
 * without a value, undefined when the object does not carry the field at all (what that means is the
 * caller's to decide: see the trigger's `fieldInPayload`).
 */
export function readCustomFieldValue(
	entity: Record<string, unknown> | Lead | null | undefined,
	field: PipedriveField | string,
	options: { labels?: boolean } = {},
): unknown {
	if (!entity) return undefined;
	const key = typeof field === 'string' ? field : field.key;
	const obj = entity as Record<string, unknown>;
	let value: unknown;
	const custom = obj.custom_fields;
	if (custom && typeof custom === 'object' && !Array.isArray(custom) && key in (custom as object)) {
		value = unwrap((custom as Record<string, unknown>)[key]);
	} else if (key in obj) {
		value = unwrap(obj[key]);
	} else {
		return undefined;
	}
	if (options.labels && typeof field !== 'string' && field.options && value !== null && value !== undefined) {
		const label = (v: unknown) => {
			const id = v && typeof v === 'object' && 'id' in (v as object) ? (v as { id: unknown }).id : v;
			return field.options?.find((o) => String(o.id) === String(id))?.label ?? v;
		};
		if (Array.isArray(value)) return value.map(label);
		if (typeof value === 'string' && field.fieldType === 'set' && value.includes(',')) return value.split(',').map((s) => label(s.trim()));
		return label(value);
	}
	return value;
}

export interface FieldsCacheLoaders {
	personFields(): Promise<PipedriveField[]>;
	dealFields(): Promise<PipedriveField[]>;
	leadFields(): Promise<PipedriveField[]>;
	pipelines(): Promise<Pipeline[]>;
	stages(pipelineId: number | undefined): Promise<Stage[]>;
	leadLabels(): Promise<LeadLabel[]>;
}

/**
 * Lists that change rarely (field definitions, pipelines, stages, labels) kept for `ttlMs` per
 * account, across clients: the nodes make one client per execution, and a burst of executions
 * would otherwise fetch the same lists every time. Concurrent callers share one request; a failed
 * load is forgotten so the next call tries again.
 */
export class AccountListsCache {
	private readonly entries = new Map<string, { value: Promise<unknown>; at: number }>();

	constructor(
		private readonly ttlMs: number,
		private readonly clock: () => number = Date.now,
	) {}

	remember<T>(key: string, load: () => Promise<T>): Promise<T> {
		const cached = this.entries.get(key);
		if (cached && this.clock() - cached.at < this.ttlMs) return cached.value as Promise<T>;
		const value = load();
		const entry = { value, at: this.clock() };
		this.entries.set(key, entry);
		value.catch(() => {
			if (this.entries.get(key) === entry) this.entries.delete(key);
		});
		return value;
	}

	/** Forgets every list of an account (keys starting with `scope|`). */
	forget(scope: string): void {
		for (const key of this.entries.keys()) if (key.startsWith(`${scope}|`)) this.entries.delete(key);
	}
}

/**
 * Field definitions, pipelines, stages and lead labels of one client: each fetched at most once per
 * client instance, or once per account within the shared cache's lifetime when one is given.
 */
export class FieldsCache {
	private readonly memo: AccountListsCache;
	private readonly scope: string;

	constructor(
		private readonly loaders: FieldsCacheLoaders,
		shared?: { cache: AccountListsCache; scope: string },
	) {
		this.memo = shared?.cache ?? new AccountListsCache(Number.POSITIVE_INFINITY);
		this.scope = shared?.scope ?? '';
	}

	private once<T>(key: string, load: () => Promise<T>): Promise<T> {
		return this.memo.remember(`${this.scope}|${key}`, load);
	}

	personFields(): Promise<PipedriveField[]> {
		return this.once('personFields', () => this.loaders.personFields());
	}

	dealFields(): Promise<PipedriveField[]> {
		return this.once('dealFields', () => this.loaders.dealFields());
	}

	leadFields(): Promise<PipedriveField[]> {
		return this.once('leadFields', () => this.loaders.leadFields());
	}

	fieldsFor(entity: FieldEntity): Promise<PipedriveField[]> {
		if (entity === 'person') return this.personFields();
		if (entity === 'deal') return this.dealFields();
		return this.leadFields();
	}

	pipelines(): Promise<Pipeline[]> {
		return this.once('pipelines', () => this.loaders.pipelines());
	}

	stages(pipelineId?: number): Promise<Stage[]> {
		return this.once(`stages:${pipelineId ?? '*'}`, () => this.loaders.stages(pipelineId));
	}

	leadLabels(): Promise<LeadLabel[]> {
		return this.once('leadLabels', () => this.loaders.leadLabels());
	}

	/** Resolves a field of an entity by key or name (see `resolveField`). */
	async resolve(entity: FieldEntity, keyOrName: string): Promise<PipedriveField> {
		return resolveField(await this.fieldsFor(entity), keyOrName, entity);
	}

	/** `{ keyOrName: value }` -> `{ key: encodedValue }` for an entity (see `buildCustomFieldValues`). */
	async customFieldValues(entity: FieldEntity, values: Record<string, unknown>): Promise<Record<string, unknown>> {
		if (Object.keys(values).length === 0) return {};
		return buildCustomFieldValues(await this.fieldsFor(entity), values);
	}

	/** Forgets what was fetched, also for the account (e.g. a field just added in Pipedrive). */
	clear(): void {
		this.memo.forget(this.scope);
	}
}
