/**
 * Webhook delivery, as Pipedrive does it (https://pipedrive.readme.io/docs/guide-for-webhooks-v2,
 * "Retry logic" and "Webhooks policy"):
 * - v2 payloads `{meta, data, previous}` (default; webhooks created with version "2.0"),
 *   v1 payloads `{v: 1, meta, current, previous, retry, event}` for version "1.0" webhooks;
 * - HTTP basic auth from http_auth_user / http_auth_password, no signature;
 * - any 2xx within the timeout (10 s) is success; otherwise retried after 3 s, 30 s and 150 s
 *   (meta.attempt 1..4), all scaled by `timeScale` so tests can shorten them;
 * - 10 first-attempt failures ban the webhook for 30 min (scaled); events during a ban are lost, and
 *   so are retries that come due during it ("No data will be saved for retries after the ban");
 * - "If there are no successful deliveries to a webhook on 3 consecutive days, we will delete it":
 *   a webhook that has failed since its last success (or its creation) and has had no success for
 *   3 days (scaled) is deleted when its next delivery would go out.
 * Person merges: v2 gets `delete` (meta.merged_to_id) and `change` (meta.merged_from_id) events; v1
 * gets `merged.person` for the survivor and `deleted.person` for the merged person.
 * Lead events are only sent to v2 webhooks (Pipedrive has no lead webhooks in v1).
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { ChangeEvent, Deal, Lead, Person, SandboxState, Webhook } from './state';
import { MAX_LOG } from './state';
import { type CustomFieldFormat, dealHookV1, dealHookV2, leadHookV2, personHookV1, personHookV2 } from './serialize';
import { clone, deepEqual, isoMs, uuidFrom } from './util';

export const RETRY_DELAYS_MS = [3000, 30000, 150000];
export const DELIVERY_TIMEOUT_MS = 10000;
export const BAN_THRESHOLD = 10;
export const BAN_MS = 30 * 60 * 1000;
/** no success on 3 consecutive days: the webhook is deleted */
export const DELETE_AFTER_MS = 3 * 24 * 60 * 60 * 1000;
export const DROPPED_BANNED = 'webhook banned';
export const DROPPED_DELETED_3_DAYS = 'webhook deleted after 3 days without a successful delivery';

export interface WebhookEngineOptions {
	/** multiplies retry delays, the delivery timeout and the ban duration (e.g. 0.001 in tests) */
	timeScale: number;
	/** delivery timeout in ms (default 10 s x timeScale, at least 200 ms) */
	timeoutMs?: number;
	/**
	 * custom fields in v2 webhook data: only set fields as {type, value} ("sparse", default), every
	 * field as {type, value} or null ("typed"), or every field as a bare value ("plain")
	 */
	customFieldFormat: CustomFieldFormat;
}

export interface DeliveryAttempt {
	attempt: number;
	at: string;
	status: number | null;
	error?: string;
	durationMs: number;
}

export interface Delivery {
	id: number;
	webhookId: number;
	version: '1.0' | '2.0';
	url: string;
	/** meta.id of the v2 payload (unique per event and webhook; repeated by a redelivery) */
	eventId: string;
	eventSeq: number;
	entity: string;
	action: string;
	entityId: number | string;
	state: 'pending' | 'retrying' | 'delivered' | 'failed' | 'dropped';
	attempts: DeliveryAttempt[];
	payload: Record<string, any>;
	duplicateOf?: number;
	droppedReason?: string;
}

const V1_ACTIONS: Record<string, string> = { create: 'added', change: 'updated', delete: 'deleted' };

/** v1 action of an event: the survivor of a merge is `merged`, the merged person a plain `deleted`. */
function v1Action(e: ChangeEvent): string {
	return e.action === 'change' && e.mergedFromId !== undefined ? 'merged' : V1_ACTIONS[e.action];
}

export class WebhookEngine {
	deliveries: Delivery[] = [];
	private nextDeliveryId = 1;
	private timers = new Set<NodeJS.Timeout>();
	private requests = new Set<http.ClientRequest>();
	private active = 0;
	private closed = false;
	/** bumped by reset(): attempts of an older generation stop silently */
	private generation = 0;

	constructor(
		private readonly state: SandboxState,
		public options: WebhookEngineOptions,
	) {
		state.onChange((e) => this.onEvent(e));
	}

	get timeoutMs(): number {
		return this.options.timeoutMs ?? Math.max(200, DELIVERY_TIMEOUT_MS * this.options.timeScale);
	}

	reset(): void {
		for (const t of this.timers) clearTimeout(t);
		this.timers.clear();
		for (const r of this.requests) r.destroy();
		this.requests.clear();
		this.deliveries = [];
		this.nextDeliveryId = 1;
		this.active = 0;
		this.generation++;
	}

	close(): void {
		this.closed = true;
		this.reset();
	}

	/** Resolves when no delivery is in flight or waiting for a retry. */
	async idle(timeoutMs = 30000): Promise<void> {
		const until = Date.now() + timeoutMs;
		while (this.active > 0) {
			if (Date.now() > until) throw new Error(`webhook deliveries still pending after ${timeoutMs} ms`);
			await new Promise((r) => setTimeout(r, 5));
		}
	}

