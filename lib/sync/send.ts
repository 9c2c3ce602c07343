import { createHash } from 'node:crypto';
import type { PipedriveClient } from '../pipedrive/client';
import { personEmailItems } from '../pipedrive/client';
import { isPipedriveApiError } from '../pipedrive/errors';
import { readCustomFieldValue, type PipedriveField } from '../pipedrive/fields';
import type { Deal, Lead, Person, Stage } from '../pipedrive/types';
import { ReferralError } from '../referrals/errors';
import type { Campaign, Participant, ParticipantSource } from '../referrals/model';
import type { ParticipantRef, ReferralProgram } from '../referrals/program';
import { checkFieldChoices, fieldsOf, valuesByKey, type FieldChoice } from './mapping';

export type SendTarget = 'person' | 'lead' | 'deal';

/** Roles of the lead or deal fields the referral data is written to. */
export type RecordRole = 'code' | 'referrerName' | 'referrerEmail' | 'campaignName' | 'link';
/** Roles of the person fields a participant's own referral data is written to. */
export type PersonRole = 'personLink' | 'personCode';

export interface SendSettings {
	target: SendTarget;
	/** Only participants from these sources are sent; others pass through as skipped. */
	sources: ParticipantSource[];
	/** Lead or deal fields; the referral code field is required for a lead or deal target. */
	recordFields: Array<FieldChoice<RecordRole>>;
	/** Extra lead or deal fields set to fixed values, by field key or name. */
	extraRecordFields: Array<{ field: string; value: unknown }>;
	personFields: Array<FieldChoice<PersonRole>>;
	/** Defaults to the account's first pipeline (by order). */
	pipelineId?: number;
	/** Defaults to the pipeline's first stage. */
	stageId?: number;
	leadLabelIds?: string[];
}

/** What varies per item. */
export interface SendItem {
	participant: ParticipantRef;
	campaignId: number;
	title?: string;
	value?: number;
	currency?: string;
	ownerId?: number;
}

export interface SendResult {
	participantId: number;
	email: string | null;
	code: string;
	skipped: boolean;
	reason?: string;
	personId?: number;
	personCreated?: boolean;
	leadId?: string;
	leadCreated?: boolean;
	dealId?: number;
	dealCreated?: boolean;
}

/** Longer than any send takes with Pipedrive's retries; a crashed sender blocks its person that long. */
const SEND_LEASE_MS = 5 * 60_000;

const ROLE_LABELS: Record<RecordRole | PersonRole, string> = {
	code: 'Referral Code Field',
	referrerName: 'Referrer Name Field',
	referrerEmail: 'Referrer Email Field',
	campaignName: 'Campaign Name Field',
	link: 'Referral Link Field',
	personLink: 'Person Referral Link Field',
	personCode: 'Person Referral Code Field',
};

export function roleLabel(role: RecordRole | PersonRole): string {
	return ROLE_LABELS[role];
}

/**
 * Sends participants to Pipedrive. `prepare()` checks the whole setup once (fields, pipeline,
 * stage) before anything is sent; `send()` handles one participant. The Pipedrive ids are saved on
 * the participant, and a participant that already has them is never sent twice.
 */
export class PipedriveSender {
	private recordFields = new Map<RecordRole, PipedriveField>();
	private extraFields: Record<string, unknown> = {};
	private personFields = new Map<PersonRole, PipedriveField>();
	private stage?: Stage;
	private readonly campaigns = new Map<number, Campaign>();

	constructor(
		private readonly program: ReferralProgram,
		private readonly client: PipedriveClient,
		private readonly settings: SendSettings,
	) {}

	async prepare(): Promise<void> {
		try {
			await this.check();
		} catch (error) {
			if (!(error instanceof ReferralError && error.kind === 'pipedrive_setup')) throw error;
			// The kept lists may predate a field or stage just added in Pipedrive: ask again once.
			this.client.fieldsCache.clear();
			await this.check();
		}
	}

	private async check(): Promise<void> {
		const { target } = this.settings;
		this.personFields = checkFieldChoices('person', await fieldsOf(this.client, 'person'), this.settings.personFields);
		if (target === 'person') return;
		if (!this.settings.recordFields.some((choice) => choice.role === 'code')) {
			throw new ReferralError(
				'pipedrive_setup',
				`Choose the ${target} field that receives the referral code (Referral Code Field)`,
				'code',
				'Qualification from Pipedrive reads the code back from that field',
			);
		}
		const available = await fieldsOf(this.client, target);
		this.recordFields = checkFieldChoices(target, available, this.settings.recordFields);
		const extras = checkFieldChoices(
			target,
			available,
			this.settings.extraRecordFields.map(({ field }) => ({ role: field, label: 'an extra field', field })),
		);
		this.extraFields = valuesByKey(
			extras,
			Object.fromEntries(this.settings.extraRecordFields.map(({ field, value }) => [field, value])),
		);
		if (target === 'deal') this.stage = await this.resolveStage();
	}

