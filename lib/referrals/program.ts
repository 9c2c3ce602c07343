import { randomUUID } from 'node:crypto';
import type {
	CampaignPatch,
	EventInsert,
	ParticipantFilter,
	ParticipantInsert,
	ParticipantPatch,
	Page,
	PipedriveIds,
	ReferralCounts,
	ReferralStore,
	StoreTransaction,
} from '../store/types';
import { codeOrNull, generateCode, normalizeCode, parseCodeSettings } from './codes';
import { emailDomain, emailIdentity, normalizeEmail } from './email';
import { ItemFailedError, ReferralError, invalidInput } from './errors';
import { grantImpliedRewards, grantOnQualification, grantRegistrationReward, ledgerEvents, withdrawRewards, type LedgerChange } from './ledger';
import { RewardDesk } from './issuing';
import { findPeople } from './people';
import { parseRewardRules } from './rewards';
import { DEFAULT_LINK_TEMPLATE, parseLinkTemplate, renderLink, resolveLink, withResolvedLinks } from './links';
import type { Campaign, CampaignStats, CampaignStatus, Participant, ParticipantSource, ReferralStatus } from './model';
import {
	DEFAULT_FRAUD_SETTINGS,
	parseCampaignName,
	parseCampaignStatus,
	parseFraudSettings,
	parseMetadata,
	parseName,
	parseSlug,
	parseSource,
	slugify,
} from './validation';

export interface ProgramOptions {
	/**
	 * This n8n's public URL, for links made from `{{n8nUrl}}` templates (the default); asked only
	 * when such a link is read. May throw when the process cannot know it (a queue-mode worker
	 * without WEBHOOK_URL).
	 */
	publicUrl?: () => string;
}

/** How often a caller waiting for a lease asks again. */
const LEASE_POLL_MS = 100;

/** Each batch item ends as a value or as the error that stopped it. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

export interface BatchOptions {
	/**
	 * True: the first failing item aborts the whole batch with an ItemFailedError and nothing is
	 * written. False: failing items get an error outcome and the others are written.
	 */
	stopOnError: boolean;
}

export interface EnrolOptions extends BatchOptions {
	/**
	 * Someone already in the campaign: true (default) fills their missing names and merges the
	 * metadata given; false leaves their record exactly as it is (for public forms, where anyone can
	 * type anyone's email).
	 */
	updateExisting?: boolean;
}

export interface EnrolInput {
	email: unknown;
	firstName?: unknown;
	lastName?: unknown;
	source?: unknown;
	metadata?: unknown;
	/** The Pipedrive person the participant is (contact sync); linked when given. */
	pipedrivePersonId?: unknown;
}

export interface EnrolResult {
	participant: Participant;
	created: boolean;
}

export interface RegisterInput {
	code: unknown;
	email: unknown;
	firstName?: unknown;
	lastName?: unknown;
	metadata?: unknown;
}

export interface RegisterResult {
	participant: Participant;
	/** Who referred the person: for an already registered person, whoever referred them first. */
	referrer: Participant | null;
	/** False when the person was already in the campaign: nothing changed. */
	created: boolean;
}

export interface CampaignInput {
	name: unknown;
	slug?: unknown;
	status?: unknown;
	linkTemplate?: unknown;
	codeLength?: unknown;
	codePrefix?: unknown;
	blockedEmailDomains?: unknown;
	maxReferralsPerReferrerPerDay?: unknown;
	/** Reward rules, as JSON text or an object (see RewardRules). */
	rewardRules?: unknown;
}

export type CampaignUpdate = Partial<CampaignInput>;

export interface ParticipantUpdate {
	firstName?: unknown;
	lastName?: unknown;
	metadata?: unknown;
	/** Merge (default) adds and overwrites keys; replace sets the metadata to exactly what is given. */
	metadataMode?: 'merge' | 'replace';
}

export type ParticipantRef = { id: number } | { email: unknown } | { code: unknown };

/**
 * How a referral to qualify is found. Codes and Pipedrive ids are unique across campaigns, so
 * `campaignId` is optional for them: given, a referral of another campaign counts as not found.
 */
export type ReferralLookup = (
	| { code: unknown }
	| { email: unknown; campaignId: number }
	| { pipedriveDealId: unknown }
	| { pipedriveLeadId: unknown }
	| { id: number }
) & { campaignId?: number };

export interface QualifyInput {
	action: 'qualify' | 'unqualify';
	/** The referred person's purchase, for commission rewards. */
	saleValue?: unknown;
	currency?: unknown;
	/**
	 * Identifies this qualification (e.g. the Pipedrive event id, an order id): a key seen before is
	 * not applied again, so a delivery retried after a later change cannot undo that change.
	 */
	idempotencyKey?: unknown;
	/** Where the qualification came from, kept in the event (e.g. "pipedrive", "code"). */
	via?: string;
}

export interface QualifyResult {
	participant: Participant;
	referrer: Participant | null;
	previousStatus: ReferralStatus;
	status: ReferralStatus;
	/** False when the referral already had the requested status, or the key was applied before. */
	changed: boolean;
	/** True when the idempotency key had been applied before. */
	duplicate: boolean;
}

interface Pending<T> {
	index: number;
	input: T;
}

interface ValidEnrol {
	email: string;
	/** Who the email belongs to (emailIdentity): one participant per identity and campaign. */
	identity: string;
	firstName: string | null;
	lastName: string | null;
	source: ParticipantSource;
	metadata: Record<string, unknown>;
	pipedrivePersonId: number | null;
}

interface ValidRegister {
	code: string;
	email: string;
	identity: string;
	firstName: string | null;
	lastName: string | null;
	metadata: Record<string, unknown>;
}

