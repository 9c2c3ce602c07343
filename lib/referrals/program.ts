import { getDashboardFigures, type DashboardFigures, type FigureOptions } from '../dashboard/figures';
import type { Page, ParticipantFilter, PipedriveIds, PipedriveSend, PipedriveSendFilter, ReferralCounts, ReferralStore } from '../store/types';
import type { BatchOptions, Outcome } from './batch';
import * as campaigns from './campaigns';
import type { CampaignInput, CampaignUpdate } from './campaigns';
import { noPublicUrl, type ProgramContext } from './context';
import * as enrolment from './enrolment';
import type { EnrolInput, EnrolOptions, EnrolResult } from './enrolment';
import * as erasure from './erasure';
import * as events from './events';
import * as formStamp from './form-stamp';
import type { FormCheck, StampPolicy } from './form-stamp';
import { RewardDesk } from './issuing';
import { DEFAULT_LINK_TEMPLATE, withResolvedLinks } from './links';
import type { ParticipantRef } from './lookups';
import type { Campaign, CampaignStats, CampaignStatus, EventType, Participant, ReferralEvent } from './model';
import * as participants from './participants';
import type { ParticipantUpdate } from './participants';
import * as pipedriveLinks from './pipedrive-links';
import * as qualification from './qualification';
import type { QualifyInput, QualifyResult, ReferralLookup } from './qualification';
import * as registration from './registration';
import * as review from './review';
import type { HeldReferral, ReviewResult } from './review';
import type { RegisterInput, RegisterResult } from './registration';
import { evaluateRewards } from './reward-evaluation';
import * as qualificationRule from './qualification-rule';
import type { QualificationRule } from './qualification-rule';
import * as sendState from './send-state';
import type { QueueSendInput } from './send-state';
import * as syncState from './sync-state';

export type { BatchOptions, Outcome } from './batch';
export type { CampaignInput, CampaignUpdate } from './campaigns';
export type { EnrolInput, EnrolOptions, EnrolResult } from './enrolment';
export type { BotReason, FormCheck, StampPolicy } from './form-stamp';
export type { ParticipantRef } from './lookups';
export type { ParticipantUpdate } from './participants';
export type { QualifyInput, QualifyResult, ReferralLookup } from './qualification';
export type { RegisterInput, RegisterResult } from './registration';
export type { HeldReferral, ReviewResult } from './review';

export interface ProgramOptions {
	/**
	 * This n8n's public URL, for links made from `{{n8nUrl}}` templates (the default); asked only
	 * when such a link is read. May throw when the process cannot know it (a queue-mode worker
	 * without WEBHOOK_URL).
	 */
	publicUrl?: () => string;
}

/**
 * The referral program over a store: the one entry point nodes and workflows use. Each method
 * hands over to the module of its use case (campaigns, enrolment, registration, participants,
 * erasure, qualification, reward evaluation, Pipedrive links, sync state, events); every unit of
 * work is one store transaction, so a failed item leaves nothing behind.
 */
export class ReferralProgram {
	/** Claiming, confirming and managing rewards. */
	readonly rewards: RewardDesk;

	private readonly ctx: ProgramContext;

	constructor(store: ReferralStore, clock: () => Date = () => new Date(), options: ProgramOptions = {}) {
		const publicUrl = options.publicUrl ?? noPublicUrl;
		const resolved = withResolvedLinks(store, publicUrl);
		this.ctx = { store: resolved, publicUrl, now: () => clock().toISOString() };
		this.rewards = new RewardDesk(resolved, clock);
	}

	// ---- campaigns ----

	/** Without a link template, links point at this n8n's referred-signup form (`{{n8nUrl}}/form/refer`). */
	createCampaign(input: CampaignInput, defaultLinkTemplate = DEFAULT_LINK_TEMPLATE): Promise<Campaign> {
		return campaigns.createCampaign(this.ctx, input, defaultLinkTemplate);
	}

	/** Creates the campaign, or returns the one that already has its slug, unchanged (`created` false). */
	ensureCampaign(input: CampaignInput, defaultLinkTemplate = DEFAULT_LINK_TEMPLATE): Promise<{ campaign: Campaign; created: boolean }> {
		return campaigns.ensureCampaign(this.ctx, input, defaultLinkTemplate);
	}

	findCampaign(ref: { id: number } | { slug: string }): Promise<Campaign | null> {
		return campaigns.findCampaign(this.ctx, ref);
	}

