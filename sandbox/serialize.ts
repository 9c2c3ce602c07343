/**
 * Entity -> wire shapes. API shapes follow the OpenAPI response schemas exactly: fields the spec
 * declares non-nullable are omitted when they have no value (Pipedrive's live API sends `null`
 * for some of them, which its own spec does not allow).
 */
import type { CustomField, Deal, Filter, Lead, LeadLabel, Person, Pipeline, SandboxState, Stage, User, Webhook } from './state';
import { isoMs, isoSec, v1Time } from './util';

type Obj = Record<string, unknown>;

function setIf(o: Obj, key: string, v: unknown): void {
	if (v !== null && v !== undefined) o[key] = v;
}

function customV2(fields: CustomField[], values: Record<string, unknown>, only?: string[]): Obj {
	const out: Obj = {};
	for (const f of fields) {
		if (only && !only.includes(f.key)) continue;
		out[f.key] = values[f.key] ?? null;
	}
	return out;
}

// ---------------- API v2 ----------------

export function personV2(s: SandboxState, p: Person, opts: { customFields?: string[] } = {}): Obj {
	const o: Obj = {
		id: p.id,
		name: p.name,
		first_name: p.first_name,
		last_name: p.last_name,
		owner_id: p.owner_id,
	};
	setIf(o, 'org_id', p.org_id);
	o.add_time = isoSec(p.add_time);
	o.update_time = isoSec(p.update_time);
	o.emails = p.emails.map((e) => ({ ...e }));
	o.phones = p.phones.map((e) => ({ ...e }));
	o.is_deleted = false;
	o.visible_to = p.visible_to;
	o.label_ids = [...p.label_ids];
	setIf(o, 'notes', p.notes);
	setIf(o, 'birthday', p.birthday);
	setIf(o, 'job_title', p.job_title);
	o.custom_fields = customV2(s.personFields, p.custom, opts.customFields);
	return o;
}

export function dealV2(s: SandboxState, d: Deal, opts: { includeFields?: string[]; customFields?: string[] } = {}): Obj {
	const o: Obj = {
		id: d.id,
		title: d.title,
		creator_user_id: d.creator_user_id,
		owner_id: d.owner_id,
	};
	setIf(o, 'person_id', d.person_id);
	setIf(o, 'org_id', d.org_id);
	Object.assign(o, {
		pipeline_id: d.pipeline_id,
		stage_id: d.stage_id,
		value: d.value,
		currency: d.currency,
		add_time: isoSec(d.add_time),
		update_time: isoSec(d.update_time),
	});
	setIf(o, 'stage_change_time', d.stage_change_time !== null ? isoSec(d.stage_change_time) : null);
	Object.assign(o, {
		is_deleted: d.is_deleted,
		is_archived: d.is_archived,
		archive_time: d.archive_time !== null ? isoSec(d.archive_time) : null,
		status: d.status,
		probability: d.probability,
		lost_reason: d.lost_reason,
		visible_to: d.visible_to,
		close_time: d.close_time !== null ? isoSec(d.close_time) : null,
	});
	setIf(o, 'won_time', d.won_time !== null ? isoSec(d.won_time) : null);
	setIf(o, 'lost_time', d.lost_time !== null ? isoSec(d.lost_time) : null);
	setIf(o, 'expected_close_date', d.expected_close_date);
	Object.assign(o, {
		label_ids: [...d.label_ids],
		origin: d.origin,
		origin_id: d.origin_id,
		channel: d.channel,
		channel_id: d.channel_id,
		arr: null,
		mrr: null,
		acv: null,
	});
	if (opts.includeFields?.includes('source_lead_id')) o.source_lead_id = d.source_lead_id;
	if (opts.includeFields?.includes('first_won_time') && d.won_time !== null) o.first_won_time = isoSec(d.won_time);
	o.custom_fields = customV2(s.dealFields, d.custom, opts.customFields);
	return o;
}

export function pipelineV2(p: Pipeline): Obj {
	return {
		id: p.id,
		name: p.name,
		order_nr: p.order_nr,
		is_deleted: false,
		is_deal_probability_enabled: p.is_deal_probability_enabled,
		add_time: isoSec(p.add_time),
		update_time: isoSec(p.update_time),
	};
}