// Store calls take at most this many rows or keys at once.
const CHUNK = 500;
// A fresh code colliding with a live one has odds of about n / 2^44; five misses in a row mean
// something else is wrong.
const CODE_ATTEMPTS = 5;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * The referral program's rules over a store: campaigns, enrolment and attribution. Every unit of
 * work is one store transaction, so a failed item leaves nothing behind.
 */
export class ReferralProgram {
	/** Claiming, confirming and managing rewards. */
	readonly rewards: RewardDesk;

	private readonly store: ReferralStore;
	private readonly publicUrl: () => string;

	constructor(
		store: ReferralStore,
		private readonly clock: () => Date = () => new Date(),
		options: ProgramOptions = {},
	) {
		this.publicUrl = options.publicUrl ?? noPublicUrl;
		this.store = withResolvedLinks(store, this.publicUrl);
		this.rewards = new RewardDesk(this.store, clock);
	}

	// ---- campaigns ----

	/** Without a link template, links point at this n8n's referred-signup form (`{{n8nUrl}}/form/refer`). */
	async createCampaign(input: CampaignInput, defaultLinkTemplate = DEFAULT_LINK_TEMPLATE): Promise<Campaign> {
		const name = parseCampaignName(input.name);
		const slug = isBlank(input.slug) ? slugify(name) : parseSlug(input.slug);
		const row = {
			slug,
			name,
			status: input.status === undefined ? 'active' : parseCampaignStatus(input.status),
			linkTemplate: parseLinkTemplate(isBlank(input.linkTemplate) ? defaultLinkTemplate : input.linkTemplate),
			codeSettings: parseCodeSettings({ length: input.codeLength, prefix: input.codePrefix }),
			fraudSettings: parseFraudSettings({
				blockedEmailDomains: input.blockedEmailDomains ?? DEFAULT_FRAUD_SETTINGS.blockedEmailDomains,
				maxReferralsPerReferrerPerDay: input.maxReferralsPerReferrerPerDay,
			}),
			rewardRules: parseRewardRules(input.rewardRules),
		};
		const campaign = await this.store.transaction((tx) => tx.insertCampaign(row, this.now()));
		if (!campaign) {
			throw new ReferralError(
				'conflict',
				`A campaign with the slug "${slug}" already exists`,
				'slug',
				'Choose another slug, or use Update to change the existing campaign',
			);
		}
		return campaign;
	}

	/**
	 * Creates the campaign, or returns the one that already has its slug, unchanged (`created`
	 * false): the settings given apply only when it is new. Lets a workflow set up its campaign on
	 * first use; concurrent first uses create it once.
	 */
	async ensureCampaign(
		input: CampaignInput,
		defaultLinkTemplate = DEFAULT_LINK_TEMPLATE,
	): Promise<{ campaign: Campaign; created: boolean }> {
		try {
			return { campaign: await this.createCampaign(input, defaultLinkTemplate), created: true };
		} catch (error) {
			if (!(error instanceof ReferralError && error.kind === 'conflict' && error.field === 'slug')) throw error;
			const slug = isBlank(input.slug) ? slugify(parseCampaignName(input.name)) : parseSlug(input.slug);
			return { campaign: await this.getCampaign({ slug }), created: false };
		}
	}

	async findCampaign(ref: { id: number } | { slug: string }): Promise<Campaign | null> {
		return await this.store.read((tx) => tx.getCampaign(ref));
	}

	async getCampaign(ref: { id: number } | { slug: string }): Promise<Campaign> {
		return requireCampaign(await this.findCampaign(ref), ref);
	}

	async listCampaigns(
		filter: { status?: CampaignStatus[]; search?: string },
		page: Page,
	): Promise<Campaign[]> {
		return await this.store.read((tx) => tx.listCampaigns(filter, page));
	}

	/** A new link template re-renders every participant's link in the same transaction. */
	async updateCampaign(id: number, update: CampaignUpdate): Promise<Campaign> {
		return await this.store.transaction(async (tx) => {
			const current = requireCampaign(await tx.getCampaign({ id }), { id });
			const patch: CampaignPatch = {};
			if (update.name !== undefined) patch.name = parseCampaignName(update.name);
			if (update.status !== undefined) patch.status = parseCampaignStatus(update.status);
			if (update.linkTemplate !== undefined) patch.linkTemplate = parseLinkTemplate(update.linkTemplate);
			if (update.codeLength !== undefined || update.codePrefix !== undefined) {
				patch.codeSettings = parseCodeSettings({
					length: update.codeLength ?? current.codeSettings.length,
					prefix: update.codePrefix ?? current.codeSettings.prefix,
				});
			}
			if (update.blockedEmailDomains !== undefined || update.maxReferralsPerReferrerPerDay !== undefined) {
				patch.fraudSettings = parseFraudSettings({
					blockedEmailDomains: update.blockedEmailDomains ?? current.fraudSettings.blockedEmailDomains,
					maxReferralsPerReferrerPerDay:
						update.maxReferralsPerReferrerPerDay ?? current.fraudSettings.maxReferralsPerReferrerPerDay,
				});
			}
			if (update.rewardRules !== undefined) patch.rewardRules = parseRewardRules(update.rewardRules);
			const now = this.now();
			const updated = requireCampaign(await tx.updateCampaign(id, patch, now), { id });
			if (patch.linkTemplate !== undefined && patch.linkTemplate !== current.linkTemplate) {
				await this.rerenderLinks(tx, updated, now);
			}
			return updated;
		});
	}

