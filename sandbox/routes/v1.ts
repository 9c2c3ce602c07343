/** Pipedrive API v1 (`/v1`, `/api/v1`): users, leads, lead labels, lead fields, filters, webhooks, person merge. */
import { filterV1, leadFieldsV1, leadLabelV1, leadV1, mergedPersonV1, userV1, webhookV1 } from '../serialize';
import type { Filter, Lead, LeadInput, Webhook } from '../state';
import { ApiError } from '../util';
import { type Handler, offsetPage, readTime } from './common';

const HASH_KEY = /^[0-9a-f]{40}$/;
export const MAX_WEBHOOKS_PER_USER = 40;

function leadInput(body: any): LeadInput {
	const b = body ?? {};
	const custom: Record<string, unknown> = {};
	for (const [k, v] of Object.entries(b)) if (HASH_KEY.test(k)) custom[k] = v;
	return {
		title: b.title,
		owner_id: b.owner_id,
		label_ids: b.label_ids,
		person_id: b.person_id,
		organization_id: b.organization_id,
		value: b.value,
		expected_close_date: b.expected_close_date,
		visible_to: b.visible_to,
		was_seen: b.was_seen,
		is_archived: b.is_archived,
		origin_id: b.origin_id,
		channel: b.channel,
		channel_id: b.channel_id,
		custom,
	};
}

const getCurrentUser: Handler = (ctx) => {
	const u = ctx.state.user(ctx.token.userId) ?? ctx.state.me;
	return { body: { success: true, data: userV1(ctx.state, u, true) } };
};

const getUsers: Handler = (ctx) => ({ body: { success: true, data: ctx.state.users.map((u) => userV1(ctx.state, u, false)) } });

const LEAD_SORT: Record<string, (l: Lead) => string | number | boolean | null> = {
	id: (l) => l.id,
	title: (l) => l.title,
	owner_id: (l) => l.owner_id,
	creator_id: (l) => l.creator_id,
	was_seen: (l) => l.was_seen,
	expected_close_date: (l) => l.expected_close_date,
	next_activity_id: () => null,
	add_time: (l) => l.add_time,
	update_time: (l) => l.update_time,
};

const getLeads: Handler = (ctx) => {
	const { state, query: q } = ctx;
	let filter: Filter | undefined;
	if (q.filter_id !== undefined) {
		filter = state.filter(q.filter_id);
		if (!filter || filter.type !== 'leads') throw new ApiError(404, `Filter ${q.filter_id} not found`);
	}
	const since = readTime(q, 'updated_since');
	let leads = state.leadList.filter(
		(l) =>
			!l.is_archived &&
			(filter
				? state.filterMatches(filter, l)
				: (q.owner_id === undefined || l.owner_id === q.owner_id) &&
					(q.person_id === undefined || l.person_id === q.person_id) &&
					(q.organization_id === undefined || l.organization_id === q.organization_id)) &&
			(since === undefined || l.update_time >= since),
	);
	if (q.sort !== undefined) {
		const [field, dirRaw] = String(q.sort).split(/\s+/);
		const get = LEAD_SORT[field];
		if (!get) throw new ApiError(400, `Unknown sort field ${field}`);
		const dir = (dirRaw ?? 'ASC').toUpperCase() === 'DESC' ? -1 : 1;
		leads = [...leads].sort((a, b) => {
			const av = get(a);
			const bv = get(b);
			if (av === bv) return a.seq - b.seq;
			if (av === null) return 1;
			if (bv === null) return -1;
			return (av < bv ? -1 : 1) * dir;
		});
	}
	const { page, additional } = offsetPage(leads, q);
	return { body: { success: true, data: page.map((l) => leadV1(state, l)), additional_data: additional } };
};

const addLead: Handler = (ctx) => {
	const l = ctx.state.createLead(leadInput(ctx.body), 'api');
	return { status: 201, body: { success: true, data: leadV1(ctx.state, l) } };
};

function leadOr404(ctx: Parameters<Handler>[0]): Lead {
	const l = ctx.state.leads.get(ctx.path.id);
	if (!l) throw new ApiError(404, 'Lead not found');
	return l;
}

