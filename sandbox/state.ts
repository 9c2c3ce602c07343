/**
 * In-memory Pipedrive company: entities, indexes, mutations and change events.
 * Mutations are shared by the API routes and the admin API; every mutation emits a
 * ChangeEvent that the webhook engine turns into deliveries.
 */
import { ApiError, clone, deepEqual, hashKey, uuidFrom } from './util';

export type ChangeSource = 'api' | 'app';
export type EntityKind = 'person' | 'deal' | 'lead';
export type Action = 'create' | 'change' | 'delete';

export interface Contact {
	value: string;
	primary: boolean;
	label: string;
}

export interface Company {
	id: number;
	name: string;
	domain: string;
	country: string;
	industry: string;
}

export interface User {
	id: number;
	name: string;
	email: string;
	default_currency: string;
	locale: string;
	timezone_name: string;
	timezone_offset: string;
	is_admin: boolean;
	created: number;
	last_login: number;
}

export interface Pipeline {
	id: number;
	name: string;
	order_nr: number;
	is_deal_probability_enabled: boolean;
	add_time: number;
	update_time: number;
}

export interface Stage {
	id: number;
	pipeline_id: number;
	name: string;
	order_nr: number;
	deal_probability: number;
	is_deal_rot_enabled: boolean;
	days_to_rotten: number | null;
	add_time: number;
	update_time: number;
}

export type CustomFieldType = 'varchar' | 'text' | 'double';

export interface CustomField {
	/** v1 numeric field id */
	id: number;
	key: string;
	name: string;
	field_type: CustomFieldType;
	add_time: number;
}

export interface LeadLabel {
	id: string;
	name: string;
	color: 'blue' | 'brown' | 'dark-gray' | 'gray' | 'green' | 'orange' | 'pink' | 'purple' | 'red' | 'yellow';
	add_time: number;
	update_time: number;
}

export type FilterRule =
	{ kind: 'has_email' } | { kind: 'has_custom'; key: string } | { kind: 'status'; status: string } | { kind: 'has_label'; labelId: string };

export interface Filter {
	id: number;
	name: string;
	type: 'deals' | 'leads' | 'org' | 'people' | 'products' | 'activity' | 'projects';
	rule: FilterRule;
	add_time: number;
}

export interface Person {
	id: number;
	name: string;
	first_name: string;
	last_name: string;
	owner_id: number;
	org_id: number | null;
	emails: Contact[];
	phones: Contact[];
	label_ids: number[];
	visible_to: number;
	notes: string | null;
	job_title: string | null;
	birthday: string | null;
	custom: Record<string, unknown>;
	add_time: number;
	update_time: number;
}

export interface Deal {
	id: number;
	title: string;
	creator_user_id: number;
	owner_id: number;
	person_id: number | null;
	org_id: number | null;
	pipeline_id: number;
	stage_id: number;
	value: number;
	currency: string;
	status: 'open' | 'won' | 'lost';
	is_deleted: boolean;
	is_archived: boolean;
	archive_time: number | null;
	probability: number | null;
	lost_reason: string | null;
	visible_to: number;
	add_time: number;
	update_time: number;
	stage_change_time: number | null;
	close_time: number | null;
	won_time: number | null;
	lost_time: number | null;
	expected_close_date: string | null;
	label_ids: number[];
	origin: string;
	origin_id: string | null;
	channel: number | null;
	channel_id: string | null;
	source_lead_id: string | null;
	custom: Record<string, unknown>;
}

export interface Lead {
	id: string;
	seq: number;
	title: string;
	owner_id: number;
	creator_id: number;
	label_ids: string[];
	person_id: number | null;
	organization_id: number | null;
	source_name: string;
	origin: string;
	origin_id: string | null;
	channel: number | null;
	channel_id: string | null;
	is_archived: boolean;
	was_seen: boolean;
	value: { amount: number; currency: string } | null;
	expected_close_date: string | null;
	visible_to: '1' | '3' | '5' | '7';
	custom: Record<string, unknown>;
	add_time: number;
	update_time: number;
}

export interface Webhook {
	id: number;
	owner_id: number;
	user_id: number;
	event_action: string;
	event_object: string;
	subscription_url: string;
	version: '1.0' | '2.0';
	name: string;
	http_auth_user: string | null;
	http_auth_password: string | null;
	add_time: number;
	last_delivery_time: number | null;
	last_http_status: number | null;
	/** last successful (2xx) delivery attempt; with add_time, the start of the 3-day deletion window */
	last_success_time: number | null;
	/** last failed delivery attempt (the 3-day rule only deletes webhooks that failed since their last success) */
	last_failure_time: number | null;
	/** first-attempt failures since the last ban ended (ban counter; Pipedrive resets it only when a ban ends) */
	ban_counter: number;
	banned_until: number | null;
}