	async getCampaignStats(id: number, topReferrers = 10): Promise<CampaignStats> {
		return await this.store.read(async (tx) => {
			requireCampaign(await tx.getCampaign({ id }), { id });
			return await tx.campaignStats(id, topReferrers);
		});
	}

	// ---- participants ----

	/**
	 * Enrols people as participants (referrers). Enrolling someone again returns the same code and
	 * link; given names and metadata update the existing participant.
	 */
	async enrol(
		campaignId: number,
		inputs: EnrolInput[],
		options: EnrolOptions,
	): Promise<Array<Outcome<EnrolResult>>> {
		return await this.runBatch(inputs, options, validateEnrol, (tx, items, now) =>
			this.enrolInTransaction(tx, campaignId, items, now, options),
		);
	}

	/**
	 * Registers referred people under the referrer owning each code. First referral wins: a person
	 * already in the campaign is returned as is, never re-attributed.
	 */
	async registerReferred(
		campaignId: number,
		inputs: RegisterInput[],
		options: BatchOptions,
	): Promise<Array<Outcome<RegisterResult>>> {
		return await this.runBatch(inputs, options, validateRegister, (tx, items, now) =>
			this.registerInTransaction(tx, campaignId, items, now, options),
		);
	}

	async findParticipant(campaignId: number, ref: ParticipantRef): Promise<Participant | null> {
		return await this.store.read((tx) => findParticipantIn(tx, campaignId, ref));
	}

	async getParticipant(campaignId: number, ref: ParticipantRef): Promise<Participant> {
		return requireParticipant(await this.findParticipant(campaignId, ref), ref);
	}

	/** Participants by id, in any campaign, keyed by id; ids that do not exist are absent. */
	async participantsById(ids: number[]): Promise<Map<number, Participant>> {
		const found = new Map<number, Participant>();
		for (const batch of chunks(unique(ids))) {
			for (const participant of await this.store.read((tx) => tx.getParticipants(batch))) found.set(participant.id, participant);
		}
		return found;
	}

	async listParticipants(
		campaignId: number,
		filter: ParticipantFilter,
		page: Page,
	): Promise<Participant[]> {
		return await this.store.read((tx) => tx.listParticipants(campaignId, filter, page));
	}

	async updateParticipant(
		campaignId: number,
		ref: ParticipantRef,
		update: ParticipantUpdate,
	): Promise<Participant> {
		const patch: ParticipantPatch = {};
		if (update.firstName !== undefined) patch.firstName = parseName(update.firstName, 'firstName');
		if (update.lastName !== undefined) patch.lastName = parseName(update.lastName, 'lastName');
		const metadata = update.metadata === undefined ? undefined : parseMetadata(update.metadata);
		return await this.store.transaction(async (tx) => {
			const current = requireParticipant(await findParticipantIn(tx, campaignId, ref), ref);
			if (current.erasedAt) {
				throw new ReferralError('conflict', `Participant ${current.id} was erased and cannot be updated`, 'participant');
			}
			if (metadata !== undefined) {
				patch.metadata = update.metadataMode === 'replace' ? metadata : { ...current.metadata, ...metadata };
			}
			if (!differs(current, patch)) return current;
			return requireParticipant(await tx.updateParticipant(current.id, patch, this.now()), ref);
		});
	}

	/**
	 * Erasure: removes the person's data and keeps an anonymous row, so the referrer's counts,
	 * statuses and the event log stay right.
	 */
	async eraseParticipant(campaignId: number, ref: ParticipantRef): Promise<Participant> {
		const result = await this.store.transaction(async (tx) => {
			const current = requireParticipant(await findParticipantIn(tx, campaignId, ref), ref);
			if (current.erasedAt) return current;
			const now = this.now();
			const erased = requireParticipant(await tx.eraseParticipant(current.id, now), ref);
			await tx.appendEvents(
				[
					{
						type: 'participant.erased',
						campaignId,
						participantId: current.id,
						referrerId: current.referredBy,
						payload: {},
					},
				],
				now,
			);
			return erased;
		});
		// Erased means erased in every file of the store, the write-ahead log included.
		await this.store.scrub();
		return result;
	}

	// ---- qualification ----

	/**
	 * Qualifies or un-qualifies a referral: pending → qualified → unqualified → qualified again.
	 * One transaction writes the status, the sale value and the event; the same qualification
	 * delivered any number of times, at once or not, changes the status once.
	 */
	async qualify(lookup: ReferralLookup, input: QualifyInput): Promise<QualifyResult> {
		if (input.action !== 'qualify' && input.action !== 'unqualify') {
			throw invalidInput('action', 'The action must be qualify or unqualify');
		}
		const sale = parseSale(input.saleValue, input.currency);
		const key = input.idempotencyKey === undefined || input.idempotencyKey === null || input.idempotencyKey === ''
			? null
			: parseIdempotencyKey(input.idempotencyKey);
		const found = await this.store.read((tx) => findReferralIn(tx, lookup));
		return await this.store.transaction(async (tx) => {
			// Row locks on the referral and its referrer: concurrent deliveries for one referral, and
			// qualifications of one referrer's referrals (whose rewards depend on how many qualified),
			// apply one after the other.
			await tx.lockParticipants(found.referredBy === null ? [found.id] : [found.referredBy, found.id]);
			const current = requireParticipant(await tx.getParticipant(found.id), { id: found.id });
			const referrer = current.referredBy === null ? null : await tx.getParticipant(current.referredBy);
			const unchanged = { participant: current, referrer, previousStatus: current.referralStatus, status: current.referralStatus, changed: false };
			if (key !== null && !(await tx.claimIdempotencyKey(key, current.id, this.now()))) {
				return { ...unchanged, duplicate: true };
			}
			const status = input.action === 'qualify' ? 'qualified' : 'unqualified';
			if (current.referralStatus === status) return { ...unchanged, duplicate: false };
			const now = this.now();
			const patch: ParticipantPatch = { referralStatus: status };
			if (status === 'qualified') {
				patch.qualifiedAt = now;
				if (sale) Object.assign(patch, { saleValue: sale.value, saleCurrency: sale.currency });
			}
			const updated = requireParticipant(await tx.updateParticipant(current.id, patch, now), { id: current.id });
			const campaign = requireCampaign(await tx.getCampaign({ id: current.campaignId }), { id: current.campaignId });
			const ledger: LedgerChange =
				status === 'qualified'
					? { created: await grantOnQualification(tx, campaign, updated, now), cancelled: [], reversalNeeded: [] }
					: await withdrawRewards(tx, campaign, updated, now);
			await tx.appendEvents(
				[
					{
						type: status === 'qualified' ? 'referral.qualified' : 'referral.unqualified',
						campaignId: current.campaignId,
						participantId: current.id,
						referrerId: current.referredBy,
						payload: {
							code: current.code,
							previousStatus: current.referralStatus,
							saleValue: updated.saleValue,
							currency: updated.saleCurrency,
							via: input.via ?? null,
							idempotencyKey: key,
						},
					},
					...ledgerEvents(ledger, status === 'qualified' ? 'qualification' : 'unqualification'),
				],
				now,
			);
			return { participant: updated, referrer, previousStatus: current.referralStatus, status, changed: true, duplicate: false };
		});
	}

