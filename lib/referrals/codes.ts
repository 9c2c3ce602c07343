import { randomBytes } from 'node:crypto';

import { invalidInput } from './errors';
import type { CodeSettings } from './model';

/** Upper-case letters and digits without the look-alikes 0/O and 1/I/L: 31 symbols. */
export const CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';

/**
 * 9 symbols of 31 carry 44.6 bits; 8 would carry 39.6, under the 40 bits a code must have so that
 * nobody can guess live codes.
 */
export const MIN_CODE_LENGTH = 9;
export const MAX_CODE_LENGTH = 32;
export const MAX_PREFIX_LENGTH = 16;
export const DEFAULT_CODE_SETTINGS: CodeSettings = { length: MIN_CODE_LENGTH, prefix: '' };

const PREFIX_PATTERN = /^[A-Z0-9][A-Z0-9_-]*$/;
const CODE_PATTERN = /^[A-Z0-9_-]{1,64}$/;

export function codeEntropyBits(length: number): number {
	return length * Math.log2(CODE_ALPHABET.length);
}

// Bytes at or above this are skipped so that `byte % 31` is exactly uniform (248 = 8 × 31).
const UNBIASED_LIMIT = 256 - (256 % CODE_ALPHABET.length);
let pool = Buffer.alloc(0);
let poolOffset = 0;

/** A cryptographically random byte below UNBIASED_LIMIT, from a pooled buffer (one syscall per 4 KB). */
function randomSymbolIndex(): number {
	for (;;) {
		if (poolOffset >= pool.length) {
			pool = randomBytes(4096);
			poolOffset = 0;
		}
		const byte = pool[poolOffset++];
		if (byte < UNBIASED_LIMIT) return byte % CODE_ALPHABET.length;
	}
}

export function generateCode(settings: CodeSettings): string {
	let code = settings.prefix;
	for (let i = 0; i < settings.length; i++) code += CODE_ALPHABET[randomSymbolIndex()];
	return code;
}

/** Checks code settings given by a user and returns them normalised (prefix upper-cased). */
export function parseCodeSettings(input: { length?: unknown; prefix?: unknown }): CodeSettings {
	const length = input.length ?? DEFAULT_CODE_SETTINGS.length;
	if (
		typeof length !== 'number' ||
		!Number.isInteger(length) ||
		length < MIN_CODE_LENGTH ||
		length > MAX_CODE_LENGTH
	) {
		throw invalidInput(
			'codeLength',
			`The code length must be a whole number from ${MIN_CODE_LENGTH} to ${MAX_CODE_LENGTH}`,
			`${MIN_CODE_LENGTH} characters give ${codeEntropyBits(MIN_CODE_LENGTH).toFixed(1)} bits of randomness, the least that keeps codes unguessable`,
		);
	}
	const rawPrefix = input.prefix ?? '';
	if (typeof rawPrefix !== 'string') throw invalidInput('codePrefix', 'The code prefix must be text');
	const prefix = rawPrefix.trim().toUpperCase();
	if (prefix !== '' && (prefix.length > MAX_PREFIX_LENGTH || !PREFIX_PATTERN.test(prefix))) {
		throw invalidInput(
			'codePrefix',
			`The code prefix "${rawPrefix}" may only hold letters, digits, "-" and "_" (at most ${MAX_PREFIX_LENGTH}), starting with a letter or digit`,
		);
	}
	return { length, prefix };
}

/** Codes are matched case-insensitively and without surrounding spaces, as people type them. */
export function normalizeCode(value: unknown, field = 'code'): string {
	if (value === undefined || value === null) throw invalidInput(field, `The referral ${field} is missing`);
	if (typeof value !== 'string' && typeof value !== 'number') {
		throw invalidInput(field, `The referral ${field} must be text`);
	}
	const code = String(value).trim().toUpperCase();
	if (code === '') throw invalidInput(field, `The referral ${field} is empty`);
	if (!CODE_PATTERN.test(code)) {
		throw invalidInput(field, `"${String(value).slice(0, 40)}" is not a referral code`);
	}
	return code;
}

/** The normalised code, or null when the value is no referral code at all (empty, garbage). */
export function codeOrNull(value: unknown): string | null {
	if (typeof value !== 'string' && typeof value !== 'number') return null;
	const code = String(value).trim().toUpperCase();
	return CODE_PATTERN.test(code) ? code : null;
}