export interface Conversion {
	conversion_id: string;
	lead_id: string;
	deal_id: number | null;
	status: 'not_started' | 'running' | 'completed' | 'failed' | 'rejected';
	stage_id?: number;
	pipeline_id?: number;
	created: number;
}

export interface Violation {
	seq: number;
	time: string;
	method: string;
	path: string;
	operationId: string | null;
	where: 'request' | 'response';
	message: string;
}

export interface RequestLogEntry {
	seq: number;
	time: string;
	method: string;
	path: string;
	query: string;
	operationId: string | null;
	status: number;
	tokenCost: number;
	token: string | null;
	durationMs: number;
	fault?: string;
	rateLimited?: 'burst' | 'daily';
}

export type Snapshot = Person | Deal | Lead;

export interface ChangeEvent {
	seq: number;
	entity: EntityKind;
	action: Action;
	entityId: number | string;
	before: Snapshot | null;
	after: Snapshot | null;
	changeSource: ChangeSource;
	userId: number;
	time: number;
	/** events caused by one action (e.g. a lead conversion: deal create + lead delete) share it */
	correlationKey: string;
	/** delete of a person merged into another: the survivor's id (v2 meta.merged_to_id) */
	mergedToId?: number;
	/** change of the surviving person of a merge: the merged person's id (v2 meta.merged_from_id) */
	mergedFromId?: number;
}

export interface PersonInput {
	name?: string;
	first_name?: string;
	last_name?: string;
	owner_id?: number;
	org_id?: number | null;
	emails?: Array<Partial<Contact>>;
	phones?: Array<Partial<Contact>>;
	label_ids?: number[];
	visible_to?: number;
	notes?: string | null;
	job_title?: string | null;
	birthday?: string | null;
	custom_fields?: Record<string, unknown>;
	add_time?: number;
}

export interface DealInput {
	title?: string;
	owner_id?: number;
	person_id?: number | null;
	org_id?: number | null;
	pipeline_id?: number;
	stage_id?: number;
	value?: number;
	currency?: string;
	status?: string;
	probability?: number | null;
	lost_reason?: string | null;
	visible_to?: number;
	expected_close_date?: string | null;
	label_ids?: number[];
	is_archived?: boolean;
	is_deleted?: boolean;
	custom_fields?: Record<string, unknown>;
	origin?: string;
	channel?: number | null;
	channel_id?: string | null;
	origin_id?: string | null;
	source_lead_id?: string | null;
	add_time?: number;
}

export interface LeadInput {
	title?: string | null;
	owner_id?: number;
	label_ids?: string[];
	person_id?: number | null;
	organization_id?: number | null;
	value?: { amount: number; currency: string } | null;
	expected_close_date?: string | null;
	visible_to?: '1' | '3' | '5' | '7';
	was_seen?: boolean;
	is_archived?: boolean;
	origin_id?: string | null;
	channel?: number | null;
	channel_id?: string | null;
	custom?: Record<string, unknown>;
	add_time?: number;
}

export const MAX_LOG = 20000;

export class SandboxState {
	company!: Company;
	users: User[] = [];
	pipelines: Pipeline[] = [];
	stages: Stage[] = [];
	personFields: CustomField[] = [];
	dealFields: CustomField[] = [];
	leadLabels: LeadLabel[] = [];
	filters: Filter[] = [];

	persons = new Map<number, Person>();
	/** persons in ascending id order (live ones only) */
	personList: Person[] = [];
	/** lower-cased email -> person ids */
	emailIndex = new Map<string, Set<number>>();
	deals = new Map<number, Deal>();
	dealList: Deal[] = [];
	leads = new Map<string, Lead>();
	leadList: Lead[] = [];
	webhooks = new Map<number, Webhook>();
	conversions = new Map<string, Conversion>();

	violations: Violation[] = [];
	requestLog: RequestLogEntry[] = [];
	tokenUsage = { total: 0, byToken: {} as Record<string, number> };
	events: ChangeEvent[] = [];

	nextPersonId = 1;
	nextDealId = 1;
	nextLeadSeq = 1;
	nextWebhookId = 1;
	nextEventSeq = 1;
	nextViolationSeq = 1;
	nextRequestSeq = 1;
	nextConversionSeq = 1;

	private listeners: Array<(e: ChangeEvent) => void> = [];
	private correlation: string | null = null;
	/** added to the clock by advanceClock() (reset by clear()) */
	clockOffsetMs = 0;

