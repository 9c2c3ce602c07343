import type { PipedriveClient } from '../pipedrive/client';
import { isPipedriveApiError } from '../pipedrive/errors';
import { readCustomFieldValue, type PipedriveField } from '../pipedrive/fields';
import type { Person } from '../pipedrive/types';
import type { Participant } from '../referrals/model';
import type { ReferralProgram } from '../referrals/program';
import { checkFieldChoices, fieldsOf, type FieldChoice } from './mapping';

export type ContactRole = 'link' | 'code' | 'referrals' | 'qualified';

export interface ContactSyncSettings {
	campaignId: number;
	/** A Pipedrive people filter; all persons when absent. */
	filterId?: number;
	/** 'changed': only persons changed since the last completed sync (the first run is full). */
	mode: 'full' | 'changed';
	fields: Array<FieldChoice<ContactRole>>;
	/** Stop after this many persons (the rest waits for the next run, which resumes). */
	maxPersons?: number;
}

export type ContactOutcome = 'enrolled' | 'already_enrolled' | 'skipped' | 'failed';

export interface ContactResult {
	personId: number;
	email: string | null;
	outcome: ContactOutcome;
	participantId?: number;
	code?: string;
	link?: string;
	/** Person fields written (only the ones whose value differed). */
	written: string[];
	reason?: string;
}

export interface ContactSyncSummary {
	campaignId: number;
	filterId: number | null;
	mode: 'full' | 'changed';
	seen: number;
	enrolled: number;
	alreadyEnrolled: number;
	/** Persons whose fields were written. */
	written: number;
	unchanged: number;
	skipped: number;
	failed: number;
	/** True when the run went through every person; false when it stopped early and will resume. */
	complete: boolean;
	resumed: boolean;
}

interface SavedState {
	/** The start time of the last complete pass: a 'changed' run asks for persons updated since. */
	lastCompleteStartedAt?: string;
	/** A pass under way: where to continue. */
	inProgress?: { startedAt: string; cursor: string | null; updatedSince?: string; mode: 'full' | 'changed' };
}

// Clocks of this machine and Pipedrive's differ; asking for a little more is harmless (only
// differing values are written), missing a change is not.
const CLOCK_MARGIN_MS = 5 * 60 * 1000;

/**
 * Enrols the persons of Pipedrive (all, a filter's, or those changed since the last sync) and
 * writes each one's referral link, code and counts into the chosen person fields, only where they
 * differ. The place in the pass is saved after every page, so a run stopped half-way resumes
 * there; enrolment is idempotent, so nothing is duplicated either way.
 */
export async function syncContacts(
	program: ReferralProgram,
	client: PipedriveClient,
	settings: ContactSyncSettings,
	onPerson?: (result: ContactResult) => void,
): Promise<ContactSyncSummary> {
	const fields = checkFieldChoices('person', await fieldsOf(client, 'person'), settings.fields);
	await program.getCampaign({ id: settings.campaignId });
	const key = `contacts:${settings.filterId ?? 'all'}`;
	const saved = ((await program.getSyncState(settings.campaignId, key)) ?? {}) as SavedState;
	const resumed = saved.inProgress !== undefined && saved.inProgress.mode === settings.mode;
	const pass = resumed
		? saved.inProgress!
		: {
				startedAt: new Date().toISOString(),
				cursor: null,
				mode: settings.mode,
				updatedSince:
					settings.mode === 'changed' && saved.lastCompleteStartedAt
						? new Date(Date.parse(saved.lastCompleteStartedAt) - CLOCK_MARGIN_MS).toISOString()
						: undefined,
			};
	const summary: ContactSyncSummary = {
		campaignId: settings.campaignId,
		filterId: settings.filterId ?? null,
		mode: settings.mode,
		seen: 0,
		enrolled: 0,
		alreadyEnrolled: 0,
		written: 0,
		unchanged: 0,
		skipped: 0,
		failed: 0,
		complete: false,
		resumed,
	};
	const customFieldKeys = [...fields.values()].map((field) => field.key);
	let cursor = pass.cursor ?? undefined;
	for (;;) {
		if (settings.maxPersons !== undefined && summary.seen >= settings.maxPersons) break;
		const page = await client.personsPage({
			filterId: settings.filterId,
			updatedSince: pass.updatedSince,
			customFieldKeys,
			cursor,
		});
		for (const result of await syncPage(program, client, settings.campaignId, page.persons, fields)) {
			tally(summary, result);
			onPerson?.(result);
		}
		if (page.nextCursor === null) {
			summary.complete = true;
			await program.saveSyncState(settings.campaignId, key, { lastCompleteStartedAt: pass.startedAt });
			return summary;
		}
		cursor = page.nextCursor;
		await program.saveSyncState(settings.campaignId, key, { ...saved, inProgress: { ...pass, cursor } });
	}
	return summary;
}

