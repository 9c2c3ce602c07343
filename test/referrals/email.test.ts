import { emailIdentity, normalizeEmail } from '../../lib/referrals/email';
import { ReferralError } from '../../lib/referrals/errors';

describe('normalizeEmail', () => {
	it('trims and lower-cases', () => {
		expect(normalizeEmail('  Ann.Lee@Example.COM ')).toBe('ann.lee@example.com');
	});

	it.each([
		['plus tag', 'ann+promo@example.com'],
		['sub-domain', 'bob@mail.example.co.uk'],
		['digits and dashes', 'x-1_2@a-b.io'],
		['punycode top level', 'a@b.xn--p1ai'],
	])('accepts a %s', (_label, email) => {
		expect(normalizeEmail(email)).toBe(email);
	});

	it.each([
		['no at sign', 'ann.example.com'],
		['no domain dot', 'ann@localhost'],
		['two at signs', 'ann@@example.com'],
		['spaces inside', 'ann lee@example.com'],
		['a quote', 'ann"@example.com'],
		['an SQL quote run', "x'; DROP TABLE participants;--@example.com"],
		['a leading dot', '.ann@example.com'],
		['a double dot', 'ann..lee@example.com'],
		['a numeric top level', 'ann@example.123'],
		['a label starting with a dash', 'ann@-example.com'],
		['angle brackets', '<ann@example.com>'],
		['a new line', 'ann@example.com\nBcc: x@y.com'],
		['a 65-character local part', `${'a'.repeat(65)}@example.com`],
		['unicode in the local part', 'änn@example.com'],
	])('refuses %s', (_label, email) => {
		expect(() => normalizeEmail(email)).toThrow(ReferralError);
	});

	it('names the field and the value in the error', () => {
		expect(() => normalizeEmail('nope', 'referredEmail')).toThrow(
			'The referredEmail "nope" is not a valid email address',
		);
	});

	it('refuses values that are not text, saying what they are', () => {
		expect(() => normalizeEmail(42)).toThrow('The email must be text, not a number');
		expect(() => normalizeEmail(null)).toThrow('The email is missing');
		expect(() => normalizeEmail(undefined)).toThrow('The email is missing');
		expect(() => normalizeEmail({})).toThrow('The email must be text, not an object');
	});

	it('refuses an empty or too long address', () => {
		expect(() => normalizeEmail('   ')).toThrow('The email is empty');
		expect(() => normalizeEmail(`a@${'b'.repeat(250)}.com`)).toThrow('longer than 254');
	});
});

describe('emailIdentity', () => {
	it('folds plus-tags', () => {
		expect(emailIdentity('ann+friend@example.com')).toBe('ann@example.com');
	});

	it('folds Gmail dots and googlemail.com', () => {
		expect(emailIdentity('a.n.n+x@googlemail.com')).toBe('ann@gmail.com');
	});

	it('keeps dots elsewhere, where they matter', () => {
		expect(emailIdentity('a.nn@example.com')).toBe('a.nn@example.com');
	});
});