export function stageV2(st: Stage): Obj {
	return {
		id: st.id,
		order_nr: st.order_nr,
		name: st.name,
		is_deleted: false,
		deal_probability: st.deal_probability,
		pipeline_id: st.pipeline_id,
		is_deal_rot_enabled: st.is_deal_rot_enabled,
		days_to_rotten: st.days_to_rotten,
		add_time: isoSec(st.add_time),
		update_time: isoSec(st.update_time),
	};
}

interface StdField {
	code: string;
	name: string;
	type: string;
	options?: Array<{ id: number | string; label: string; color?: string | null }> | null;
	subfields?: Array<{ field_code: string; field_name: string; field_type: string }> | null;
	optional?: boolean;
}

function fieldV2(f: StdField, custom: boolean, kind: 'person' | 'deal', include: string[]): Obj {
	const o: Obj = {
		field_name: f.name,
		field_code: f.code,
		field_type: f.type,
		options: f.options ?? null,
		subfields: f.subfields ?? null,
		is_custom_field: custom,
		is_optional_response_field: f.optional ?? false,
	};
	if (kind === 'deal') o.description = custom ? `Custom field: ${f.name}` : f.name;
	if (include.includes('ui_visibility')) {
		o.ui_visibility =
			kind === 'person'
				? { add_visible_flag: true, details_visible_flag: true, show_in_add_deal_dialog: { show: false, order: null } }
				: {
						add_visible_flag: true,
						details_visible_flag: true,
						projects_detail_visible_flag: false,
						show_in_pipelines: { show_in_all: true, pipeline_ids: [] },
					};
	}
	if (include.includes('important_fields')) o.important_fields = { enabled: false, stage_ids: [] };
	if (include.includes('required_fields'))
		o.required_fields = kind === 'person' ? { enabled: f.code === 'name' } : { enabled: f.code === 'title', stage_ids: [], statuses: {} };
	return o;
}

/** One custom field as `POST /api/v2/{person|deal}Fields` answers it. */
export function customFieldV2(f: { key: string; name: string; field_type: string }, kind: 'person' | 'deal'): Obj {
	return fieldV2({ code: f.key, name: f.name, type: f.field_type }, true, kind, []);
}

export function personFieldsV2(s: SandboxState, include: string[]): Obj[] {
	const std: StdField[] = [
		{ code: 'name', name: 'Name', type: 'varchar' },
		{ code: 'first_name', name: 'First name', type: 'varchar' },
		{ code: 'last_name', name: 'Last name', type: 'varchar' },
		{ code: 'owner_id', name: 'Owner', type: 'user' },
		{ code: 'org_id', name: 'Organization', type: 'org' },
		{ code: 'emails', name: 'Email', type: 'varchar' },
		{ code: 'phones', name: 'Phone', type: 'phone' },
		{ code: 'label_ids', name: 'Labels', type: 'set', options: [] },
		{ code: 'visible_to', name: 'Visible to', type: 'visible_to' },
		{ code: 'add_time', name: 'Person created', type: 'date' },
		{ code: 'update_time', name: 'Update time', type: 'date' },
	];
	return [
		...std.map((f) => fieldV2(f, false, 'person', include)),
		...s.personFields.map((f) => fieldV2({ code: f.key, name: f.name, type: f.field_type }, true, 'person', include)),
	];
}

