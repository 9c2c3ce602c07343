import type { PipedriveClient } from '../pipedrive/client';
import { readCustomFieldValue } from '../pipedrive/fields';
import type { ParticipantRef, ReferralProgram } from '../referrals/program';
import { checkFieldChoices, fieldsOf, type FieldChoice } from './mapping';

export type MetricRole = 'referrals' | 'qualified';

export interface MetricsResult {
	participantId: number;
	personId: number | null;
	referrals: number;
	qualified: number;
	/** Person fields written (only those whose value differed). */
	written: string[];
	skipped: boolean;
	reason?: string;
}

/**
 * Writes referrers' referral and qualified counts into their Pipedrive persons, only where the
 * values differ. A referrer not yet linked to a person is looked up by email and linked.
 */
export class MetricsWriter {
	private fields?: ReturnType<typeof checkFieldChoices<MetricRole>>;

	constructor(
		private readonly program: ReferralProgram,
		private readonly client: PipedriveClient,
		private readonly choices: Array<FieldChoice<MetricRole>>,
	) {}

	async prepare(): Promise<void> {
		this.fields = checkFieldChoices('person', await fieldsOf(this.client, 'person'), this.choices);
	}

	async update(campaignId: number, ref: ParticipantRef): Promise<MetricsResult> {
		const referrer = await this.program.getParticipant(campaignId, ref);
		const counts = (await this.program.referralCounts([referrer.id])).get(referrer.id) ?? { referrals: 0, qualified: 0 };
		const result: MetricsResult = { participantId: referrer.id, personId: null, ...counts, written: [], skipped: false };
		let personId = referrer.pipedrivePersonId;
		if (!personId && referrer.email) {
			personId = (await this.client.findPersonByEmail(referrer.email))?.id ?? null;
			if (personId) await this.program.linkPipedrive(referrer.id, { personId });
		}
		if (!personId) return { ...result, skipped: true, reason: 'The referrer is not a person in Pipedrive' };
		const person = await this.client.getPerson(personId);
		const changes: Record<string, unknown> = {};
		for (const [role, field] of this.fields!) {
			if (String(readCustomFieldValue(person, field) ?? '') !== String(counts[role])) {
				changes[field.key] = counts[role];
				result.written.push(field.name);
			}
		}
		if (Object.keys(changes).length > 0) await this.client.updatePerson(personId, {}, { customFields: changes });
		return { ...result, personId };
	}
}
