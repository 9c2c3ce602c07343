import { describeType, preview } from './email';
import { invalidInput } from './errors';
import {
	CAMPAIGN_STATUSES,
	FRAUD_ACTIONS,
	LEGACY_FRAUD_DEFAULTS,
	PARTICIPANT_SOURCES,
	type CampaignStatus,
	type FraudAction,
	type FraudSettings,
	type ParticipantSource,
} from './model';

export const MAX_NAME_LENGTH = 100;
export const MAX_CAMPAIGN_NAME_LENGTH = 200;
export const MAX_METADATA_BYTES = 16 * 1024;
export const MAX_SLUG_LENGTH = 64;

const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** An optional person name: null when absent or blank. */
export function parseName(value: unknown, field: string): string | null {
	if (value === undefined || value === null) return null;
	if (typeof value !== 'string') {
		throw invalidInput(field, `The ${field} must be text, not ${describeType(value)}`);
	}
	const name = value.trim().normalize('NFC');
	if (name === '') return null;
	if (name.length > MAX_NAME_LENGTH) {
		throw invalidInput(field, `The ${field} is longer than ${MAX_NAME_LENGTH} characters`);
	}
	if (CONTROL_CHARACTERS.test(name) || name.includes('\ufffd')) {
		throw invalidInput(field, `The ${field} "${preview(name)}" holds control or invalid characters`);
	}
	return name;
}

/** Free JSON kept with a participant: an object, given as an object or as JSON text. */
export function parseMetadata(value: unknown, field = 'metadata'): Record<string, unknown> {
	if (value === undefined || value === null || value === '') return {};
	let parsed = value;
	if (typeof value === 'string') {
		try {
			parsed = JSON.parse(value);
		} catch {
			throw invalidInput(field, `The ${field} is not valid JSON`);
		}
	}
	if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
		throw invalidInput(field, `The ${field} must be a JSON object, not ${describeType(parsed)}`);
	}
	if (Buffer.byteLength(JSON.stringify(parsed)) > MAX_METADATA_BYTES) {
		throw invalidInput(field, `The ${field} is larger than ${MAX_METADATA_BYTES / 1024} KB`);
	}
	return parsed as Record<string, unknown>;
}

export function parseCampaignName(value: unknown): string {
	if (typeof value !== 'string') {
		throw invalidInput('name', `The campaign name must be text, not ${describeType(value)}`);
	}
	const name = value.trim();
	if (name === '') throw invalidInput('name', 'The campaign name is empty');
	if (name.length > MAX_CAMPAIGN_NAME_LENGTH) {
		throw invalidInput('name', `The campaign name is longer than ${MAX_CAMPAIGN_NAME_LENGTH} characters`);
	}
	if (CONTROL_CHARACTERS.test(name)) throw invalidInput('name', 'The campaign name holds control characters');
	return name;
}

export function parseSlug(value: unknown): string {
	if (typeof value !== 'string') throw invalidInput('slug', `The slug must be text, not ${describeType(value)}`);
	const slug = value.trim();
	if (slug.length > MAX_SLUG_LENGTH || !SLUG_PATTERN.test(slug)) {
		throw invalidInput(
			'slug',
			`The slug "${preview(slug)}" may only hold lower-case letters, digits and inner hyphens (at most ${MAX_SLUG_LENGTH})`,
		);
	}
	return slug;
}

/** A slug made from a campaign name: "Spring Promo 2026!" becomes "spring-promo-2026". */
export function slugify(name: string): string {
	const slug = name
		.normalize('NFKD')
		.replace(/[\u0300-\u036f]/g, '')
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, '-')
		.replace(/^-+|-+$/g, '')
		.slice(0, MAX_SLUG_LENGTH)
		.replace(/-+$/, '');
	return slug === '' ? 'campaign' : slug;
}

export function parseCampaignStatus(value: unknown, field = 'status'): CampaignStatus {
	if (!(CAMPAIGN_STATUSES as readonly unknown[]).includes(value)) {
		throw invalidInput(field, `The ${field} must be one of ${CAMPAIGN_STATUSES.join(', ')}`);
	}
	return value as CampaignStatus;
}

export function parseSource(value: unknown, field = 'source'): ParticipantSource {
	if (!(PARTICIPANT_SOURCES as readonly unknown[]).includes(value)) {
		throw invalidInput(field, `The ${field} must be one of ${PARTICIPANT_SOURCES.join(', ')}`);
	}
	return value as ParticipantSource;
}

export const DEFAULT_FRAUD_SETTINGS: FraudSettings = {
	blockedEmailDomains: [],
	maxReferralsPerReferrerPerDay: 0,
	...LEGACY_FRAUD_DEFAULTS,
};

export type FraudSettingsInput = { [K in keyof FraudSettings]?: unknown };

const DOMAIN_PATTERN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/;

/** Blocked domains come as a list or as text separated by commas, spaces or new lines. */
export function parseFraudSettings(input: FraudSettingsInput): FraudSettings {
	const rawDomains = input.blockedEmailDomains ?? [];
	const list =
		typeof rawDomains === 'string'
			? rawDomains.split(/[\s,;]+/)
			: Array.isArray(rawDomains)
				? rawDomains
				: null;
	if (list === null) {
		throw invalidInput('blockedEmailDomains', 'Blocked email domains must be a list or comma-separated text');
	}
	const domains = new Set<string>();
	for (const entry of list) {
		if (typeof entry !== 'string') {
			throw invalidInput('blockedEmailDomains', 'Each blocked email domain must be text');
		}
		const domain = entry.trim().toLowerCase().replace(/^@/, '');
		if (domain === '') continue;
		if (!DOMAIN_PATTERN.test(domain)) {
			throw invalidInput('blockedEmailDomains', `"${preview(entry)}" is not a domain name`);
		}
		domains.add(domain);
	}
	const max = parseLimit(input.maxReferralsPerReferrerPerDay, 'maxReferralsPerReferrerPerDay', 'day');
	const hourly = parseLimit(input.maxReferralsPerReferrerPerHour, 'maxReferralsPerReferrerPerHour', 'hour');
	const velocityAction = parseFraudAction(input.velocityAction, 'velocityAction', ['flag', 'block']) as FraudSettings['velocityAction'];
	const disposableEmailAction = parseFraudAction(input.disposableEmailAction, 'disposableEmailAction', FRAUD_ACTIONS);
	const sameDeviceAction = parseFraudAction(input.sameDeviceAction, 'sameDeviceAction', FRAUD_ACTIONS);
	return {
		blockedEmailDomains: [...domains].sort(),
		maxReferralsPerReferrerPerDay: max,
		maxReferralsPerReferrerPerHour: hourly,
		velocityAction,
		disposableEmailAction,
		sameDeviceAction,
	};
}

function parseLimit(value: unknown, field: string, period: string): number {
	const max = value ?? 0;
	if (typeof max !== 'number' || !Number.isInteger(max) || max < 0 || max > 1_000_000) {
		throw invalidInput(field, `The referral limit per referrer and ${period} must be a whole number from 0 (no limit) up`);
	}
	return max;
}

/** A missing action keeps what campaigns did before the rule existed. */
function parseFraudAction(value: unknown, field: 'velocityAction' | 'disposableEmailAction' | 'sameDeviceAction', allowed: readonly FraudAction[]): FraudAction {
	if (value === undefined || value === null) return LEGACY_FRAUD_DEFAULTS[field];
	if (typeof value !== 'string' || !allowed.includes(value as FraudAction)) {
		throw invalidInput(field, `The ${field} must be one of ${allowed.join(', ')}`);
	}
	return value as FraudAction;
}
