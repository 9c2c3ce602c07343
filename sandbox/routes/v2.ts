/** Pipedrive API v2 (`/api/v2`): persons, deals, pipelines, stages, fields, lead conversion. */
import { customFieldV2, dealFieldsV2, dealV2, personFieldsV2, personV2, pipelineV2, stageV2 } from '../serialize';
import type { CustomFieldType, Deal, DealInput, Person, PersonInput } from '../state';
import { ApiError } from '../util';
import { cursorPage, type Handler, offsetCursorPage, readLimit, readList, readTime, type RouteContext, type SortSpec } from './common';

function sortOf(q: Record<string, any>): SortSpec {
	return { field: q.sort_by ?? 'id', dir: q.sort_direction ?? 'asc' };
}

function timeValue(field: string): (t: { id: number; add_time: number; update_time: number }) => number {
	if (field === 'add_time') return (t) => t.add_time;
	if (field === 'update_time') return (t) => t.update_time;
	return (t) => t.id;
}

function idList(q: Record<string, any>): Set<number> | undefined {
	const ids = readList(q, 'ids');
	if (!ids) return undefined;
	if (ids.length > 100) throw new ApiError(400, 'Validation failed: ids: Must contain at most 100 items', { code: 'ERR_SCHEMA_VALIDATION_FAILED' });
	return new Set(ids.map(Number));
}

function customFieldKeys(q: Record<string, any>): string[] | undefined {
	const keys = readList(q, 'custom_fields');
	if (keys && keys.length > 15)
		throw new ApiError(400, 'Validation failed: custom_fields: A maximum of 15 keys is allowed', { code: 'ERR_SCHEMA_VALIDATION_FAILED' });
	return keys;
}

function filterFor(ctx: RouteContext, type: 'people' | 'deals') {
	if (ctx.query.filter_id === undefined) return undefined;
	const f = ctx.state.filter(Number(ctx.query.filter_id));
	if (!f || f.type !== type) throw new ApiError(404, `Filter ${ctx.query.filter_id} not found`);
	return f;
}

function personInput(body: any): PersonInput {
	const b = body ?? {};
	return {
		name: b.name,
		owner_id: b.owner_id,
		org_id: b.org_id,
		emails: b.emails,
		phones: b.phones,
		label_ids: b.label_ids,
		visible_to: b.visible_to,
		notes: b.notes,
		job_title: b.job_title,
		birthday: b.birthday,
		custom_fields: b.custom_fields,
		add_time: typeof b.add_time === 'string' ? Date.parse(b.add_time.includes('T') ? b.add_time : `${b.add_time.replace(' ', 'T')}Z`) || undefined : undefined,
	};
}

function dealInput(body: any): DealInput {
	const b = body ?? {};
	return {
		title: b.title,
		owner_id: b.owner_id,
		person_id: b.person_id,
		org_id: b.org_id,
		pipeline_id: b.pipeline_id,
		stage_id: b.stage_id,
		value: b.value,
		currency: b.currency,
		status: b.status,
		probability: b.probability,
		lost_reason: b.lost_reason,
		visible_to: b.visible_to,
		expected_close_date: b.expected_close_date,
		label_ids: b.label_ids,
		is_archived: b.is_archived,
		is_deleted: b.is_deleted,
		custom_fields: b.custom_fields,
	};
}

// ---------------- persons ----------------

const getPersons: Handler = (ctx) => {
	const { state, query: q } = ctx;
	const limit = readLimit(q);
	const sort = sortOf(q);
	const filter = filterFor(ctx, 'people');
	const ids = filter ? undefined : idList(q);
	const since = readTime(q, 'updated_since');
	const until = readTime(q, 'updated_until');
	const owner = filter ? undefined : q.owner_id;
	const org = filter ? undefined : q.org_id;
	const dealPersons =
		!filter && q.deal_id !== undefined
			? new Set([...state.deals.values()].filter((d) => d.id === q.deal_id && !d.is_deleted).map((d) => d.person_id))
			: undefined;
	const pred = (p: Person): boolean =>
		(!filter || state.filterMatches(filter, p)) &&
		(!ids || ids.has(p.id)) &&
		(owner === undefined || p.owner_id === owner) &&
		(org === undefined || p.org_id === org) &&
		(!dealPersons || dealPersons.has(p.id)) &&
		(since === undefined || p.update_time >= since) &&
		(until === undefined || p.update_time < until);
	const { page, nextCursor } = cursorPage(state.personList, pred, sort, timeValue(sort.field), limit, q.cursor);
	const cf = customFieldKeys(q);
	return {
		body: { success: true, data: page.map((p) => personV2(state, p, { customFields: cf })), additional_data: nextCursor ? { next_cursor: nextCursor } : {} },
	};
};

