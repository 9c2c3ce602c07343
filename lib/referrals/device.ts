// The device a person signed up from, for the "same device as the referrer" fraud rule: a SHA-256
// of the client IP and the user agent, so neither is kept as such.

import { createHash } from 'node:crypto';

import { describeType } from './email';
import { invalidInput } from './errors';
import type { Participant } from './model';

/**
 * The sign-up device's fingerprint (64 hex characters), or null without both an IP and a user
 * agent: a user agent alone is shared by countless visitors, so it would hold honest referrals.
 * The IP may be an `X-Forwarded-For` value (its first entry, the visitor, is taken); a value that
 * is no IP address counts as none.
 */
export function deviceFingerprint(clientIp: unknown, userAgent: unknown): string | null {
	const ip = clientIpOf(optionalText(clientIp, 'clientIp'));
	const agent = optionalText(userAgent, 'userAgent');
	if (ip === null || agent === null) return null;
	return createHash('sha256').update(`${ip}\n${agent}`).digest('hex');
}

/** The fingerprints of newly inserted participants (keyed by identity) by id, for the store. */
export function insertedDevices(inserted: Map<string, Participant>, deviceOf: (identity: string) => string | null | undefined): Map<number, string> {
	const devices = new Map<number, string>();
	for (const [identity, participant] of inserted) {
		const device = deviceOf(identity);
		if (device) devices.set(participant.id, device);
	}
	return devices;
}

function optionalText(value: unknown, field: string): string | null {
	if (value === undefined || value === null) return null;
	if (typeof value !== 'string') throw invalidInput(field, `The ${field} must be text, not ${describeType(value)}`);
	const text = value.trim();
	return text === '' ? null : text;
}

/** One spelling per address: ports and brackets dropped, IPv4-mapped IPv6 as IPv4, lower case. */
function clientIpOf(value: string | null): string | null {
	if (value === null) return null;
	let ip = value.split(',')[0].trim().toLowerCase();
	const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(ip);
	if (bracketed) ip = bracketed[1];
	else if (/^[\d.]+:\d+$/.test(ip)) ip = ip.slice(0, ip.indexOf(':'));
	if (ip.startsWith('::ffff:') && isIpv4(ip.slice(7))) ip = ip.slice(7);
	return isIpv4(ip) || isIpv6(ip) ? ip : null;
}

function isIpv4(text: string): boolean {
	const parts = text.split('.');
	return parts.length === 4 && parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255);
}

/** Loosely: hex groups and colons (an IPv4 tail allowed); enough to tell an address from "unknown". */
function isIpv6(text: string): boolean {
	return text.length <= 45 && /^[0-9a-f:.]+$/.test(text) && text.split(':').length >= 3;
}