const getLead: Handler = (ctx) => ({ body: { success: true, data: leadV1(ctx.state, leadOr404(ctx)) } });

const updateLead: Handler = (ctx) => {
	leadOr404(ctx);
	const l = ctx.state.updateLead(ctx.path.id, leadInput(ctx.body), 'api');
	return { body: { success: true, data: leadV1(ctx.state, l) } };
};

const deleteLead: Handler = (ctx) => {
	leadOr404(ctx);
	ctx.state.deleteLead(ctx.path.id, 'api');
	return { body: { success: true, data: { id: ctx.path.id } } };
};

const getLeadLabels: Handler = (ctx) => ({ body: { success: true, data: ctx.state.leadLabels.map(leadLabelV1) } });

const getLeadFields: Handler = (ctx) => {
	const { page, additional } = offsetPage(leadFieldsV1(ctx.state), ctx.query);
	return { body: { success: true, data: page, additional_data: additional } };
};

const getFilters: Handler = (ctx) => {
	const type = ctx.query.type;
	return { body: { success: true, data: ctx.state.filters.filter((f) => type === undefined || f.type === type).map((f) => filterV1(ctx.state, f)) } };
};

const getWebhooks: Handler = (ctx) => ({
	body: { status: 'ok', success: true, data: [...ctx.state.webhooks.values()].map((w) => webhookV1(ctx.state, w)) },
});

function webhookError(status: number, errors: Record<string, string[]>): ApiError {
	return new ApiError(status, Object.values(errors).flat().join('; '), { webhookErrors: errors });
}

const addWebhook: Handler = (ctx) => {
	const { state, body } = ctx;
	let url: URL | undefined;
	try {
		url = new URL(String(body.subscription_url));
	} catch {
		url = undefined;
	}
	if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw webhookError(400, { subscription_url: ['invalid or non-reachable URL'] });
	const userId = body.user_id ?? ctx.token.userId;
	if (!state.user(userId)) throw webhookError(400, { user_id: ['User not found'] });
	const mine = [...state.webhooks.values()].filter((w) => w.user_id === userId);
	if (mine.length >= MAX_WEBHOOKS_PER_USER)
		throw webhookError(400, { subscription_url: [`Maximum number of webhooks (${MAX_WEBHOOKS_PER_USER}) reached for this user`] });
	const w: Webhook = {
		id: state.nextWebhookId++,
		owner_id: ctx.token.userId,
		user_id: userId,
		event_action: body.event_action,
		event_object: body.event_object,
		subscription_url: url.toString(),
		version: body.version ?? '2.0',
		name: body.name,
		http_auth_user: body.http_auth_user ?? null,
		http_auth_password: body.http_auth_password ?? null,
		add_time: state.now(),
		last_delivery_time: null,
		last_http_status: null,
		last_success_time: null,
		last_failure_time: null,
		ban_counter: 0,
		banned_until: null,
	};
	state.webhooks.set(w.id, w);
	return { status: 201, body: { status: 'ok', success: true, data: webhookV1(state, w) } };
};

const deleteWebhook: Handler = (ctx) => {
	if (!ctx.state.webhooks.delete(ctx.path.id)) throw webhookError(404, { id: ['Webhook not found'] });
	return { body: { status: 'ok', success: true } };
};

/**
 * PUT /v1/persons/{id}/merge {merge_with_id}: person `id` is merged into `merge_with_id` (which keeps
 * its data and survives); see SandboxState.mergePersons for the webhooks it causes.
 */
const mergePersons: Handler = (ctx) => {
	const survivorId = Number(ctx.body?.merge_with_id);
	const survivor = ctx.state.mergePersons(ctx.path.id, survivorId, 'api');
	return { body: { success: true, data: mergedPersonV1(ctx.state, survivor, ctx.path.id) } };
};

export const v1Handlers: Record<string, Handler> = {
	getCurrentUser,
	getUsers,
	getLeads,
	addLead,
	getLead,
	updateLead,
	deleteLead,
	getLeadLabels,
	getLeadFields,
	getFilters,
	getWebhooks,
	addWebhook,
	deleteWebhook,
	mergePersons,
};

export const WEBHOOK_OPERATIONS = new Set(['getWebhooks', 'addWebhook', 'deleteWebhook']);
