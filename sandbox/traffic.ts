/**
 * "An ordinary day in the CRM": background traffic with no referral meaning, deterministic for a
 * seed. Several hundred deals created in every pipeline and moved stage by stage (many won, some
 * lost, some lost then reopened, some won then lost, some deleted, some edited), persons created,
 * edited and merged, leads created, labelled with every label and some converted to deals. The deal
 * (= lead) field "Referral code" is empty for most, whitespace, garbage or a caller's foreign code
 * for the rest. Every change goes through the sandbox's admin helpers (no HTTP, change_source
 * "app"), so webhooks go out exactly as for changes made in the Pipedrive app.
 *
 *   const summary = await ordinaryDay(sb, { seed: 7, foreignCodes: ['OTHER-1'], onStep: async () => {} });
 */
import type { AdminHelpers } from './admin';
import { DEAL_FIELD_KEYS } from './seed';
import type { ChangeEvent } from './state';
import { prng } from './util';

/** The admin helpers the generator uses (a Sandbox has them all). */
export type TrafficTarget = Pick<
	AdminHelpers,
	| 'catalog'
	| 'onChange'
	| 'createPerson'
	| 'updatePerson'
	| 'mergePersons'
	| 'createDeal'
	| 'updateDeal'
	| 'moveDealToStage'
	| 'setDealStatus'
	| 'reopenDeal'
	| 'deleteDeal'
	| 'createLead'
	| 'setLeadLabels'
	| 'convertLead'
>;

export interface OrdinaryDayOptions {
	/** PRNG seed (default 1): the same seed on the same sandbox state gives the same day */
	seed?: number;
	/** deals created directly (default 300) */
	deals?: number;
	/** persons created (default 80); about one in ten is merged into another */
	persons?: number;
	/** leads created (default 40); about one in four is converted to a deal */
	leads?: number;
	/** codes of another campaign or of nobody, put in the code field of about one deal / lead in ten */
	foreignCodes?: string[];
	/**
	 * between changes: a delay in ms, or a callback (e.g. to interleave real traffic); without it the
	 * generator only yields to the event loop (so webhook deliveries keep flowing)
	 */
	pace?: number | ((step: number) => void | Promise<void>);
	/** called after every change with its number (from 1) */
	onStep?: (step: number) => void | Promise<void>;
}

export interface OrdinaryDaySummary {
	dealsCreated: number;
	stageMoves: number;
	won: number;
	lost: number;
	/** deals lost, then reopened */
	reopened: number;
	deleted: number;
	/** title / value / code-field edits */
	dealEdits: number;
	personsCreated: number;
	personEdits: number;
	merges: number;
	leadsCreated: number;
	leadLabelChanges: number;
	conversions: number;
	/** deal events (= deal webhook events) the day caused, merges and conversions included */
	dealChanges: number;
	/** what the code field was set to (deals and leads, at creation and by edits) */
	codes: { empty: number; whitespace: number; garbage: number; foreign: number };
	/** changes made (= onStep calls) */
	steps: number;
}

const FIRST = ['Anna', 'Lukas', 'Mia', 'Jonas', 'Sofia', 'Noah', 'Emilia', 'Elias', 'Lea', 'Paul', 'Zoé', 'Mateus', 'Aiko', 'Kofi', 'Ingrid', 'Raj', 'Olga', 'Tomás', 'Fatima', 'Sven'];
const LAST = ['Müller', 'Schneider', 'Fischer', 'Weber', 'Meyer', 'Wagner', 'Becker', 'Hoffmann', 'Nakamura', 'Mensah', 'Haddad', 'Novak', "O'Brien", 'da Silva', 'Kowalski', 'Lindqvist'];
const COMPANIES = ['Acme', 'Globex', 'Initech', 'Umbrella', 'Hooli', 'Stark', 'Wayne', 'Soylent', 'Tyrell', 'Cyberdyne', 'Vandelay', 'Wonka'];
const DEAL_KINDS = ['renewal', 'pilot', 'annual plan', 'upsell', 'onboarding', 'support contract', 'licences', 'workshop'];
const WORDS = ['call', 'back', 'tuesday', 'asked', 'for', 'discount', 'maybe', 'later', 'see', 'email', 'n/a', 'TBD', 'none', 'ok', 'yes', '?', '-'];
const EMOJI = ['🎉', '🔥🔥', '👍 thanks', '🙂', '🚀 ASAP', '🤝', '❤️‍🔥'];
const SQLISH = ["'; DROP TABLE participants; --", "1' OR '1'='1", "Robert'); DROP TABLE deals;--", 'SELECT * FROM referral_codes', '%00\' UNION SELECT 1--'];
const WHITESPACE = [' ', '   ', '\t', '\n', ' \n\t '];
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'USD', 'GBP'];