const getPerson: Handler = (ctx) => ({
	body: { success: true, data: personV2(ctx.state, ctx.state.getPerson(ctx.path.id), { customFields: customFieldKeys(ctx.query) }) },
});

const addPerson: Handler = (ctx) => {
	const p = ctx.state.createPerson(personInput(ctx.body), 'api');
	return { body: { success: true, data: personV2(ctx.state, p) } };
};

const updatePerson: Handler = (ctx) => {
	const p = ctx.state.updatePerson(ctx.path.id, personInput(ctx.body), 'api');
	return { body: { success: true, data: personV2(ctx.state, p) } };
};

const deletePerson: Handler = (ctx) => {
	ctx.state.deletePerson(ctx.path.id, 'api');
	return { body: { success: true, data: { id: ctx.path.id } } };
};

type SearchField = 'name' | 'email' | 'phone' | 'notes' | 'custom_fields';
const SEARCH_FIELDS: SearchField[] = ['name', 'email', 'phone', 'notes', 'custom_fields'];

const searchPersons: Handler = (ctx) => {
	const { state, query: q } = ctx;
	const term = String(q.term ?? '').trim();
	const exact = q.exact_match === true;
	if (term.length < (exact ? 1 : 2))
		throw new ApiError(400, `Validation failed: term: Must be at least ${exact ? 1 : 2} characters long`, { code: 'ERR_SCHEMA_VALIDATION_FAILED' });
	const fields = (readList(q, 'fields') as SearchField[] | undefined) ?? SEARCH_FIELDS;
	for (const f of fields)
		if (!SEARCH_FIELDS.includes(f)) throw new ApiError(400, `Validation failed: fields: Unknown field ${f}`, { code: 'ERR_SCHEMA_VALIDATION_FAILED' });
	const limit = readLimit(q);
	const needle = term.toLowerCase();
	const textFields = state.personFields.filter((f) => f.field_type === 'varchar' || f.field_type === 'text' || f.field_type === 'double');
	const matchValue = (v: string): number => {
		const h = v.toLowerCase();
		if (h === needle) return 1;
		if (exact) return 0;
		if (h.startsWith(needle)) return 0.75;
		return h.includes(needle) ? 0.5 : 0;
	};
	let candidates: Iterable<Person> = state.personList;
	if (exact && fields.length === 1 && fields[0] === 'email') {
		candidates = [...(state.emailIndex.get(needle) ?? [])].sort((a, b) => a - b).map((id) => state.persons.get(id)!);
	}
	const hits: Array<{ p: Person; score: number; custom: string[] }> = [];
	for (const p of candidates) {
		if (q.organization_id !== undefined && p.org_id !== q.organization_id) continue;
		let score = 0;
		const custom: string[] = [];
		for (const f of fields) {
			if (f === 'name') score = Math.max(score, matchValue(p.name));
			else if (f === 'email') for (const e of p.emails) score = Math.max(score, matchValue(e.value));
			else if (f === 'phone') for (const e of p.phones) score = Math.max(score, matchValue(e.value), matchValue(e.value.replace(/[^\d+]/g, '')));
			else if (f === 'notes' && p.notes) score = Math.max(score, matchValue(p.notes));
			else if (f === 'custom_fields') {
				for (const cf of textFields) {
					const v = p.custom[cf.key];
					if (v === undefined || v === null) continue;
					const sc = matchValue(String(v));
					if (sc > 0) custom.push(String(v));
					score = Math.max(score, sc);
				}
			}
		}
		if (score > 0) hits.push({ p, score, custom });
	}
	hits.sort((a, b) => b.score - a.score || a.p.id - b.p.id);
	const { page, nextCursor } = offsetCursorPage(hits, limit, q.cursor);
	const items = page.map(({ p, score, custom }) => {
		const item: Record<string, unknown> = {
			id: p.id,
			type: 'person',
			name: p.name,
			phones: p.phones.map((e) => e.value),
			emails: p.emails.map((e) => e.value),
			visible_to: p.visible_to,
			owner: { id: p.owner_id },
			custom_fields: custom,
			notes: p.notes ? [p.notes] : [],
		};
		if (p.org_id !== null) item.organization = { id: p.org_id, name: `Organization ${p.org_id}` };
		return { result_score: score, item };
	});
	return { body: { success: true, data: { items }, additional_data: nextCursor ? { next_cursor: nextCursor } : {} } };
};