	/**
	 * Which of these codes (as typed anywhere: any case, spaces, garbage) belong to a referred
	 * person of the campaign; returned normalised. For filtering deliveries before any execution.
	 */
	async referralCodesIn(campaignId: number, codes: unknown[]): Promise<Set<string>> {
		const valid = unique(codes.map(codeOrNull).filter((code): code is string => code !== null));
		const found = new Set<string>();
		for (const batch of chunks(valid)) {
			for (const participant of await this.store.read((tx) => tx.findParticipantsByCode(batch))) {
				if (participant.campaignId === campaignId && participant.referredBy !== null) found.add(participant.code);
			}
		}
		return found;
	}

	/**
	 * Back-fills the rewards the campaign's current rules imply for referrals qualified (or
	 * registered) before: after a rule change. Idempotent: existing rewards are never duplicated.
	 */
	async evaluateRewards(campaignId: number): Promise<{ referrers: number; created: number }> {
		const campaign = await this.getCampaign({ id: campaignId });
		const referrers = new Map<number, number[]>();
		let afterId: number | undefined;
		for (;;) {
			const page = await this.store.read((tx) =>
				tx.listParticipants(campaignId, { source: ['referred'], includeErased: true }, { limit: CHUNK, afterId }),
			);
			for (const referral of page) {
				if (referral.referredBy === null) continue;
				const ids = referrers.get(referral.referredBy) ?? [];
				ids.push(referral.id);
				referrers.set(referral.referredBy, ids);
			}
			if (page.length < CHUNK) break;
			afterId = page[page.length - 1].id;
		}
		let created = 0;
		for (const [referrerId, referralIds] of referrers) {
			created += await this.store.transaction(async (tx) => {
				// As a qualification does: the referrer's row lock before their tally and rewards.
				await tx.lockParticipants([referrerId]);
				const now = this.now();
				const change: LedgerChange = { created: [], cancelled: [], reversalNeeded: [] };
				change.created.push(...(await grantImpliedRewards(tx, campaign, referrerId, referralIds, now)));
				for (const id of referralIds) {
					const referral = await tx.getParticipant(id);
					if (referral) change.created.push(...(await grantRegistrationReward(tx, campaign, referral, now)));
				}
				await appendInChunks(tx, ledgerEvents(change, 'evaluation'), now);
				return change.created.length;
			});
		}
		return { referrers: referrers.size, created };
	}

	// ---- Pipedrive links ----

	/** The campaign's participants linked to these Pipedrive persons. */
	async findByPipedrivePersons(campaignId: number, personIds: number[]): Promise<Participant[]> {
		if (personIds.length === 0) return [];
		return await this.store.read((tx) => tx.findParticipantsByPipedrive({ personIds }, campaignId));
	}

	/** Participants (of any campaign, or of one) created for these Pipedrive deals or leads. */
	async findByPipedriveRecords(ids: PipedriveIds, campaignId?: number): Promise<Participant[]> {
		return await this.store.read((tx) => tx.findParticipantsByPipedrive(ids, campaignId));
	}

	/** Records which Pipedrive person, lead and deal a participant is; only changed values are written. */
	async linkPipedrive(
		participantId: number,
		ids: { personId?: number; leadId?: string; dealId?: number },
	): Promise<Participant> {
		return await this.store.transaction(async (tx) => {
			const current = requireParticipant(await tx.getParticipant(participantId), { id: participantId });
			const patch: ParticipantPatch = {};
			if (ids.personId !== undefined) patch.pipedrivePersonId = ids.personId;
			if (ids.leadId !== undefined) patch.pipedriveLeadId = ids.leadId;
			if (ids.dealId !== undefined) patch.pipedriveDealId = ids.dealId;
			if (!differs(current, patch)) return current;
			return requireParticipant(await tx.updateParticipant(participantId, patch, this.now()), { id: participantId });
		});
	}

	/** Referrals and qualified referrals per referrer, for the metrics written to Pipedrive. */
	async referralCounts(referrerIds: number[]): Promise<Map<number, ReferralCounts>> {
		const counts = new Map<number, ReferralCounts>();
		for (const batch of chunks(unique(referrerIds))) {
			for (const [id, count] of await this.store.read((tx) => tx.referralCounts(batch))) counts.set(id, count);
		}
		return counts;
	}