export function dealFieldsV2(s: SandboxState, include: string[]): Obj[] {
	const std: StdField[] = [
		{ code: 'title', name: 'Title', type: 'varchar' },
		{
			code: 'value',
			name: 'Value',
			type: 'monetary',
			subfields: [
				{ field_code: 'value', field_name: 'Amount of Value', field_type: 'double' },
				{ field_code: 'currency', field_name: 'Currency of Value', field_type: 'varchar' },
			],
		},
		{ code: 'person_id', name: 'Contact person', type: 'people' },
		{ code: 'org_id', name: 'Organization', type: 'org' },
		{ code: 'pipeline_id', name: 'Pipeline', type: 'int' },
		{ code: 'stage_id', name: 'Stage', type: 'stage' },
		{
			code: 'status',
			name: 'Status',
			type: 'status',
			options: [
				{ id: 'open', label: 'Open' },
				{ id: 'won', label: 'Won' },
				{ id: 'lost', label: 'Lost' },
				{ id: 'deleted', label: 'Deleted' },
			],
		},
		{ code: 'owner_id', name: 'Owner', type: 'user' },
		{ code: 'expected_close_date', name: 'Expected close date', type: 'date' },
		{ code: 'probability', name: 'Probability', type: 'double' },
		{ code: 'lost_reason', name: 'Lost reason', type: 'varchar_options' },
		{ code: 'add_time', name: 'Deal created', type: 'date' },
		{ code: 'update_time', name: 'Update time', type: 'date' },
		{ code: 'stage_change_time', name: 'Last stage change', type: 'date' },
		{ code: 'won_time', name: 'Won time', type: 'date' },
		{ code: 'lost_time', name: 'Lost time', type: 'date' },
		{ code: 'close_time', name: 'Deal closed on', type: 'date' },
		{ code: 'label_ids', name: 'Label', type: 'set', options: [] },
		{ code: 'visible_to', name: 'Visible to', type: 'visible_to' },
		{ code: 'origin', name: 'Source origin', type: 'varchar' },
		{ code: 'source_lead_id', name: 'Source lead', type: 'lead', optional: true },
	];
	return [
		...std.map((f) => fieldV2(f, false, 'deal', include)),
		...s.dealFields.map((f) => fieldV2({ code: f.key, name: f.name, type: f.field_type }, true, 'deal', include)),
	];
}

// ---------------- API v1 ----------------

export function userV1(s: SandboxState, u: User, withCompany: boolean): Obj {
	const o: Obj = {
		id: u.id,
		name: u.name,
		default_currency: u.default_currency,
		locale: u.locale,
		lang: 1,
		email: u.email,
		phone: null,
		activated: true,
		last_login: v1Time(u.last_login),
		created: v1Time(u.created),
		modified: v1Time(u.last_login),
		has_created_company: u.is_admin,
		access: [
			{ app: 'sales', admin: u.is_admin, permission_set_id: '62cc4d7f-4038-4352-abf3-a8c1c822b631' },
			{ app: 'global', admin: u.is_admin, permission_set_id: '233b7976-39bd-43a9-b305-ef3a2b0998e5' },
		],
		active_flag: true,
		timezone_name: u.timezone_name,
		timezone_offset: u.timezone_offset,
		role_id: 1,
		icon_url: null,
		is_you: u.id === s.me.id,
		is_deleted: false,
	};
	if (withCompany) {
		Object.assign(o, {
			company_id: s.company.id,
			company_name: s.company.name,
			company_domain: s.company.domain,
			company_country: s.company.country,
			company_industry: s.company.industry,
			language: { language_code: 'en', country_code: 'US' },
		});
	}
	return o;
}

