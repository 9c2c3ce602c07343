import type { StoreTransaction } from '../store/types';
import { appendInChunks, chunks, failItem, runBatch, unique, type BatchOptions, type Outcome, type Pending } from './batch';
import { normalizeCode } from './codes';
import type { ProgramContext } from './context';
import { deviceFingerprint, insertedDevices } from './device';
import { emailDomain, emailIdentity, normalizeEmail } from './email';
import { ReferralError } from './errors';
import { insertWithFreshCodes } from './fresh-codes';
import { grantRegistrationReward, ledgerEvents, type LedgerChange } from './ledger';
import { campaignInactive, requireCampaign } from './lookups';
import { isDisposableDomain } from './disposable';
import type { Campaign, FlagReason, Participant } from './model';
import { findPeople } from './people';
import { parseMetadata, parseName } from './validation';

export interface RegisterInput {
	code: unknown;
	email: unknown;
	firstName?: unknown;
	lastName?: unknown;
	metadata?: unknown;
	/** The sign-up request's client IP (or X-Forwarded-For) and user agent, for the same-device rule. */
	clientIp?: unknown;
	userAgent?: unknown;
}

export interface RegisterResult {
	participant: Participant;
	/** Who referred the person: for an already registered person, whoever referred them first. */
	referrer: Participant | null;
	/** False when the person was already in the campaign: nothing changed. */
	created: boolean;
	/** Why a new referral is held for review (status `flagged`); empty when it went through. */
	flagReasons: FlagReason[];
}

interface ValidRegister {
	code: string;
	email: string;
	identity: string;
	firstName: string | null;
	lastName: string | null;
	metadata: Record<string, unknown>;
	signupDevice: string | null;
}

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Registers referred people under the referrer owning each code. First referral wins: a person
 * already in the campaign is returned as is, never re-attributed.
 */
export async function registerReferred(
	ctx: ProgramContext,
	campaignId: number,
	inputs: RegisterInput[],
	options: BatchOptions,
): Promise<Array<Outcome<RegisterResult>>> {
	return await runBatch(ctx, inputs, options, validateRegister, (tx, items, now) =>
		registerInTransaction(tx, campaignId, items, now, options),
	);
}

