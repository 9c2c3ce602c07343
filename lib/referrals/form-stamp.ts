// Bot checks for the public forms: a honeypot field and a signed render-time stamp, used once.
//
// n8n's Form Trigger evaluates a hidden field's value each time it renders the page, so the bundled
// forms carry a hidden field "stamp" whose expression writes `<render ms>.<sha256 hex>`, the hash of
// `<render ms>.<key>`. The key is the workflow's id plus the Check Form Submission node's Stamp
// Secret: neither is ever sent to a browser, so a bot cannot make a stamp it was not given, only
// fetch the page for one. A stamp then proves the page was rendered, and when: a submission within
// a couple of seconds of it is a script, and a stamp seen before is a replay (each is claimed once,
// in the store, until it expires).

import { createHash, timingSafeEqual } from 'node:crypto';

import type { ProgramContext } from './context';

export type BotReason = 'bot_trap_filled' | 'stamp_missing' | 'stamp_malformed' | 'stamp_forged' | 'too_fast' | 'stamp_expired' | 'stamp_replayed';

export interface StampPolicy {
	/** A submission sooner than this after the page was rendered is a bot. */
	minSeconds: number;
	/** A stamp older than this is refused (and forgotten by the replay check). */
	maxAgeHours: number;
}

export interface FormCheck {
	bot: boolean;
	reasons: BotReason[];
	/** When the page was rendered, from a stamp that carries a valid signature. */
	renderedAt?: string;
	/** Seconds from render to submission. */
	secondsOnPage?: number;
}

const STAMP = /^(\d{13})\.([0-9a-f]{64})$/;
export const STAMP_LEASE_PREFIX = 'form-stamp:';
/** Expired stamp claims removed per check: keeps the table bounded without a separate job. */
const PRUNE_PER_CHECK = 50;

/** The stamp's key: the workflow's id and the node's secret (either may be empty, not both). */
export function stampKey(workflowId: string, secret: string): string {
	return `${workflowId}.${secret}`;
}

/** What the form's expression computes; here for tests and for pages we render ourselves. */
export function signStamp(renderedAtMs: number, key: string): string {
	return `${renderedAtMs}.${digest(renderedAtMs, key)}`;
}

function digest(renderedAtMs: number, key: string): string {
	return createHash('sha256').update(`${renderedAtMs}.${key}`).digest('hex');
}

/** The checks that need no store: honeypot, format, signature, timing. */
export function inspectSubmission(
	input: { trap: unknown; stamp: unknown },
	key: string,
	nowMs: number,
	policy: StampPolicy,
): FormCheck & { stampDigest?: string; expiresAtMs?: number } {
	const reasons: BotReason[] = [];
	if (String(input.trap ?? '').trim() !== '') reasons.push('bot_trap_filled');
	const stamp = String(input.stamp ?? '').trim();
	if (stamp === '') return { bot: true, reasons: [...reasons, 'stamp_missing'] };
	const match = STAMP.exec(stamp);
	if (!match) return { bot: true, reasons: [...reasons, 'stamp_malformed'] };
	const renderedAtMs = Number(match[1]);
	const expected = Buffer.from(digest(renderedAtMs, key), 'hex');
	if (!timingSafeEqual(expected, Buffer.from(match[2], 'hex'))) return { bot: true, reasons: [...reasons, 'stamp_forged'] };
	const ageMs = nowMs - renderedAtMs;
	if (ageMs < policy.minSeconds * 1000) reasons.push('too_fast');
	const expiresAtMs = renderedAtMs + policy.maxAgeHours * 3_600_000;
	if (nowMs > expiresAtMs) reasons.push('stamp_expired');
	return {
		bot: reasons.length > 0,
		reasons,
		renderedAt: new Date(renderedAtMs).toISOString(),
		secondsOnPage: Math.round(ageMs / 100) / 10,
		stampDigest: match[2],
		expiresAtMs,
	};
}

/**
 * Every check, the replay one last: a stamp is claimed only by a submission that passed the
 * others, so a bot's too-fast try does not burn the page a person is still filling in.
 */
export async function checkFormSubmission(
	ctx: ProgramContext,
	input: { trap: unknown; stamp: unknown },
	key: string,
	policy: StampPolicy,
): Promise<FormCheck> {
	const now = ctx.now();
	const nowMs = Date.parse(now);
	const { stampDigest, expiresAtMs, ...check } = inspectSubmission(input, key, nowMs, policy);
	if (check.bot || stampDigest === undefined || expiresAtMs === undefined) return check;
	const until = new Date(expiresAtMs).toISOString();
	const claimed = await ctx.store.transaction(async (tx) => {
		await tx.deleteExpiredLeases(STAMP_LEASE_PREFIX, now, PRUNE_PER_CHECK);
		return await tx.acquireLease(`${STAMP_LEASE_PREFIX}${stampDigest}`, 'form', until, now);
	});
	return claimed ? check : { ...check, bot: true, reasons: ['stamp_replayed'] };
}