/** `data` of PUT /v1/persons/{id}/merge: the surviving person in the v1 shape (mergePersonItem). */
export function mergedPersonV1(s: SandboxState, p: Person, mergedFromId: number): Obj {
	const deals = s.dealList.filter((d) => !d.is_deleted && d.person_id === p.id);
	const count = (status: Deal['status']) => deals.filter((d) => d.status === status).length;
	const open = count('open');
	const won = count('won');
	const lost = count('lost');
	const contacts = (list: Person['emails']) =>
		list.length ? list.map((c) => ({ value: c.value, primary: c.primary, label: c.label })) : [{ value: '', primary: true, label: '' }];
	const o: Obj = {
		id: p.id,
		company_id: s.company.id,
		owner_id: p.owner_id,
	};
	setIf(o, 'org_id', p.org_id);
	Object.assign(o, {
		name: p.name,
		first_name: p.first_name,
		last_name: p.last_name || null,
		open_deals_count: open,
		related_open_deals_count: 0,
		closed_deals_count: won + lost,
		related_closed_deals_count: 0,
		participant_open_deals_count: 0,
		participant_closed_deals_count: 0,
		email_messages_count: 0,
		activities_count: 0,
		done_activities_count: 0,
		undone_activities_count: 0,
		files_count: 0,
		notes_count: 0,
		followers_count: 1,
		won_deals_count: won,
		related_won_deals_count: 0,
		lost_deals_count: lost,
		related_lost_deals_count: 0,
		active_flag: true,
		phone: contacts(p.phones),
		email: contacts(p.emails),
		first_char: p.name.charAt(0).toLowerCase(),
		update_time: v1Time(p.update_time),
		add_time: v1Time(p.add_time),
		visible_to: String(p.visible_to),
		picture_id: null,
		next_activity_date: null,
		next_activity_time: null,
		next_activity_id: null,
		last_activity_id: null,
		last_activity_date: null,
		last_incoming_mail_time: null,
		last_outgoing_mail_time: null,
		label: p.label_ids[0] ?? null,
		label_ids: [...p.label_ids],
		org_name: null,
		owner_name: s.user(p.owner_id)?.name ?? s.me.name,
		cc_email: `${s.company.domain}@pipedrivemail.com`,
		merge_what_id: mergedFromId,
	});
	// v1 objects carry custom fields as top-level hash keys.
	for (const f of s.personFields) o[f.key] = p.custom[f.key] ?? null;
	return o;
}

export function leadV1(s: SandboxState, l: Lead): Obj {
	const o: Obj = {
		id: l.id,
		title: l.title,
		owner_id: l.owner_id,
		creator_id: l.creator_id,
		label_ids: [...l.label_ids],
		person_id: l.person_id,
		organization_id: l.organization_id,
		source_name: l.source_name,
		origin: l.origin,
		origin_id: l.origin_id,
		channel: l.channel,
		channel_id: l.channel_id,
		source_deal_id: null,
		is_archived: l.is_archived,
		was_seen: l.was_seen,
		value: l.value ? { ...l.value } : null,
		expected_close_date: l.expected_close_date,
		next_activity_id: null,
		add_time: isoMs(l.add_time),
		update_time: isoMs(l.update_time),
		visible_to: l.visible_to,
		cc_email: `${s.company.domain}+lead${l.seq}@pipedrivemail.com`,
	};
	// Lead custom fields are the deal fields, at the top level; unset ones are absent.
	for (const f of s.dealFields) if (l.custom[f.key] !== undefined && l.custom[f.key] !== null) o[f.key] = l.custom[f.key];
	return o;
}

export function leadLabelV1(l: LeadLabel): Obj {
	return { id: l.id, name: l.name, color: l.color, add_time: isoMs(l.add_time), update_time: isoMs(l.update_time) };
}

const LEAD_FIELD_FLAGS = {
	active_flag: true,
	index_visible_flag: true,
	details_visible_flag: true,
	add_visible_flag: true,
	important_flag: false,
	bulk_edit_allowed: true,
	searchable_flag: false,
	filtering_allowed: true,
	sortable_flag: true,
};

export function leadFieldsV1(s: SandboxState): Obj[] {
	const t = isoMs(s.company ? s.users[0].created : 0);
	const std: Array<[string, string, string, Obj[] | null, boolean]> = [
		['title', 'Title', 'varchar', null, true],
		['owner_id', 'Owner', 'user', null, false],
		['person_id', 'Person', 'people', null, false],
		['organization_id', 'Organization', 'org', null, false],
		['value', 'Value', 'monetary', null, false],
		['expected_close_date', 'Expected close date', 'date', null, false],
		['label_ids', 'Labels', 'set', s.leadLabels.map((l) => ({ id: l.id, label: l.name, color: l.color })), false],
		['visible_to', 'Visible to', 'visible_to', null, false],
	];
	const out: Obj[] = std.map(([key, name, type, options, mandatory], i) => ({
		id: null,
		key,
		name,
		order_nr: i + 1,
		field_type: type,
		add_time: t,
		update_time: t,
		last_updated_by_user_id: null,
		created_by_user_id: null,
		edit_flag: false,
		...LEAD_FIELD_FLAGS,
		options,
		mandatory_flag: mandatory,
	}));
	s.dealFields.forEach((f, i) => {
		out.push({
			id: f.id,
			key: f.key,
			name: f.name,
			order_nr: std.length + i + 1,
			field_type: f.field_type,
			add_time: isoMs(f.add_time),
			update_time: isoMs(f.add_time),
			last_updated_by_user_id: s.me.id,
			created_by_user_id: s.me.id,
			edit_flag: true,
			...LEAD_FIELD_FLAGS,
			options: null,
			mandatory_flag: false,
		});
	});
	return out;
}

