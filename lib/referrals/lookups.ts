import type { ParticipantPatch, StoreTransaction } from '../store/types';
import { normalizeCode } from './codes';
import { normalizeEmail } from './email';
import { ReferralError, invalidInput } from './errors';
import type { Campaign, Participant } from './model';
import { findPeople } from './people';

// Finding campaigns and participants, and the errors that say what was not found: shared by every
// use case.

export type ParticipantRef = { id: number } | { email: unknown } | { code: unknown };

export function requireCampaign(campaign: Campaign | null, ref: { id: number } | { slug: string }): Campaign {
	if (campaign) return campaign;
	const label = 'id' in ref ? `id ${ref.id}` : `slug "${ref.slug}"`;
	throw new ReferralError('not_found', `There is no campaign with ${label}`, 'campaign');
}

export function requireParticipant(participant: Participant | null, ref: ParticipantRef): Participant {
	if (participant) return participant;
	const [field, value] = Object.entries(ref)[0] as [string, unknown];
	throw new ReferralError('not_found', `This campaign has no participant with ${field} "${String(value)}"`, field);
}

export async function findParticipantIn(
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

export function campaignInactive(campaign: Campaign, what: string): ReferralError {
	return new ReferralError(
		'campaign_inactive',
		`Campaign "${campaign.name}" is ${campaign.status}: it ${what}`,
		'campaign',
		campaign.status === 'paused' ? 'Set the campaign status back to active to accept them again' : undefined,
	);
}

/** Whether the patch changes anything: unchanged participants are not written (updatedAt stays). */
export function differs(current: Participant, patch: ParticipantPatch): boolean {
	return Object.entries(patch).some(
		([key, value]) => JSON.stringify(current[key as keyof Participant]) !== JSON.stringify(value),
	);
}

/** A Pipedrive record id (a positive whole number), or null when absent. */
export function parsePipedriveId(value: unknown, field: string): number | null {
	if (value === undefined || value === null || value === '') return null;
	const id = typeof value === 'string' ? Number(value) : value;
	if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) {
		throw invalidInput(field, `The ${field} "${String(value)}" is not a Pipedrive ID`);
	}
	return id;
}

export function isBlank(value: unknown): boolean {
	return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}
