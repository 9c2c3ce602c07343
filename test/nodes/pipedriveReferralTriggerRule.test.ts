/**
 * The Pipedrive Referral Trigger's event "Campaign's Qualification Rule" (`ruleItems`): what the
 * campaign's rule makes of one delivery, with the idempotency keys the reconciliation pass uses for
 * the same changes. Deliveries in Pipedrive's v2 shape, Pipedrive reads recorded (and answered
 * from the given records) so the test also says when the trigger has to ask Pipedrive.
 */
import { normalizeWebhook } from '../../lib/pipedrive/webhooks';
import { DEFAULT_QUALIFICATION_RULE, transitionKeys, type QualificationRule } from '../../lib/referrals/qualification-rule';
import { mayConcernRule, ruleItems, type Lookups } from '../../nodes/PipedriveReferralTrigger/events';

const CODE_FIELD = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const HOT_LABEL = 'f981a7f0-45ea-11ee-9d1e-bd0a7bc3b5c1';
const COLD_LABEL = '0a1b2c3d-45ea-11ee-9d1e-bd0a7bc3b5c1';
const LEAD_ID = '3f4e5d6c-7b8a-11ee-9d1e-bd0a7bc3b5c1';
const WON_TIME = '2026-03-02T10:00:00Z';
const LOST_TIME = '2026-03-09T16:30:00Z';
const UPDATE_TIME = '2026-03-02T10:00:05Z';

let eventSeq = 0;
function delivery(entity: 'deal' | 'lead', action: 'create' | 'change', data: Record<string, unknown>, previous: Record<string, unknown> | null = null) {
	eventSeq += 1;
	return normalizeWebhook({
		meta: { action, entity, entity_id: String(data.id), id: `evt-${eventSeq}`, timestamp: '2026-03-10T08:00:00Z', version: '2.0', attempt: 1 },
		data,
		previous,
	});
}

const deal = (fields: Record<string, unknown>, code: string | null = 'ANN7QK2M') => ({
	id: 7,
	status: 'open',
	stage_id: 1,
	pipeline_id: 1,
	value: 1200,
	currency: 'EUR',
	person_id: 41,
	won_time: null,
	lost_time: null,
	update_time: UPDATE_TIME,
	custom_fields: code === null ? {} : { [CODE_FIELD]: code },
	...fields,
});

const lead = (labelIds: string[], code: string | null = 'ANN7QK2M') => ({
	id: LEAD_ID,
	title: 'Bo Friend',
	person_id: 41,
	label_ids: labelIds,
	update_time: UPDATE_TIME,
	custom_fields: code === null ? {} : { [CODE_FIELD]: code },
});

/** Lookups answered from the given records; every read is listed in `reads`. */
function lookups(records: { deals?: Record<number, Record<string, unknown>>; leads?: Record<string, Record<string, unknown>> } = {}) {
	const reads: string[] = [];
	const api: Lookups = {
		deal: async (id) => (reads.push(`deal:${id}`), records.deals?.[id] ?? null),
		lead: async (id) => (reads.push(`lead:${id}`), records.leads?.[id] ?? null),
		person: async (id) => (reads.push(`person:${id}`), null),
	};
	return { api, reads };
}

const rule = (change: Partial<QualificationRule> = {}): QualificationRule => ({ ...DEFAULT_QUALIFICATION_RULE, ...change });

