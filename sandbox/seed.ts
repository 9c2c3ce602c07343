/**
 * Deterministic seed: one company and admin user, two pipelines, referral custom fields,
 * lead labels, filters, ~20 persons (some without email, some with several), a few deals and leads.
 * Everything (ids, keys, timestamps) is the same on every run.
 */
import type { Filter, LeadLabel, SandboxState } from './state';
import { hashKey, uuidFrom } from './util';

/** 2026-01-05T09:00:00Z: seed timestamps are offsets from here. */
export const SEED_EPOCH = Date.UTC(2026, 0, 5, 9, 0, 0);
const HOUR = 3600_000;

export const SEED_COMPANY = { id: 13350001, name: 'Referral Sandbox GmbH', domain: 'referral-sandbox', country: 'DE', industry: 'Software' };
export const SEED_USER_ID = 22870001;

/** Custom field keys (40 hex chars, like Pipedrive's). */
export const PERSON_FIELD_KEYS = {
	referralLink: hashKey('sandbox:person:referral_link'),
	referralCode: hashKey('sandbox:person:referral_code'),
	referrals: hashKey('sandbox:person:referrals'),
	qualifiedReferrals: hashKey('sandbox:person:qualified_referrals'),
};
export const DEAL_FIELD_KEYS = {
	referralCode: hashKey('sandbox:deal:referral_code'),
	referrerName: hashKey('sandbox:deal:referrer_name'),
	referrerEmail: hashKey('sandbox:deal:referrer_email'),
	referralCampaign: hashKey('sandbox:deal:referral_campaign'),
	referralLink: hashKey('sandbox:deal:referral_link'),
};
export const LEAD_LABEL_IDS = {
	hot: uuidFrom('sandbox:lead_label:hot'),
	warm: uuidFrom('sandbox:lead_label:warm'),
	cold: uuidFrom('sandbox:lead_label:cold'),
	referral: uuidFrom('sandbox:lead_label:referral'),
};
export const FILTER_IDS = { personsWithEmail: 1, referrers: 2, wonDeals: 3, referralDeals: 4, referralLeads: 5 };

interface SeedPerson {
	name: string;
	emails?: Array<[string, string]> | string[];
	phone?: string;
	code?: string;
	referrals?: number;
	qualified?: number;
}

const PERSONS: SeedPerson[] = [
	{ name: 'Anna Schmidt', emails: ['anna.schmidt@example.com'], phone: '+49 30 1234561', code: 'ANNA-7K2Q', referrals: 3, qualified: 1 },
	{
		name: 'Ben Okafor',
		emails: [
			['ben.okafor@example.org', 'work'],
			['ben@okafor.example', 'home'],
		],
		code: 'BEN-4M8X',
		referrals: 1,
		qualified: 1,
	},
	{ name: 'Chloé Dubois', emails: ['Chloe.Dubois@Example.FR'] },
	{ name: 'Dmitri Ivanov', phone: '+372 5551234' },
	{ name: 'Eva Lindqvist', emails: ['eva.lindqvist+referrals@example.se'] },
	{
		name: 'Farah Haddad',
		emails: [
			['farah@haddad.example', 'work'],
			['farah.h@example.com', 'home'],
			['f.haddad@example.net', 'other'],
		],
	},
	{ name: 'Gustavo Pereira', emails: ['gustavo.pereira@example.com.br'], code: 'GUS-9P3D' },
	{ name: 'Hana Tanaka', emails: ['hana.tanaka@example.jp'] },
	{ name: 'Ivan Horvat' },
	{ name: 'Julia Kowalska', emails: ['julia.kowalska@example.pl'] },
	{ name: 'Kwame Mensah', emails: ['KWAME.MENSAH@EXAMPLE.COM'] },
	{
		name: 'Lena Fischer',
		emails: [
			['lena.fischer@example.de', 'work'],
			['lena@fischer.example', 'home'],
		],
	},
	{ name: 'Mateo García', emails: ['mateo.garcia@example.es'], code: 'MATEO-2H6V', referrals: 2 },
	{ name: 'Nora Berg', phone: '+47 41234567' },
	{ name: 'Omar Farouk', emails: ['omar.farouk@example.eg'] },
	{ name: 'Priya Raman', emails: ['priya.raman@example.in'] },
	{ name: 'Quentin Moreau', emails: ['quentin.moreau@example.fr'] },
	{ name: 'Rosa Esposito' },
	{ name: 'Sven Johansson', emails: ['sven.johansson@example.se'] },
	{ name: 'Tamar Cohen', emails: ['tamar.cohen@example.co.il', 'tamar@cohen.example'] },
];