/** One page: enrol in one batch, then write what differs, person by person. */
async function syncPage(
	program: ReferralProgram,
	client: PipedriveClient,
	campaignId: number,
	persons: Person[],
	fields: Map<ContactRole, PipedriveField>,
): Promise<ContactResult[]> {
	const results = new Map<number, ContactResult>();
	const withEmail: Array<{ person: Person; email: string }> = [];
	for (const person of persons) {
		const email = primaryEmail(person);
		if (email) withEmail.push({ person, email });
		else results.set(person.id, { personId: person.id, email: null, outcome: 'skipped', written: [], reason: 'The person has no email address' });
	}

	// A person already linked stays with their participant even if their email changed since.
	const linked = new Map<number, Participant>();
	for (const participant of await program.findByPipedrivePersons(campaignId, withEmail.map(({ person }) => person.id))) {
		linked.set(participant.pipedrivePersonId!, participant);
	}
	const toEnrol = withEmail.filter(({ person }) => !linked.has(person.id));
	const outcomes = await program.enrol(
		campaignId,
		toEnrol.map(({ person, email }) => ({
			email,
			firstName: person.first_name ?? undefined,
			lastName: person.last_name ?? undefined,
			source: 'synced',
			pipedrivePersonId: person.id,
		})),
		{ stopOnError: false },
	);
	const participants = new Map(linked);
	toEnrol.forEach(({ person, email }, index) => {
		const outcome = outcomes[index];
		if (outcome.ok) {
			participants.set(person.id, outcome.value.participant);
			results.set(person.id, {
				personId: person.id,
				email,
				outcome: outcome.value.created ? 'enrolled' : 'already_enrolled',
				written: [],
			});
		} else {
			results.set(person.id, { personId: person.id, email, outcome: 'skipped', written: [], reason: outcome.error.message });
		}
	});

	const counts = fields.has('referrals') || fields.has('qualified')
		? await program.referralCounts([...participants.values()].map((p) => p.id))
		: new Map();
	for (const { person, email } of withEmail) {
		const participant = participants.get(person.id);
		if (!participant) continue;
		const result = results.get(person.id) ?? { personId: person.id, email, outcome: 'already_enrolled' as const, written: [] };
		Object.assign(result, { participantId: participant.id, code: participant.code, link: participant.link });
		results.set(person.id, result);
		const count = counts.get(participant.id) ?? { referrals: 0, qualified: 0 };
		const wanted: Record<ContactRole, unknown> = {
			link: participant.link,
			code: participant.code,
			referrals: count.referrals,
			qualified: count.qualified,
		};
		const changes: Record<string, unknown> = {};
		for (const [role, field] of fields) {
			if (!sameValue(readCustomFieldValue(person, field), wanted[role])) {
				changes[field.key] = wanted[role];
				result.written.push(field.name);
			}
		}
		if (Object.keys(changes).length === 0) continue;
		try {
			await client.updatePerson(person.id, {}, { customFields: changes });
		} catch (error) {
			// One person's failure (deleted meanwhile, a field rule) must not stop the sync; the
			// daily budget and bad credentials stop everything.
			if (isPipedriveApiError(error) && (error.kind === 'daily_budget' || error.kind === 'auth' || error.kind === 'scope')) throw error;
			Object.assign(result, { outcome: 'failed', written: [], reason: (error as Error).message });
		}
	}
	return persons.map((person) => results.get(person.id)!);
}

function tally(summary: ContactSyncSummary, result: ContactResult): void {
	summary.seen++;
	if (result.outcome === 'enrolled') summary.enrolled++;
	if (result.outcome === 'already_enrolled') summary.alreadyEnrolled++;
	if (result.outcome === 'skipped') summary.skipped++;
	if (result.outcome === 'failed') summary.failed++;
	if (result.outcome === 'enrolled' || result.outcome === 'already_enrolled') {
		if (result.written.length > 0) summary.written++;
		else summary.unchanged++;
	}
}

function primaryEmail(person: Person): string | null {
	const emails = (person.emails ?? []).filter((item) => typeof item?.value === 'string' && item.value.trim() !== '');
	const chosen = emails.find((item) => item.primary) ?? emails[0];
	return chosen ? chosen.value.trim() : null;
}

function sameValue(current: unknown, wanted: unknown): boolean {
	if (current === undefined || current === null || current === '') return wanted === null || wanted === '';
	return String(current) === String(wanted);
}