describe("Pipedrive Referral Trigger, event \"Campaign's Qualification Rule\"", () => {
	it('a deal marked won qualifies, keyed by its won time, with the sale value and the time it was won', async () => {
		const { api, reads } = lookups();
		const webhook = delivery('deal', 'change', deal({ status: 'won', won_time: WON_TIME }), { status: 'open', won_time: null });
		expect(mayConcernRule(webhook)).toBe(true);
		const items = await ruleItems(webhook, rule(), CODE_FIELD, api);
		expect(items).toEqual([
			expect.objectContaining({
				event: 'campaignRule',
				action: 'qualify',
				reason: 'won',
				referralCode: 'ANN7QK2M',
				dealId: 7,
				value: 1200,
				currency: 'EUR',
				idempotencyKey: transitionKeys.dealWon(7, WON_TIME),
				transitionKey: transitionKeys.dealWon(7, WON_TIME),
				time: new Date(WON_TIME).toISOString(),
			}),
		]);
		expect(reads).toEqual([]);
		// A rule where won does not qualify makes nothing of it.
		expect(await ruleItems(webhook, rule({ dealWon: false }), CODE_FIELD, api)).toEqual([]);
	});

	it('a deal moved into a qualifying stage qualifies once per deal and stage; other stages do not', async () => {
		const { api } = lookups();
		const moved = delivery('deal', 'change', deal({ stage_id: 3 }), { stage_id: 2 });
		const items = await ruleItems(moved, rule({ dealStageIds: [3, 8] }), CODE_FIELD, api);
		expect(items).toEqual([expect.objectContaining({ action: 'qualify', reason: 'stage', stageId: 3, idempotencyKey: transitionKeys.dealStage(7, 3) })]);
		const elsewhere = delivery('deal', 'change', deal({ stage_id: 2 }), { stage_id: 1 });
		expect(await ruleItems(elsewhere, rule({ dealStageIds: [3, 8] }), CODE_FIELD, api)).toEqual([]);
		// A deal created right in the stage has entered it too.
		const created = delivery('deal', 'create', deal({ stage_id: 8 }));
		expect(await ruleItems(created, rule({ dealStageIds: [3, 8] }), CODE_FIELD, api)).toEqual([
			expect.objectContaining({ action: 'qualify', idempotencyKey: transitionKeys.dealStage(7, 8) }),
		]);
	});

	it('a deal lost after it was won un-qualifies, keyed by its lost time; not when the rule keeps lost deals qualified', async () => {
		const { api } = lookups();
		const refund = delivery('deal', 'change', deal({ status: 'lost', won_time: null, lost_time: LOST_TIME }), { status: 'won', won_time: WON_TIME, lost_time: null });
		expect(await ruleItems(refund, rule(), CODE_FIELD, api)).toEqual([
			expect.objectContaining({ action: 'unqualify', reason: 'lost', idempotencyKey: transitionKeys.dealLost(7, LOST_TIME), time: new Date(LOST_TIME).toISOString() }),
		]);
		expect(await ruleItems(refund, rule({ dealLostUnqualifies: false }), CODE_FIELD, api)).toEqual([]);
	});

	it('a lead given a qualifying label qualifies; a label the rule does not name, or one it already had, does not', async () => {
		const { api } = lookups();
		const labelled = delivery('lead', 'change', lead([COLD_LABEL, HOT_LABEL]), { label_ids: [COLD_LABEL] });
		expect(await ruleItems(labelled, rule({ leadLabelIds: [HOT_LABEL] }), CODE_FIELD, api)).toEqual([
			expect.objectContaining({ action: 'qualify', reason: 'label', leadId: LEAD_ID, referralCode: 'ANN7QK2M', idempotencyKey: transitionKeys.leadLabel(LEAD_ID, HOT_LABEL) }),
		]);
		const cold = delivery('lead', 'change', lead([COLD_LABEL]), { label_ids: [] });
		expect(await ruleItems(cold, rule({ leadLabelIds: [HOT_LABEL] }), CODE_FIELD, api)).toEqual([]);
		const retitled = delivery('lead', 'change', { ...lead([HOT_LABEL]), title: 'Bo F.' }, { title: 'Bo Friend' });
		expect(mayConcernRule(retitled)).toBe(false);
		expect(await ruleItems(retitled, rule({ leadLabelIds: [HOT_LABEL] }), CODE_FIELD, api)).toEqual([]);
	});

	it('a lead converted to a deal qualifies: the deal names its lead (one Pipedrive read), the code comes from the lead when the deal has none', async () => {
		const { api, reads } = lookups({ deals: { 7: { id: 7, source_lead_id: LEAD_ID } }, leads: { [LEAD_ID]: lead([]) } });
		const converted = delivery('deal', 'create', deal({}, null));
		const items = await ruleItems(converted, rule({ leadConverted: true }), CODE_FIELD, api);
		expect(items).toEqual([
			expect.objectContaining({ action: 'qualify', reason: 'converted', leadId: LEAD_ID, referralCode: 'ANN7QK2M', idempotencyKey: transitionKeys.leadConverted(LEAD_ID) }),
		]);
		expect(reads).toEqual([`deal:7`, `lead:${LEAD_ID}`]);
		// Without the rule asking for conversions, a new deal costs no read.
		const quiet = lookups();
		expect(await ruleItems(converted, rule(), CODE_FIELD, quiet.api)).toEqual([]);
		expect(quiet.reads).toEqual([]);
	});

	it('a change the rule ignores gives no item, and ordinary traffic is not even looked at', async () => {
		const { api, reads } = lookups();
		const renamed = delivery('deal', 'change', deal({ title: 'New title', status: 'won', won_time: WON_TIME }), { title: 'Old title' });
		expect(mayConcernRule(renamed)).toBe(false);
		expect(await ruleItems(renamed, rule(), CODE_FIELD, api)).toEqual([]);
		const reopened = delivery('deal', 'change', deal({ status: 'open' }), { status: 'lost', lost_time: LOST_TIME });
		expect(mayConcernRule(reopened)).toBe(true);
		expect(await ruleItems(reopened, rule(), CODE_FIELD, api)).toEqual([]);
		expect(reads).toEqual([]);
	});

	it('a deal or lead without a referral code concerns no referral: no item', async () => {
		const { api, reads } = lookups();
		const won = delivery('deal', 'change', deal({ status: 'won', won_time: WON_TIME }, null), { status: 'open' });
		expect(await ruleItems(won, rule(), CODE_FIELD, api)).toEqual([]);
		const blank = delivery('deal', 'change', deal({ status: 'won', won_time: WON_TIME }, '   '), { status: 'open' });
		expect(await ruleItems(blank, rule(), CODE_FIELD, api)).toEqual([]);
		const labelled = delivery('lead', 'change', lead([HOT_LABEL], null), { label_ids: [] });
		expect(await ruleItems(labelled, rule({ leadLabelIds: [HOT_LABEL] }), CODE_FIELD, api)).toEqual([]);
		// v2 deliveries list only the custom fields that hold a value: no Pipedrive read to learn there is none.
		expect(reads).toEqual([]);
	});
});