	private matches(w: Webhook, e: ChangeEvent): boolean {
		if (w.event_action !== '*' && w.event_action !== e.action) return false;
		if (w.event_object !== '*' && w.event_object !== e.entity) return false;
		if (w.version === '1.0' && e.entity === 'lead') return false;
		return true;
	}

	private onEvent(e: ChangeEvent): void {
		if (this.closed) return;
		for (const w of this.state.webhooks.values()) if (this.matches(w, e)) this.enqueue(w, e);
	}

	private hookData(entity: string, snap: unknown, v1: boolean): Record<string, unknown> {
		const format = this.options.customFieldFormat;
		if (entity === 'person') return v1 ? personHookV1(this.state, snap as Person) : personHookV2(this.state, snap as Person, format);
		if (entity === 'deal') return v1 ? dealHookV1(this.state, snap as Deal) : dealHookV2(this.state, snap as Deal, format);
		return leadHookV2(this.state, snap as Lead, format);
	}

	buildPayload(w: Webhook, e: ChangeEvent, eventId: string): Record<string, any> {
		const s = this.state;
		const host = `${s.company.domain}.pipedrive.com`;
		if (w.version === '1.0') {
			const current = e.after ? this.hookData(e.entity, e.after, true) : null;
			const previous = e.before ? this.hookData(e.entity, e.before, true) : null;
			const action = v1Action(e);
			const meta = {
				v: 1,
				action,
				object: e.entity,
				id: e.entityId,
				company_id: s.company.id,
				user_id: e.userId,
				host,
				timestamp: Math.floor(e.time / 1000),
				timestamp_micro: e.time * 1000,
				prepublish_timestamp: e.time,
				permitted_user_ids: [e.userId],
				trans_pending: false,
				is_bulk_update: false,
				pipedrive_service_name: false,
				change_source: e.changeSource,
				matches_filters: { current: [] },
				webhook_id: String(w.id),
				webhook_owner_id: w.owner_id,
				type: 'general',
			};
			return { v: 1, matches_filters: { current: [] }, meta, current, previous, retry: 0, event: `${action}.${e.entity}` };
		}
		const data = e.after ? this.hookData(e.entity, e.after, false) : null;
		let previous: Record<string, unknown> | null = null;
		if (e.action === 'delete' && e.before) previous = this.hookData(e.entity, e.before, false);
		if (e.action === 'change' && e.before && data) {
			const before = this.hookData(e.entity, e.before, false);
			previous = {};
			for (const [k, v] of Object.entries(before)) {
				if (k === 'custom_fields') {
					// Only the changed fields, with their old value; null for "was empty" (also in the sparse
					// format, where an empty field is absent from data.custom_fields).
					const was = (v ?? {}) as Record<string, unknown>;
					const cur = (data.custom_fields ?? {}) as Record<string, unknown>;
					const changed: Record<string, unknown> = {};
					for (const ck of new Set([...Object.keys(was), ...Object.keys(cur)])) {
						if (!deepEqual(was[ck] ?? null, cur[ck] ?? null)) changed[ck] = was[ck] ?? null;
					}
					if (Object.keys(changed).length) previous.custom_fields = changed;
				} else if (!deepEqual(v, data[k])) {
					previous[k] = v;
				}
			}
		}
		return {
			meta: {
				action: e.action,
				entity: e.entity,
				company_id: String(s.company.id),
				correlation_id: uuidFrom(`correlation:${s.company.id}:${e.correlationKey}`),
				entity_id: String(e.entityId),
				id: eventId,
				is_bulk_edit: false,
				timestamp: isoMs(e.time),
				type: 'general',
				user_id: String(e.userId),
				version: '2.0',
				webhook_id: String(w.id),
				webhook_owner_id: String(w.owner_id),
				change_source: e.changeSource,
				permitted_user_ids: [String(e.userId)],
				attempt: 1,
				host,
				...(e.action === 'delete' && e.mergedToId !== undefined ? { merged_to_id: String(e.mergedToId) } : {}),
				...(e.action === 'change' && e.mergedFromId !== undefined ? { merged_from_id: String(e.mergedFromId) } : {}),
			},
			data,
			previous,
		};
	}

	private enqueue(w: Webhook, e: ChangeEvent): void {
		const eventId = uuidFrom(`event:${this.state.company.id}:${e.seq}:${w.id}`);
		const d: Delivery = {
			id: this.nextDeliveryId++,
			webhookId: w.id,
			version: w.version,
			url: w.subscription_url,
			eventId,
			eventSeq: e.seq,
			entity: e.entity,
			action: e.action,
			entityId: e.entityId,
			state: 'pending',
			attempts: [],
			payload: this.buildPayload(w, e, eventId),
		};
		this.push(d);
		const now = this.state.now();
		if (w.banned_until !== null) {
			if (w.banned_until > now) {
				d.state = 'dropped';
				d.droppedReason = 'webhook banned (10 first-attempt failures)';
				return;
			}
			w.banned_until = null;
			w.ban_counter = 0;
		}
		this.active++;
		void this.attempt(d, 1);
	}