	constructor(readonly clock: () => number = Date.now) {}

	/** The sandbox's notion of now: the clock plus every advanceClock() jump. */
	now(): number {
		return this.clock() + this.clockOffsetMs;
	}

	/** Moves the sandbox's now forward (ban expiry, the 3-day webhook rule, timestamps, the daily budget). */
	advanceClock(ms: number): number {
		if (!Number.isFinite(ms) || ms < 0) throw new ApiError(400, 'advanceMs must be a non-negative number');
		this.clockOffsetMs += ms;
		return this.now();
	}

	get me(): User {
		return this.users[0];
	}

	/** Listens to every change event; returns a function that stops listening. */
	onChange(fn: (e: ChangeEvent) => void): () => void {
		this.listeners.push(fn);
		return () => {
			const i = this.listeners.indexOf(fn);
			if (i >= 0) this.listeners.splice(i, 1);
		};
	}

	/** Clears entities and logs (listeners stay). */
	clear(): void {
		this.users = [];
		this.pipelines = [];
		this.stages = [];
		this.personFields = [];
		this.dealFields = [];
		this.leadLabels = [];
		this.filters = [];
		this.persons.clear();
		this.personList = [];
		this.emailIndex.clear();
		this.deals.clear();
		this.dealList = [];
		this.leads.clear();
		this.leadList = [];
		this.webhooks.clear();
		this.conversions.clear();
		this.violations.length = 0;
		this.requestLog.length = 0;
		this.tokenUsage = { total: 0, byToken: {} };
		this.events = [];
		this.nextPersonId = 1;
		this.nextDealId = 1;
		this.nextLeadSeq = 1;
		this.nextWebhookId = 1;
		this.nextEventSeq = 1;
		this.nextViolationSeq = 1;
		this.nextRequestSeq = 1;
		this.nextConversionSeq = 1;
		this.clockOffsetMs = 0;
	}

	recordViolation(v: Omit<Violation, 'seq' | 'time'>): void {
		this.violations.push({ seq: this.nextViolationSeq++, time: new Date(this.now()).toISOString(), ...v });
		if (this.violations.length > MAX_LOG) this.violations.splice(0, this.violations.length - MAX_LOG);
	}

	logRequest(e: Omit<RequestLogEntry, 'seq' | 'time'>): void {
		this.requestLog.push({ seq: this.nextRequestSeq++, time: new Date(this.now()).toISOString(), ...e });
		if (this.requestLog.length > MAX_LOG) this.requestLog.splice(0, this.requestLog.length - MAX_LOG);
	}

	private emit(
		entity: EntityKind,
		action: Action,
		entityId: number | string,
		before: Snapshot | null,
		after: Snapshot | null,
		source: ChangeSource,
		userId?: number,
		merge: { mergedToId?: number; mergedFromId?: number } = {},
	): void {
		const event: ChangeEvent = {
			seq: this.nextEventSeq++,
			entity,
			action,
			entityId,
			before: before ? clone(before) : null,
			after: after ? clone(after) : null,
			changeSource: source,
			userId: userId ?? this.me.id,
			time: this.now(),
			correlationKey: this.correlation ?? `event:${this.nextEventSeq - 1}`,
			...merge,
		};
		// Events are only kept when someone listens or a webhook exists (keeps bulk seeding lean).
		if (this.webhooks.size > 0) {
			this.events.push(event);
			if (this.events.length > MAX_LOG) this.events.splice(0, this.events.length - MAX_LOG);
		}
		for (const fn of this.listeners) fn(event);
	}

	// ---------- lookups ----------
	stage(id: number): Stage | undefined {
		return this.stages.find((s) => s.id === id);
	}
	pipeline(id: number): Pipeline | undefined {
		return this.pipelines.find((p) => p.id === id);
	}
	firstStage(pipelineId: number): Stage | undefined {
		return this.stages.filter((s) => s.pipeline_id === pipelineId).sort((a, b) => a.order_nr - b.order_nr)[0];
	}
	user(id: number): User | undefined {
		return this.users.find((u) => u.id === id);
	}
	filter(id: number): Filter | undefined {
		return this.filters.find((f) => f.id === id);
	}
	leadLabel(id: string): LeadLabel | undefined {
		return this.leadLabels.find((l) => l.id === id);
	}
	leadLabelByName(name: string): LeadLabel | undefined {
		return this.leadLabels.find((l) => l.name.toLowerCase() === name.toLowerCase());
	}
	/** A new custom field (Pipedrive allows two fields of the same name; so does the sandbox). */
	addCustomField(entity: 'person' | 'deal', name: string, fieldType: CustomFieldType): CustomField {
		const list = entity === 'person' ? this.personFields : this.dealFields;
		const id = Math.max(entity === 'person' ? 9100 : 12500, ...this.personFields.map((f) => f.id), ...this.dealFields.map((f) => f.id)) + 1;
		const field: CustomField = { id, key: hashKey(`sandbox:${entity}:field:${id}`), name, field_type: fieldType, add_time: this.now() };
		list.push(field);
		return field;
	}

