/**
 * Admin API (`/__admin/...`, JSON, no auth) and the same operations as programmatic helpers.
 * Changes made here count as made "in the Pipedrive app": webhooks carry change_source "app".
 */
import type { FaultConfig, FaultInjector, RateLimitConfig, RateLimiter } from './limits';
import { dealV2, leadV1, personV2, webhookV1 } from './serialize';
import { type SeedOptions, seed, seedLeads, seedPersons } from './seed';
import type { ChangeEvent, Conversion, DealInput, LeadInput, PersonInput, RequestLogEntry, SandboxState, Violation } from './state';
import { type OrdinaryDayOptions, type OrdinaryDaySummary, ordinaryDay } from './traffic';
import { ApiError, isoMs } from './util';
import type { Delivery, WebhookEngine } from './webhooks';

/** What a traffic generator needs to know of the company (ids only, cheap to read). */
export interface SandboxCatalog {
	pipelines: Array<{ id: number; name: string; stageIds: number[] }>;
	leadLabels: Array<{ id: string; name: string }>;
	dealFieldKeys: string[];
	personFieldKeys: string[];
}

export interface AdminDeps {
	state: SandboxState;
	webhooks: WebhookEngine;
	limiter: RateLimiter;
	faults: FaultInjector;
	seedOptions: SeedOptions;
	/** extra hook run on reset (e.g. release hanging requests) */
	onReset?: () => void;
}

export interface AdminHelpers {
	dump(opts?: { full?: boolean }): Record<string, unknown>;
	requests(limit?: number): RequestLogEntry[];
	violations(): Violation[];
	clearViolations(): void;
	clearRequests(): void;
	reset(opts?: SeedOptions): void;
	seedPersons(count: number): number;
	seedLeads(count: number): number;
	setRateLimit(cfg: Partial<RateLimitConfig>): RateLimitConfig;
	setFaults(cfg: FaultConfig | null): FaultConfig;
	createPerson(input: PersonInput): Record<string, unknown>;
	createDeal(input: DealInput): Record<string, unknown>;
	createLead(input: LeadInput & { label_names?: string[] }): Record<string, unknown>;
	moveDealToStage(dealId: number, stageId: number): Record<string, unknown>;
	setDealStatus(dealId: number, status: 'open' | 'won' | 'lost', lostReason?: string): Record<string, unknown>;
	markDealWon(dealId: number): Record<string, unknown>;
	/** The newest deal not deleted, if any. */
	latestDealId(): number | undefined;
	markDealLost(dealId: number, lostReason?: string): Record<string, unknown>;
	updatePerson(personId: number, input: PersonInput): Record<string, unknown>;
	deletePerson(personId: number): void;
	/**
	 * Merges person `loserId` into `survivorId` (Pipedrive's merge: the survivor keeps its data and
	 * gains the loser's emails, phones, deals and leads; the loser is deleted). Webhooks: a change per
	 * moved deal / lead, then v2 `change` of the survivor with meta.merged_from_id and `delete` of the
	 * loser with meta.merged_to_id (v1: `merged.person` and `deleted.person`).
	 */
	mergePersons(loserId: number, survivorId: number): Record<string, unknown>;
	/** Edits a deal (title, value, currency, custom_fields, stage_id, status, ...); the webhook's previous holds only what changed. */
	updateDeal(dealId: number, patch: DealInput): Record<string, unknown>;
	deleteDeal(dealId: number): void;
	/** Status back to open (after won or lost). */
	reopenDeal(dealId: number): Record<string, unknown>;
	/** labels: lead label ids or names ("Hot", "Referral", ...) */
	setLeadLabels(leadId: string, labels: string[]): Record<string, unknown>;
	convertLead(leadId: string, target?: { stage_id?: number; pipeline_id?: number }): { conversion: Conversion; deal: Record<string, unknown> | null };
	deliveries(filter?: { webhookId?: number }): Delivery[];
	redeliverLast(webhookId?: number): Delivery | undefined;
	waitForWebhooks(timeoutMs?: number): Promise<void>;
	usage(): Record<string, unknown>;
	/** Moves the sandbox's now forward by `ms` (ban expiry, the 3-day webhook deletion, timestamps); returns the new now. */
	advanceClock(ms: number): number;
	/** The sandbox's now (ms), advanceClock() jumps included. */
	now(): number;
	/** Listens to every change event (what webhooks are made of); returns a function that stops listening. */
	onChange(fn: (e: ChangeEvent) => void): () => void;
	/** Pipelines with their stage ids in order, lead labels, custom field keys. */
	catalog(): SandboxCatalog;
	/** "An ordinary day in the CRM" (see sandbox/traffic.ts). */
	ordinaryDay(options?: OrdinaryDayOptions): Promise<OrdinaryDaySummary>;
}

