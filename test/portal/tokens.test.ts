import { MAX_TOKEN_LENGTH, signToken, verifyToken } from '../../lib/portal/tokens';
import { qrMatrix, qrSvg } from '../../lib/portal/qr';
import { decodeQrSvg } from './qr-decode';

const SECRET = 'a-long-random-secret-for-the-tests-0123456789';
const NOW = 1_790_000_000;

describe('portal tokens', () => {
	const token = signToken(SECRET, { campaignId: 1, participantId: 42, expiresAt: null });

	it('name their participant in their own campaign under their secret', () => {
		expect(token).toMatch(/^16\.\.[A-Za-z0-9_-]{43}$/);
		expect(verifyToken(SECRET, 1, token, NOW)).toBe(42);
	});

	it('are refused in another campaign, under another secret, or once expired', () => {
		expect(verifyToken(SECRET, 2, token, NOW)).toBeNull();
		expect(verifyToken(`${SECRET}x`, 1, token, NOW)).toBeNull();
		const expiring = signToken(SECRET, { campaignId: 1, participantId: 42, expiresAt: NOW + 60 });
		expect(verifyToken(SECRET, 1, expiring, NOW)).toBe(42);
		expect(verifyToken(SECRET, 1, expiring, NOW + 60)).toBeNull();
		expect(verifyToken(SECRET, 1, expiring, NOW + 3600)).toBeNull();
	});

	it('are refused when altered anywhere: another participant, expiry removed or moved, a MAC character changed', () => {
		const expiring = signToken(SECRET, { campaignId: 1, participantId: 42, expiresAt: NOW + 60 });
		const [id, expiry, mac] = expiring.split('.');
		const altered = [
			`${(43).toString(36)}.${expiry}.${mac}`,
			`${id}..${mac}`,
			`${id}.${(NOW + 999_999).toString(36)}.${mac}`,
			`0${id}.${expiry}.${mac}`,
			// Every other last character, including the ones that decode to the same bytes.
			...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
				.split('')
				.filter((c) => c !== mac.slice(-1))
				.map((c) => `${id}.${expiry}.${mac.slice(0, -1)}${c}`),
			`${id}.${expiry}.${mac.slice(0, 10)}${mac[10] === 'a' ? 'b' : 'a'}${mac.slice(11)}`,
		];
		for (const bad of altered) expect({ bad, id: verifyToken(SECRET, 1, bad, NOW) }).toEqual({ bad, id: null });
	});

	it('refuse truncated, padded, oversized and non-text tokens', () => {
		const bad: unknown[] = [
			token.slice(0, -1),
			token.slice(0, 10),
			`${token}x`,
			` ${token}`,
			`${token}\n`,
			`${token}.`,
			'x'.repeat(10 * 1024),
			token + 'A'.repeat(MAX_TOKEN_LENGTH),
			'',
			null,
			undefined,
			42,
			{ token },
			[token],
		];
		for (const value of bad) expect(verifyToken(SECRET, 1, value, NOW)).toBeNull();
	});

	it('need a secret of at least 32 characters', () => {
		expect(() => signToken('short', { campaignId: 1, participantId: 1, expiresAt: null })).toThrow(/at least 32 characters/);
		expect(() => verifyToken('', 1, token, NOW)).toThrow(/at least 32 characters/);
	});
});

describe('QR code SVG', () => {
	it.each([
		'http://localhost:5678/form/refer?ref=9FCHAZ8EK',
		'https://n8n.example.com/form/refer?ref=SPRING-ABCDEFGHJ',
		`https://example.com/join?ref=X&utm=${'a'.repeat(300)}`,
	])('decodes to exactly the link (%s)', (link) => {
		const svg = qrSvg(link, { label: 'QR' });
		expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*role="img"/);
		expect(decodeQrSvg(svg)).toBe(link);
	});

	it('draws a quiet zone and escapes its label', () => {
		const link = 'http://localhost/form/refer?ref=ABC';
		const svg = qrSvg(link, { label: '"><script>' });
		expect(svg).not.toContain('<script>');
		const side = qrMatrix(link).length + 8;
		expect(svg).toContain(`viewBox="0 0 ${side} ${side}"`);
	});
});