export function filterV1(s: SandboxState, f: Filter): Obj {
	return {
		id: f.id,
		name: f.name,
		filter_code: null,
		is_editable: true,
		active_flag: true,
		type: f.type,
		temporary_flag: null,
		user_id: s.me.id,
		add_time: v1Time(f.add_time),
		update_time: v1Time(f.add_time),
		visible_to: '7',
		last_used_time: null,
		custom_view_id: null,
	};
}

export function webhookV1(s: SandboxState, w: Webhook): Obj {
	return {
		id: w.id,
		company_id: s.company.id,
		owner_id: w.owner_id,
		user_id: w.user_id,
		event_action: w.event_action,
		event_object: w.event_object,
		subscription_url: w.subscription_url,
		version: w.version,
		is_active: w.banned_until !== null && w.banned_until > s.now() ? 0 : 1,
		add_time: isoMs(w.add_time),
		remove_time: null,
		type: 'general',
		http_auth_user: w.http_auth_user,
		http_auth_password: w.http_auth_password,
		remove_reason: null,
		last_delivery_time: w.last_delivery_time !== null ? isoMs(w.last_delivery_time) : null,
		last_http_status: w.last_http_status,
		admin_id: s.me.id,
		name: w.name,
	};
}

// ---------------- webhook payload bodies ----------------

/**
 * Custom fields in v2 webhook `data` / `previous`:
 * - `sparse` (default): only the fields that hold a value, as typed objects (`{type, value}`), the way
 *   Pipedrive's examples show them (webhooks v2 migration guide: `"custom_fields": {}` on create);
 * - `typed`: every field, typed objects, `null` when unset;
 * - `plain`: every field as a bare value (`{hash: value}`), `null` when unset (a robustness mode:
 *   Pipedrive documents only typed objects).
 */
export type CustomFieldFormat = 'sparse' | 'typed' | 'plain';

function hookCustom(fields: CustomField[], values: Record<string, unknown>, format: CustomFieldFormat): Obj {
	if (format === 'plain') return customV2(fields, values);
	const out: Obj = {};
	for (const f of fields) {
		const v = values[f.key];
		if (v === undefined || v === null) {
			if (format === 'typed') out[f.key] = null;
		} else {
			out[f.key] = { type: f.field_type, value: v };
		}
	}
	return out;
}

/** `data` of a v2 webhook for a person (nulls kept; `label` = the first label id, as in Pipedrive's example). */
export function personHookV2(s: SandboxState, p: Person, format: CustomFieldFormat): Obj {
	return {
		id: p.id,
		name: p.name,
		first_name: p.first_name,
		last_name: p.last_name,
		owner_id: p.owner_id,
		org_id: p.org_id,
		emails: p.emails.map((e) => ({ ...e })),
		phones: p.phones.map((e) => ({ ...e })),
		label: p.label_ids[0] ?? null,
		label_ids: [...p.label_ids],
		visible_to: String(p.visible_to),
		notes: p.notes,
		job_title: p.job_title,
		birthday: p.birthday,
		add_time: isoSec(p.add_time),
		update_time: isoSec(p.update_time),
		is_deleted: false,
		custom_fields: hookCustom(s.personFields, p.custom, format),
	};
}