export function createAdmin(deps: AdminDeps): AdminHelpers {
	const { state, webhooks, limiter, faults } = deps;
	const labelIds = (labels: string[]): string[] =>
		labels.map((l) => {
			const found = state.leadLabel(l) ?? state.leadLabelByName(l);
			if (!found) throw new ApiError(400, `Unknown lead label: ${l}`);
			return found.id;
		});
	const helpers: AdminHelpers = {
		dump(opts = {}) {
			const persons = opts.full ? state.personList : state.personList.slice(0, 100);
			return {
				company: state.company,
				users: state.users,
				pipelines: state.pipelines,
				stages: state.stages,
				personFields: state.personFields,
				dealFields: state.dealFields,
				leadLabels: state.leadLabels,
				filters: state.filters,
				counts: {
					persons: state.personList.length,
					deals: state.dealList.filter((d) => !d.is_deleted).length,
					leads: state.leadList.length,
					webhooks: state.webhooks.size,
				},
				persons: persons.map((p) => personV2(state, p)),
				personsTruncated: !opts.full && state.personList.length > persons.length,
				deals: state.dealList.map((d) => dealV2(state, d, { includeFields: ['source_lead_id'] })),
				leads: state.leadList.map((l) => leadV1(state, l)),
				webhooks: [...state.webhooks.values()].map((w) => webhookV1(state, w)),
				conversions: [...state.conversions.values()],
				rateLimit: limiter.config,
				faults: faults.config,
				usage: helpers.usage(),
				violations: state.violations.length,
			};
		},
		requests(limit) {
			return limit ? state.requestLog.slice(-limit) : [...state.requestLog];
		},
		violations() {
			return [...state.violations];
		},
		clearViolations() {
			state.violations.length = 0;
		},
		clearRequests() {
			state.requestLog.length = 0;
		},
		reset(opts) {
			webhooks.reset();
			limiter.reset();
			seed(state, opts ?? deps.seedOptions);
			deps.onReset?.();
		},
		seedPersons(count) {
			return seedPersons(state, count);
		},
		seedLeads(count) {
			return seedLeads(state, count);
		},
		setRateLimit(cfg) {
			for (const k of ['limit', 'searchLimit', 'oauthMultiplier', 'dailyBudget'] as const) {
				if (cfg[k] !== undefined) {
					const n = Number(cfg[k]);
					if (!Number.isFinite(n) || n < 0) throw new ApiError(400, `${k} must be a non-negative number`);
					limiter.config[k] = n;
				}
			}
			if (cfg.dailyBudget !== undefined) limiter.dailyUsed = 0;
			return { ...limiter.config };
		},
		setFaults(cfg) {
			if (cfg && (typeof cfg.rate !== 'number' || cfg.rate < 0 || cfg.rate > 1)) throw new ApiError(400, 'rate must be a number between 0 and 1');
			faults.set(cfg);
			return { ...faults.config };
		},
		createPerson(input) {
			return personV2(state, state.createPerson(input, 'app'));
		},
		createDeal(input) {
			return dealV2(state, state.createDeal(input, 'app'), { includeFields: ['source_lead_id'] });
		},
		createLead(input) {
			const { label_names, ...rest } = input;
			const ids = [...(rest.label_ids ?? []), ...(label_names ? labelIds(label_names) : [])];
			return leadV1(state, state.createLead({ ...rest, label_ids: ids }, 'app'));
		},
		latestDealId() {
			const deals = [...state.deals.values()].filter((deal) => !deal.is_deleted);
			return deals.length ? Number(deals[deals.length - 1].id) : undefined;
		},
		moveDealToStage(dealId, stageId) {
			return dealV2(state, state.updateDeal(dealId, { stage_id: stageId }, 'app'));
		},
		setDealStatus(dealId, status, lostReason) {
			return dealV2(state, state.updateDeal(dealId, { status, lost_reason: lostReason }, 'app'));
		},
		markDealWon(dealId) {
			return helpers.setDealStatus(dealId, 'won');
		},
		markDealLost(dealId, lostReason) {
			return helpers.setDealStatus(dealId, 'lost', lostReason);
		},
		updatePerson(personId, input) {
			return personV2(state, state.updatePerson(personId, input, 'app'));
		},
		deletePerson(personId) {
			state.deletePerson(personId, 'app');
		},
		mergePersons(loserId, survivorId) {
			return personV2(state, state.mergePersons(loserId, survivorId, 'app'));
		},
		updateDeal(dealId, patch) {
			return dealV2(state, state.updateDeal(dealId, patch, 'app'));
		},
		deleteDeal(dealId) {
			state.deleteDeal(dealId, 'app');
		},
		reopenDeal(dealId) {
			return helpers.setDealStatus(dealId, 'open');
		},
		setLeadLabels(leadId, labels) {
			return leadV1(state, state.updateLead(leadId, { label_ids: labelIds(labels) }, 'app'));
		},
		convertLead(leadId, target = {}) {
			const c = state.startConversion(leadId, target);
			state.runConversion(c.conversion_id, 'app');
			const deal = c.deal_id !== null ? state.deals.get(c.deal_id) : undefined;
			return { conversion: { ...c }, deal: deal ? dealV2(state, deal, { includeFields: ['source_lead_id'] }) : null };
		},
		deliveries(filter = {}) {
			return webhooks.deliveries.filter((d) => filter.webhookId === undefined || d.webhookId === filter.webhookId);
		},
		redeliverLast(webhookId) {
			return webhooks.redeliverLast(webhookId);
		},
		waitForWebhooks(timeoutMs) {
			return webhooks.idle(timeoutMs);
		},
		usage() {
			return { ...state.tokenUsage, dailyUsed: limiter.dailyUsed, dailyBudget: limiter.config.dailyBudget, dailyRemaining: limiter.dailyRemaining() };
		},
		advanceClock(ms) {
			return state.advanceClock(ms);
		},
		now() {
			return state.now();
		},
		onChange(fn) {
			return state.onChange(fn);
		},
		catalog() {
			return {
				pipelines: state.pipelines.map((p) => ({
					id: p.id,
					name: p.name,
					stageIds: state.stages
						.filter((st) => st.pipeline_id === p.id)
						.sort((a, b) => a.order_nr - b.order_nr)
						.map((st) => st.id),
				})),
				leadLabels: state.leadLabels.map((l) => ({ id: l.id, name: l.name })),
				dealFieldKeys: state.dealFields.map((f) => f.key),
				personFieldKeys: state.personFields.map((f) => f.key),
			};
		},
		ordinaryDay(options) {
			return ordinaryDay(helpers, options);
		},
	};
	return helpers;
}