async function registerInTransaction(
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

	const fraud = campaign.fraudSettings;
	const referralsToday = new Map<number, number>();
	const referralsThisHour = new Map<number, number>();
	if ((fraud.maxReferralsPerReferrerPerDay > 0 || fraud.maxReferralsPerReferrerPerHour > 0) && referrersByCode.size > 0) {
		// Row locks make concurrent registrations for one referrer count one after the other.
		const ids = [...referrersByCode.values()].map((referrer) => referrer.id).sort((a, b) => a - b);
		await tx.lockParticipants(ids);
		const at = Date.parse(now);
		for (const [id, count] of await tx.countReferralsSince(ids, new Date(at - DAY_MS).toISOString())) referralsToday.set(id, count);
		for (const [id, count] of await tx.countReferralsSince(ids, new Date(at - HOUR_MS).toISOString())) referralsThisHour.set(id, count);
	}
	const referrerDevices =
		fraud.sameDeviceAction !== 'allow' && items.some((item) => item.input.signupDevice !== null)
			? await tx.signupDevices([...referrersByCode.values()].map((referrer) => referrer.id))
			: new Map<number, string>();

	const toCreate = new Map<string, { item: Pending<ValidRegister>; referrer: Participant; reasons: FlagReason[] }>();
	for (const item of items) {
		const { email, identity, code } = item.input;
		const referrer = referrersByCode.get(code);
		// Checked before "already registered": using one's own code is refused as what it is.
		if (referrer?.email && emailIdentity(referrer.email) === identity) {
			failItem(outcomes, item.index, selfReferral(item.input, referrer), options);
			continue;
		}
		// First referral wins, whichever spelling of the address the person types this time.
		if (people.find(email) || toCreate.has(identity)) continue;
		const sameDevice = item.input.signupDevice !== null && item.input.signupDevice === referrerDevices.get(referrer?.id ?? 0);
		const screened = screen(campaign, item.input, referrer, sameDevice, {
			hour: referralsThisHour.get(referrer?.id ?? 0) ?? 0,
			day: referralsToday.get(referrer?.id ?? 0) ?? 0,
		});
		if (screened instanceof ReferralError) {
			failItem(outcomes, item.index, screened, options);
			continue;
		}
		// Held referrals count too: the limits are about how fast one code brings people in.
		referralsToday.set(referrer!.id, (referralsToday.get(referrer!.id) ?? 0) + 1);
		referralsThisHour.set(referrer!.id, (referralsThisHour.get(referrer!.id) ?? 0) + 1);
		toCreate.set(identity, { item, referrer: referrer!, reasons: screened });
	}

	const rows = [...toCreate.values()].map(({ item: { input }, referrer, reasons }) => ({
		campaignId,
		email: input.email,
		emailIdentity: input.identity,
		firstName: input.firstName,
		lastName: input.lastName,
		source: 'referred' as const,
		referredBy: referrer.id,
		referralStatus: reasons.length > 0 ? ('flagged' as const) : ('pending' as const),
		metadata: input.metadata,
	}));
	const created = await insertWithFreshCodes(tx, campaign, rows, now);
	for (const participant of created.inserted.values()) people.add(participant);
	for (const [identity, participant] of created.existing) {
		people.add(participant);
		toCreate.delete(identity);
	}
	await tx.setSignupDevices(insertedDevices(created.inserted, (identity) => toCreate.get(identity)?.item.input.signupDevice));

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
		const entry = toCreate.get(item.input.identity);
		const created = entry?.item === item;
		outcomes.set(item.index, { ok: true, value: { participant, referrer, created, flagReasons: created ? entry.reasons : [] } });
	}

	const held = [...toCreate.values()].filter(({ reasons }) => reasons.length > 0);
	await tx.insertReferralReviews(
		held.map(({ item, reasons }) => ({ participantId: people.find(item.input.email)!.id, campaignId, reasons })),
		now,
	);
	const registrationRewards: LedgerChange = { created: [], cancelled: [], reversalNeeded: [] };
	for (const { item, reasons } of toCreate.values()) {
		// A held referral earns nothing until someone approves it.
		if (reasons.length > 0) continue;
		registrationRewards.created.push(...(await grantRegistrationReward(tx, campaign, people.find(item.input.email)!, now)));
	}
	await appendInChunks(
		tx,
		[
			...[...toCreate.values()].map(({ item, referrer, reasons }) => {
				const participant = people.find(item.input.email)!;
				if (reasons.length > 0) {
					return {
						type: 'referral.flagged' as const,
						campaignId,
						participantId: participant.id,
						referrerId: referrer.id,
						payload: { code: participant.code, referrerCode: referrer.code, reasons },
					};
				}
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

/**
 * What the campaign's rules make of a new referral: an error when it is refused, otherwise the
 * reasons to hold it for review (none: it goes through).
 */
function screen(
	campaign: Campaign,
	input: ValidRegister,
	referrer: Participant | undefined,
	sameDevice: boolean,
	recent: { hour: number; day: number },
): ReferralError | FlagReason[] {
	if (campaign.status !== 'active') return campaignInactive(campaign, 'accepts no new referrals');
	if (!referrer) {
		return new ReferralError(
			'not_found',
			`No participant of campaign "${campaign.name}" has the referral code "${input.code}"`,
			'code',
			'Check the code in the referral link; codes are not case-sensitive',
		);
	}
	const fraud = campaign.fraudSettings;
	const domain = emailDomain(input.email);
	if (fraud.blockedEmailDomains.includes(domain)) {
		return new ReferralError('fraud_blocked', `Referrals from email addresses at ${domain} are blocked in campaign "${campaign.name}"`, 'email');
	}
	const reasons: FlagReason[] = [];
	if (fraud.disposableEmailAction !== 'allow' && isDisposableDomain(domain)) {
		if (fraud.disposableEmailAction === 'block') {
			return new ReferralError('fraud_blocked', `${domain} is a disposable email service; campaign "${campaign.name}" refuses it`, 'email');
		}
		reasons.push('disposable_email');
	}
	if (fraud.sameDeviceAction !== 'allow' && sameDevice) {
		if (fraud.sameDeviceAction === 'block') {
			return new ReferralError(
				'fraud_blocked',
				`This referral comes from the IP address and browser the referrer with code "${referrer.code}" signed up from; campaign "${campaign.name}" refuses it`,
				'clientIp',
			);
		}
		reasons.push('same_device');
	}
	const limits = [
		{ reason: 'hourly_limit' as const, limit: fraud.maxReferralsPerReferrerPerHour, count: recent.hour, period: 'an hour' },
		{ reason: 'daily_limit' as const, limit: fraud.maxReferralsPerReferrerPerDay, count: recent.day, period: '24 hours' },
	];
	for (const { reason, limit, count, period } of limits) {
		if (limit === 0 || count < limit) continue;
		if (fraud.velocityAction === 'block') {
			return new ReferralError(
				'fraud_blocked',
				`The referrer with code "${referrer.code}" reached the limit of ${limit} referrals in ${period}`,
				'code',
			);
		}
		reasons.push(reason);
	}
	return reasons;
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
		signupDevice: deviceFingerprint(input.clientIp, input.userAgent),
	};
}

function selfReferral(input: ValidRegister, referrer: Participant): ReferralError {
	return new ReferralError('self_referral', `${input.email} cannot be referred with their own code "${referrer.code}"`, 'email');
}