	async getSyncState(campaignId: number, key: string): Promise<Record<string, unknown> | null> {
		return await this.store.read((tx) => tx.getSyncState(campaignId, key));
	}

	async saveSyncState(campaignId: number, key: string, state: Record<string, unknown>): Promise<void> {
		await this.store.transaction((tx) => tx.setSyncState(campaignId, key, state, this.now()));
	}

	/**
	 * Runs `task` while holding the lease `key`: no other execution or worker runs a task with the
	 * same key meanwhile; a second caller waits until the first is done. A holder that dies keeps
	 * the lease for at most `leaseMs`. `sleep` waits between tries (lib/ uses no timers itself).
	 */
	async exclusively<T>(key: string, leaseMs: number, sleep: (ms: number) => Promise<unknown>, task: () => Promise<T>): Promise<T> {
		const holder = randomUUID();
		for (;;) {
			const now = this.now();
			const until = new Date(Date.parse(now) + leaseMs).toISOString();
			if (await this.store.transaction((tx) => tx.acquireLease(key, holder, until, now))) break;
			await sleep(LEASE_POLL_MS);
		}
		try {
			return await task();
		} finally {
			await this.store.transaction((tx) => tx.releaseLease(key, holder));
		}
	}

	// ---- event log ----
	// (types imported inline to keep this block apart from the import list)

	/**
	 * Events of the log, by id: `afterId` excludes it and everything before it. Ids increase in
	 * commit order, so a reader going forward from its last id never misses an event.
	 */
	async listEvents(
		filter: { afterId?: number; types?: Array<import('./model').EventType>; campaignId?: number },
		limit: number,
		order: 'asc' | 'desc',
	): Promise<Array<import('./model').ReferralEvent>> {
		if (filter.types !== undefined && filter.types.length === 0) return [];
		return await this.store.read((tx) => tx.listEvents(filter, limit, order));
	}

	/** The id of the newest event, 0 when the log is empty. */
	async latestEventId(): Promise<number> {
		const [latest] = await this.store.read((tx) => tx.listEvents({}, 1, 'desc'));
		return latest?.id ?? 0;
	}

	// ---- internals ----

	private now(): string {
		return this.clock().toISOString();
	}

	/**
	 * Validates every input, then writes all valid ones in one transaction. If that transaction
	 * fails for a reason that is not an item's fault (and the caller wants the others written),
	 * items are retried one per transaction so that only the culprit fails.
	 */
	private async runBatch<I, V, R>(
		inputs: I[],
		options: BatchOptions,
		validate: (input: I) => V,
		write: (tx: StoreTransaction, items: Array<Pending<V>>, now: string) => Promise<Map<number, Outcome<R>>>,
	): Promise<Array<Outcome<R>>> {
		const outcomes: Array<Outcome<R>> = new Array(inputs.length);
		const valid: Array<Pending<V>> = [];
		inputs.forEach((input, index) => {
			try {
				valid.push({ index, input: validate(input) });
			} catch (error) {
				if (!(error instanceof ReferralError)) throw error;
				if (options.stopOnError) throw new ItemFailedError(index, error);
				outcomes[index] = { ok: false, error };
			}
		});
		if (valid.length === 0) return outcomes;
		const runOnce = async (items: Array<Pending<V>>) => {
			const now = this.now();
			const written = await this.store.transaction((tx) => write(tx, items, now));
			for (const [index, outcome] of written) outcomes[index] = outcome;
		};
		try {
			await runOnce(valid);
		} catch (error) {
			if (options.stopOnError || error instanceof ItemFailedError || valid.length === 1) throw error;
			for (const item of valid) {
				try {
					await runOnce([item]);
				} catch (itemError) {
					outcomes[item.index] = { ok: false, error: itemError as Error };
				}
			}
		}
		return outcomes;
	}

	private async enrolInTransaction(
		tx: StoreTransaction,
		campaignId: number,
		items: Array<Pending<ValidEnrol>>,
		now: string,
		options: EnrolOptions,
	): Promise<Map<number, Outcome<EnrolResult>>> {
		const outcomes = new Map<number, Outcome<EnrolResult>>();
		const campaign = requireCampaign(await tx.getCampaign({ id: campaignId }), { id: campaignId });
		const people = await findPeople(tx, campaignId, items.map((item) => item.input.email));

		// Keyed by identity: two spellings of one person in a batch make one participant.
		const toCreate = new Map<string, Pending<ValidEnrol>>();
		for (const item of items) {
			if (people.find(item.input.email) || toCreate.has(item.input.identity)) continue;
			if (campaign.status === 'archived') {
				fail(outcomes, item.index, campaignInactive(campaign, 'accepts no new participants'), options);
				continue;
			}
			toCreate.set(item.input.identity, item);
		}
		const rows = [...toCreate.values()].map(({ input }) => ({
			campaignId,
			email: input.email,
			emailIdentity: input.identity,
			firstName: input.firstName,
			lastName: input.lastName,
			source: input.source,
			referredBy: null,
			referralStatus: 'none' as const,
			metadata: input.metadata,
			pipedrivePersonId: input.pipedrivePersonId,
		}));
		const created = await insertWithFreshCodes(tx, campaign, rows, now);
		for (const participant of created.inserted.values()) people.add(participant);
		for (const [identity, participant] of created.existing) {
			people.add(participant);
			toCreate.delete(identity);
		}

		for (const item of items) {
			if (outcomes.has(item.index)) continue;
			const { email, identity } = item.input;
			const isCreator = toCreate.get(identity) === item;
			let participant = people.find(email)!;
			if (!isCreator && options.updateExisting !== false) {
				const patch = enrolPatch(participant, item.input);
				if (patch) {
					participant = (await tx.updateParticipant(participant.id, patch, now)) ?? participant;
					people.add(participant);
				}
			}
			outcomes.set(item.index, { ok: true, value: { participant, created: isCreator } });
		}

		await appendInChunks(
			tx,
			[...created.inserted.values()].map((participant) => ({
				type: 'participant.enrolled' as const,
				campaignId,
				participantId: participant.id,
				referrerId: null,
				payload: { source: participant.source, code: participant.code },
			})),
			now,
		);
		return outcomes;
	}