export const ADMIN_HELP = [
	'GET    /__admin/                          this list',
	'GET    /__admin/state[?full=1]            state dump (persons truncated to 100 unless full=1)',
	'GET    /__admin/requests[?limit=N]        request log: method, path, status, token cost',
	'GET    /__admin/violations                spec violations (request/response)',
	'DELETE /__admin/violations                clear violations',
	'GET    /__admin/usage                     token cost totals and daily budget',
	'POST   /__admin/reset                     {extraPersons?, extraLeads?} re-seed',
	'POST   /__admin/seed/persons              {count}',
	'POST   /__admin/seed/leads                {count}',
	'POST   /__admin/rate-limit                {limit?, searchLimit?, oauthMultiplier?, dailyBudget?}',
	'POST   /__admin/faults                    {rate, kinds?: ["500","502","503","429","timeout"], paths?, methods?, seed?, timeoutMs?}  (outage: {rate: 1, kinds: ["503"], methods: ["POST","PATCH","PUT","DELETE"]})',
	'DELETE /__admin/faults                    faults off',
	'POST   /__admin/persons                   {name, emails?, custom_fields?}',
	'PATCH  /__admin/persons/:id               {name?, emails?, custom_fields?}',
	'DELETE /__admin/persons/:id               delete a person',
	'POST   /__admin/persons/:id/merge         {merge_with_id} merge person :id into merge_with_id (the survivor)',
	'POST   /__admin/deals                     {title, person_id?, stage_id?, custom_fields?}',
	'PATCH  /__admin/deals/:id                 {title?, value?, currency?, custom_fields?, ...}  (:id may be "latest")',
	'DELETE /__admin/deals/:id                 delete a deal  (:id may be "latest")',
	'POST   /__admin/deals/:id/stage           {stage_id}  (:id may be "latest": the newest deal)',
	'POST   /__admin/deals/:id/status          {status: open|won|lost, lost_reason?}  (:id may be "latest")',
	'POST   /__admin/deals/:id/reopen          status back to open  (:id may be "latest")',
	'POST   /__admin/leads                     {title, person_id, label_names?, custom?}',
	'POST   /__admin/leads/:id/labels          {labels: ["Hot", "Referral", <uuid>...]}',
	'POST   /__admin/leads/:id/convert         {stage_id?, pipeline_id?}',
	'GET    /__admin/webhooks/deliveries[?webhook_id=N]',
	'POST   /__admin/webhooks/redeliver-last   {webhook_id?} send the last delivery again (duplicate)',
	'GET    /__admin/clock                     the sandbox\'s now',
	'POST   /__admin/clock                     {advanceMs} move now forward (ban expiry, 3-day webhook deletion)',
	'POST   /__admin/traffic/ordinary-day      {seed?, deals?, persons?, leads?, foreignCodes?} an ordinary day in the CRM',
];

