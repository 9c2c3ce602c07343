import { invalidInput } from './errors';

const MAX_EMAIL_LENGTH = 254;
const MAX_LOCAL_LENGTH = 64;
// Printable ASCII without the characters RFC 5322 reserves for quoting, comments and routing.
const LOCAL_PART = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const TOP_LEVEL = /^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/;
const GMAIL_DOMAINS = new Set(['gmail.com', 'googlemail.com']);

/**
 * Trims, lower-cases and checks an email address; throws an invalid_input error naming `field`.
 * Addresses are compared in this form everywhere, so one person is one participant per campaign.
 */
export function normalizeEmail(value: unknown, field = 'email'): string {
	if (value === undefined || value === null) throw invalidInput(field, `The ${field} is missing`);
	if (typeof value !== 'string') {
		throw invalidInput(field, `The ${field} must be text, not ${describeType(value)}`);
	}
	const email = value.trim().toLowerCase();
	if (email === '') throw invalidInput(field, `The ${field} is empty`);
	if (email.length > MAX_EMAIL_LENGTH) {
		throw invalidInput(field, `The ${field} is longer than ${MAX_EMAIL_LENGTH} characters`);
	}
	const at = email.lastIndexOf('@');
	const local = email.slice(0, at);
	const domain = email.slice(at + 1);
	const labels = domain.split('.');
	const valid =
		at > 0 &&
		local.length <= MAX_LOCAL_LENGTH &&
		LOCAL_PART.test(local) &&
		labels.length >= 2 &&
		labels.every((label) => DOMAIN_LABEL.test(label)) &&
		TOP_LEVEL.test(labels[labels.length - 1]);
	if (!valid) {
		throw invalidInput(field, `The ${field} "${preview(value)}" is not a valid email address`);
	}
	return email;
}

/**
 * Who an address belongs to, the one rule for "the same person" everywhere (one participant per
 * identity and campaign, first referral wins, no self-referral): plus-tags dropped (`ann+x@a.com`
 * is `ann@a.com`) and, for Gmail, which ignores dots and has two domains, dots dropped and one
 * domain. The store's migration 6 computes the same in SQL for rows written before.
 */
export function emailIdentity(normalizedEmail: string): string {
	const at = normalizedEmail.lastIndexOf('@');
	let local = normalizedEmail.slice(0, at);
	const untagged = local.split('+')[0];
	// "+tag@x.com": no address before the tag, so the whole local part is the person.
	if (untagged !== '') local = untagged;
	let domain = normalizedEmail.slice(at + 1);
	if (GMAIL_DOMAINS.has(domain)) {
		local = local.replace(/\./g, '');
		domain = 'gmail.com';
	}
	return `${local}@${domain}`;
}

export function emailDomain(normalizedEmail: string): string {
	return normalizedEmail.slice(normalizedEmail.lastIndexOf('@') + 1);
}

export function describeType(value: unknown): string {
	if (value === null) return 'null';
	if (value === undefined) return 'nothing';
	if (Array.isArray(value)) return 'a list';
	return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A short, printable excerpt of user input for error messages. */
export function preview(value: string, max = 60): string {
	const printable = value.replace(/[\u0000-\u001f\u007f]/g, '?');
	return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}