	getCampaign(ref: { id: number } | { slug: string }): Promise<Campaign> {
		return campaigns.getCampaign(this.ctx, ref);
	}

	listCampaigns(filter: { status?: CampaignStatus[]; search?: string }, page: Page): Promise<Campaign[]> {
		return campaigns.listCampaigns(this.ctx, filter, page);
	}

	/** A new link template re-renders every participant's link in the same transaction. */
	updateCampaign(id: number, update: CampaignUpdate): Promise<Campaign> {
		return campaigns.updateCampaign(this.ctx, id, update);
	}

	getCampaignStats(id: number, topReferrers = 10): Promise<CampaignStats> {
		return campaigns.getCampaignStats(this.ctx, id, topReferrers);
	}

	/** The dashboard's figures over a period in a time zone; the cost follows the period, not the campaign's size. */
	getDashboardFigures(id: number, options: FigureOptions = {}): Promise<DashboardFigures> {
		return getDashboardFigures(this.ctx, id, options);
	}

	// ---- enrolment and registration ----

	/** Enrols referrers; enrolling someone again returns the same code and link. */
	enrol(campaignId: number, inputs: EnrolInput[], options: EnrolOptions): Promise<Array<Outcome<EnrolResult>>> {
		return enrolment.enrol(this.ctx, campaignId, inputs, options);
	}

	/** Registers referred people under the referrer owning each code; first referral wins. */
	registerReferred(campaignId: number, inputs: RegisterInput[], options: BatchOptions): Promise<Array<Outcome<RegisterResult>>> {
		return registration.registerReferred(this.ctx, campaignId, inputs, options);
	}

	// ---- the public forms ----

	/** Honeypot, signed render time and a stamp used once: is this form submission a bot's? */
	checkFormSubmission(input: { trap: unknown; stamp: unknown }, key: string, policy: StampPolicy): Promise<FormCheck> {
		return formStamp.checkFormSubmission(this.ctx, input, key, policy);
	}

	// ---- review of held referrals ----

	/** Approves a referral a fraud rule held: it goes on as if it had just arrived, once. */
	approveReferral(campaignId: number, ref: ParticipantRef): Promise<ReviewResult> {
		return review.approveReferral(this.ctx, campaignId, ref);
	}

	/** Rejects a referral a fraud rule held, with the reviewer's reason. */
	rejectReferral(campaignId: number, ref: ParticipantRef, reason: unknown): Promise<ReviewResult> {
		return review.rejectReferral(this.ctx, campaignId, ref, reason);
	}

	/** Referrals of a campaign waiting for review, with why they were held (paged by participant id). */
	listHeldReferrals(campaignId: number, page: Page): Promise<HeldReferral[]> {
		return review.listHeldReferrals(this.ctx, campaignId, page);
	}

	// ---- participants ----

	findParticipant(campaignId: number, ref: ParticipantRef): Promise<Participant | null> {
		return participants.findParticipant(this.ctx, campaignId, ref);
	}

	getParticipant(campaignId: number, ref: ParticipantRef): Promise<Participant> {
		return participants.getParticipant(this.ctx, campaignId, ref);
	}

	/** Participants by id, in any campaign, keyed by id; ids that do not exist are absent. */
	participantsById(ids: number[]): Promise<Map<number, Participant>> {
		return participants.participantsById(this.ctx, ids);
	}

	listParticipants(campaignId: number, filter: ParticipantFilter, page: Page): Promise<Participant[]> {
		return participants.listParticipants(this.ctx, campaignId, filter, page);
	}

	updateParticipant(campaignId: number, ref: ParticipantRef, update: ParticipantUpdate): Promise<Participant> {
		return participants.updateParticipant(this.ctx, campaignId, ref, update);
	}

	/** Removes the person's data and keeps an anonymous row, so counts and the event log stay right. */
	eraseParticipant(campaignId: number, ref: ParticipantRef): Promise<Participant> {
		return erasure.eraseParticipant(this.ctx, campaignId, ref);
	}

	// ---- qualification and rewards ----

	/** Qualifies or un-qualifies a referral, with its rewards, once per change. */
	qualify(lookup: ReferralLookup, input: QualifyInput): Promise<QualifyResult> {
		return qualification.qualify(this.ctx, lookup, input);
	}

