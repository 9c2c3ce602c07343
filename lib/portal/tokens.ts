import { createHmac, timingSafeEqual } from 'node:crypto';

import { invalidInput } from '../referrals/errors';

/**
 * Signed links to a referrer's personal stats page: no login, no account. A token names the
 * participant and an optional expiry, and carries an HMAC-SHA256 of both and of the campaign under
 * a secret kept in the Referral Portal credential. The campaign is in the MAC but not in the token,
 * so a token is only valid on the pages of its own campaign and says nothing about it.
 *
 * Format: `<participant id, base 36>.<expiry in Unix seconds, base 36, or empty>.<MAC, base64url>`.
 */

/** Shorter secrets are refused: the MAC is only as strong as the key. */
export const MIN_SECRET_LENGTH = 32;
/** Anything longer is not a token of ours, and is refused before any work is done on it. */
export const MAX_TOKEN_LENGTH = 80;

const DOMAIN = 'n8n-nodes-pipedrive-referrals/portal-token/v1';
const TOKEN_SHAPE = /^([0-9a-z]{1,11})\.([0-9a-z]{0,9})\.([A-Za-z0-9_-]{43})$/;

export interface TokenClaims {
	campaignId: number;
	participantId: number;
	/** Unix seconds after which the token is refused; null: never. */
	expiresAt: number | null;
}

export function parseSecret(secret: unknown, field = 'secret'): string {
	if (typeof secret !== 'string' || secret.trim().length < MIN_SECRET_LENGTH) {
		throw invalidInput(
			field,
			`The portal secret must be at least ${MIN_SECRET_LENGTH} characters`,
			'Set a long random secret on the Referral Portal credential, e.g. the output of `openssl rand -base64 48`',
		);
	}
	return secret.trim();
}

function mac(secret: string, campaignId: number, participantId: number, expiry: string): Buffer {
	return createHmac('sha256', secret).update(`${DOMAIN}\n${campaignId}\n${participantId}\n${expiry}`).digest();
}

export function signToken(secret: string, claims: TokenClaims): string {
	const key = parseSecret(secret);
	if (!Number.isSafeInteger(claims.participantId) || claims.participantId <= 0) {
		throw invalidInput('participantId', `"${claims.participantId}" is not a participant ID`);
	}
	if (claims.expiresAt !== null && !(Number.isSafeInteger(claims.expiresAt) && claims.expiresAt > 0)) {
		throw invalidInput('expiresAt', 'The expiry must be a time in Unix seconds');
	}
	const id = claims.participantId.toString(36);
	const expiry = claims.expiresAt === null ? '' : claims.expiresAt.toString(36);
	return `${id}.${expiry}.${mac(key, claims.campaignId, claims.participantId, expiry).toString('base64url')}`;
}

/**
 * The participant a token names, or null for anything that is not a valid, unexpired token of this
 * campaign under this secret. Malformed tokens cost an HMAC too, and MACs are compared in constant
 * time, so how long a refusal takes says nothing about why.
 */
export function verifyToken(secret: string, campaignId: number, token: unknown, nowSeconds: number): number | null {
	const key = parseSecret(secret);
	const text = typeof token === 'string' && token.length <= MAX_TOKEN_LENGTH ? token : '';
	const match = TOKEN_SHAPE.exec(text);
	const participantId = match ? parseInt(match[1], 36) : 0;
	const expiry = match ? match[2] : '';
	// Compared as text: 43 base64url characters hold 258 bits, so two spellings decode to one MAC.
	const expected = Buffer.from(mac(key, campaignId, participantId, expiry).toString('base64url'));
	const given = match ? Buffer.from(match[3]) : Buffer.alloc(expected.length);
	const sameMac = given.length === expected.length && timingSafeEqual(given, expected);
	if (!match || !sameMac || !Number.isSafeInteger(participantId) || participantId <= 0) return null;
	// Re-encoding must give the same text: no leading zeros or other spellings of one token.
	if (participantId.toString(36) !== match[1]) return null;
	if (expiry !== '') {
		const expiresAt = parseInt(expiry, 36);
		if (expiresAt.toString(36) !== expiry || nowSeconds >= expiresAt) return null;
	}
	return participantId;
}
