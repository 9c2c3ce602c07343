import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DEFAULT_BRANDING, parseBranding } from '../../lib/portal/html';
import { portalLinks, SHARE_PAGE_PATH, STATS_PAGE_PATH } from '../../lib/portal/links';
import { answerPortalRequest, type PortalRequest } from '../../lib/portal/pages';
import { parseShareSettings, shareTargets } from '../../lib/portal/share';
import { friendName } from '../../lib/portal/stats';
import { signToken } from '../../lib/portal/tokens';
import type { Campaign, Participant } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { openStore } from '../../lib/store';
import type { ReferralStore } from '../../lib/store/types';
import { decodeQrSvg } from './qr-decode';

const SECRET = 'portal-secret-for-the-page-tests-0123456789';
const TEMPLATE = 'https://n8n.example.com/form/refer?ref={{code}}';
const RULES = {
	perReferral: { every: 1, reward: { kind: 'amount', amount: 25, currency: 'EUR' } },
	milestones: [{ at: 3, reward: { kind: 'custom', payload: { description: 'a hoodie' } } }],
};
const look = { branding: parseBranding({ title: 'Acme friends', accentColor: '#aa3300' }), share: parseShareSettings({ message: 'Try Acme: {{link}}' }) };
const stopAtFirst = { stopOnError: true };