type Step = () => void;
type Agent = Step[];

export async function ordinaryDay(target: TrafficTarget, options: OrdinaryDayOptions = {}): Promise<OrdinaryDaySummary> {
	const rnd = prng((options.seed ?? 1) * 2654435761);
	const chance = (p: number) => rnd() < p;
	const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
	const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)];
	const foreign = (options.foreignCodes ?? []).filter((c) => typeof c === 'string' && c !== '');
	const dealCount = Math.max(0, Math.floor(options.deals ?? 300));
	const personCount = Math.max(0, Math.floor(options.persons ?? 80));
	const leadCount = Math.max(0, Math.floor(options.leads ?? 40));

	const summary: OrdinaryDaySummary = {
		dealsCreated: 0,
		stageMoves: 0,
		won: 0,
		lost: 0,
		reopened: 0,
		deleted: 0,
		dealEdits: 0,
		personsCreated: 0,
		personEdits: 0,
		merges: 0,
		leadsCreated: 0,
		leadLabelChanges: 0,
		conversions: 0,
		dealChanges: 0,
		codes: { empty: 0, whitespace: 0, garbage: 0, foreign: 0 },
		steps: 0,
	};

	const catalog = target.catalog();
	const pipelines = catalog.pipelines.filter((p) => p.stageIds.length > 0);
	if (pipelines.length === 0) throw new Error('ordinaryDay needs at least one pipeline with stages');
	const codeKey = catalog.dealFieldKeys.includes(DEAL_FIELD_KEYS.referralCode) ? DEAL_FIELD_KEYS.referralCode : null;
	const labels = catalog.leadLabels;

	const garbage = (): string => {
		switch (int(0, 5)) {
			case 0:
				return Array.from({ length: int(1, 4) }, () => pick(WORDS)).join(' ');
			case 1:
				return pick(EMOJI);
			case 2: {
				const phrase = `${pick(WORDS)} ${pick(COMPANIES)} ${pick(DEAL_KINDS)} `;
				return phrase.repeat(Math.ceil(300 / phrase.length)).slice(0, 300);
			}
			case 3:
				return pick(SQLISH);
			case 4: {
				// A lower-case look-alike of a code: of a foreign one, or code-shaped.
				const lower = foreign.map((c) => c.toLowerCase()).filter((c) => !foreign.includes(c));
				if (lower.length) return pick(lower);
				return `${pick(FIRST).toLowerCase()}-${int(1000, 9999).toString(36)}`;
			}
			default:
				return pick(['N/A', '-', 'none', '0', 'ask Anna', 'see notes']);
		}
	};
	/** A code-field value: undefined (empty) for about 70 %. */
	const codeValue = (): string | undefined => {
		const r = rnd();
		if (r < 0.7) {
			summary.codes.empty++;
			return undefined;
		}
		if (r < 0.78) {
			summary.codes.whitespace++;
			return pick(WHITESPACE);
		}
		if (r < 0.9 || foreign.length === 0) {
			summary.codes.garbage++;
			return garbage();
		}
		summary.codes.foreign++;
		return pick(foreign);
	};
	const codeFields = (): Record<string, unknown> | undefined => {
		if (!codeKey) return undefined;
		const v = codeValue();
		return v === undefined ? undefined : { [codeKey]: v };
	};

	let serial = 0;
	const email = (first: string, last: string) => {
		serial++;
		const local = `${first}.${last}`.normalize('NFKD').replace(/[^A-Za-z.]/g, '').toLowerCase() || 'someone';
		const domain = pick(['example.com', 'example.org', 'Example.NET', 'mail.example']);
		return chance(0.15) ? `${local}+crm${serial}@${domain}` : chance(0.2) ? `${local.toUpperCase()}${serial}@${domain}` : `${local}${serial}@${domain}`;
	};
	const phone = () => `+49 ${int(30, 89)} ${int(1000000, 9999999)}`;

	// ---------------------------------------------------------------- the day
	/** traffic persons not merged away, in creation order; `ids[i]` is the id of the i-th planned person */
	const alive: number[] = [];
	const ids: number[] = [];
	const phases: Array<{ agents: Agent[] }> = [];

	// 1. persons arrive first (deals and leads need someone to belong to)
	const personAgents: Agent[] = [];
	const created: Array<{ first: string; last: string }> = [];
	for (let i = 0; i < personCount; i++) {
		const first = pick(FIRST);
		const last = pick(LAST);
		created.push({ first, last });
		const nEmails = chance(0.15) ? 0 : chance(0.75) ? 1 : int(2, 3);
		const emails = Array.from({ length: nEmails }, (_, j) => ({ value: email(first, last), primary: j === 0, label: pick(['work', 'home', 'other']) }));
		const phones = chance(0.6) ? [{ value: phone(), primary: true, label: 'mobile' }] : [];
		personAgents.push([
			() => {
				const p = target.createPerson({ name: `${first} ${last}`, emails, phones });
				ids[i] = Number(p.id);
				alive.push(ids[i]);
				summary.personsCreated++;
			},
		]);
	}
	phases.push({ agents: personAgents });

	// 2. everything else, interleaved
	const agents: Agent[] = [];
	const personId = (i: number) => ids[i];
	// persons: edits, and merges (losers are never survivors)
	const losers = new Set<number>();
	for (let i = 0; i < personCount; i++) if (personCount > 1 && chance(0.1)) losers.add(i);
	const survivors = Array.from({ length: personCount }, (_, i) => i).filter((i) => !losers.has(i));
	if (survivors.length === 0) losers.clear();
	for (let i = 0; i < personCount; i++) {
		const steps: Agent = [];
		const { first, last } = created[i];
		for (let e = int(0, 3); e > 0; e--) {
			const kind = int(0, 2);
			steps.push(() => {
				const id = personId(i);
				if (kind === 0) target.updatePerson(id, { name: `${first} ${chance(0.5) ? pick(LAST) : `${last}-${pick(LAST)}`}` });
				else if (kind === 1) target.updatePerson(id, { phones: [{ value: phone(), primary: true, label: pick(['mobile', 'work']) }] });
				else target.updatePerson(id, { emails: [{ value: email(first, last), primary: true, label: 'work' }, ...(chance(0.5) ? [{ value: email(first, last), primary: false, label: 'home' }] : [])] });
				summary.personEdits++;
			});
		}
		if (losers.has(i)) {
			const into = pick(survivors);
			steps.push(() => {
				const loser = personId(i);
				target.mergePersons(loser, personId(into));
				alive.splice(alive.indexOf(loser), 1);
				summary.merges++;
			});
		}
		if (steps.length) agents.push(steps);
	}
	const someone = () => (alive.length && chance(0.92) ? pick(alive) : undefined);

	// deals
	for (let i = 0; i < dealCount; i++) {
		const pipeline = pipelines.length > 1 && chance(0.4) ? pipelines[1 + Math.floor(rnd() * (pipelines.length - 1))] : pipelines[0];
		const stages = pipeline.stageIds;
		const through = chance(0.5) ? stages.length - 1 : int(0, stages.length - 1);
		const r = rnd();
		const outcome = r < 0.38 ? 'won' : r < 0.58 ? 'lost' : r < 0.66 ? 'reopened' : r < 0.72 ? 'wonThenLost' : r < 0.78 ? 'deleted' : 'open';
		const title = `${pick(COMPANIES)} ${pick(DEAL_KINDS)}`;
		const value = int(1, 200) * 100;
		const currency = pick(CURRENCIES);
		const custom = codeFields();
		let id = 0;
		const steps: Agent = [
			() => {
				const d = target.createDeal({ title, value, currency, person_id: someone(), stage_id: stages[0], custom_fields: custom });
				id = Number(d.id);
				summary.dealsCreated++;
			},
		];
		for (let s = 1; s <= through; s++) {
			steps.push(() => {
				target.moveDealToStage(id, stages[s]);
				summary.stageMoves++;
			});
		}
		if (chance(0.3)) {
			const kind = codeKey ? int(0, 2) : int(0, 1);
			const edit: Step = () => {
				if (kind === 0) target.updateDeal(id, { title: `${title} (${pick(['updated', 'v2', 'revised', 'Q3'])})` });
				else if (kind === 1) target.updateDeal(id, { value: value + int(1, 50) * 10 });
				else target.updateDeal(id, { custom_fields: { [codeKey as string]: codeValue() ?? null } });
				summary.dealEdits++;
			};
			steps.splice(int(1, steps.length), 0, edit);
		}
		const status = (s: 'won' | 'lost' | 'open') => () => {
			if (s === 'open') {
				target.reopenDeal(id);
				summary.reopened++;
			} else {
				target.setDealStatus(id, s, s === 'lost' ? pick(['Too expensive', 'Went with a competitor', 'No budget', 'No response']) : undefined);
				summary[s]++;
			}
		};
		if (outcome === 'won') steps.push(status('won'));
		if (outcome === 'lost') steps.push(status('lost'));
		if (outcome === 'reopened') steps.push(status('lost'), status('open'));
		if (outcome === 'wonThenLost') steps.push(status('won'), status('lost'));
		if (outcome === 'deleted') {
			steps.push(() => {
				target.deleteDeal(id);
				summary.deleted++;
			});
		}
		agents.push(steps);
	}

	// leads: every label is used; some are converted
	for (let i = 0; i < leadCount; i++) {
		let id = '';
		const custom = codeFields();
		const firstLabel = labels.length ? labels[i % labels.length].name : undefined;
		const steps: Agent = [
			() => {
				const owner = alive.length ? pick(alive) : undefined;
				const l = target.createLead({
					title: `${pick(COMPANIES)} inbound ${pick(['webinar', 'website', 'fair', 'cold call', 'newsletter'])}`,
					person_id: owner,
					...(owner === undefined ? { organization_id: 1 } : {}),
					value: chance(0.5) ? { amount: int(5, 100) * 100, currency: pick(CURRENCIES) } : null,
					custom: custom ?? {},
				});
				id = String(l.id);
				summary.leadsCreated++;
			},
		];
		if (labels.length) {
			const changes = int(1, 3);
			for (let c = 0; c < changes; c++) {
				const names = c === 0 && firstLabel ? [firstLabel] : labels.filter(() => chance(0.35)).map((l) => l.name);
				steps.push(() => {
					target.setLeadLabels(id, names);
					summary.leadLabelChanges++;
				});
			}
		}
		if (chance(0.25)) {
			const pipeline = pick(pipelines);
			const stage = pick(pipeline.stageIds);
			steps.push(() => {
				target.convertLead(id, { stage_id: stage });
				summary.conversions++;
			});
		}
		agents.push(steps);
	}
	phases.push({ agents });

	// ---------------------------------------------------------------- run
	const stop = target.onChange((e: ChangeEvent) => {
		if (e.entity === 'deal') summary.dealChanges++;
	});
	try {
		for (const phase of phases) {
			const open = phase.agents.filter((a) => a.length > 0);
			while (open.length) {
				const i = Math.floor(rnd() * open.length);
				const step = open[i].shift()!;
				if (open[i].length === 0) open.splice(i, 1);
				step();
				summary.steps++;
				await pause(options, summary.steps);
			}
		}
	} finally {
		stop();
	}
	return summary;
}

async function pause(options: OrdinaryDayOptions, step: number): Promise<void> {
	const { pace, onStep } = options;
	if (typeof pace === 'number' && pace > 0) await new Promise((r) => setTimeout(r, pace));
	else if (typeof pace === 'function') await pace(step);
	else await new Promise((r) => setImmediate(r));
	if (onStep) await onStep(step);
}