	private async registerInTransaction(
		tx: StoreTransaction,
		campaignId: number,
		items: Array<Pending<ValidRegister>>,
		now: string,
		options: BatchOptions,
	): Promise<Map<number, Outcome<RegisterResult>>> {
		const outcomes = new Map<number, Outcome<RegisterResult>>();
		const campaign = requireCampaign(await tx.getCampaign({ id: campaignId }), { id: campaignId });
		const people = await findPeople(tx, campaignId, items.map((item) => item.input.email));
		const referrersByCode = new Map<string, Participant>();
		for (const codes of chunks(unique(items.map((item) => item.input.code)))) {
			for (const participant of await tx.findParticipantsByCode(codes)) {
				if (participant.campaignId === campaignId && !participant.erasedAt) {
					referrersByCode.set(participant.code, participant);
				}
			}
		}

		const dailyLimit = campaign.fraudSettings.maxReferralsPerReferrerPerDay;
		const referralsToday = new Map<number, number>();
		if (dailyLimit > 0 && referrersByCode.size > 0) {
			// Row locks make concurrent registrations for one referrer count one after the other.
			const ids = [...referrersByCode.values()].map((referrer) => referrer.id).sort((a, b) => a - b);
			await tx.lockParticipants(ids);
			const since = new Date(Date.parse(now) - DAY_MS).toISOString();
			for (const [id, count] of await tx.countReferralsSince(ids, since)) referralsToday.set(id, count);
		}

		const toCreate = new Map<string, { item: Pending<ValidRegister>; referrer: Participant }>();
		for (const item of items) {
			const { email, identity, code } = item.input;
			const referrer = referrersByCode.get(code);
			// Checked before "already registered": using one's own code is refused as what it is.
			if (referrer?.email && emailIdentity(referrer.email) === identity) {
				fail(outcomes, item.index, selfReferral(item.input, referrer), options);
				continue;
			}
			// First referral wins, whichever spelling of the address the person types this time.
			if (people.find(email) || toCreate.has(identity)) continue;
			const error = this.refusal(campaign, item.input, referrer, referralsToday);
			if (error) {
				fail(outcomes, item.index, error, options);
				continue;
			}
			referralsToday.set(referrer!.id, (referralsToday.get(referrer!.id) ?? 0) + 1);
			toCreate.set(identity, { item, referrer: referrer! });
		}

		const rows = [...toCreate.values()].map(({ item: { input }, referrer }) => ({
			campaignId,
			email: input.email,
			emailIdentity: input.identity,
			firstName: input.firstName,
			lastName: input.lastName,
			source: 'referred' as const,
			referredBy: referrer.id,
			referralStatus: 'pending' as const,
			metadata: input.metadata,
		}));
		const created = await insertWithFreshCodes(tx, campaign, rows, now);
		for (const participant of created.inserted.values()) people.add(participant);
		for (const [identity, participant] of created.existing) {
			people.add(participant);
			toCreate.delete(identity);
		}

		const referrersById = new Map<number, Participant>();
		for (const referrer of referrersByCode.values()) referrersById.set(referrer.id, referrer);
		for (const item of items) {
			if (outcomes.has(item.index)) continue;
			const participant = people.find(item.input.email)!;
			let referrer: Participant | null = null;
			if (participant.referredBy !== null) {
				referrer = referrersById.get(participant.referredBy) ?? (await tx.getParticipant(participant.referredBy));
				if (referrer) referrersById.set(referrer.id, referrer);
			}
			const created = toCreate.get(item.input.identity)?.item === item;
			outcomes.set(item.index, { ok: true, value: { participant, referrer, created } });
		}

		const registrationRewards: LedgerChange = { created: [], cancelled: [], reversalNeeded: [] };
		for (const { item } of toCreate.values()) {
			registrationRewards.created.push(...(await grantRegistrationReward(tx, campaign, people.find(item.input.email)!, now)));
		}
		await appendInChunks(
			tx,
			[
				...[...toCreate.values()].map(({ item, referrer }) => {
					const participant = people.find(item.input.email)!;
					return {
						type: 'referral.registered' as const,
						campaignId,
						participantId: participant.id,
						referrerId: referrer.id,
						payload: { code: participant.code, referrerCode: referrer.code },
					};
				}),
				...ledgerEvents(registrationRewards, 'registration'),
			],
			now,
		);
		return outcomes;
	}