describe('referrer pages (share and stats) over a real SQLite store', () => {
	let folder: string;
	let store: ReferralStore;
	let reads: number;
	let program: ReferralProgram;
	let campaign: Campaign;
	let other: Campaign;
	let ann: Participant;
	let bo: Participant;
	const now = new Date('2026-11-01T10:00:00.000Z');

	beforeEach(async () => {
		folder = mkdtempSync(join(tmpdir(), 'portal-'));
		const real = await openStore({ backend: 'sqlite', path: join(folder, 'referrals.sqlite') });
		reads = 0;
		// Counts the store's units of work: a refusal must cost what an unknown token costs.
		store = {
			backend: real.backend,
			read: (fn) => (reads++, real.read(fn)),
			transaction: (fn) => (reads++, real.transaction(fn)),
			scrub: () => real.scrub(),
			close: () => real.close(),
		};
		program = new ReferralProgram(store, () => now);
		campaign = await program.createCampaign({ name: 'Acme', rewardRules: RULES }, TEMPLATE);
		other = await program.createCampaign({ name: 'Other' }, TEMPLATE);
		const [enrolled] = await program.enrol(campaign.id, [{ email: 'ann@example.com', firstName: 'Ann', lastName: 'Lee' }], stopAtFirst);
		if (!enrolled.ok) throw enrolled.error;
		ann = enrolled.value.participant;
		const registered = await program.registerReferred(
			campaign.id,
			[
				{ code: ann.code, email: 'bo.friend@example.com', firstName: 'Bo', lastName: 'Friend' },
				{ code: ann.code, email: 'cy@example.com', firstName: 'Cy', lastName: '' },
			],
			stopAtFirst,
		);
		if (!registered[0].ok) throw registered[0].error;
		bo = registered[0].value.participant;
	});

	afterEach(async () => {
		await store.close();
		rmSync(folder, { recursive: true, force: true });
	});

	const links = (participant: Participant, expiresAfterDays = 0) =>
		portalLinks(SECRET, campaign, participant, { pagesBaseUrl: 'https://n8n.example.com/webhook', sharePath: SHARE_PAGE_PATH, statsPath: STATS_PAGE_PATH, expiresAfterDays }, now);
	const tokenOf = (url: string) => new URL(url).searchParams.get('t');
	const stats = (token: unknown, at = now) => answerPortalRequest(program, campaign, { page: 'stats', token, secret: SECRET }, look, at);
	const snapshot = async () => ({ events: await program.listEvents({}, 10_000, 'asc'), stats: await program.getCampaignStats(campaign.id) });

	it('links: the share page by code, the stats page by a signed token', () => {
		const made = links(ann, 30);
		expect(made.shareUrl).toBe(`https://n8n.example.com/webhook/referrals/share?ref=${ann.code}`);
		expect(made.statsUrl).toMatch(/^https:\/\/n8n\.example\.com\/webhook\/referrals\/stats\?t=[0-9a-z]+\.[0-9a-z]+\.[A-Za-z0-9_-]{43}$/);
		expect(made.statsExpiresAt).toBe('2026-12-01T10:00:00.000Z');
		expect(links(ann).statsExpiresAt).toBeNull();
	});

	it('the share page: the link, a copy button, six share buttons with the message, a QR code of exactly the link', async () => {
		const answer = await answerPortalRequest(program, campaign, { page: 'share', code: ann.code.toLowerCase() }, look, now);
		expect(answer.statusCode).toBe(200);
		expect(answer.html).toContain(`<input id="link" type="text" readonly value="${ann.link}"`);
		expect(answer.html).toContain('<button id="copy" type="button" hidden>Copy link</button>');
		for (const target of shareTargets(look.share, ann.link)) expect(answer.html).toContain(`href="${target.href.replace(/&/g, '&amp;')}"`);
		expect(shareTargets(look.share, ann.link).map((t) => t.id)).toEqual(['email', 'whatsapp', 'sms', 'linkedin', 'x', 'facebook']);
		expect(decodeURIComponent(shareTargets(look.share, ann.link)[1].href.split('text=')[1])).toBe(`Try Acme: ${ann.link}`);
		expect(decodeQrSvg(/<svg[\s\S]*?<\/svg>/.exec(answer.html)![0])).toBe(ann.link);
		// Branded, and nothing personal: the code is all the visitor gave.
		expect(answer.html).toContain('<h1>Acme friends</h1>');
		expect(answer.html).toContain('--accent:#aa3300');
		expect(answer.html).not.toMatch(/Ann|Lee|ann@example\.com/);
		expect(answer.html).not.toMatch(/<script src|https?:\/\/[^"]*\.(js|css)"/);
	});

	it('the stats page: friends by first name and initial with their status, rewards with amounts, milestone progress', async () => {
		const before = await stats(tokenOf(links(ann).statsUrl));
		expect(before.statusCode).toBe(200);
		expect(before.html).toContain('<td>Bo F.</td><td class="status status-signed-up">Signed up</td>');
		expect(before.html).toContain('<td>Cy</td>');
		expect(before.html).toContain('No rewards yet');
		expect(before.html).toContain('0 of 3 friends converted: at 3 you earn a hoodie.');
		expect(before.html).not.toMatch(/bo\.friend@example\.com|cy@example\.com|ann@example\.com|Bo Friend|Ann Lee/);

		await program.qualify({ code: bo.code, campaignId: campaign.id }, { action: 'qualify' });
		const after = await stats(tokenOf(links(ann).statsUrl));
		expect(after.html).toContain('<td>Bo F.</td><td class="status status-converted">Converted</td>');
		expect(after.html).toContain('<td>€25.00</td><td class="status">On its way</td>');
		expect(after.html).toContain('1 of 3 friends converted');
		expect(after.html).toContain('<progress max="3" value="1">');

		const [claimed] = (await program.rewards.claim({ limit: 10, leaseSeconds: 60 })).claimed;
		await program.rewards.confirm(claimed.reward.id);
		const issued = await stats(tokenOf(links(ann).statsUrl));
		expect(issued.html).toContain('<td>€25.00</td><td class="status">Issued 2026-11-01</td>');
		expect(issued.html).toContain('<strong>€25.00</strong><span class="muted">issued</span>');
		expect(issued.html).toContain('<strong>0</strong><span class="muted">on its way</span>');
	});

	it('forged, altered, expired, truncated, padded, 10 KB, other-campaign and erased tokens: the same 404 page, the same reads, nothing written', async () => {
		const good = tokenOf(links(ann).statsUrl)!;
		const expiring = tokenOf(links(ann, 1).statsUrl)!;
		const otherCampaign = signToken(SECRET, { campaignId: other.id, participantId: ann.id, expiresAt: null });
		const forged = signToken(`${SECRET}-not-ours`, { campaignId: campaign.id, participantId: ann.id, expiresAt: null });
		const unknown = signToken(SECRET, { campaignId: campaign.id, participantId: 999_999, expiresAt: null });
		const erasedToken = tokenOf(links(bo).statsUrl)!;
		await program.eraseParticipant(campaign.id, { id: bo.id });

		const before = await snapshot();
		const reference = await (async () => {
			const start = reads;
			const answer = await stats(unknown);
			return { answer, reads: reads - start };
		})();
		expect(reference.answer.statusCode).toBe(404);
		const cases: Array<[string, unknown, Date?]> = [
			['forged', forged],
			['expired', expiring, new Date(now.getTime() + 2 * 86_400_000)],
			['another campaign', otherCampaign],
			['erased', erasedToken],
			['truncated', good.slice(0, -3)],
			['extra characters', `${good}AA`],
			['10 KB', 'A'.repeat(10 * 1024)],
			['another participant', `${(ann.id + 1).toString(36)}${good.slice(good.indexOf('.'))}`],
			['missing', undefined],
			['an object', { t: good }],
		];
		for (const [what, token, at] of cases) {
			const start = reads;
			const answer = await stats(token, at);
			expect({ what, statusCode: answer.statusCode, same: answer.html === reference.answer.html, reads: reads - start }).toEqual({
				what,
				statusCode: 404,
				same: true,
				reads: reference.reads,
			});
		}
		const body = /<main>[\s\S]*<\/main>/.exec(reference.answer.html)![0];
		expect(body).not.toMatch(/Ann|Bo\b|Lee|expired because|campaign|erased/i);
		expect(await snapshot()).toEqual(before);
		// The genuine token still works.
		expect((await stats(good)).statusCode).toBe(200);
	});

	it('share pages of unknown, malformed, other-campaign and erased codes: the same 404 page, nothing written', async () => {
		const [elsewhere] = await program.enrol(other.id, [{ email: 'zed@example.com' }], stopAtFirst);
		if (!elsewhere.ok) throw elsewhere.error;
		await program.eraseParticipant(campaign.id, { id: bo.id });
		const before = await snapshot();
		const notFound = (await answerPortalRequest(program, campaign, { page: 'share', code: 'NOPE23456' }, look, now)).html;
		const requests: PortalRequest[] = [
			{ page: 'share', code: elsewhere.value.participant.code },
			{ page: 'share', code: bo.code },
			{ page: 'share', code: `${ann.code}'; DROP TABLE participants; --` },
			{ page: 'share', code: 'x'.repeat(10 * 1024) },
			{ page: 'share', code: undefined },
			{ page: 'share', code: ['A'] },
		];
		for (const request of requests) {
			expect(await answerPortalRequest(program, campaign, request, look, now)).toEqual({ statusCode: 404, html: notFound });
		}
		expect(await snapshot()).toEqual(before);
	});

	it('names: first name and last initial only', () => {
		expect(friendName({ firstName: 'Bo', lastName: 'friend', erasedAt: null })).toBe('Bo F.');
		expect(friendName({ firstName: null, lastName: 'Lee', erasedAt: null })).toBe('L.');
		expect(friendName({ firstName: 'Bo', lastName: 'Friend', erasedAt: '2026-01-01' })).toBe('A friend');
	});

	it('branding: bad colours and logo URLs are refused by field; custom CSS cannot close the style element', () => {
		expect(() => parseBranding({ accentColor: 'red;}body{display:none' })).toThrow(/not a colour/);
		expect(() => parseBranding({ logoUrl: 'javascript:alert(1)' })).toThrow(/not an http\(s\) URL/);
		expect(parseBranding({})).toEqual(DEFAULT_BRANDING);
	});
});
