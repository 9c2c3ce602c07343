import { PipedriveWebhookError, dealStageChange, readCustomFieldValue, dealStatusChange, leadLabelChange, normalizeWebhook, personEmails } from '../../lib/pipedrive';

const LABEL_HOT = 'f08b42a0-4e75-11ea-9643-03698ef1cfd6';
const LABEL_QUALIFIED = 'f08b42a1-4e75-11ea-9643-03698ef1cfd6';

function v2Meta(over: Record<string, unknown>) {
	return {
		action: 'change',
		entity: 'deal',
		company_id: '5542',
		correlation_id: '8a5d3c1e-5c1d-4e0c-9b0e-2f1a9a7d0c11',
		entity_id: '42',
		id: 'b0d8c2f4-6c8e-4a57-9a3d-1c2e3f4a5b6c',
		is_bulk_edit: false,
		timestamp: '2025-06-19T16:07:36.754Z',
		type: 'general',
		user_id: '9',
		version: '2.0',
		webhook_id: '77',
		webhook_owner_id: '9',
		change_source: 'app',
		attempt: 1,
		host: 'acme.pipedrive.com',
		permitted_user_ids: ['9'],
		...over,
	};
}

const v2Deal = {
	id: 42,
	title: 'Referral: Ann Example',
	owner_id: 9,
	person_id: 7,
	stage_id: 3,
	pipeline_id: 1,
	status: 'open',
	value: 1200,
	currency: 'EUR',
	update_time: '2025-06-19T16:07:36Z',
	custom_fields: { dea1000000000000000000000000000000000003: { type: 'varchar', value: 'ANN-7Q2X' } },
};

function v1Meta(over: Record<string, unknown>) {
	return {
		action: 'updated',
		change_source: 'app',
		company_id: 5542,
		host: 'acme.pipedrive.com',
		id: 42,
		is_bulk_update: false,
		object: 'deal',
		permitted_user_ids: [9],
		pipedrive_service_name: false,
		timestamp: 1739827361,
		timestamp_micro: 1739827361322662,
		prepublish_timestamp: 1739827361337,
		trans_pending: false,
		user_id: 9,
		v: 1,
		webhook_id: '77',
		...over,
	};
}

const v1Deal = {
	id: 42,
	title: 'Referral: Ann Example',
	user_id: 9,
	person_id: 7,
	stage_id: 2,
	pipeline_id: 1,
	status: 'open',
	value: 1200,
	currency: 'EUR',
	won_time: null,
	update_time: '2025-02-17 19:46:52',
	dea1000000000000000000000000000000000003: 'ANN-7Q2X',
};

