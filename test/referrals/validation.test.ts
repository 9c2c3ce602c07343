import { LEGACY_FRAUD_DEFAULTS } from '../../lib/referrals/model';
import {
	parseCampaignName,
	parseFraudSettings,
	parseMetadata,
	parseName,
	parseSlug,
	slugify,
} from '../../lib/referrals/validation';

describe('input validation', () => {
	it('names: blank is absent, control characters and oversized values are refused', () => {
		expect(parseName('  ', 'firstName')).toBeNull();
		expect(parseName(' Zoë 🎉 ', 'firstName')).toBe('Zoë 🎉');
		expect(() => parseName('a\u0000b', 'firstName')).toThrow('control or invalid characters');
		expect(() => parseName('x'.repeat(10_000), 'lastName')).toThrow('The lastName is longer than 100');
		expect(() => parseName(12, 'firstName')).toThrow('The firstName must be text, not a number');
		expect(() => parseName('bad \ufffd bytes', 'firstName')).toThrow('invalid characters');
	});

	it('metadata: an object or JSON text of one, at most 16 KB', () => {
		expect(parseMetadata('{"plan":"pro"}')).toEqual({ plan: 'pro' });
		expect(parseMetadata(undefined)).toEqual({});
		expect(() => parseMetadata('[1]')).toThrow('must be a JSON object, not a list');
		expect(() => parseMetadata('{nope')).toThrow('is not valid JSON');
		expect(() => parseMetadata({ big: 'x'.repeat(17_000) })).toThrow('larger than 16 KB');
	});

	it('campaign names and slugs', () => {
		expect(parseCampaignName('  Spring ')).toBe('Spring');
		expect(() => parseCampaignName('')).toThrow('The campaign name is empty');
		expect(slugify('Spring Promo 2026! — Café')).toBe('spring-promo-2026-cafe');
		expect(slugify('!!!')).toBe('campaign');
		expect(parseSlug('spring-2026')).toBe('spring-2026');
		expect(() => parseSlug('Spring 2026')).toThrow('may only hold lower-case letters');
	});

	it('fraud settings: domains from text or a list, a whole-number daily limit', () => {
		expect(parseFraudSettings({ blockedEmailDomains: 'Mailinator.com, @tempmail.io\nmailinator.com' })).toEqual({
			blockedEmailDomains: ['mailinator.com', 'tempmail.io'],
			maxReferralsPerReferrerPerDay: 0,
			...LEGACY_FRAUD_DEFAULTS,
		});
		expect(() => parseFraudSettings({ blockedEmailDomains: ['not a domain'] })).toThrow('is not a domain name');
		expect(() => parseFraudSettings({ maxReferralsPerReferrerPerDay: -1 })).toThrow('whole number');
	});
});