	/** Which of these codes belong to a referred person of the campaign; returned normalised. */
	referralCodesIn(campaignId: number, codes: unknown[]): Promise<Set<string>> {
		return qualification.referralCodesIn(this.ctx, campaignId, codes);
	}

	/** Back-fills the rewards the current rules imply (after a rule change); idempotent. */
	evaluateRewards(campaignId: number): Promise<{ referrers: number; created: number }> {
		return evaluateRewards(this.ctx, campaignId);
	}

	// ---- Pipedrive links ----

	findByPipedrivePersons(campaignId: number, personIds: number[]): Promise<Participant[]> {
		return pipedriveLinks.findByPipedrivePersons(this.ctx, campaignId, personIds);
	}

	findByPipedriveRecords(ids: PipedriveIds, campaignId?: number): Promise<Participant[]> {
		return pipedriveLinks.findByPipedriveRecords(this.ctx, ids, campaignId);
	}

	linkPipedrive(participantId: number, ids: { personId?: number; leadId?: string; dealId?: number }): Promise<Participant> {
		return pipedriveLinks.linkPipedrive(this.ctx, participantId, ids);
	}

	referralCounts(referrerIds: number[]): Promise<Map<number, ReferralCounts>> {
		return pipedriveLinks.referralCounts(this.ctx, referrerIds);
	}

	// ---- sync state ----

	getSyncState(campaignId: number, key: string): Promise<Record<string, unknown> | null> {
		return syncState.getSyncState(this.ctx, campaignId, key);
	}

	saveSyncState(campaignId: number, key: string, state: Record<string, unknown>): Promise<void> {
		return syncState.saveSyncState(this.ctx, campaignId, key, state);
	}

	/** Runs `task` while holding the lease `key`, across executions and workers. */
	exclusively<T>(key: string, leaseMs: number, sleep: (ms: number) => Promise<unknown>, task: () => Promise<T>): Promise<T> {
		return syncState.exclusively(this.ctx, key, leaseMs, sleep, task);
	}

	// ---- qualification rule (what counts as qualified in Pipedrive) ----

	getQualificationRule(campaignId: number): Promise<QualificationRule> {
		return qualificationRule.getQualificationRule(this.ctx, campaignId);
	}

	setQualificationRule(campaignId: number, rule: QualificationRule): Promise<boolean> {
		return qualificationRule.setQualificationRule(this.ctx, campaignId, rule);
	}

	/** Of these idempotency keys, the ones applied before (a read: a pass skips them without writing). */
	appliedKeys(keys: string[]): Promise<Set<string>> {
		return this.ctx.store.read(async (tx) => new Set(await tx.findIdempotencyKeys(keys)));
	}

	// ---- Pipedrive send state ----

	queueSend(input: QueueSendInput): Promise<PipedriveSend> {
		return sendState.queueSend(this.ctx, input);
	}

	markSendDone(participantId: number): Promise<void> {
		return sendState.markSent(this.ctx, participantId);
	}

	markSendFailed(send: PipedriveSend, error: string, attempts: number): Promise<void> {
		return sendState.markFailed(this.ctx, send, error, attempts);
	}

	claimDueSends(leaseMs: number, limit: number): Promise<PipedriveSend[]> {
		return sendState.claimDueSends(this.ctx, leaseMs, limit);
	}

	retryFailedSends(filter: Omit<PipedriveSendFilter, 'state'>, limit: number): Promise<PipedriveSend[]> {
		return sendState.retryFailedSends(this.ctx, filter, limit);
	}

	msSinceLastQueuedFailure(): Promise<number | null> {
		return sendState.msSinceLastQueuedFailure(this.ctx);
	}

	listSends(filter: PipedriveSendFilter, limit: number): Promise<PipedriveSend[]> {
		return sendState.listSends(this.ctx, filter, limit);
	}

	// ---- event log ----

	listEvents(
		filter: { afterId?: number; types?: EventType[]; campaignId?: number },
		limit: number,
		order: 'asc' | 'desc',
	): Promise<ReferralEvent[]> {
		return events.listEvents(this.ctx, filter, limit, order);
	}

	logProgramEvent(campaignId: number, type: EventType, payload: Record<string, unknown>): Promise<void> {
		return events.logProgramEvent(this.ctx, campaignId, type, payload);
	}

	latestEventId(): Promise<number> {
		return events.latestEventId(this.ctx);
	}
}
