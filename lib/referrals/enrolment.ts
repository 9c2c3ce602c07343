import type { ParticipantPatch, StoreTransaction } from '../store/types';
import { appendInChunks, failItem, runBatch, type BatchOptions, type Outcome, type Pending } from './batch';
import type { ProgramContext } from './context';
import { deviceFingerprint, insertedDevices } from './device';
import { emailIdentity, normalizeEmail } from './email';
import { insertWithFreshCodes } from './fresh-codes';
import { campaignInactive, differs, parsePipedriveId, requireCampaign } from './lookups';
import type { Participant, ParticipantSource } from './model';
import { findPeople } from './people';
import { parseMetadata, parseName, parseSource } from './validation';

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
	/** The sign-up request's client IP (or X-Forwarded-For) and user agent: kept as a fingerprint on creation. */
	clientIp?: unknown;
	userAgent?: unknown;
}

export interface EnrolResult {
	participant: Participant;
	created: boolean;
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
	signupDevice: string | null;
}

/**
 * Enrols people as participants (referrers). Enrolling someone again returns the same code and
 * link; given names and metadata update the existing participant.
 */
export async function enrol(
	ctx: ProgramContext,
	campaignId: number,
	inputs: EnrolInput[],
	options: EnrolOptions,
): Promise<Array<Outcome<EnrolResult>>> {
	return await runBatch(ctx, inputs, options, validateEnrol, (tx, items, now) => enrolInTransaction(tx, campaignId, items, now, options));
}

async function enrolInTransaction(
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
			failItem(outcomes, item.index, campaignInactive(campaign, 'accepts no new participants'), options);
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
	await tx.setSignupDevices(insertedDevices(created.inserted, (identity) => toCreate.get(identity)?.input.signupDevice));

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
		signupDevice: deviceFingerprint(input.clientIp, input.userAgent),
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