	/** The skipped result when this participant is not one to send (erased, or from a source not chosen); null otherwise. */
	async skipped(item: SendItem): Promise<SendResult | null> {
		const participant = await this.program.getParticipant(item.campaignId, item.participant);
		return this.skipReason(participant);
	}

	private skipReason(participant: Participant): SendResult | null {
		const base = { participantId: participant.id, email: participant.email, code: participant.code };
		if (participant.erasedAt || !participant.email) {
			return { ...base, skipped: true, reason: 'The participant was erased' };
		}
		// Held referrals reach Pipedrive only once approved (approving sends them on as new).
		if (participant.referralStatus === 'flagged' || participant.referralStatus === 'rejected') {
			return { ...base, skipped: true, reason: `The referral is ${participant.referralStatus === 'flagged' ? 'held for review' : 'rejected'}` };
		}
		if (!this.settings.sources.includes(participant.source)) {
			return {
				...base,
				skipped: true,
				reason: `Source "${participant.source}" is not among the sources to send (${this.settings.sources.join(', ')})`,
			};
		}
		return null;
	}

	async send(item: SendItem): Promise<SendResult> {
		const participant = await this.program.getParticipant(item.campaignId, item.participant);
		const skipped = this.skipReason(participant);
		if (skipped) return skipped;
		const base = { participantId: participant.id, email: participant.email!, code: participant.code };
		// Two executions sending the same person at once (a double submit, a retried webhook) would
		// both miss the person in Pipedrive and both create one: one sends, the other waits for it.
		// The key holds a hash, not the email: a lease left by a crash keeps no personal data.
		const lease = `pipedrive-send:${createHash('sha256').update(participant.email!).digest('hex')}`;
		return await this.program.exclusively(lease, SEND_LEASE_MS, this.client.sleep, () => this.sendNow(item, participant.id, base));
	}

	/** Sends a participant, read again now that the caller holds the send lease of their email. */
	private async sendNow(item: SendItem, participantId: number, base: Pick<SendResult, 'participantId' | 'email' | 'code'>): Promise<SendResult> {
		const participant = await this.program.getParticipant(item.campaignId, { id: participantId });
		if (participant.erasedAt || !participant.email) return { ...base, skipped: true, reason: 'The participant was erased' };
		const campaign = await this.campaign(participant.campaignId);
		const person = await this.ensurePerson(participant, item.ownerId);
		let current = await this.program.linkPipedrive(participant.id, { personId: person.id });
		const result: SendResult = { ...base, skipped: false, personId: person.id, personCreated: person.created };
		if (this.settings.target === 'person') return result;

		const referrer = current.referredBy === null ? null : await this.program.findParticipant(current.campaignId, { id: current.referredBy });
		const customFields = {
			...this.extraFields,
			...valuesByKey(this.recordFields, {
				code: current.code,
				referrerName: referrer ? fullName(referrer) ?? referrer.email : null,
				referrerEmail: referrer?.email ?? null,
				campaignName: campaign.name,
				link: current.link,
			}),
		};
		const title = item.title?.trim() || defaultTitle(current, referrer);
		if (this.settings.target === 'lead') {
			if (current.pipedriveLeadId) return { ...result, leadId: current.pipedriveLeadId, leadCreated: false };
			const lead = await this.client.createLead(
				{
					title,
					person_id: person.id,
					owner_id: item.ownerId,
					label_ids: this.settings.leadLabelIds?.length ? this.settings.leadLabelIds : undefined,
					value: item.value === undefined ? undefined : { amount: item.value, currency: requireCurrency(item.currency) },
				},
				{ customFields, findExisting: () => this.findLead(person.id, current.code) },
			);
			current = await this.program.linkPipedrive(current.id, { leadId: lead.id });
			return { ...result, leadId: lead.id, leadCreated: true };
		}
		if (current.pipedriveDealId) return { ...result, dealId: current.pipedriveDealId, dealCreated: false };
		const deal = await this.client.createDeal(
			{
				title,
				person_id: person.id,
				pipeline_id: this.stage!.pipeline_id,
				stage_id: this.stage!.id,
				owner_id: item.ownerId,
				value: item.value,
				currency: item.value === undefined ? undefined : item.currency,
			},
			{ customFields, findExisting: () => this.findDeal(person.id, current.code) },
		);
		await this.program.linkPipedrive(current.id, { dealId: deal.id });
		return { ...result, dealId: deal.id, dealCreated: true };
	}