export interface SeedOptions {
	/** extra generated persons (benchmarks use 10,000 / 50,000) */
	extraPersons?: number;
	/** extra generated leads, one per generated or seeded person (cycling) */
	extraLeads?: number;
	/** false: an account without the referral custom fields, as a new Pipedrive account is (the demo's Set Up Fields creates them) */
	referralFields?: boolean;
}

export function seed(s: SandboxState, opts: SeedOptions = {}): void {
	s.clear();
	s.company = { ...SEED_COMPANY };
	s.users.push({
		id: SEED_USER_ID,
		name: 'Sandra Sandbox',
		email: 'sandra@referral-sandbox.example',
		default_currency: 'EUR',
		locale: 'en_US',
		timezone_name: 'Europe/Berlin',
		timezone_offset: '+01:00',
		is_admin: true,
		created: SEED_EPOCH - 30 * 24 * HOUR,
		last_login: SEED_EPOCH,
	});
	const t0 = SEED_EPOCH - 20 * 24 * HOUR;
	s.pipelines.push(
		{ id: 1, name: 'Sales', order_nr: 1, is_deal_probability_enabled: true, add_time: t0, update_time: t0 },
		{ id: 2, name: 'Referrals', order_nr: 2, is_deal_probability_enabled: false, add_time: t0, update_time: t0 },
	);
	const stageDefs: Array<[number, string, number]> = [
		[1, 'Qualified', 10],
		[1, 'Contact Made', 20],
		[1, 'Demo Scheduled', 40],
		[1, 'Proposal Made', 60],
		[1, 'Negotiations Started', 80],
		[2, 'Referred', 10],
		[2, 'Contacted', 30],
		[2, 'Meeting Booked', 60],
		[2, 'Referral Qualified', 90],
	];
	const order: Record<number, number> = {};
	stageDefs.forEach(([pipelineId, name, prob], i) => {
		order[pipelineId] = (order[pipelineId] ?? 0) + 1;
		s.stages.push({
			id: i + 1,
			pipeline_id: pipelineId,
			name,
			order_nr: order[pipelineId],
			deal_probability: prob,
			is_deal_rot_enabled: false,
			days_to_rotten: null,
			add_time: t0,
			update_time: t0,
		});
	});
	const pf: Array<[keyof typeof PERSON_FIELD_KEYS, string, 'varchar' | 'double']> = [
		['referralLink', 'Referral link', 'varchar'],
		['referralCode', 'Referral code', 'varchar'],
		['referrals', 'Referrals', 'double'],
		['qualifiedReferrals', 'Qualified referrals', 'double'],
	];
	pf.forEach(([k, name, type], i) => s.personFields.push({ id: 9101 + i, key: PERSON_FIELD_KEYS[k], name, field_type: type, add_time: t0 }));
	const df: Array<[keyof typeof DEAL_FIELD_KEYS, string]> = [
		['referralCode', 'Referral code'],
		['referrerName', 'Referrer name'],
		['referrerEmail', 'Referrer email'],
		['referralCampaign', 'Referral campaign'],
		['referralLink', 'Referral link'],
	];
	df.forEach(([k, name], i) => s.dealFields.push({ id: 12501 + i, key: DEAL_FIELD_KEYS[k], name, field_type: 'varchar', add_time: t0 }));
	const labels: Array<[keyof typeof LEAD_LABEL_IDS, string, LeadLabel['color']]> = [
		['hot', 'Hot', 'red'],
		['warm', 'Warm', 'yellow'],
		['cold', 'Cold', 'blue'],
		['referral', 'Referral', 'green'],
	];
	for (const [k, name, color] of labels) s.leadLabels.push({ id: LEAD_LABEL_IDS[k], name, color, add_time: t0, update_time: t0 });
	const filters: Array<Omit<Filter, 'add_time'>> = [
		{ id: FILTER_IDS.personsWithEmail, name: 'Persons with an email address', type: 'people', rule: { kind: 'has_email' } },
		{ id: FILTER_IDS.referrers, name: 'Referrers (have a referral code)', type: 'people', rule: { kind: 'has_custom', key: PERSON_FIELD_KEYS.referralCode } },
		{ id: FILTER_IDS.wonDeals, name: 'Won deals', type: 'deals', rule: { kind: 'status', status: 'won' } },
		{ id: FILTER_IDS.referralDeals, name: 'Referral deals', type: 'deals', rule: { kind: 'has_custom', key: DEAL_FIELD_KEYS.referralCode } },
		{ id: FILTER_IDS.referralLeads, name: 'Referral leads', type: 'leads', rule: { kind: 'has_label', labelId: LEAD_LABEL_IDS.referral } },
	];
	for (const f of filters) s.filters.push({ ...f, add_time: t0 });

	PERSONS.forEach((p, i) => {
		const emails = (p.emails ?? []).map((e, j) =>
			Array.isArray(e) ? { value: e[0], label: e[1], primary: j === 0 } : { value: e, label: 'work', primary: j === 0 },
		);
		const custom: Record<string, unknown> = {};
		if (p.code) {
			custom[PERSON_FIELD_KEYS.referralCode] = p.code;
			custom[PERSON_FIELD_KEYS.referralLink] = `https://n8n.example.com/form/referral?ref=${p.code}`;
		}
		if (p.referrals !== undefined) custom[PERSON_FIELD_KEYS.referrals] = p.referrals;
		if (p.qualified !== undefined) custom[PERSON_FIELD_KEYS.qualifiedReferrals] = p.qualified;
		s.createPerson(
			{
				name: p.name,
				emails,
				phones: p.phone ? [{ value: p.phone, label: 'mobile', primary: true }] : [],
				custom_fields: custom,
				add_time: SEED_EPOCH + i * HOUR,
			},
			'app',
			{ silent: true },
		);
	});

	const dealAt = SEED_EPOCH + 24 * HOUR;
	s.createDeal({ title: 'Chloé Dubois deal', person_id: 3, stage_id: 2, value: 1200, add_time: dealAt }, 'app', { silent: true });
	s.createDeal(
		{
			title: 'Gustavo Pereira referral',
			person_id: 7,
			stage_id: 6,
			value: 800,
			add_time: dealAt + HOUR,
			custom_fields: {
				[DEAL_FIELD_KEYS.referralCode]: 'ANNA-7K2Q',
				[DEAL_FIELD_KEYS.referrerName]: 'Anna Schmidt',
				[DEAL_FIELD_KEYS.referrerEmail]: 'anna.schmidt@example.com',
				[DEAL_FIELD_KEYS.referralCampaign]: 'spring-2026',
			},
		},
		'app',
		{ silent: true },
	);
	const won = s.createDeal({ title: 'Hana Tanaka annual plan', person_id: 8, stage_id: 5, value: 4800, add_time: dealAt + 2 * HOUR }, 'app', { silent: true });
	won.status = 'won';
	won.won_time = won.close_time = dealAt + 50 * HOUR;
	won.update_time = won.won_time;
	const lost = s.createDeal({ title: 'Omar Farouk pilot', person_id: 15, stage_id: 3, value: 950, add_time: dealAt + 3 * HOUR }, 'app', { silent: true });
	lost.status = 'lost';
	lost.lost_time = lost.close_time = dealAt + 60 * HOUR;
	lost.lost_reason = 'Budget';
	lost.update_time = lost.lost_time;

	const leadAt = SEED_EPOCH + 48 * HOUR;
	s.createLead(
		{
			title: 'Julia Kowalska (referred by Ben)',
			person_id: 10,
			label_ids: [LEAD_LABEL_IDS.referral, LEAD_LABEL_IDS.warm],
			custom: {
				[DEAL_FIELD_KEYS.referralCode]: 'BEN-4M8X',
				[DEAL_FIELD_KEYS.referrerName]: 'Ben Okafor',
				[DEAL_FIELD_KEYS.referrerEmail]: 'ben.okafor@example.org',
				[DEAL_FIELD_KEYS.referralCampaign]: 'spring-2026',
			},
			add_time: leadAt,
		},
		'app',
		{ silent: true },
	);
	s.createLead(
		{ title: 'Priya Raman inbound', person_id: 16, label_ids: [LEAD_LABEL_IDS.hot], value: { amount: 2500, currency: 'EUR' }, add_time: leadAt + HOUR },
		'app',
		{ silent: true },
	);
	s.createLead({ title: 'Sven Johansson webinar', person_id: 19, label_ids: [LEAD_LABEL_IDS.cold], add_time: leadAt + 2 * HOUR }, 'app', { silent: true });

	if (opts.extraPersons) seedPersons(s, opts.extraPersons);
	if (opts.extraLeads) seedLeads(s, opts.extraLeads);
	if (opts.referralFields === false) dropReferralFields(s);
}