export function dealHookV2(s: SandboxState, d: Deal, format: CustomFieldFormat): Obj {
	return {
		id: d.id,
		title: d.title,
		creator_user_id: d.creator_user_id,
		owner_id: d.owner_id,
		person_id: d.person_id,
		org_id: d.org_id,
		pipeline_id: d.pipeline_id,
		stage_id: d.stage_id,
		value: d.value,
		currency: d.currency,
		status: d.status,
		probability: d.probability,
		lost_reason: d.lost_reason,
		visible_to: String(d.visible_to),
		add_time: isoSec(d.add_time),
		update_time: isoSec(d.update_time),
		stage_change_time: d.stage_change_time !== null ? isoSec(d.stage_change_time) : null,
		close_time: d.close_time !== null ? isoSec(d.close_time) : null,
		won_time: d.won_time !== null ? isoSec(d.won_time) : null,
		first_won_time: d.won_time !== null ? isoSec(d.won_time) : null,
		lost_time: d.lost_time !== null ? isoSec(d.lost_time) : null,
		expected_close_date: d.expected_close_date,
		label_ids: [...d.label_ids],
		origin: d.origin,
		origin_id: d.origin_id,
		channel: d.channel,
		channel_id: d.channel_id,
		is_archived: d.is_archived,
		archive_time: d.archive_time !== null ? isoSec(d.archive_time) : null,
		custom_fields: hookCustom(s.dealFields, d.custom, format),
	};
}

export function leadHookV2(s: SandboxState, l: Lead, format: CustomFieldFormat): Obj {
	const rest = leadV1(s, l);
	delete rest.cc_email;
	delete rest.source_deal_id;
	for (const f of s.dealFields) delete rest[f.key];
	return { ...rest, custom_fields: hookCustom(s.dealFields, l.custom, format) };
}

/** v1 webhook `current`/`previous` objects (classic v1 entity shape, custom fields at top level). */
export function personHookV1(s: SandboxState, p: Person): Obj {
	const o: Obj = {
		id: p.id,
		company_id: s.company.id,
		owner_id: p.owner_id,
		org_id: p.org_id,
		name: p.name,
		first_name: p.first_name,
		last_name: p.last_name,
		email: p.emails.length ? p.emails.map((e) => ({ ...e })) : [{ value: '', primary: true }],
		phone: p.phones.length ? p.phones.map((e) => ({ ...e })) : [{ value: '', primary: true }],
		label_ids: [...p.label_ids],
		label: p.label_ids[0] ?? null,
		visible_to: String(p.visible_to),
		notes: p.notes,
		job_title: p.job_title,
		birthday: p.birthday,
		active_flag: true,
		add_time: v1Time(p.add_time),
		update_time: v1Time(p.update_time),
		delete_time: null,
		cc_email: `${s.company.domain}@pipedrivemail.com`,
	};
	for (const f of s.personFields) o[f.key] = p.custom[f.key] ?? null;
	return o;
}

export function dealHookV1(s: SandboxState, d: Deal): Obj {
	const o: Obj = {
		id: d.id,
		creator_user_id: d.creator_user_id,
		user_id: d.owner_id,
		person_id: d.person_id,
		org_id: d.org_id,
		stage_id: d.stage_id,
		pipeline_id: d.pipeline_id,
		title: d.title,
		value: d.value,
		currency: d.currency,
		status: d.status,
		probability: d.probability,
		lost_reason: d.lost_reason,
		visible_to: String(d.visible_to),
		add_time: v1Time(d.add_time),
		update_time: v1Time(d.update_time),
		stage_change_time: d.stage_change_time !== null ? v1Time(d.stage_change_time) : null,
		close_time: d.close_time !== null ? v1Time(d.close_time) : null,
		won_time: d.won_time !== null ? v1Time(d.won_time) : null,
		first_won_time: d.won_time !== null ? v1Time(d.won_time) : null,
		lost_time: d.lost_time !== null ? v1Time(d.lost_time) : null,
		expected_close_date: d.expected_close_date,
		label: d.label_ids.length ? d.label_ids.join(',') : null,
		origin: d.origin,
		origin_id: d.origin_id,
		channel: d.channel,
		channel_id: d.channel_id,
		is_archived: d.is_archived,
		archive_time: d.archive_time !== null ? v1Time(d.archive_time) : null,
		active: d.status === 'open',
		deleted: d.is_deleted,
	};
	for (const f of s.dealFields) o[f.key] = d.custom[f.key] ?? null;
	return o;
}