describe('webhooks v2', () => {
	it('deal stage change', () => {
		const event = normalizeWebhook({
			meta: v2Meta({}),
			data: v2Deal,
			previous: { stage_id: 2, update_time: '2025-06-19T16:00:00Z' },
		});
		expect(event).toMatchObject({
			version: '2.0',
			action: 'change',
			entity: 'deal',
			entityId: 42,
			eventId: 'b0d8c2f4-6c8e-4a57-9a3d-1c2e3f4a5b6c',
			attempt: 1,
			timestamp: '2025-06-19T16:07:36.754Z',
			previous: { stage_id: 2, update_time: '2025-06-19T16:00:00Z' },
			changed: ['stage_id', 'update_time'],
			userId: 9,
			companyId: 5542,
			webhookId: 77,
			changeSource: 'app',
			isBulkEdit: false,
		});
		expect(event.current?.stage_id).toBe(3);
		// Webhook v2 custom fields may come wrapped as { type, value }.
		expect(readCustomFieldValue(event.current, 'dea1000000000000000000000000000000000003')).toBe('ANN-7Q2X');
		expect(dealStageChange(event)).toEqual({ from: 2, to: 3, pipelineId: 1 });
		expect(dealStatusChange(event)).toBeNull();
	});

	it('deal won (a retry: attempt 3)', () => {
		const event = normalizeWebhook({
			meta: v2Meta({ attempt: 3 }),
			data: { ...v2Deal, status: 'won', won_time: '2025-06-19T16:07:36Z' },
			previous: { status: 'open', won_time: null, custom_fields: { dea1000000000000000000000000000000000003: null } },
		});
		expect(event.attempt).toBe(3);
		expect(event.changed).toEqual(['status', 'won_time', 'custom_fields', 'custom_fields.dea1000000000000000000000000000000000003']);
		expect(dealStatusChange(event)).toEqual({ from: 'open', to: 'won' });
		expect(dealStageChange(event)).toBeNull();
	});

	it('lead label change', () => {
		const leadId = 'adf21080-0e10-11eb-879b-05d71fb426ec';
		const event = normalizeWebhook({
			meta: v2Meta({ entity: 'lead', entity_id: leadId, id: '1d7e0c52-1111-4222-8333-944455556666' }),
			data: { id: leadId, title: 'Referral: Ann', person_id: 7, label_ids: [LABEL_HOT, LABEL_QUALIFIED], value: { amount: 1200, currency: 'EUR' }, custom_fields: {} },
			previous: { label_ids: [LABEL_HOT], update_time: '2025-06-19T16:07:30.029Z' },
		});
		expect(event).toMatchObject({ entity: 'lead', entityId: leadId, action: 'change', changed: ['label_ids', 'update_time'] });
		expect(leadLabelChange(event)).toEqual({ added: [LABEL_QUALIFIED], removed: [], current: [LABEL_HOT, LABEL_QUALIFIED] });
	});

	it('person create', () => {
		const event = normalizeWebhook(
			JSON.stringify({
				meta: v2Meta({ action: 'create', entity: 'person', entity_id: '7', id: '3c2b1a00-aaaa-4bbb-8ccc-dddddddddddd', change_source: 'api' }),
				data: { id: 7, name: 'Ann Example', emails: [{ label: 'home', primary: false, value: 'ann@home.test' }, { label: 'work', primary: true, value: 'ann@example.com' }], custom_fields: {} },
				previous: null,
			}),
		);
		expect(event).toMatchObject({ version: '2.0', action: 'create', entity: 'person', entityId: 7, previous: null, changed: [], changeSource: 'api' });
		expect(personEmails(event.current)).toEqual(['ann@example.com', 'ann@home.test']);
	});

	it('a key in previous that did not change is no change ([M2]\'s "Update lead" example lists an unchanged next_activity_id)', () => {
		// stage_id repeated with its current value, status too: neither a stage move nor a status change.
		const event = normalizeWebhook({
			meta: v2Meta({}),
			data: { ...v2Deal, title: 'Renamed', next_activity_id: null },
			previous: { stage_id: 3, status: 'open', title: 'Referral: Ann Example', next_activity_id: null, update_time: '2025-06-19T16:00:00Z' },
		});
		expect(event.changed).toEqual(['title', 'update_time']);
		expect(dealStageChange(event)).toBeNull();
		expect(dealStatusChange(event)).toBeNull();
		// The same in the readers even when a caller builds `changed` itself.
		expect(dealStageChange({ ...event, changed: ['stage_id', 'status'] })).toBeNull();
		expect(dealStatusChange({ ...event, changed: ['stage_id', 'status'] })).toBeNull();
		// A numeric string with the same stage is the same stage.
		expect(dealStageChange({ ...event, previous: { stage_id: '3' }, changed: ['stage_id'] })).toBeNull();
		expect(dealStageChange({ ...event, previous: { stage_id: '2' }, changed: ['stage_id'] })).toEqual({ from: 2, to: 3, pipelineId: 1 });
	});

	it('custom fields: only the ones whose value differs count; null and absent are both "no value"', () => {
		const A = 'dea1000000000000000000000000000000000003';
		const B = 'dea1000000000000000000000000000000000004';
		const C = 'dea1000000000000000000000000000000000005';
		const event = normalizeWebhook({
			meta: v2Meta({}),
			// sparse: B and C have no value now
			data: { ...v2Deal, custom_fields: { [A]: { type: 'varchar', value: 'ANN-7Q2X' } } },
			previous: {
				custom_fields: {
					[A]: { type: 'varchar', value: 'ANN-7Q2X' }, // unchanged
					[B]: null, // was empty, still empty
					[C]: { type: 'varchar', value: 'OLD' }, // cleared
				},
			},
		});
		expect(event.changed).toEqual(['custom_fields', `custom_fields.${C}`]);
		const none = normalizeWebhook({
			meta: v2Meta({}),
			data: v2Deal,
			previous: { custom_fields: { dea1000000000000000000000000000000000003: { type: 'varchar', value: 'ANN-7Q2X' } } },
		});
		expect(none.changed).toEqual([]);
	});

	it('merges: the delete carries mergedToId, the survivor\'s change mergedFromId (strings in meta, numbers here)', () => {
		const removed = normalizeWebhook({
			meta: v2Meta({ action: 'delete', entity: 'person', entity_id: '8', merged_to_id: '7' }),
			data: null,
			previous: { id: 8, name: 'Ann Duplicate' },
		});
		expect(removed).toMatchObject({ action: 'delete', entity: 'person', entityId: 8, mergedToId: 7, mergedFromId: null });
		const survivor = normalizeWebhook({
			meta: v2Meta({ action: 'change', entity: 'person', entity_id: '7', merged_from_id: '8' }),
			data: { id: 7, name: 'Ann Example', emails: [{ value: 'ann@example.com', primary: true }, { value: 'ann.dup@example.com', primary: false }] },
			previous: { emails: [{ value: 'ann@example.com', primary: true }] },
		});
		expect(survivor).toMatchObject({ action: 'change', entityId: 7, mergedFromId: 8, mergedToId: null, changed: ['emails'] });
		// An ordinary event has neither.
		const plain = normalizeWebhook({ meta: v2Meta({}), data: v2Deal, previous: { stage_id: 2 } });
		expect([plain.mergedToId, plain.mergedFromId]).toEqual([null, null]);
	});

	it('delete: current is null, previous is the last state', () => {
		const event = normalizeWebhook({ meta: v2Meta({ action: 'delete' }), data: null, previous: v2Deal });
		expect(event).toMatchObject({ action: 'delete', current: null, previous: v2Deal, changed: [] });
	});
});