/** The seed without the referral custom fields and their values. */
function dropReferralFields(s: SandboxState): void {
	s.personFields = [];
	s.dealFields = [];
	for (const entity of [...s.personList, ...s.dealList, ...s.leads.values()]) entity.custom = {};
}

/**
 * Adds `count` generated persons quickly (no events, no validation overhead).
 * Every 10th has no email, every 7th has two; every 5th has a referral code.
 */
export function seedPersons(s: SandboxState, count: number): number {
	const start = s.nextPersonId;
	const base = SEED_EPOCH + 7 * 24 * HOUR;
	for (let i = 0; i < count; i++) {
		const n = start + i;
		const emails =
			n % 10 === 0
				? []
				: n % 7 === 0
					? [
							{ value: `person${n}@bulk.example`, label: 'work', primary: true },
							{ value: `p${n}@home.example`, label: 'home', primary: false },
						]
					: [{ value: `person${n}@bulk.example`, label: 'work', primary: true }];
		const p = {
			id: s.nextPersonId++,
			name: `Bulk Person ${n}`,
			first_name: 'Bulk',
			last_name: `Person ${n}`,
			owner_id: s.me.id,
			org_id: null,
			emails,
			phones: [],
			label_ids: [],
			visible_to: 3,
			notes: null,
			job_title: null,
			birthday: null,
			custom: n % 5 === 0 ? { [PERSON_FIELD_KEYS.referralCode]: `BULK-${n}` } : {},
			add_time: base + n * 1000,
			update_time: base + n * 1000,
		};
		s.persons.set(p.id, p);
		s.personList.push(p);
		for (const e of emails) {
			const k = e.value.toLowerCase();
			let set = s.emailIndex.get(k);
			if (!set) s.emailIndex.set(k, (set = new Set()));
			set.add(p.id);
		}
	}
	return count;
}

/** Adds `count` generated leads linked to existing persons (cycling through them). */
export function seedLeads(s: SandboxState, count: number): number {
	const persons = s.personList;
	const base = SEED_EPOCH + 10 * 24 * HOUR;
	for (let i = 0; i < count; i++) {
		const p = persons[i % persons.length];
		s.createLead({ title: `Generated lead ${i + 1} (${p.name})`, person_id: p.id, add_time: base + i * 1000 }, 'app', { silent: true });
	}
	return count;
}