	/** Why a new referral may not be registered, or null when it may. */
	private refusal(
		campaign: Campaign,
		input: ValidRegister,
		referrer: Participant | undefined,
		referralsToday: Map<number, number>,
	): ReferralError | null {
		if (campaign.status !== 'active') return campaignInactive(campaign, 'accepts no new referrals');
		if (!referrer) {
			return new ReferralError(
				'not_found',
				`No participant of campaign "${campaign.name}" has the referral code "${input.code}"`,
				'code',
				'Check the code in the referral link; codes are not case-sensitive',
			);
		}
		if (campaign.fraudSettings.blockedEmailDomains.includes(emailDomain(input.email))) {
			return new ReferralError(
				'fraud_blocked',
				`Referrals from email addresses at ${emailDomain(input.email)} are blocked in campaign "${campaign.name}"`,
				'email',
			);
		}
		const limit = campaign.fraudSettings.maxReferralsPerReferrerPerDay;
		if (limit > 0 && (referralsToday.get(referrer.id) ?? 0) >= limit) {
			return new ReferralError(
				'fraud_blocked',
				`The referrer with code "${referrer.code}" reached the limit of ${limit} referrals in 24 hours`,
				'code',
			);
		}
		return null;
	}

	private async rerenderLinks(tx: StoreTransaction, campaign: Campaign, now: string): Promise<void> {
		let afterId = 0;
		for (;;) {
			const page = await tx.listParticipants(campaign.id, { includeErased: true }, { limit: CHUNK, afterId });
			for (const participant of page) {
				// Participants come with their links resolved; the stored link keeps {{n8nUrl}}.
				const link = renderLink(campaign.linkTemplate, participant.code);
				if (resolveLink(link, this.publicUrl) !== participant.link) await tx.updateParticipant(participant.id, { link }, now);
			}
			if (page.length < CHUNK) return;
			afterId = page[page.length - 1].id;
		}
	}
}

function validateEnrol(input: EnrolInput): ValidEnrol {
	const email = normalizeEmail(input.email);
	return {
		email,
		identity: emailIdentity(email),
		firstName: parseName(input.firstName, 'firstName'),
		lastName: parseName(input.lastName, 'lastName'),
		source: input.source === undefined ? 'direct' : parseSource(input.source),
		metadata: parseMetadata(input.metadata),
		pipedrivePersonId: parsePipedriveId(input.pipedrivePersonId, 'pipedrivePersonId'),
	};
}

function validateRegister(input: RegisterInput): ValidRegister {
	const email = normalizeEmail(input.email);
	return {
		code: normalizeCode(input.code),
		email,
		identity: emailIdentity(email),
		firstName: parseName(input.firstName, 'firstName'),
		lastName: parseName(input.lastName, 'lastName'),
		metadata: parseMetadata(input.metadata),
	};
}

/** What enrolling an existing participant again changes: given names and added metadata. */
function enrolPatch(current: Participant, input: ValidEnrol): ParticipantPatch | null {
	const patch: ParticipantPatch = {};
	if (input.firstName !== null) patch.firstName = input.firstName;
	if (input.lastName !== null) patch.lastName = input.lastName;
	if (Object.keys(input.metadata).length > 0) patch.metadata = { ...current.metadata, ...input.metadata };
	if (input.pipedrivePersonId !== null) patch.pipedrivePersonId = input.pipedrivePersonId;
	return differs(current, patch) ? patch : null;
}

function differs(current: Participant, patch: ParticipantPatch): boolean {
	return Object.entries(patch).some(
		([key, value]) => JSON.stringify(current[key as keyof Participant]) !== JSON.stringify(value),
	);
}

/**
 * Inserts new participants with fresh codes, keyed by identity. A row the database skipped either
 * lost a race for its person (then it is returned under `existing`) or drew a code already in use
 * (then it is retried with another code).
 */
async function insertWithFreshCodes(
	tx: StoreTransaction,
	campaign: Campaign,
	rows: Array<Omit<ParticipantInsert, 'code' | 'link'>>,
	now: string,
): Promise<{ inserted: Map<string, Participant>; existing: Map<string, Participant> }> {
	const inserted = new Map<string, Participant>();
	const existing = new Map<string, Participant>();
	let remaining = rows;
	for (let attempt = 1; remaining.length > 0; attempt++) {
		if (attempt > CODE_ATTEMPTS) {
			throw new Error(`Could not draw an unused referral code in ${CODE_ATTEMPTS} attempts`);
		}
		for (const batch of chunks(remaining)) {
			const withCodes = batch.map((row) => {
				const code = generateCode(campaign.codeSettings);
				return { ...row, code, link: renderLink(campaign.linkTemplate, code) };
			});
			for (const participant of await tx.insertParticipants(withCodes, now)) {
				inserted.set(emailIdentity(participant.email!), participant);
			}
		}
		const skipped = remaining.filter((row) => !inserted.has(row.emailIdentity));
		if (skipped.length === 0) break;
		const raced = await findPeople(tx, campaign.id, skipped.map((row) => row.email));
		for (const row of skipped) {
			const participant = raced.find(row.email);
			if (participant) existing.set(row.emailIdentity, participant);
		}
		remaining = skipped.filter((row) => !existing.has(row.emailIdentity));
	}
	return { inserted, existing };
}

async function findParticipantIn(
	tx: StoreTransaction,
	campaignId: number,
	ref: ParticipantRef,
): Promise<Participant | null> {
	let participant: Participant | null | undefined;
	if ('id' in ref) {
		participant = await tx.getParticipant(ref.id);
	} else if ('email' in ref) {
		const email = normalizeEmail(ref.email);
		participant = (await findPeople(tx, campaignId, [email])).find(email);
	} else {
		[participant] = await tx.findParticipantsByCode([normalizeCode(ref.code)]);
	}
	return participant && participant.campaignId === campaignId ? participant : null;
}

