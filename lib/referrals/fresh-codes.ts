import type { ParticipantInsert, StoreTransaction } from '../store/types';
import { chunks } from './batch';
import { generateCode } from './codes';
import { emailIdentity } from './email';
import { renderLink } from './links';
import type { Campaign, Participant } from './model';
import { findPeople } from './people';

// A fresh code colliding with a live one has odds of about n / 2^44; five misses in a row mean
// something else is wrong.
const CODE_ATTEMPTS = 5;

/**
 * Inserts new participants with fresh codes, keyed by identity. A row the database skipped either
 * lost a race for its person (then it is returned under `existing`) or drew a code already in use
 * (then it is retried with another code).
 */
export async function insertWithFreshCodes(
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
