import {
	CODE_ALPHABET,
	codeEntropyBits,
	DEFAULT_CODE_SETTINGS,
	generateCode,
	normalizeCode,
	parseCodeSettings,
} from '../../lib/referrals/codes';

describe('referral codes', () => {
	it('use an alphabet without look-alike characters', () => {
		expect(CODE_ALPHABET).toHaveLength(31);
		for (const ambiguous of ['0', 'O', '1', 'I', 'L']) expect(CODE_ALPHABET).not.toContain(ambiguous);
	});

	it('carry at least 40 bits by default', () => {
		expect(codeEntropyBits(DEFAULT_CODE_SETTINGS.length)).toBeGreaterThanOrEqual(40);
	});

	it('10,000 generated codes are distinct and drawn only from the alphabet', () => {
		const codes = new Set<string>();
		for (let i = 0; i < 10_000; i++) codes.add(generateCode(DEFAULT_CODE_SETTINGS));
		expect(codes.size).toBe(10_000);
		for (const code of codes) expect(code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{9}$/);
	});

	it('every symbol appears with about equal frequency', () => {
		const counts = new Map<string, number>();
		for (let i = 0; i < 3_000; i++) {
			for (const symbol of generateCode({ length: 31, prefix: '' })) {
				counts.set(symbol, (counts.get(symbol) ?? 0) + 1);
			}
		}
		const expected = 3_000;
		for (const symbol of CODE_ALPHABET) {
			expect(Math.abs((counts.get(symbol) ?? 0) - expected)).toBeLessThan(expected * 0.1);
		}
	});

	it('start with the campaign prefix', () => {
		expect(generateCode({ length: 10, prefix: 'ACME-' })).toMatch(/^ACME-[2-9A-Z]{10}$/);
	});

	it('are matched case-insensitively and trimmed', () => {
		expect(normalizeCode(' acme-ab3k ')).toBe('ACME-AB3K');
	});

	it('refuse malformed codes', () => {
		expect(() => normalizeCode("AB' OR 1=1")).toThrow('is not a referral code');
		expect(() => normalizeCode('')).toThrow('The referral code is empty');
		expect(() => normalizeCode(undefined)).toThrow('The referral code is missing');
		expect(() => normalizeCode({})).toThrow('The referral code must be text');
		expect(() => normalizeCode('A'.repeat(65))).toThrow('is not a referral code');
	});
});

describe('parseCodeSettings', () => {
	it('defaults to 9 characters and no prefix', () => {
		expect(parseCodeSettings({})).toEqual({ length: 9, prefix: '' });
	});

	it('upper-cases the prefix', () => {
		expect(parseCodeSettings({ length: 12, prefix: 'spring-' })).toEqual({ length: 12, prefix: 'SPRING-' });
	});

	it('refuses lengths that would make codes guessable or unwieldy', () => {
		expect(() => parseCodeSettings({ length: 8 })).toThrow('from 9 to 32');
		expect(() => parseCodeSettings({ length: 33 })).toThrow('from 9 to 32');
		expect(() => parseCodeSettings({ length: 9.5 })).toThrow('whole number');
	});

	it('refuses prefixes with other characters', () => {
		expect(() => parseCodeSettings({ prefix: 'a b' })).toThrow('may only hold letters');
		expect(() => parseCodeSettings({ prefix: '-X' })).toThrow('starting with a letter or digit');
	});
});