// ---------------- deals ----------------

const DEAL_STATUSES = ['open', 'won', 'lost', 'deleted'];

const getDeals: Handler = (ctx) => {
	const { state, query: q } = ctx;
	const limit = readLimit(q);
	const sort = sortOf(q);
	const filter = filterFor(ctx, 'deals');
	const ids = filter ? undefined : idList(q);
	const statuses = filter ? undefined : readList(q, 'status');
	for (const s of statuses ?? [])
		if (!DEAL_STATUSES.includes(s)) throw new ApiError(400, `Validation failed: status: Unknown status ${s}`, { code: 'ERR_SCHEMA_VALIDATION_FAILED' });
	const since = readTime(q, 'updated_since');
	const until = readTime(q, 'updated_until');
	const f = filter ? {} : q;
	const pred = (d: Deal): boolean => {
		const status = d.is_deleted ? 'deleted' : d.status;
		if (statuses ? !statuses.includes(status) : d.is_deleted) return false;
		return (
			(!filter || state.filterMatches(filter, d)) &&
			(!ids || ids.has(d.id)) &&
			(f.owner_id === undefined || d.owner_id === f.owner_id) &&
			(f.person_id === undefined || d.person_id === f.person_id) &&
			(f.org_id === undefined || d.org_id === f.org_id) &&
			(f.pipeline_id === undefined || d.pipeline_id === f.pipeline_id) &&
			(f.stage_id === undefined || d.stage_id === f.stage_id) &&
			(since === undefined || d.update_time >= since) &&
			(until === undefined || d.update_time < until)
		);
	};
	const { page, nextCursor } = cursorPage(state.dealList, pred, sort, timeValue(sort.field), limit, q.cursor);
	const opts = { includeFields: readList(q, 'include_fields'), customFields: customFieldKeys(q) };
	return { body: { success: true, data: page.map((d) => dealV2(state, d, opts)), additional_data: nextCursor ? { next_cursor: nextCursor } : {} } };
};

const getDeal: Handler = (ctx) => ({
	body: {
		success: true,
		data: dealV2(ctx.state, ctx.state.getDeal(ctx.path.id), { includeFields: readList(ctx.query, 'include_fields'), customFields: customFieldKeys(ctx.query) }),
	},
});

const addDeal: Handler = (ctx) => {
	const d = ctx.state.createDeal(dealInput(ctx.body), 'api');
	return { body: { success: true, data: dealV2(ctx.state, d) } };
};

const updateDeal: Handler = (ctx) => {
	const d = ctx.state.updateDeal(ctx.path.id, dealInput(ctx.body), 'api');
	return { body: { success: true, data: dealV2(ctx.state, d) } };
};

const deleteDeal: Handler = (ctx) => {
	ctx.state.deleteDeal(ctx.path.id, 'api');
	return { body: { success: true, data: { id: ctx.path.id } } };
};

// ---------------- pipelines & stages ----------------

const getPipelines: Handler = (ctx) => {
	const { state, query: q } = ctx;
	const sort = sortOf(q);
	const { page, nextCursor } = cursorPage(
		[...state.pipelines].sort((a, b) => a.id - b.id),
		() => true,
		sort,
		timeValue(sort.field),
		readLimit(q),
		q.cursor,
	);
	return { body: { success: true, data: page.map(pipelineV2), additional_data: nextCursor ? { next_cursor: nextCursor } : {} } };
};

const getPipeline: Handler = (ctx) => {
	const p = ctx.state.pipeline(ctx.path.id);
	if (!p) throw new ApiError(404, 'Pipeline not found');
	return { body: { success: true, data: pipelineV2(p) } };
};