	personFieldByName(name: string): CustomField | undefined {
		return this.personFields.find((f) => f.name === name);
	}
	dealFieldByName(name: string): CustomField | undefined {
		return this.dealFields.find((f) => f.name === name);
	}

	filterMatches(filter: Filter, entity: Person | Deal | Lead): boolean {
		const r = filter.rule;
		switch (r.kind) {
			case 'has_email':
				return 'emails' in entity && entity.emails.some((e) => e.value);
			case 'has_custom': {
				const v = entity.custom[r.key];
				return v !== null && v !== undefined && v !== '';
			}
			case 'status':
				return 'status' in entity && entity.status === r.status;
			case 'has_label':
				return 'label_ids' in entity && (entity.label_ids as unknown[]).includes(r.labelId);
		}
	}

	// ---------- custom fields ----------
	private checkCustom(fields: CustomField[], values: Record<string, unknown> | undefined, target: Record<string, unknown>): void {
		if (!values) return;
		for (const [key, value] of Object.entries(values)) {
			const field = fields.find((f) => f.key === key);
			if (!field) throw new ApiError(400, `Unknown custom field key: ${key}`);
			if (value === null || value === undefined) {
				delete target[key];
				continue;
			}
			if (field.field_type === 'double') {
				if (typeof value !== 'number') throw new ApiError(400, `Custom field "${field.name}" (${key}) expects a number`);
			} else if (typeof value !== 'string') {
				throw new ApiError(400, `Custom field "${field.name}" (${key}) expects a string`);
			}
			target[key] = value;
		}
	}

	// ---------- persons ----------
	private normaliseContacts(list: Array<Partial<Contact>> | undefined, defaultLabel: string): Contact[] {
		const out = (list ?? [])
			.filter((c) => c && typeof c.value === 'string' && c.value.trim() !== '')
			.map((c) => ({ value: String(c.value).trim(), primary: c.primary === true, label: c.label ?? defaultLabel }));
		if (out.length && !out.some((c) => c.primary)) out[0].primary = true;
		let seenPrimary = false;
		for (const c of out) {
			if (c.primary && seenPrimary) c.primary = false;
			if (c.primary) seenPrimary = true;
		}
		return out;
	}

	private indexEmails(p: Person, add: boolean): void {
		for (const e of p.emails) {
			const k = e.value.toLowerCase();
			let set = this.emailIndex.get(k);
			if (add) {
				if (!set) this.emailIndex.set(k, (set = new Set()));
				set.add(p.id);
			} else if (set) {
				set.delete(p.id);
				if (!set.size) this.emailIndex.delete(k);
			}
		}
	}

	private checkUser(id: number | undefined): void {
		if (id !== undefined && !this.user(id)) throw new ApiError(400, `User ${id} not found`);
	}

	createPerson(input: PersonInput, source: ChangeSource = 'api', opts: { silent?: boolean } = {}): Person {
		const name = (input.name ?? [input.first_name, input.last_name].filter(Boolean).join(' ')).trim();
		if (!name) throw new ApiError(400, 'Name must be given.');
		this.checkUser(input.owner_id);
		const now = input.add_time ?? this.now();
		const [first, ...rest] = name.split(/\s+/);
		const p: Person = {
			id: this.nextPersonId++,
			name,
			first_name: input.first_name ?? first,
			last_name: input.last_name ?? rest.join(' '),
			owner_id: input.owner_id ?? this.me.id,
			org_id: input.org_id ?? null,
			emails: this.normaliseContacts(input.emails, 'work'),
			phones: this.normaliseContacts(input.phones, 'work'),
			label_ids: input.label_ids ?? [],
			visible_to: input.visible_to ?? 3,
			notes: input.notes ?? null,
			job_title: input.job_title ?? null,
			birthday: input.birthday ?? null,
			custom: {},
			add_time: now,
			update_time: now,
		};
		this.checkCustom(this.personFields, input.custom_fields, p.custom);
		this.persons.set(p.id, p);
		this.personList.push(p);
		this.indexEmails(p, true);
		if (!opts.silent) this.emit('person', 'create', p.id, null, p, source);
		return p;
	}

