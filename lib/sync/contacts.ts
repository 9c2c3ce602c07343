import type { PipedriveClient } from '../pipedrive/client';
import { isPipedriveApiError } from '../pipedrive/errors';
import { readCustomFieldValue, type PipedriveField } from '../pipedrive/fields';
import type { Person } from '../pipedrive/types';
import type { Participant } from '../referrals/model';
import { invalidInput } from '../referrals/errors';
import type { ReferralProgram } from '../referrals/program';
import { checkFieldChoices, fieldsOf, type FieldChoice } from './mapping';

export type ContactRole = 'link' | 'code' | 'referrals' | 'qualified' | 'statsLink';

export interface ContactSyncSettings {
	campaignId: number;
	/** A Pipedrive people filter; all persons when absent. */
	filterId?: number;
	/** 'changed': only persons changed since the last completed sync (the first run is full). */
	mode: 'full' | 'changed';
	fields: Array<FieldChoice<ContactRole>>;
	/** Stop after this many persons (the rest waits for the next run, which resumes). */
	maxPersons?: number;
	/**
	 * A participant's personal stats-page link, for a `statsLink` field. Without an expiry it is the
	 * same on every run, so it is written once, like the referral link.
	 */
	statsLink?: (participant: Participant) => string;
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
	if (settings.fields.some((choice) => choice.role === 'statsLink') && !settings.statsLink) {
		throw invalidInput('statsLinkField', 'A stats-page link field is chosen but no portal secret is given to sign the links', 'Set a Referral Portal API credential on the node');
	}
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
	const slots: FieldSlot[] = [];
	for (const [role, field] of fields) slots.push({ role, field });
	const withCounts = fields.has('referrals') || fields.has('qualified');
	let cursor = pass.cursor ?? undefined;
	for (;;) {
		if (settings.maxPersons !== undefined && summary.seen >= settings.maxPersons) break;
		const page = await readPage(
			client,
			{
				filterId: settings.filterId,
				updatedSince: pass.updatedSince,
				customFieldKeys,
				cursor,
			},
			slots,
		);
		for (const result of await syncPage(program, client, settings.campaignId, page, slots, withCounts, settings.statsLink)) {
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

/** A chosen field and its role, in the order of the settings. */
interface FieldSlot {
	role: ContactRole;
	field: PipedriveField;
}

/**
 * What the sync needs of one page of persons, read as soon as the page arrives: the full person
 * objects (e-mails, phones, labels, every field) are then not kept alive while the page is written
 * person by person. One array per attribute, no object per person.
 */
interface PageRows {
	ids: number[];
	/** The primary (else first) non-empty e-mail, trimmed; null when there is none. */
	emails: Array<string | null>;
	firstNames: Array<string | undefined>;
	lastNames: Array<string | undefined>;
	/** Current values of the chosen fields (persons with an e-mail only): row i, slot j at i x slots + j. */
	current: unknown[];
	nextCursor: string | null;
}

const NO_OPTIONS = {};
const NO_COUNTS = { referrals: 0, qualified: 0 };
const NO_EMAIL = 'The person has no email address';

async function readPage(
	client: PipedriveClient,
	options: Parameters<PipedriveClient['personsPage']>[0],
	slots: FieldSlot[],
): Promise<PageRows> {
	const page = await client.personsPage(options);
	const persons = page.persons;
	const n = persons.length;
	const rows: PageRows = {
		ids: new Array<number>(n),
		emails: new Array<string | null>(n),
		firstNames: new Array<string | undefined>(n),
		lastNames: new Array<string | undefined>(n),
		current: new Array<unknown>(n * slots.length),
		nextCursor: page.nextCursor,
	};
	for (let i = 0; i < n; i += 1) {
		const person = persons[i];
		const email = primaryEmail(person);
		rows.ids[i] = person.id;
		rows.emails[i] = email;
		rows.firstNames[i] = person.first_name ?? undefined;
		rows.lastNames[i] = person.last_name ?? undefined;
		if (!email) continue;
		for (let j = 0; j < slots.length; j += 1) {
			rows.current[i * slots.length + j] = readCustomFieldValue(person, slots[j].field, NO_OPTIONS);
		}
	}
	return rows;
}

/** One page: enrol in one batch, then write what differs, person by person. */
async function syncPage(
	program: ReferralProgram,
	client: PipedriveClient,
	campaignId: number,
	rows: PageRows,
	slots: FieldSlot[],
	withCounts: boolean,
	statsLink: ((participant: Participant) => string) | undefined,
): Promise<ContactResult[]> {
	const { ids, emails } = rows;
	const n = ids.length;
	const results = new Map<number, ContactResult>();
	/** Rows of the persons with an e-mail. */
	const withEmail: number[] = [];
	for (let i = 0; i < n; i += 1) {
		if (emails[i]) withEmail.push(i);
		else results.set(ids[i], { personId: ids[i], email: null, outcome: 'skipped', written: [], reason: NO_EMAIL });
	}

	// A person already linked stays with their participant even if their email changed since.
	const participants = new Map<number, Participant>();
	for (const participant of await program.findByPipedrivePersons(campaignId, withEmail.map((i) => ids[i]))) {
		participants.set(participant.pipedrivePersonId!, participant);
	}
	const toEnrol = withEmail.filter((i) => !participants.has(ids[i]));
	const outcomes = await program.enrol(
		campaignId,
		toEnrol.map((i) => ({
			email: emails[i]!,
			firstName: rows.firstNames[i],
			lastName: rows.lastNames[i],
			source: 'synced' as const,
			pipedrivePersonId: ids[i],
		})),
		{ stopOnError: false },
	);
	toEnrol.forEach((i, index) => {
		const outcome = outcomes[index];
		const personId = ids[i];
		if (outcome.ok) {
			participants.set(personId, outcome.value.participant);
			results.set(personId, {
				personId,
				email: emails[i],
				outcome: outcome.value.created ? 'enrolled' : 'already_enrolled',
				written: [],
			});
		} else {
			results.set(personId, { personId, email: emails[i], outcome: 'skipped', written: [], reason: outcome.error.message });
		}
	});

	const counts = withCounts
		? await program.referralCounts([...participants.values()].map((p) => p.id))
		: new Map<number, { referrals: number; qualified: number }>();
	const width = slots.length;
	for (const i of withEmail) {
		const personId = ids[i];
		const participant = participants.get(personId);
		if (!participant) continue;
		const result = results.get(personId) ?? { personId, email: emails[i], outcome: 'already_enrolled' as const, written: [] };
		result.participantId = participant.id;
		result.code = participant.code;
		result.link = participant.link;
		results.set(personId, result);
		const count = counts.get(participant.id) ?? NO_COUNTS;
		let changes: Record<string, unknown> | undefined;
		for (let j = 0; j < width; j += 1) {
			const { role, field } = slots[j];
			const wanted =
				role === 'link'
					? participant.link
					: role === 'code'
						? participant.code
						: role === 'statsLink'
							? statsLink!(participant)
							: role === 'referrals'
								? count.referrals
								: count.qualified;
			if (!sameValue(rows.current[i * width + j], wanted)) {
				(changes ??= {})[field.key] = wanted;
				result.written.push(field.name);
			}
		}
		if (changes === undefined) continue;
		try {
			await client.updatePerson(personId, {}, { customFields: changes });
		} catch (error) {
			// One person's failure (deleted meanwhile, a field rule) must not stop the sync; the
			// daily budget and bad credentials stop everything.
			if (isPipedriveApiError(error) && (error.kind === 'daily_budget' || error.kind === 'auth' || error.kind === 'scope')) throw error;
			Object.assign(result, { outcome: 'failed', written: [], reason: (error as Error).message });
		}
	}
	const out = new Array<ContactResult>(n);
	for (let i = 0; i < n; i += 1) out[i] = results.get(ids[i])!;
	return out;
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

/** The primary non-empty e-mail, else the first non-empty one, trimmed (no array copied). */
function primaryEmail(person: Person): string | null {
	const emails = person.emails ?? [];
	let first: string | undefined;
	for (const item of emails) {
		if (typeof item?.value !== 'string' || item.value.trim() === '') continue;
		if (item.primary) return item.value.trim();
		first ??= item.value;
	}
	return first === undefined ? null : first.trim();
}

function sameValue(current: unknown, wanted: unknown): boolean {
	if (current === undefined || current === null || current === '') return wanted === null || wanted === '';
	return String(current) === String(wanted);
}