const getStages: Handler = (ctx) => {
	const { state, query: q } = ctx;
	const sort = sortOf(q);
	if (q.pipeline_id !== undefined && !state.pipeline(q.pipeline_id)) throw new ApiError(404, 'Pipeline not found');
	const value = sort.field === 'order_nr' ? (s: { order_nr: number }) => s.order_nr : timeValue(sort.field);
	const { page, nextCursor } = cursorPage(
		[...state.stages].sort((a, b) => a.id - b.id),
		(s) => q.pipeline_id === undefined || s.pipeline_id === q.pipeline_id,
		sort,
		value as (s: unknown) => number,
		readLimit(q),
		q.cursor,
	);
	return { body: { success: true, data: page.map(stageV2), additional_data: nextCursor ? { next_cursor: nextCursor } : {} } };
};

const getStage: Handler = (ctx) => {
	const s = ctx.state.stage(ctx.path.id);
	if (!s) throw new ApiError(404, 'Stage not found');
	return { body: { success: true, data: stageV2(s) } };
};

// ---------------- fields ----------------

const getPersonFields: Handler = (ctx) => {
	const items = personFieldsV2(ctx.state, readList(ctx.query, 'include_fields') ?? []);
	const { page, nextCursor } = offsetCursorPage(items, readLimit(ctx.query), ctx.query.cursor);
	return { body: { success: true, data: page, additional_data: { next_cursor: nextCursor ?? null } } };
};

const getDealFields: Handler = (ctx) => {
	const items = dealFieldsV2(ctx.state, readList(ctx.query, 'include_fields') ?? []);
	const { page, nextCursor } = offsetCursorPage(items, readLimit(ctx.query), ctx.query.cursor);
	return { body: { success: true, data: page, additional_data: { next_cursor: nextCursor ?? null } } };
};

/** The field types the sandbox keeps values of; Pipedrive has more (the spec checks the request's type). */
const SANDBOX_FIELD_TYPES: readonly CustomFieldType[] = ['varchar', 'text', 'double'];

function addField(entity: 'person' | 'deal'): Handler {
	return (ctx) => {
		const { field_name: name, field_type: type } = ctx.body as { field_name: string; field_type: string };
		if (!SANDBOX_FIELD_TYPES.includes(type as CustomFieldType)) {
			throw new ApiError(400, `The sandbox creates ${SANDBOX_FIELD_TYPES.join(', ')} fields only, not ${type}`);
		}
		const field = ctx.state.addCustomField(entity, name.trim(), type as CustomFieldType);
		return { body: { success: true, data: customFieldV2(field, entity) } };
	};
}

const addPersonField = addField('person');
const addDealField = addField('deal');

// ---------------- lead conversion ----------------

const convertLeadToDeal: Handler = (ctx) => {
	const body = ctx.body ?? {};
	const c = ctx.state.startConversion(ctx.path.id, { stage_id: body.stage_id, pipeline_id: body.pipeline_id });
	if (ctx.conversionDelayMs > 0) {
		c.status = 'running';
		ctx.schedule(() => ctx.state.runConversion(c.conversion_id, 'api'), ctx.conversionDelayMs);
	} else {
		ctx.state.runConversion(c.conversion_id, 'api');
	}
	return { body: { success: true, data: { conversion_id: c.conversion_id }, additional_data: null } };
};

const getLeadConversionStatus: Handler = (ctx) => {
	const c = ctx.state.conversions.get(ctx.path.conversion_id);
	if (!c || c.lead_id !== ctx.path.id) throw new ApiError(404, 'Entity was not found', { error_info: 'Object was not found.' });
	const data: Record<string, unknown> = { conversion_id: c.conversion_id, status: c.status };
	if (c.deal_id !== null) data.deal_id = c.deal_id;
	return { body: { success: true, data, additional_data: null } };
};

export const v2Handlers: Record<string, Handler> = {
	getPersons,
	getPerson,
	addPerson,
	updatePerson,
	deletePerson,
	searchPersons,
	getDeals,
	getDeal,
	addDeal,
	updateDeal,
	deleteDeal,
	getPipelines,
	getPipeline,
	getStages,
	getStage,
	getPersonFields,
	getDealFields,
	addPersonField,
	addDealField,
	convertLeadToDeal,
	getLeadConversionStatus,
};