	getPerson(id: number): Person {
		const p = this.persons.get(id);
		if (!p) throw new ApiError(404, 'Person not found');
		return p;
	}

	updatePerson(id: number, input: PersonInput, source: ChangeSource = 'api'): Person {
		const p = this.getPerson(id);
		const before = clone(p);
		this.checkUser(input.owner_id);
		const next = clone(p);
		if (input.name !== undefined) {
			const name = input.name.trim();
			if (!name) throw new ApiError(400, 'Name must not be empty.');
			const [first, ...rest] = name.split(/\s+/);
			next.name = name;
			next.first_name = input.first_name ?? first;
			next.last_name = input.last_name ?? rest.join(' ');
		}
		if (input.owner_id !== undefined) next.owner_id = input.owner_id;
		if (input.org_id !== undefined) next.org_id = input.org_id;
		if (input.emails !== undefined) next.emails = this.normaliseContacts(input.emails, 'work');
		if (input.phones !== undefined) next.phones = this.normaliseContacts(input.phones, 'work');
		if (input.label_ids !== undefined) next.label_ids = input.label_ids;
		if (input.visible_to !== undefined) next.visible_to = input.visible_to;
		if (input.notes !== undefined) next.notes = input.notes;
		if (input.job_title !== undefined) next.job_title = input.job_title;
		if (input.birthday !== undefined) next.birthday = input.birthday;
		this.checkCustom(this.personFields, input.custom_fields, next.custom);
		next.update_time = Math.max(this.now(), p.update_time);
		if (deepEqual({ ...next, update_time: 0 }, { ...before, update_time: 0 })) return p; // no-op update
		this.indexEmails(p, false);
		Object.assign(p, next);
		this.indexEmails(p, true);
		this.emit('person', 'change', p.id, before, p, source);
		return p;
	}

	deletePerson(id: number, source: ChangeSource = 'api', merge: { mergedToId?: number } = {}): void {
		const p = this.getPerson(id);
		this.indexEmails(p, false);
		this.persons.delete(id);
		const i = this.personList.indexOf(p);
		if (i >= 0) this.personList.splice(i, 1);
		this.emit('person', 'delete', id, p, null, source, undefined, merge);
	}

	/**
	 * Merges person `loserId` into `survivorId`, as Pipedrive does (PUT /v1/persons/{id}/merge with
	 * merge_with_id = the survivor; https://pipedrive.readme.io/docs/merging-two-persons): the
	 * survivor's data wins, its empty fields take the loser's values, the loser's emails and phones are
	 * added, its deals and leads move to the survivor, and the loser is deleted. Events, sharing one
	 * correlation id: a change per moved deal / lead, the survivor's change (`mergedFromId`), then the
	 * loser's delete (`mergedToId`).
	 */
	mergePersons(loserId: number, survivorId: number, source: ChangeSource = 'api'): Person {
		const loser = this.getPerson(loserId);
		if (!this.persons.has(survivorId)) throw new ApiError(400, `Person ${survivorId} (merge_with_id) not found`);
		if (loserId === survivorId) throw new ApiError(400, 'A person cannot be merged with itself');
		const survivor = this.getPerson(survivorId);
		this.correlation = `merge:person:${loserId}:${survivorId}:${this.nextEventSeq}`;
		try {
			for (const d of this.dealList) if (!d.is_deleted && d.person_id === loserId) this.updateDeal(d.id, { person_id: survivorId }, source);
			for (const l of [...this.leadList]) if (l.person_id === loserId) this.updateLead(l.id, { person_id: survivorId }, source);

			const before = clone(survivor);
			const next = clone(survivor);
			const addContacts = (mine: Contact[], theirs: Contact[]) => {
				const seen = new Set(mine.map((c) => c.value.toLowerCase()));
				for (const c of theirs) if (!seen.has(c.value.toLowerCase())) mine.push({ ...c, primary: mine.length === 0 ? c.primary : false });
			};
			addContacts(next.emails, loser.emails);
			addContacts(next.phones, loser.phones);
			next.org_id ??= loser.org_id;
			next.notes ??= loser.notes;
			next.job_title ??= loser.job_title;
			next.birthday ??= loser.birthday;
			if (next.label_ids.length === 0) next.label_ids = [...loser.label_ids];
			for (const [key, value] of Object.entries(loser.custom)) {
				const mine = next.custom[key];
				if ((mine === undefined || mine === null || mine === '') && value !== null && value !== undefined) next.custom[key] = value;
			}
			next.update_time = Math.max(this.now(), survivor.update_time);
			this.indexEmails(survivor, false);
			Object.assign(survivor, next);
			this.indexEmails(survivor, true);
			this.emit('person', 'change', survivorId, before, survivor, source, undefined, { mergedFromId: loserId });
			this.deletePerson(loserId, source, { mergedToId: survivorId });
		} finally {
			this.correlation = null;
		}
		return survivor;
	}

