import type { IDataObject } from 'n8n-workflow';

import type { Participant } from '../../lib/referrals/model';

export function participantJson(participant: Participant): IDataObject {
	return { ...participant } as unknown as IDataObject;
}

/** The chosen fields of a participant, in that order; null for no participant. */
export function participantFields(participant: Participant | null, keys: ReadonlyArray<keyof Participant>): IDataObject | null {
	if (!participant) return null;
	return Object.fromEntries(keys.map((key) => [key, participant[key]])) as IDataObject;
}

/** What downstream nodes need of a referrer: who to thank and where to find them. */
export function referrerJson(referrer: Participant | null): IDataObject | null {
	return participantFields(referrer, ['id', 'email', 'firstName', 'lastName', 'code', 'link', 'pipedrivePersonId']);
}
