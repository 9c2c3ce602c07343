// Request bodies and answers, as Pipedrive's OpenAPI files (shared/pipedrive-openapi v1.yaml and
// v2.yaml) describe them: only the fields this package uses are typed; everything else passes
// through the index signatures untouched.

// ---------- v2 persons (`/api/v2/persons`) ----------

/** `PersonItemEmail` / `PersonItemPhone` / `PersonItemIm` in v2.yaml. */
export interface PersonContactItem {
	value: string;
	primary?: boolean;
	label?: string;
}

/** Body of `POST /api/v2/persons` (addPerson) and `PATCH /api/v2/persons/{id}` (updatePerson). */
export interface PersonBody {
	name?: string;
	owner_id?: number;
	org_id?: number;
	emails?: PersonContactItem[];
	phones?: PersonContactItem[];
	visible_to?: number;
	label_ids?: number[];
	marketing_status?: 'no_consent' | 'unsubscribed' | 'subscribed' | 'archived';
	/** Custom field key (40-char hash) -> value; `null` clears (never `[]` for `set` fields). */
	custom_fields?: Record<string, unknown>;
	[key: string]: unknown;
}

export interface Person {
	id: number;
	name?: string;
	first_name?: string | null;
	last_name?: string | null;
	owner_id?: number;
	org_id?: number | null;
	emails?: PersonContactItem[];
	phones?: PersonContactItem[];
	label_ids?: number[];
	add_time?: string;
	update_time?: string;
	custom_fields?: Record<string, unknown>;
	[key: string]: unknown;
}

/** `data.items[].item` of `GET /api/v2/persons/search`. */
export interface PersonSearchItem {
	id: number;
	type?: string;
	name?: string;
	/** Plain strings here, unlike the `{value, primary, label}` objects of the person itself. */
	emails?: string[];
	phones?: string[];
	visible_to?: number;
	owner?: { id: number };
	organization?: { id: number; name?: string; address?: string | null } | null;
	[key: string]: unknown;
}

// ---------- v2 deals (`/api/v2/deals`) ----------

/** Body of `POST /api/v2/deals` (addDeal; `title` required) and `PATCH /api/v2/deals/{id}`. */
export interface DealBody {
	title?: string;
	owner_id?: number;
	person_id?: number;
	org_id?: number;
	pipeline_id?: number;
	stage_id?: number;
	value?: number;
	currency?: string;
	status?: 'open' | 'won' | 'lost' | string;
	lost_reason?: string | null;
	probability?: number | null;
	visible_to?: number;
	expected_close_date?: string;
	label_ids?: number[];
	custom_fields?: Record<string, unknown>;
	[key: string]: unknown;
}

export interface CreateDealBody extends DealBody {
	title: string;
}

export interface Deal {
	id: number;
	title?: string;
	owner_id?: number;
	person_id?: number | null;
	org_id?: number | null;
	pipeline_id?: number;
	stage_id?: number;
	value?: number;
	currency?: string;
	status?: string;
	won_time?: string | null;
	custom_fields?: Record<string, unknown>;
	[key: string]: unknown;
}

// ---------- v2 pipelines / stages ----------

export interface Pipeline {
	id: number;
	name: string;
	order_nr?: number;
	is_deleted?: boolean;
	[key: string]: unknown;
}

export interface Stage {
	id: number;
	name: string;
	pipeline_id: number;
	order_nr?: number;
	is_deleted?: boolean;
	[key: string]: unknown;
}

// ---------- v2 person/deal fields; v1 lead fields ----------

/** An item of `GET /api/v2/personFields` / `GET /api/v2/dealFields`. */
export interface FieldV2 {
	field_name: string;
	field_code: string;
	field_type: string;
	is_custom_field: boolean;
	options?: Array<{ id: number | string; label: string }> | null;
	subfields?: Array<{ field_code: string; field_name: string; field_type: string }> | null;
	[key: string]: unknown;
}

/** An item of `GET /v1/leadFields`. */
export interface FieldV1 {
	id?: number | null;
	key: string;
	name: string;
	field_type: string;
	edit_flag?: boolean;
	options?: Array<{ id: number | string; label: string }> | null;
	[key: string]: unknown;
}

// ---------- v1 leads (`/v1/leads`) ----------

export interface LeadValue {
	amount: number;
	currency: string;
}

/** Visibility of a lead: a string enum in v1 (unlike the integer of v2 persons/deals). */
export type LeadVisibility = '1' | '3' | '5' | '7';

/**
 * Body of `POST /v1/leads` (addLead: `title` required, and `person_id` or `organization_id`) and
 * `PATCH /v1/leads/{id}`. Custom fields are the deal custom fields, as top-level hash keys.
 */
export interface LeadBody {
	title?: string | null;
	owner_id?: number;
	/** Lead label ids are UUIDs. */
	label_ids?: string[];
	person_id?: number | null;
	organization_id?: number | null;
	value?: LeadValue | null;
	expected_close_date?: string | null;
	visible_to?: LeadVisibility;
	was_seen?: boolean;
	channel?: number | null;
	channel_id?: string | null;
	[key: string]: unknown;
}

export interface CreateLeadBody extends LeadBody {
	title: string;
	/** Only on create: an integration's own id for the lead (handy as a duplicate marker). */
	origin_id?: string | null;
}

export interface UpdateLeadBody extends LeadBody {
	is_archived?: boolean;
}

export interface Lead {
	id: string;
	title?: string;
	owner_id?: number;
	label_ids?: string[];
	person_id?: number | null;
	organization_id?: number | null;
	value?: LeadValue | null;
	origin_id?: string | null;
	is_archived?: boolean;
	[key: string]: unknown;
}

export interface LeadLabel {
	id: string;
	name: string;
	color?: string;
	[key: string]: unknown;
}

// ---------- v1 filters, users, webhooks ----------

/** `type` of `GET /v1/filters`. */
export type FilterType = 'deals' | 'leads' | 'org' | 'people' | 'products' | 'activity' | 'projects';

export interface Filter {
	id: number;
	name: string;
	type: string;
	active_flag?: boolean;
	[key: string]: unknown;
}

export interface User {
	id: number;
	name?: string;
	email?: string;
	company_id?: number;
	company_name?: string;
	company_domain?: string;
	timezone_name?: string;
	timezone_offset?: string;
	[key: string]: unknown;
}

export type WebhookEventAction = 'create' | 'change' | 'delete' | '*';
export type WebhookEventObject =
	| 'activity'
	| 'deal'
	| 'lead'
	| 'note'
	| 'organization'
	| 'person'
	| 'pipeline'
	| 'product'
	| 'stage'
	| 'user'
	| '*';

/** Body of `POST /v1/webhooks` (addWebhook). */
export interface CreateWebhookBody {
	subscription_url: string;
	event_action: WebhookEventAction;
	event_object: WebhookEventObject;
	/** Required, at most 255 characters. */
	name: string;
	user_id?: number;
	http_auth_user?: string | null;
	http_auth_password?: string | null;
	/** Defaults to "2.0" on Pipedrive's side. */
	version?: '1.0' | '2.0';
}

export interface Webhook {
	id: number;
	subscription_url: string;
	event_action: string;
	event_object: string;
	version?: string;
	is_active?: number;
	name?: string;
	[key: string]: unknown;
}