	// ---------- deals ----------
	private applyDealStatus(d: Deal, status: string, now: number, lostReason?: string | null): void {
		if (!['open', 'won', 'lost'].includes(status)) throw new ApiError(400, `Invalid deal status: ${status}`);
		if (status === d.status) {
			if (status === 'lost' && lostReason !== undefined) d.lost_reason = lostReason;
			return;
		}
		d.status = status as Deal['status'];
		if (status === 'won') {
			d.won_time = now;
			d.close_time = now;
			d.lost_time = null;
			d.lost_reason = null;
		} else if (status === 'lost') {
			d.lost_time = now;
			d.close_time = now;
			d.won_time = null;
			d.lost_reason = lostReason ?? null;
		} else {
			d.won_time = null;
			d.lost_time = null;
			d.close_time = null;
			d.lost_reason = null;
		}
	}

	createDeal(input: DealInput, source: ChangeSource = 'api', opts: { silent?: boolean } = {}): Deal {
		const title = (input.title ?? '').trim();
		if (!title) throw new ApiError(400, 'Title must be given.');
		this.checkUser(input.owner_id);
		if (input.person_id != null && !this.persons.has(input.person_id)) throw new ApiError(400, `Person ${input.person_id} not found`);
		let stage: Stage | undefined;
		if (input.stage_id !== undefined) {
			stage = this.stage(input.stage_id);
			if (!stage) throw new ApiError(400, `Stage ${input.stage_id} not found`);
		} else {
			const pipelineId = input.pipeline_id ?? this.pipelines[0].id;
			if (!this.pipeline(pipelineId)) throw new ApiError(400, `Pipeline ${pipelineId} not found`);
			stage = this.firstStage(pipelineId);
		}
		if (!stage) throw new ApiError(400, 'No stage to place the deal in');
		const now = input.add_time ?? this.now();
		const d: Deal = {
			id: this.nextDealId++,
			title,
			creator_user_id: this.me.id,
			owner_id: input.owner_id ?? this.me.id,
			person_id: input.person_id ?? null,
			org_id: input.org_id ?? null,
			pipeline_id: stage.pipeline_id,
			stage_id: stage.id,
			value: input.value ?? 0,
			currency: input.currency ?? this.me.default_currency,
			status: 'open',
			is_deleted: false,
			is_archived: input.is_archived ?? false,
			archive_time: input.is_archived ? now : null,
			probability: input.probability ?? null,
			lost_reason: null,
			visible_to: input.visible_to ?? 3,
			add_time: now,
			update_time: now,
			stage_change_time: null,
			close_time: null,
			won_time: null,
			lost_time: null,
			expected_close_date: input.expected_close_date ?? null,
			label_ids: input.label_ids ?? [],
			origin: input.origin ?? 'API',
			origin_id: input.origin_id ?? null,
			channel: input.channel ?? null,
			channel_id: input.channel_id ?? null,
			source_lead_id: input.source_lead_id ?? null,
			custom: {},
		};
		if (input.status !== undefined) this.applyDealStatus(d, input.status, now, input.lost_reason);
		this.checkCustom(this.dealFields, input.custom_fields, d.custom);
		this.deals.set(d.id, d);
		this.dealList.push(d);
		if (!opts.silent) this.emit('deal', 'create', d.id, null, d, source);
		return d;
	}

	getDeal(id: number): Deal {
		const d = this.deals.get(id);
		if (!d || d.is_deleted) throw new ApiError(404, 'Deal not found');
		return d;
	}

