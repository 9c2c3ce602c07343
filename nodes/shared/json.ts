import type { IDataObject } from 'n8n-workflow';

import type { Participant } from '../../lib/referrals/model';

export function participantJson(participant: Participant): IDataObject {
	return { ...participant } as unknown as IDataObject;
}

/** What downstream nodes need of a referrer: who to thank and where to find them. */
export function referrerJson(referrer: Participant | null): IDataObject | null {
	if (!referrer) return null;
	const { id, email, firstName, lastName, code, link, pipedrivePersonId } = referrer;
	return { id, email, firstName, lastName, code, link, pipedrivePersonId };
}
