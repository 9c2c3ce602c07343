import { codeOrNull } from '../referrals/codes';
import type { Campaign } from '../referrals/model';
import type { ReferralProgram } from '../referrals/program';
import { notFoundPage, type Branding } from './html';
import { renderSharePage, type ShareSettings } from './share';
import { loadStatsView, renderStatsPage } from './stats';
import { verifyToken } from './tokens';

export type PortalRequest = { page: 'share'; code: unknown } | { page: 'stats'; token: unknown; secret: string };

export interface PortalAnswer {
	statusCode: 200 | 404;
	html: string;
}

// A code that cannot exist (it has look-alike characters): a malformed code is looked up as this,
// so a refusal costs the same store read as an unknown code.
const NO_CODE = 'O0O0O0O0O';

/**
 * The page a visitor asked for, or the one 404 page. Unknown, malformed, forged, altered, expired,
 * other-campaign and erased alike get the same bytes after the same store reads, and nothing is
 * written: there is nothing to enumerate.
 */
export async function answerPortalRequest(
	program: ReferralProgram,
	campaign: Campaign,
	request: PortalRequest,
	look: { branding: Branding; share: ShareSettings },
	now: Date,
): Promise<PortalAnswer> {
	const missing: PortalAnswer = { statusCode: 404, html: notFoundPage(look.branding) };
	if (request.page === 'share') {
		const code = (typeof request.code === 'string' ? codeOrNull(request.code) : null) ?? NO_CODE;
		const participant = await program.findParticipant(campaign.id, { code });
		if (!participant || participant.erasedAt) return missing;
		return { statusCode: 200, html: renderSharePage(look.branding, look.share, participant.link) };
	}
	const participantId = verifyToken(request.secret, campaign.id, request.token, Math.floor(now.getTime() / 1000));
	const view = await loadStatsView(program, campaign, participantId ?? 0);
	if (participantId === null || !view) return missing;
	return { statusCode: 200, html: renderStatsPage(look.branding, look.share, view) };
}