	updateDeal(id: number, input: DealInput, source: ChangeSource = 'api'): Deal {
		const d = this.getDeal(id);
		const before = clone(d);
		const next = clone(d);
		const now = Math.max(this.now(), d.update_time);
		this.checkUser(input.owner_id);
		if (input.title !== undefined) {
			if (!input.title.trim()) throw new ApiError(400, 'Title must not be empty.');
			next.title = input.title.trim();
		}
		if (input.owner_id !== undefined) next.owner_id = input.owner_id;
		if (input.person_id !== undefined) {
			if (input.person_id !== null && !this.persons.has(input.person_id)) throw new ApiError(400, `Person ${input.person_id} not found`);
			next.person_id = input.person_id;
		}
		if (input.org_id !== undefined) next.org_id = input.org_id;
		if (input.stage_id !== undefined) {
			const stage = this.stage(input.stage_id);
			if (!stage) throw new ApiError(400, `Stage ${input.stage_id} not found`);
			next.stage_id = stage.id;
			next.pipeline_id = stage.pipeline_id;
		} else if (input.pipeline_id !== undefined && input.pipeline_id !== next.pipeline_id) {
			if (!this.pipeline(input.pipeline_id)) throw new ApiError(400, `Pipeline ${input.pipeline_id} not found`);
			const stage = this.firstStage(input.pipeline_id)!;
			next.stage_id = stage.id;
			next.pipeline_id = stage.pipeline_id;
		}
		if (next.stage_id !== d.stage_id) next.stage_change_time = now;
		if (input.value !== undefined) next.value = input.value;
		if (input.currency !== undefined) next.currency = input.currency;
		if (input.probability !== undefined) next.probability = input.probability;
		if (input.visible_to !== undefined) next.visible_to = input.visible_to;
		if (input.expected_close_date !== undefined) next.expected_close_date = input.expected_close_date;
		if (input.label_ids !== undefined) next.label_ids = input.label_ids;
		if (input.is_archived !== undefined && input.is_archived !== next.is_archived) {
			next.is_archived = input.is_archived;
			next.archive_time = input.is_archived ? now : null;
		}
		if (input.status !== undefined) this.applyDealStatus(next, input.status, now, input.lost_reason);
		else if (input.lost_reason !== undefined && next.status === 'lost') next.lost_reason = input.lost_reason;
		this.checkCustom(this.dealFields, input.custom_fields, next.custom);
		if (input.is_deleted === true) {
			this.deleteDeal(id, source);
			return d;
		}
		if (deepEqual({ ...next, update_time: 0 }, { ...before, update_time: 0 })) return d;
		next.update_time = now;
		Object.assign(d, next);
		this.emit('deal', 'change', d.id, before, d, source);
		return d;
	}

	deleteDeal(id: number, source: ChangeSource = 'api'): void {
		const d = this.getDeal(id);
		const before = clone(d);
		d.is_deleted = true;
		d.update_time = Math.max(this.now(), d.update_time);
		this.emit('deal', 'delete', id, before, null, source);
	}

	// ---------- leads ----------
	private checkLeadLabels(ids: string[] | undefined): void {
		for (const id of ids ?? []) if (!this.leadLabel(id)) throw new ApiError(400, `Lead label ${id} not found`);
	}

	createLead(input: LeadInput, source: ChangeSource = 'api', opts: { silent?: boolean } = {}): Lead {
		const title = (input.title ?? '').trim();
		if (!title) throw new ApiError(400, 'Title must be given.');
		if (input.person_id == null && input.organization_id == null) throw new ApiError(400, 'A lead must be linked to a person or an organization.');
		if (input.person_id != null && !this.persons.has(input.person_id)) throw new ApiError(400, `Person ${input.person_id} not found`);
		this.checkUser(input.owner_id);
		this.checkLeadLabels(input.label_ids);
		const seq = this.nextLeadSeq++;
		const now = input.add_time ?? this.now();
		const l: Lead = {
			id: uuidFrom(`lead:${this.company.id}:${seq}`),
			seq,
			title,
			owner_id: input.owner_id ?? this.me.id,
			creator_id: this.me.id,
			label_ids: input.label_ids ?? [],
			person_id: input.person_id ?? null,
			organization_id: input.organization_id ?? null,
			source_name: 'API',
			origin: 'API',
			origin_id: input.origin_id ?? null,
			channel: input.channel ?? null,
			channel_id: input.channel_id ?? null,
			is_archived: false,
			was_seen: input.was_seen ?? false,
			value: input.value ?? null,
			expected_close_date: input.expected_close_date ?? null,
			visible_to: input.visible_to ?? '3',
			custom: {},
			add_time: now,
			update_time: now,
		};
		this.checkCustom(this.dealFields, input.custom, l.custom);
		this.leads.set(l.id, l);
		this.leadList.push(l);
		if (!opts.silent) this.emit('lead', 'create', l.id, null, l, source);
		return l;
	}

	getLead(id: string): Lead {
		const l = this.leads.get(id);
		if (!l) throw new ApiError(404, 'Lead not found');
		return l;
	}