	private push(d: Delivery): void {
		this.deliveries.push(d);
		if (this.deliveries.length > MAX_LOG) this.deliveries.splice(0, this.deliveries.length - MAX_LOG);
	}

	/** Sends the last delivery (or the last one of a webhook) again, unchanged: a duplicate. */
	redeliverLast(webhookId?: number): Delivery | undefined {
		const last = [...this.deliveries].reverse().find((d) => (webhookId === undefined || d.webhookId === webhookId) && d.state !== 'dropped' && !d.duplicateOf);
		if (!last) return undefined;
		const d: Delivery = { ...clone(last), id: this.nextDeliveryId++, state: 'pending', attempts: [], duplicateOf: last.id };
		this.push(d);
		this.active++;
		void this.attempt(d, Number(last.payload.meta?.attempt ?? (last.payload.retry ?? 0) + 1), true);
		return d;
	}

	private async attempt(d: Delivery, attempt: number, single = false): Promise<void> {
		const gen = this.generation;
		if (this.closed) return;
		const w = this.state.webhooks.get(d.webhookId);
		if (!w) {
			d.state = 'dropped';
			d.droppedReason = 'webhook deleted';
			this.active--;
			return;
		}
		const now = this.state.now();
		if (this.expired(w, now)) {
			// Pipedrive deletes the webhook: this and every later delivery of it is lost.
			this.state.webhooks.delete(w.id);
			d.state = 'dropped';
			d.droppedReason = DROPPED_DELETED_3_DAYS;
			this.active--;
			return;
		}
		if (attempt > 1 && w.banned_until !== null && w.banned_until > now) {
			d.state = 'dropped';
			d.droppedReason = DROPPED_BANNED;
			this.active--;
			return;
		}
		if (d.version === '2.0') d.payload.meta.attempt = attempt;
		else d.payload.retry = attempt - 1;
		const started = Date.now();
		const result = await this.post(w, d.payload);
		if (this.closed || gen !== this.generation) return;
		const ok = result.status !== undefined && result.status >= 200 && result.status < 300;
		d.attempts.push({ attempt, at: new Date(started).toISOString(), status: result.status ?? null, error: result.error, durationMs: Date.now() - started });
		w.last_delivery_time = this.state.now();
		w.last_http_status = result.status ?? null;
		if (ok) {
			w.last_success_time = w.last_delivery_time;
			d.state = 'delivered';
			this.active--;
			return;
		}
		w.last_failure_time = w.last_delivery_time;
		if (attempt === 1 && !single) {
			w.ban_counter++;
			if (w.ban_counter >= BAN_THRESHOLD) {
				w.banned_until = this.state.now() + BAN_MS * this.options.timeScale;
				w.ban_counter = 0;
			}
		}
		if (single || attempt > RETRY_DELAYS_MS.length) {
			d.state = 'failed';
			this.active--;
			return;
		}
		d.state = 'retrying';
		const delay = RETRY_DELAYS_MS[attempt - 1] * this.options.timeScale;
		const t = setTimeout(() => {
			this.timers.delete(t);
			void this.attempt(d, attempt + 1);
		}, delay);
		this.timers.add(t);
	}

	/** The 3-day rule: failed since the last success (or creation), and no success for 3 days (scaled). */
	private expired(w: Webhook, now: number): boolean {
		const since = w.last_success_time ?? w.add_time;
		return w.last_failure_time !== null && w.last_failure_time >= since && now - since >= DELETE_AFTER_MS * this.options.timeScale;
	}

	private post(w: Webhook, payload: unknown): Promise<{ status?: number; error?: string }> {
		return new Promise((resolve) => {
			let url: URL;
			try {
				url = new URL(w.subscription_url);
			} catch {
				resolve({ error: 'invalid URL' });
				return;
			}
			const body = Buffer.from(JSON.stringify(payload));
			const headers: Record<string, string | number> = {
				'content-type': 'application/json',
				'content-length': body.length,
				'user-agent': 'Pipedrive-Webhooks/2.0 (sandbox)',
			};
			if (w.http_auth_user) headers.authorization = `Basic ${Buffer.from(`${w.http_auth_user}:${w.http_auth_password ?? ''}`).toString('base64')}`;
			const lib = url.protocol === 'https:' ? https : http;
			let settled = false;
			const done = (r: { status?: number; error?: string }) => {
				if (settled) return;
				settled = true;
				clearTimeout(timer);
				this.requests.delete(req);
				resolve(r);
			};
			const req = lib.request(url, { method: 'POST', headers, agent: false }, (res) => {
				res.resume();
				res.on('end', () => done({ status: res.statusCode }));
				res.on('error', () => done({ status: res.statusCode }));
			});
			const timer = setTimeout(() => {
				req.destroy();
				done({ error: `timeout after ${this.timeoutMs} ms` });
			}, this.timeoutMs);
			this.requests.add(req);
			req.on('error', (err) => done({ error: err.message }));
			req.end(body);
		});
	}
}