/** A deal id from the path; "latest" is the newest deal not deleted (handy in a demo). */
function dealIdOf(h: AdminHelpers, id: string): number {
	if (id !== 'latest') return Number(id);
	const latest = h.latestDealId();
	if (latest === undefined) throw new ApiError(404, 'There is no deal yet');
	return latest;
}

/** Routes an admin HTTP request. */
export async function handleAdmin(
	h: AdminHelpers,
	method: string,
	path: string,
	query: URLSearchParams,
	body: any,
): Promise<{ status: number; body: unknown }> {
	const p = path.replace(/^\/__admin/, '').replace(/\/$/, '') || '/';
	const b = body ?? {};
	const ok = (data: unknown, status = 200) => ({ status, body: { success: true, data } });
	let m: RegExpExecArray | null;
	if (method === 'GET' && p === '/') return ok(ADMIN_HELP);
	if (method === 'GET' && p === '/state') return ok(h.dump({ full: query.get('full') === '1' || query.get('full') === 'true' }));
	if (method === 'GET' && p === '/requests') return ok(h.requests(query.get('limit') ? Number(query.get('limit')) : undefined));
	if (method === 'GET' && p === '/violations') return ok(h.violations());
	if (method === 'DELETE' && p === '/violations') return ok((h.clearViolations(), []));
	if (method === 'DELETE' && p === '/requests') return ok((h.clearRequests(), []));
	if (method === 'GET' && p === '/usage') return ok(h.usage());
	if (method === 'POST' && p === '/reset') {
		h.reset(b.extraPersons !== undefined || b.extraLeads !== undefined ? { extraPersons: b.extraPersons, extraLeads: b.extraLeads } : undefined);
		return ok({ reset: true });
	}
	if (method === 'POST' && p === '/seed/persons') return ok({ added: h.seedPersons(Number(b.count ?? 0)) });
	if (method === 'POST' && p === '/seed/leads') return ok({ added: h.seedLeads(Number(b.count ?? 0)) });
	if (method === 'POST' && p === '/rate-limit') return ok(h.setRateLimit(b));
	if (method === 'POST' && p === '/faults') return ok(h.setFaults(b));
	if (method === 'DELETE' && p === '/faults') return ok(h.setFaults(null));
	if (method === 'POST' && p === '/persons') return ok(h.createPerson(b), 201);
	if (method === 'PATCH' && (m = /^\/persons\/(\d+)$/.exec(p))) return ok(h.updatePerson(Number(m[1]), b));
	if (method === 'DELETE' && (m = /^\/persons\/(\d+)$/.exec(p))) return ok((h.deletePerson(Number(m[1])), { id: Number(m[1]) }));
	if (method === 'POST' && (m = /^\/persons\/(\d+)\/merge$/.exec(p))) return ok(h.mergePersons(Number(m[1]), Number(b.merge_with_id)));
	if (method === 'POST' && p === '/deals') return ok(h.createDeal(b), 201);
	if (method === 'PATCH' && (m = /^\/deals\/(\d+|latest)$/.exec(p))) return ok(h.updateDeal(dealIdOf(h, m[1]), b));
	if (method === 'DELETE' && (m = /^\/deals\/(\d+|latest)$/.exec(p))) {
		const id = dealIdOf(h, m[1]);
		h.deleteDeal(id);
		return ok({ id });
	}
	if (method === 'POST' && (m = /^\/deals\/(\d+|latest)\/reopen$/.exec(p))) return ok(h.reopenDeal(dealIdOf(h, m[1])));
	if (method === 'POST' && (m = /^\/deals\/(\d+|latest)\/stage$/.exec(p))) return ok(h.moveDealToStage(dealIdOf(h, m[1]), Number(b.stage_id)));
	if (method === 'POST' && (m = /^\/deals\/(\d+|latest)\/status$/.exec(p))) return ok(h.setDealStatus(dealIdOf(h, m[1]), b.status, b.lost_reason));
	if (method === 'POST' && p === '/leads') return ok(h.createLead(b), 201);
	if (method === 'POST' && (m = /^\/leads\/([^/]+)\/labels$/.exec(p))) return ok(h.setLeadLabels(m[1], b.labels ?? b.label_ids ?? []));
	if (method === 'POST' && (m = /^\/leads\/([^/]+)\/convert$/.exec(p))) return ok(h.convertLead(m[1], { stage_id: b.stage_id, pipeline_id: b.pipeline_id }));
	if (method === 'GET' && p === '/webhooks/deliveries')
		return ok(h.deliveries({ webhookId: query.get('webhook_id') ? Number(query.get('webhook_id')) : undefined }));
	if (method === 'GET' && p === '/clock') return ok({ now: isoMs(h.now()) });
	if (method === 'POST' && p === '/clock') {
		const ms = Number(b.advanceMs);
		if (b.advanceMs === undefined || !Number.isFinite(ms) || ms < 0) throw new ApiError(400, 'advanceMs must be a non-negative number of milliseconds');
		return ok({ now: isoMs(h.advanceClock(ms)) });
	}
	if (method === 'POST' && p === '/traffic/ordinary-day') return ok(await h.ordinaryDay(b));
	if (method === 'POST' && p === '/webhooks/redeliver-last') {
		const d = h.redeliverLast(b.webhook_id);
		if (!d) throw new ApiError(404, 'No delivery to repeat');
		return ok(d);
	}
	throw new ApiError(404, `Unknown admin endpoint: ${method} ${path}. GET /__admin/ lists them.`);
}
