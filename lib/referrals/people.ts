import type { StoreTransaction } from '../store/types';
import { emailIdentity } from './email';
import type { Participant } from './model';

/** Addresses looked up per store call. */
const BATCH = 500;

/**
 * A campaign's participants found by email: the participant with that very address, else the one
 * the address belongs to (same identity: plus-tags, Gmail dots). Participants registered twice
 * before identities were unique keep their own addresses; the identity is the oldest one's.
 */
export class People {
	private readonly byEmail = new Map<string, Participant>();
	private readonly byIdentity = new Map<string, Participant>();

	add(participant: Participant): void {
		if (!participant.email) return;
		this.byEmail.set(participant.email, participant);
		const identity = emailIdentity(participant.email);
		const holder = this.byIdentity.get(identity);
		if (!holder || holder.id >= participant.id) this.byIdentity.set(identity, participant);
	}

	find(email: string): Participant | undefined {
		return this.byEmail.get(email) ?? this.byIdentity.get(emailIdentity(email));
	}
}

export async function findPeople(tx: StoreTransaction, campaignId: number, emails: string[]): Promise<People> {
	const people = new People();
	const all = [...new Set(emails)];
	for (let i = 0; i < all.length; i += BATCH) {
		const batch = all.slice(i, i + BATCH);
		const identities = [...new Set(batch.map(emailIdentity))];
		for (const participant of await tx.findParticipantsByEmail(campaignId, batch, identities)) people.add(participant);
	}
	return people;
}
