// Basic auth between Pipedrive and this trigger. Pipedrive does not sign deliveries; it sends the
// user and password set on the webhook with every delivery. The trigger generates the password
// when it registers its webhooks and keeps it in the workflow's static data, so there is no extra
// credential to set up.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** The basic-auth user of every webhook this trigger registers. */
export const WEBHOOK_USER = 'n8n';

/** A new webhook password: 32 random bytes, base64url (43 characters). */
export function generatePassword(): string {
	return randomBytes(32).toString('base64url');
}

function digest(text: string): Buffer {
	return createHash('sha256').update(text, 'utf8').digest();
}

/** `user:password` from an `Authorization: Basic ...` header, or null. */
function basicCredentials(header: string | string[] | undefined): string | null {
	const value = Array.isArray(header) ? header[0] : header;
	if (typeof value !== 'string') return null;
	const match = /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(value);
	if (!match) return null;
	const decoded = Buffer.from(match[1], 'base64').toString('utf8');
	return decoded.includes(':') ? decoded : null;
}

/**
 * Whether the `Authorization` header carries this user and password. Both sides are hashed to
 * equal-length digests and compared with `timingSafeEqual`, so the time taken says nothing about
 * how much of the secret matched (nor about its length).
 */
export function isAuthorized(header: string | string[] | undefined, user: unknown, password: unknown): boolean {
	if (typeof user !== 'string' || typeof password !== 'string' || user === '' || password === '') return false;
	const given = basicCredentials(header);
	const expected = digest(`${user}:${password}`);
	const actual = digest(given ?? '');
	return timingSafeEqual(expected, actual) && given !== null;
}