describe('webhooks v1', () => {
	it('deal stage change (updated.deal): previous reduced to the changed fields', () => {
		const event = normalizeWebhook({
			v: 1,
			matches_filters: { current: [] },
			meta: v1Meta({}),
			current: { ...v1Deal, stage_id: 3, update_time: '2025-02-17 21:22:41' },
			previous: v1Deal,
			retry: 0,
			event: 'updated.deal',
		});
		expect(event).toMatchObject({
			version: '1.0',
			action: 'change',
			entity: 'deal',
			entityId: 42,
			eventId: 'v1:updated.deal:42:1739827361322662',
			attempt: 1,
			timestamp: '2025-02-17T21:22:41.322Z',
			previous: { stage_id: 2, update_time: '2025-02-17 19:46:52' },
			changed: ['stage_id', 'update_time'],
			userId: 9,
			companyId: 5542,
			isBulkEdit: false,
		});
		expect(dealStageChange(event)).toEqual({ from: 2, to: 3, pipelineId: 1 });
	});

	it('deal won (second delivery: retry 1)', () => {
		const event = normalizeWebhook({
			v: 1,
			meta: v1Meta({}),
			current: { ...v1Deal, status: 'won', won_time: '2025-02-17 21:22:41' },
			previous: v1Deal,
			retry: 1,
			event: 'updated.deal',
		});
		expect(event.attempt).toBe(2);
		expect(event.changed).toEqual(['status', 'won_time']);
		expect(dealStatusChange(event)).toEqual({ from: 'open', to: 'won' });
	});

	it('lead label change: v1 has no lead webhooks, but a v1-shaped lead event normalises the same way', () => {
		const leadId = 'adf21080-0e10-11eb-879b-05d71fb426ec';
		const lead = { id: leadId, title: 'Referral: Ann', label_ids: [LABEL_HOT] };
		const event = normalizeWebhook({
			v: 1,
			meta: v1Meta({ object: 'lead', id: leadId }),
			current: { ...lead, label_ids: [LABEL_QUALIFIED] },
			previous: lead,
			event: 'updated.lead',
		});
		expect(event).toMatchObject({ entity: 'lead', entityId: leadId, changed: ['label_ids'] });
		expect(leadLabelChange(event)).toEqual({ added: [LABEL_QUALIFIED], removed: [LABEL_HOT], current: [LABEL_QUALIFIED] });
	});

	it('merged.person is a change of the survivor; v1 documents no merge ids, so mergedFromId stays null', () => {
		const person = { id: 7, name: 'Ann Example', email: [{ value: 'ann@example.com', primary: true }] };
		const event = normalizeWebhook({
			v: 1,
			meta: v1Meta({ action: 'merged', object: 'person', id: 7 }),
			current: { ...person, email: [...person.email, { value: 'ann.dup@example.com', primary: false }] },
			previous: person,
			event: 'merged.person',
		});
		expect(event).toMatchObject({ version: '1.0', action: 'change', entity: 'person', entityId: 7, changed: ['email'], mergedFromId: null, mergedToId: null });
		const removed = normalizeWebhook({ v: 1, meta: v1Meta({ action: 'deleted', object: 'person', id: 8 }), current: null, previous: { id: 8 }, event: 'deleted.person' });
		expect(removed).toMatchObject({ action: 'delete', mergedToId: null, mergedFromId: null });
		// Should a v1 meta ever carry v2's names, they are read.
		const withIds = normalizeWebhook({ v: 1, meta: v1Meta({ action: 'merged', object: 'person', id: 7, merged_from_id: 8 }), current: person, previous: person, event: 'merged.person' });
		expect(withIds.mergedFromId).toBe(8);
	});

	it('person create (added.person)', () => {
		const event = normalizeWebhook({
			v: 1,
			meta: v1Meta({ action: 'added', object: 'person', id: 7, timestamp: 1739827618, timestamp_micro: undefined }),
			current: { id: 7, name: 'Ann Example', email: [{ value: 'ann@example.com', primary: true }], phone: [{ value: '', primary: true }] },
			previous: null,
			event: 'added.person',
		});
		expect(event).toMatchObject({ version: '1.0', action: 'create', entity: 'person', entityId: 7, previous: null, changed: [], timestamp: '2025-02-17T21:26:58.000Z' });
		expect(event.eventId).toBe('v1:added.person:7:1739827618');
		expect(personEmails(event.current)).toEqual(['ann@example.com']);
	});
});

describe('bodies that are not Pipedrive webhooks', () => {
	it.each<[string, unknown, RegExp]>([
		['not JSON', '<xml/>', /not JSON/],
		['an array', [1, 2], /expected a JSON object/],
		['no meta', { event: 'updated.deal', current: {} }, /no "meta" block/],
		['an unknown v2 action', { meta: { version: '2.0', action: 'updated', entity: 'deal', id: 'x' }, data: {} }, /meta.action/],
		['a v2 event without id', { meta: { version: '2.0', action: 'change', entity: 'deal' }, data: {} }, /event id/],
		['some other JSON', { meta: { foo: 1 }, hello: 'world' }, /neither v2 .* nor v1/],
	])('throws a clear error for %s', (_name, body, message) => {
		expect(() => normalizeWebhook(body)).toThrow(PipedriveWebhookError);
		expect(() => normalizeWebhook(body)).toThrow(message);
	});
});
