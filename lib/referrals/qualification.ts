import type { ParticipantPatch, StoreTransaction } from '../store/types';
import { chunks, unique } from './batch';
import { codeOrNull, normalizeCode } from './codes';
import type { ProgramContext } from './context';
import { normalizeEmail } from './email';
import { ReferralError, invalidInput } from './errors';
import { grantOnQualification, ledgerEvents, withdrawRewards, type LedgerChange } from './ledger';
import { parsePipedriveId, requireCampaign, requireParticipant } from './lookups';
import type { Participant, ReferralStatus } from './model';
import { findPeople } from './people';

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
	/**
	 * When the change happened at its source (e.g. the Pipedrive event time). A change older than
	 * the latest one applied to the referral is stale and ignored: a "won" delivery retried after
	 * reconciliation applied the later "lost" must not qualify again. Compared to the second.
	 */
	occurredAt?: unknown;
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
	/** True when a later change had been applied already (see `occurredAt`). */
	stale?: boolean;
}

/**
 * Qualifies or un-qualifies a referral: pending → qualified → unqualified → qualified again.
 * One transaction writes the status, the sale value, the rewards and the events; the same
 * qualification delivered any number of times, at once or not, changes the status once.
 */
export async function qualify(ctx: ProgramContext, lookup: ReferralLookup, input: QualifyInput): Promise<QualifyResult> {
	if (input.action !== 'qualify' && input.action !== 'unqualify') {
		throw invalidInput('action', 'The action must be qualify or unqualify');
	}
	const sale = parseSale(input.saleValue, input.currency);
	const key = input.idempotencyKey === undefined || input.idempotencyKey === null || input.idempotencyKey === ''
		? null
		: parseIdempotencyKey(input.idempotencyKey);
	const occurredAt = parseOccurredAt(input.occurredAt);
	const found = await ctx.store.read((tx) => findReferralIn(tx, lookup));
	return await ctx.store.transaction(async (tx) => {
		// Row locks on the referral and its referrer: concurrent deliveries for one referral, and
		// qualifications of one referrer's referrals (whose rewards depend on how many qualified),
		// apply one after the other.
		await tx.lockParticipants(found.referredBy === null ? [found.id] : [found.referredBy, found.id]);
		const current = requireParticipant(await tx.getParticipant(found.id), { id: found.id });
		const referrer = current.referredBy === null ? null : await tx.getParticipant(current.referredBy);
		const unchanged = { participant: current, referrer, previousStatus: current.referralStatus, status: current.referralStatus, changed: false };
		if (key !== null && !(await tx.claimIdempotencyKey(key, current.id, ctx.now()))) {
			return { ...unchanged, duplicate: true };
		}
		if (occurredAt !== null) {
			const latest = await tx.getReferralEventTime(current.id);
			if (latest !== null && toSecond(occurredAt) < toSecond(latest)) return { ...unchanged, duplicate: false, stale: true };
		}
		// A change without a source time (a refund sent by code) happened now: a Pipedrive change
		// read later by the reconciliation but older than it (the deal won before) is stale.
		await tx.setReferralEventTime(current.id, occurredAt ?? ctx.now());
		const status = input.action === 'qualify' ? 'qualified' : 'unqualified';
		if (current.referralStatus === status) return { ...unchanged, duplicate: false };
		const now = ctx.now();
		const patch: ParticipantPatch = { referralStatus: status };
		if (status === 'qualified') {
			patch.qualifiedAt = now;
			if (sale) Object.assign(patch, { saleValue: sale.value, saleCurrency: sale.currency });
		}
		// The store's tally of the referrer follows this write, so the ledger below sees the new count.
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
export async function referralCodesIn(ctx: ProgramContext, campaignId: number, codes: unknown[]): Promise<Set<string>> {
	const valid = unique(codes.map(codeOrNull).filter((code): code is string => code !== null));
	const found = new Set<string>();
	for (const batch of chunks(valid)) {
		for (const participant of await ctx.store.read((tx) => tx.findParticipantsByCode(batch))) {
			if (participant.campaignId === campaignId && participant.referredBy !== null) found.add(participant.code);
		}
	}
	return found;
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

function parseOccurredAt(value: unknown): string | null {
	if (value === undefined || value === null || value === '') return null;
	const time = value instanceof Date ? value.getTime() : Date.parse(String(value));
	if (!Number.isFinite(time)) throw invalidInput('occurredAt', `"${String(value).slice(0, 40)}" is not a date and time`);
	return new Date(time).toISOString();
}

/** Pipedrive gives some times to the second only (won_time, lost_time), others to the millisecond. */
function toSecond(iso: string): number {
	return Math.floor(Date.parse(iso) / 1000);
}

function parseIdempotencyKey(value: unknown): string {
	const key = String(value).trim();
	if (key === '' || key.length > 200) {
		throw invalidInput('idempotencyKey', 'The idempotency key must be text of 1 to 200 characters');
	}
	return key;
}