/** The referral a qualification is about; not_found or not_a_referral errors say why there is none. */
async function findReferralIn(tx: StoreTransaction, lookup: ReferralLookup): Promise<Participant> {
	let participant: Participant | null | undefined;
	let label: string;
	if ('code' in lookup) {
		const code = normalizeCode(lookup.code);
		label = `the referral code "${code}"`;
		[participant] = await tx.findParticipantsByCode([code]);
	} else if ('email' in lookup) {
		const email = normalizeEmail(lookup.email);
		label = `the email ${email}`;
		participant = (await findPeople(tx, lookup.campaignId, [email])).find(email);
	} else if ('pipedriveDealId' in lookup) {
		const id = parsePipedriveId(lookup.pipedriveDealId, 'pipedriveDealId');
		if (id === null) throw invalidInput('pipedriveDealId', 'The Pipedrive deal ID is missing');
		label = `the Pipedrive deal ${id}`;
		[participant] = await tx.findParticipantsByPipedrive({ dealIds: [id] });
	} else if ('pipedriveLeadId' in lookup) {
		const id = String(lookup.pipedriveLeadId ?? '').trim();
		if (!/^[0-9a-f-]{36}$/i.test(id)) throw invalidInput('pipedriveLeadId', `"${id}" is not a Pipedrive lead ID`);
		label = `the Pipedrive lead ${id}`;
		[participant] = await tx.findParticipantsByPipedrive({ leadIds: [id.toLowerCase()] });
	} else {
		label = `the participant ID ${lookup.id}`;
		participant = await tx.getParticipant(lookup.id);
	}
	if (participant && lookup.campaignId !== undefined && participant.campaignId !== lookup.campaignId) participant = null;
	if (!participant) {
		const scope = lookup.campaignId === undefined ? '' : ` in campaign ${lookup.campaignId}`;
		throw new ReferralError('not_found', `No referral${scope} has ${label}`, fieldOf(lookup));
	}
	if (participant.referredBy === null) {
		throw new ReferralError(
			'not_a_referral',
			`${label[0].toUpperCase()}${label.slice(1)} belongs to a participant who was not referred`,
			fieldOf(lookup),
		);
	}
	return participant;
}

function fieldOf(lookup: ReferralLookup): string {
	return Object.keys(lookup).find((key) => key !== 'campaignId') ?? 'code';
}

function parseSale(value: unknown, currency: unknown): { value: number; currency: string | null } | null {
	if (value === undefined || value === null || value === '') return null;
	const amount = typeof value === 'string' ? Number(value.trim()) : value;
	if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0 || amount > 1e12) {
		throw invalidInput('saleValue', `The sale value "${String(value).slice(0, 40)}" is not an amount`);
	}
	if (currency === undefined || currency === null || currency === '') return { value: amount, currency: null };
	const code = typeof currency === 'string' ? currency.trim().toUpperCase() : '';
	if (!/^[A-Z]{3}$/.test(code)) {
		throw invalidInput('currency', `The currency "${String(currency).slice(0, 20)}" is not a three-letter code such as EUR`);
	}
	return { value: amount, currency: code };
}

function parseIdempotencyKey(value: unknown): string {
	const key = String(value).trim();
	if (key === '' || key.length > 200) {
		throw invalidInput('idempotencyKey', 'The idempotency key must be text of 1 to 200 characters');
	}
	return key;
}

async function appendInChunks(tx: StoreTransaction, events: EventInsert[], now: string): Promise<void> {
	for (const batch of chunks(events)) await tx.appendEvents(batch, now);
}

function fail<T>(
	outcomes: Map<number, Outcome<T>>,
	index: number,
	error: ReferralError,
	options: BatchOptions,
): void {
	if (options.stopOnError) throw new ItemFailedError(index, error);
	outcomes.set(index, { ok: false, error });
}

function selfReferral(input: ValidRegister, referrer: Participant): ReferralError {
	return new ReferralError('self_referral', `${input.email} cannot be referred with their own code "${referrer.code}"`, 'email');
}

function campaignInactive(campaign: Campaign, what: string): ReferralError {
	return new ReferralError(
		'campaign_inactive',
		`Campaign "${campaign.name}" is ${campaign.status}: it ${what}`,
		'campaign',
		campaign.status === 'paused' ? 'Set the campaign status back to active to accept them again' : undefined,
	);
}

function requireCampaign(
	campaign: Campaign | null,
	ref: { id: number } | { slug: string },
): Campaign {
	if (campaign) return campaign;
	const label = 'id' in ref ? `id ${ref.id}` : `slug "${ref.slug}"`;
	throw new ReferralError('not_found', `There is no campaign with ${label}`, 'campaign');
}

function requireParticipant(participant: Participant | null, ref: ParticipantRef): Participant {
	if (participant) return participant;
	const [field, value] = Object.entries(ref)[0] as [string, unknown];
	throw new ReferralError('not_found', `This campaign has no participant with ${field} "${String(value)}"`, field);
}

/** A Pipedrive record id (a positive whole number), or null when absent. */
function parsePipedriveId(value: unknown, field: string): number | null {
	if (value === undefined || value === null || value === '') return null;
	const id = typeof value === 'string' ? Number(value) : value;
	if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
		throw invalidInput(field, `The ${field} "${String(value)}" is not a Pipedrive ID`);
	}
	return id;
}

function noPublicUrl(): never {
	throw new ReferralError(
		'n8n_setup',
		"This link points at this n8n (its template starts with {{n8nUrl}}), but n8n's public URL is not known here",
		'linkTemplate',
	);
}

function isBlank(value: unknown): boolean {
	return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

function unique<T>(values: T[]): T[] {
	return [...new Set(values)];
}

function chunks<T>(values: T[]): T[][] {
	const out: T[][] = [];
	for (let i = 0; i < values.length; i += CHUNK) out.push(values.slice(i, i + CHUNK));
	return out;
}