	updateLead(id: string, input: LeadInput, source: ChangeSource = 'api'): Lead {
		const l = this.getLead(id);
		const before = clone(l);
		const next = clone(l);
		this.checkUser(input.owner_id);
		if (input.title !== undefined && input.title !== null) {
			if (!input.title.trim()) throw new ApiError(400, 'Title must not be empty.');
			next.title = input.title.trim();
		}
		if (input.owner_id !== undefined) next.owner_id = input.owner_id;
		if (input.label_ids !== undefined) {
			this.checkLeadLabels(input.label_ids);
			next.label_ids = [...new Set(input.label_ids)];
		}
		if (input.person_id !== undefined) {
			if (input.person_id !== null && !this.persons.has(input.person_id)) throw new ApiError(400, `Person ${input.person_id} not found`);
			next.person_id = input.person_id;
		}
		if (input.organization_id !== undefined) next.organization_id = input.organization_id;
		if (next.person_id === null && next.organization_id === null) throw new ApiError(400, 'A lead must be linked to a person or an organization.');
		if (input.value !== undefined) next.value = input.value;
		if (input.expected_close_date !== undefined) next.expected_close_date = input.expected_close_date;
		if (input.visible_to !== undefined) next.visible_to = input.visible_to;
		if (input.was_seen !== undefined) next.was_seen = input.was_seen;
		if (input.is_archived !== undefined) next.is_archived = input.is_archived;
		if (input.channel !== undefined) next.channel = input.channel;
		if (input.channel_id !== undefined) next.channel_id = input.channel_id;
		this.checkCustom(this.dealFields, input.custom, next.custom);
		if (deepEqual({ ...next, update_time: 0 }, { ...before, update_time: 0 })) return l;
		next.update_time = Math.max(this.now(), l.update_time);
		Object.assign(l, next);
		this.emit('lead', 'change', l.id, before, l, source);
		return l;
	}

	deleteLead(id: string, source: ChangeSource = 'api'): void {
		const l = this.getLead(id);
		this.leads.delete(id);
		const i = this.leadList.indexOf(l);
		if (i >= 0) this.leadList.splice(i, 1);
		this.emit('lead', 'delete', id, l, null, source);
	}

	/** Starts a lead -> deal conversion job (completed immediately unless `run` is deferred by the caller). */
	startConversion(leadId: string, target: { stage_id?: number; pipeline_id?: number }): Conversion {
		const lead = this.leads.get(leadId);
		if (!lead) throw new ApiError(404, 'Entity was not found', { error_info: 'Object was not found.' });
		if (target.stage_id !== undefined && !this.stage(target.stage_id)) throw new ApiError(400, `Stage ${target.stage_id} not found`);
		if (target.stage_id === undefined && target.pipeline_id !== undefined && !this.pipeline(target.pipeline_id))
			throw new ApiError(400, `Pipeline ${target.pipeline_id} not found`);
		const c: Conversion = {
			conversion_id: uuidFrom(`conversion:${this.company.id}:${this.nextConversionSeq++}`),
			lead_id: leadId,
			deal_id: null,
			status: 'not_started',
			stage_id: target.stage_id,
			pipeline_id: target.pipeline_id,
			created: this.now(),
		};
		this.conversions.set(c.conversion_id, c);
		return c;
	}

	/** Performs a conversion: creates the deal (source_lead_id = lead id) and deletes the lead. */
	runConversion(conversionId: string, source: ChangeSource = 'api'): Conversion {
		const c = this.conversions.get(conversionId);
		if (!c) throw new ApiError(404, 'Conversion not found');
		if (c.status === 'completed' || c.status === 'failed') return c;
		const lead = this.leads.get(c.lead_id);
		if (!lead) {
			c.status = 'failed';
			return c;
		}
		this.correlation = `conversion:${c.conversion_id}`;
		let deal: Deal;
		try {
			deal = this.createDeal(
				{
					title: lead.title,
					owner_id: lead.owner_id,
					person_id: lead.person_id,
					org_id: lead.organization_id,
					stage_id: c.stage_id,
					pipeline_id: c.stage_id === undefined ? c.pipeline_id : undefined,
					value: lead.value?.amount ?? 0,
					currency: lead.value?.currency ?? this.me.default_currency,
					expected_close_date: lead.expected_close_date,
					visible_to: Number(lead.visible_to),
					origin: lead.origin,
					origin_id: lead.origin_id,
					channel: lead.channel,
					channel_id: lead.channel_id,
					source_lead_id: lead.id,
					custom_fields: { ...lead.custom },
				},
				source,
			);
			this.deleteLead(lead.id, source);
		} finally {
			this.correlation = null;
		}
		c.deal_id = deal.id;
		c.status = 'completed';
		return c;
	}
}