	/** The participant's Pipedrive person: the linked one, else one with the same email, else a new one. */
	private async ensurePerson(participant: Participant, ownerId?: number): Promise<{ id: number; created: boolean }> {
		const personValues = valuesByKey(this.personFields, { personLink: participant.link, personCode: participant.code });
		let existing: Person | null = null;
		if (participant.pipedrivePersonId) existing = await this.getPersonIfExists(participant.pipedrivePersonId);
		existing ??= await this.client.findPersonByEmail(participant.email!);
		if (existing) {
			const changed = Object.entries(personValues).filter(
				([key, value]) => String(readCustomFieldValue(existing, key) ?? '') !== String(value ?? ''),
			);
			if (changed.length > 0) await this.client.updatePerson(existing.id, {}, { customFields: Object.fromEntries(changed) });
			return { id: existing.id, created: false };
		}
		const person = await this.client.createPerson(
			{ name: fullName(participant) ?? participant.email!, emails: personEmailItems(participant.email!), owner_id: ownerId },
			{
				customFields: Object.keys(personValues).length ? personValues : undefined,
				findExisting: () => this.client.findPersonByEmail(participant.email!),
			},
		);
		return { id: person.id, created: true };
	}

	/** A linked person deleted in Pipedrive since is looked up by email again. */
	private async getPersonIfExists(id: number): Promise<Person | null> {
		try {
			return await this.client.getPerson(id);
		} catch (error) {
			if (isPipedriveApiError(error) && error.kind === 'not_found') return null;
			throw error;
		}
	}

	/** A deal this participant got earlier (found by its referral code), for a create retried after a lost answer. */
	private async findDeal(personId: number, code: string): Promise<Deal | null> {
		const field = this.recordFields.get('code')!;
		const deals = await this.client.listPersonDeals(personId, [field.key]);
		return deals.find((deal) => readCustomFieldValue(deal, field) === code) ?? null;
	}

	private async findLead(personId: number, code: string): Promise<Lead | null> {
		const field = this.recordFields.get('code')!;
		const leads = await this.client.listPersonLeads(personId);
		return leads.find((lead) => readCustomFieldValue(lead, field) === code) ?? null;
	}

	private async resolveStage(): Promise<Stage> {
		const { pipelineId, stageId } = this.settings;
		const pipelines = (await this.client.listPipelines())
			.filter((p) => !p.is_deleted)
			.sort((a, b) => (a.order_nr ?? 0) - (b.order_nr ?? 0));
		// No pipeline chosen: the account's first one, so a bundled workflow works before it is tuned.
		const pipeline = pipelineId ? pipelines.find((p) => p.id === pipelineId) : pipelines[0];
		if (!pipeline) {
			throw new ReferralError(
				'pipedrive_setup',
				pipelineId ? `There is no pipeline with ID ${pipelineId} in Pipedrive` : 'Pipedrive has no pipeline to put deals in',
				'pipelineId',
			);
		}
		const stages = (await this.client.listStages(pipeline.id))
			.filter((stage) => !stage.is_deleted)
			.sort((a, b) => (a.order_nr ?? 0) - (b.order_nr ?? 0));
		const stage = stageId ? stages.find((s) => s.id === stageId) : stages[0];
		if (!stage) {
			throw new ReferralError(
				'pipedrive_setup',
				stageId
					? `Stage ${stageId} is not a stage of pipeline "${pipeline.name}"`
					: `Pipeline "${pipeline.name}" has no stages`,
				'stageId',
			);
		}
		return stage;
	}

	private async campaign(id: number): Promise<Campaign> {
		let campaign = this.campaigns.get(id);
		if (!campaign) this.campaigns.set(id, (campaign = await this.program.getCampaign({ id })));
		return campaign;
	}
}

function fullName(participant: Participant): string | null {
	const name = [participant.firstName, participant.lastName].filter(Boolean).join(' ');
	return name === '' ? null : name;
}

function defaultTitle(participant: Participant, referrer: Participant | null): string {
	const who = fullName(participant) ?? participant.email ?? participant.code;
	if (!referrer) return `Referral: ${who}`;
	return `Referral: ${who} (from ${fullName(referrer) ?? referrer.email ?? referrer.code})`;
}

function requireCurrency(currency: string | undefined): string {
	if (!currency || !/^[A-Z]{3}$/.test(currency.trim().toUpperCase())) {
		throw new ReferralError('invalid_input', 'A lead value needs a three-letter currency code, e.g. EUR', 'currency');
	}
	return currency.trim().toUpperCase();
}
