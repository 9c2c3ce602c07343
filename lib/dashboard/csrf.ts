import { createHmac, timingSafeEqual } from 'node:crypto';

import { parseSecret } from '../portal/tokens';

/**
 * Tokens against cross-site request forgery on the dashboard's buttons. Each button's form carries
 * a token naming its action, subject and campaign, HMAC-signed under the Referral Portal secret with
 * an expiry: a page from another site cannot make one, and a token cannot be replayed on another
 * reward, another action or after it expires. The action itself is idempotent, so a replay within
 * the lifetime (a second click) changes nothing.
 *
 * Format: `<expiry in Unix seconds, base 36>.<MAC, base64url>`.
 */

/** Long enough to read the page over a coffee, short enough that a leaked page soon stops working. */
export const CSRF_LIFETIME_SECONDS = 2 * 3600;

const DOMAIN = 'n8n-nodes-pipedrive-referrals/dashboard-csrf/v1';
const SHAPE = /^([0-9a-z]{1,9})\.([A-Za-z0-9_-]{43})$/;

export interface CsrfClaims {
	action: string;
	subjectId: number;
	campaignId: number;
}

function mac(secret: string, claims: CsrfClaims, expiry: string): string {
	return createHmac('sha256', secret)
		.update(`${DOMAIN}\n${claims.action}\n${claims.campaignId}\n${claims.subjectId}\n${expiry}`)
		.digest('base64url');
}

export function signCsrfToken(secret: string, claims: CsrfClaims, nowSeconds: number): string {
	const expiry = (Math.floor(nowSeconds) + CSRF_LIFETIME_SECONDS).toString(36);
	return `${expiry}.${mac(parseSecret(secret), claims, expiry)}`;
}

/** True for an unexpired token of exactly this action, subject and campaign; MACs compared in constant time. */
export function verifyCsrfToken(secret: string, claims: CsrfClaims, token: unknown, nowSeconds: number): boolean {
	const key = parseSecret(secret);
	const match = typeof token === 'string' && token.length <= 64 ? SHAPE.exec(token) : null;
	const expected = Buffer.from(mac(key, claims, match ? match[1] : ''));
	const given = match ? Buffer.from(match[2]) : Buffer.alloc(expected.length);
	const same = given.length === expected.length && timingSafeEqual(given, expected);
	return !!match && same && parseInt(match[1], 36) > nowSeconds;
}
