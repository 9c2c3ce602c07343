import { invalidInput } from '../referrals/errors';
import type { Campaign, Participant } from '../referrals/model';
import { signToken } from './tokens';

/** Paths of the bundled referrer-portal workflow's pages, under n8n's webhook URL. */
export const SHARE_PAGE_PATH = 'referrals/share';
export const STATS_PAGE_PATH = 'referrals/stats';

export interface PortalLinkSettings {
	/** Where the pages are served: this n8n's public URL plus `/webhook` by default. */
	pagesBaseUrl: string;
	sharePath: string;
	statsPath: string;
	/** Days a stats link stays valid; 0: for good. */
	expiresAfterDays: number;
}

export interface PortalLinks {
	shareUrl: string;
	statsUrl: string;
	/** When the stats link stops working (ISO time), or null. */
	statsExpiresAt: string | null;
}

export function parsePagePath(value: unknown, field: string): string {
	const text = typeof value === 'string' ? value.trim().replace(/^\/+|\/+$/g, '') : '';
	if (!/^[A-Za-z0-9][A-Za-z0-9/_.-]{0,199}$/.test(text) || text.includes('..')) {
		throw invalidInput(field, `"${String(value)}" is not a page path like ${field === 'statsPath' ? STATS_PAGE_PATH : SHARE_PAGE_PATH}`);
	}
	return text;
}

export function parseBaseUrl(value: unknown, field = 'pagesBaseUrl'): string {
	const text = typeof value === 'string' ? value.trim().replace(/\/+$/, '') : '';
	let url: URL | undefined;
	try {
		url = new URL(text);
	} catch {
		url = undefined;
	}
	if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
		throw invalidInput(field, `"${String(value)}" is not a base URL like https://n8n.example.com/webhook`);
	}
	return text;
}

export function parseExpiryDays(value: unknown, field = 'expiresAfterDays'): number {
	const days = Number(value ?? 0);
	if (!Number.isInteger(days) || days < 0 || days > 3650) throw invalidInput(field, 'The expiry must be a whole number of days from 0 (never) to 3,650');
	return days;
}

/**
 * A participant's share page (by code, like the referral link itself) and personal stats page
 * (a signed token, optionally expiring).
 */
export function portalLinks(secret: string, campaign: Campaign, participant: Participant, settings: PortalLinkSettings, now: Date): PortalLinks {
	if (participant.erasedAt) throw invalidInput('participant', `Participant ${participant.id} was erased: they have no pages`);
	const expiresAt = settings.expiresAfterDays > 0 ? Math.floor(now.getTime() / 1000) + settings.expiresAfterDays * 86_400 : null;
	const token = signToken(secret, { campaignId: campaign.id, participantId: participant.id, expiresAt });
	return {
		shareUrl: `${settings.pagesBaseUrl}/${settings.sharePath}?ref=${encodeURIComponent(participant.code)}`,
		statsUrl: `${settings.pagesBaseUrl}/${settings.statsPath}?t=${token}`,
		statsExpiresAt: expiresAt === null ? null : new Date(expiresAt * 1000).toISOString(),
	};
}
