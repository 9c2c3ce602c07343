/**
 * The referrer's pages in a real n8n 2.41 with the package installed as a community package, seen
 * in Debian's headless Chromium: sign up as a referrer → the share page (link, copy button, QR code
 * that decodes to exactly the link) → a friend signs up and converts → the stats page shows it →
 * every bad token gets the same 404 page and nothing is written.
 */
import jsQR from 'jsqr';
import { PNG } from 'pngjs';

import { signToken } from '../../lib/portal/tokens';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { ReferralStore } from '../../lib/store/types';
import { startSandbox, type Sandbox } from '../../sandbox';
import { launchChromium, type Browser } from '../../scripts/chromium';
import { BUNDLED_PATHS, bundledWorkflows, QUALIFY_KEY_HEADER } from '../../scripts/n8n/bundle';
import { sleep } from '../../scripts/n8n/proc';
import { prepareBundledN8n, sqliteStorePath, submitForm, waitFor } from './helpers/bundled';
import { postWebhook, type RealN8n } from './helpers/real-n8n';

const QUALIFY_KEY = 'e2e-portal-qualify-key-9d1c';
const PORTAL_SECRET = 'e2e-portal-secret-0123456789abcdefghijklmnop';
const WORKFLOWS = ['referrer-signup.json', 'referred-signup.json', 'referrer-portal.json', 'qualify-with-code-webhook.json', 'issue-rewards.json'];

function decodePng(png: Buffer): string | null {
	const image = PNG.sync.read(png);
	return jsQR(new Uint8ClampedArray(image.data.buffer, image.data.byteOffset, image.data.length), image.width, image.height)?.data ?? null;
}

describe('real n8n + Chromium: the referrer’s share page and stats page', () => {
	let sandbox: Sandbox;
	let n8n: RealN8n;
	let browser: Browser;
	let store: ReferralStore;
	let program: ReferralProgram;
	const run: { code?: string; link?: string; shareHref?: string; statsUrl?: string; friendCode?: string; campaignId?: number; referrerId?: number } = {};

	beforeAll(async () => {
		sandbox = await startSandbox({});
		n8n = await prepareBundledN8n(sandbox, {
			qualifyKey: QUALIFY_KEY,
			portalSecret: PORTAL_SECRET,
			workflows: bundledWorkflows()
				.filter(({ file }) => WORKFLOWS.includes(file))
				.map(({ workflow }) => workflow),
		});
		store = await openStore({ backend: 'sqlite', path: sqliteStorePath(n8n.userFolder) });
		program = new ReferralProgram(store, undefined, { publicUrl: () => n8n.instance.url });
		browser = await launchChromium({ width: 420, height: 900 });
	});

	afterAll(async () => {
		await browser?.close();
		await closeAllStores();
		await n8n?.dispose();
		await sandbox?.close();
	});

	const page = (path: string) => `${n8n.instance.url}/webhook/${path}`;
	const statsUrlOf = (participantId: number, campaignId = run.campaignId!, expiresAt: number | null = null) =>
		`${page(BUNDLED_PATHS.statsPage)}?t=${signToken(PORTAL_SECRET, { campaignId, participantId, expiresAt })}`;

	it('1. the signup form ends with a link to the share page, which shows the link, copies it, and has a QR code of exactly the link', async () => {
		const result = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Ann', 'Lee', 'ann.lee@example.com']);
		expect(result.heading).toBe("You're in!");
		const link = /(http\S+\/form\/refer\?ref=(\S+))/.exec(result.text)!;
		run.link = link[1];
		run.code = link[2];
		const href = /<a href="([^"]+)">Open your share page<\/a>/.exec(result.page);
		expect(href?.[1]).toBe(`/webhook/${BUNDLED_PATHS.sharePage}?ref=${run.code}`);
		run.shareHref = href![1];
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		run.campaignId = campaign.id;
		run.referrerId = (await program.getParticipant(campaign.id, { code: run.code })).id;

		const { devtools } = browser;
		await devtools.open(`${n8n.instance.url}${run.shareHref}`);
		expect(await devtools.evaluate<string>(`document.getElementById('link').value`)).toBe(run.link);
		const shares = await devtools.evaluate<string[]>(`[...document.querySelectorAll('.share a')].map((a) => a.textContent)`);
		expect(shares).toEqual(['Email', 'WhatsApp', 'SMS', 'LinkedIn', 'X', 'Facebook']);
		// The copy button, clicked as a person does.
		expect(await devtools.evaluate<boolean>(`document.getElementById('copy').hidden`)).toBe(false);
		await devtools.click('#copy');
		await waitFor(async () => (await devtools.evaluate<string>(`document.getElementById('copy').textContent`)) === 'Copied!', 5_000, 'the copy button to confirm');
		// Read the clipboard back from a page of n8n's own origin (the share page runs sandboxed).
		await devtools.send('Browser.grantPermissions', { origin: n8n.instance.url, permissions: ['clipboardReadWrite', 'clipboardSanitizedWrite'] });
		await devtools.open(`${n8n.instance.url}/healthz`);
		expect(await devtools.evaluate<string>('navigator.clipboard.readText()')).toBe(run.link);

		// The QR code as the screen shows it, decoded by jsQR.
		await devtools.open(`${n8n.instance.url}${run.shareHref}`);
		expect(decodePng(await devtools.screenshot('svg.qr'))).toBe(run.link);
		// Nothing but the copy button's script; no request leaves n8n.
		expect(await devtools.evaluate<number>(`document.querySelectorAll('script[src], link[rel=stylesheet], iframe').length`)).toBe(0);
	});

	it('2. a friend signs up, then converts: the stats page shows them as signed up, then converted, and the reward', async () => {
		const query = `ref=${encodeURIComponent(run.code!)}`;
		const signup = await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, ['Bo', 'Friend', 'bo.friend@example.com', run.code!], query);
		expect(signup.heading).toBe('Thank you!');
		run.friendCode = (await program.getParticipant(run.campaignId!, { email: 'bo.friend@example.com' })).code;
		run.statsUrl = statsUrlOf(run.referrerId!);

		const { devtools } = browser;
		const friends = async () => await devtools.evaluate<string[][]>(`[...document.querySelectorAll('#friends tbody tr')].map((tr) => [...tr.cells].slice(0, 2).map((td) => td.textContent))`);
		await devtools.open(run.statsUrl);
		expect(await friends()).toEqual([['Bo F.', 'Signed up']]);
		expect(await devtools.evaluate<string>('document.body.innerText')).not.toMatch(/bo\.friend@example\.com|Bo Friend/);

		const qualified = await postWebhook(n8n.instance, BUNDLED_PATHS.qualifyWebhook, { code: run.friendCode });
		expect(qualified.status).toBe(403); // no key: refused, as ever
		const response = await fetch(page(BUNDLED_PATHS.qualifyWebhook), {
			method: 'POST',
			headers: { 'content-type': 'application/json', [QUALIFY_KEY_HEADER]: QUALIFY_KEY },
			body: JSON.stringify({ code: run.friendCode }),
		});
		expect(response.status).toBe(200);
		await devtools.open(run.statsUrl);
		expect(await friends()).toEqual([['Bo F.', 'Converted']]);
		const rewards = await devtools.evaluate<string>(`document.getElementById('rewards').innerText`);
		expect(rewards).toMatch(/€25\.00/);
		// The issue-rewards workflow polls every minute; then the reward reads as issued.
		await waitFor(async () => {
			await devtools.open(run.statsUrl!);
			return /Issued \d{4}-\d{2}-\d{2}/.test(await devtools.evaluate<string>(`document.getElementById('rewards').innerText`));
		}, 150_000, 'the reward to show as issued');
	});

	it('3. forged, expired, other-campaign, truncated, padded, 10 KB and erased tokens: the same 404 page, nothing written', async () => {
		const good = new URL(run.statsUrl!).searchParams.get('t')!;
		const friend = await program.getParticipant(run.campaignId!, { code: run.friendCode! });
		const erasedUrl = statsUrlOf(friend.id);
		await program.eraseParticipant(run.campaignId!, { id: friend.id });
		const before = { events: (await program.listEvents({}, 10_000, 'asc')).length, stats: await program.getCampaignStats(run.campaignId!) };
		const unknown = await fetch(statsUrlOf(999_999));
		expect(unknown.status).toBe(404);
		const notFound = await unknown.text();
		const bad: Array<[string, string]> = [
			['forged', `${page(BUNDLED_PATHS.statsPage)}?t=${signToken(`${PORTAL_SECRET}-forged`, { campaignId: run.campaignId!, participantId: run.referrerId!, expiresAt: null })}`],
			['expired', statsUrlOf(run.referrerId!, run.campaignId!, Math.floor(Date.now() / 1000) - 60)],
			['another campaign', statsUrlOf(run.referrerId!, run.campaignId! + 1)],
			['truncated', `${page(BUNDLED_PATHS.statsPage)}?t=${good.slice(0, -4)}`],
			['extra characters', `${page(BUNDLED_PATHS.statsPage)}?t=${good}xyz`],
			['10 KB', `${page(BUNDLED_PATHS.statsPage)}?t=${'A'.repeat(10 * 1024)}`],
			['erased participant', erasedUrl],
			['no token', page(BUNDLED_PATHS.statsPage)],
			['unknown code', `${page(BUNDLED_PATHS.sharePage)}?ref=NOPE23456`],
			['erased participant’s share page', `${page(BUNDLED_PATHS.sharePage)}?ref=${run.friendCode}`],
		];
		for (const [what, url] of bad) {
			const response = await fetch(url);
			expect({ what, status: response.status, same: (await response.text()) === notFound }).toEqual({ what, status: 404, same: true });
		}
		expect(notFound).toContain('This link does not work');
		expect(/<main>[\s\S]*<\/main>/.exec(notFound)![0]).not.toMatch(/Ann|Lee|ann\.lee|Bo\b|erased/);
		const after = { events: (await program.listEvents({}, 10_000, 'asc')).length, stats: await program.getCampaignStats(run.campaignId!) };
		expect(after).toEqual(before);
		// In the browser too: the 404 page, not an n8n error.
		await browser.devtools.open(bad[0][1]);
		expect(await browser.devtools.evaluate<string>('document.querySelector("h2").textContent')).toBe('This link does not work');
	});

	it('4. in the browser, a person who takes a few seconds is signed up on either form; a click within the first second, or the page sent again, records nothing', async () => {
		const { devtools } = browser;
		const fill = async (values: string[]) =>
			await devtools.evaluate(
				`(${JSON.stringify(values)}).forEach((value, index) => { const input = document.getElementById('field-' + index); input.value = value; input.dispatchEvent(new Event('input', { bubbles: true })); })`,
			);
		const answerHeading = async () => {
			await waitFor(async () => /You're in!|Thank you!|Please check/.test(await devtools.evaluate<string>('document.querySelector("h1")?.textContent ?? ""')), 30_000, 'the answer in place of the form');
			return await devtools.evaluate<string>('document.querySelector("h1").textContent');
		};
		const countOf = async () => (await program.getCampaignStats(run.campaignId!)).participants;
		const before = await countOf();

		// Too quick: a script filling the page and clicking at once gets the same friendly answer, nothing recorded.
		await devtools.open(`${n8n.instance.url}/form/${BUNDLED_PATHS.referrerForm}`);
		await fill(['Quick', '', 'quick.clicker@example.com']);
		await devtools.click('#submit-btn');
		expect(await answerHeading()).toBe('Please check your details');
		expect(await countOf()).toBe(before);

		// A person: the page, a few seconds of typing, the button.
		await devtools.open(`${n8n.instance.url}/form/${BUNDLED_PATHS.referrerForm}`);
		await fill(['Gus', 'Hill', 'gus.hill@example.com']);
		const stamp = await devtools.evaluate<string>(`document.querySelector('input[type=hidden]').value`);
		expect(stamp).toMatch(/^\d{13}\.[0-9a-f]{64}$/);
		await sleep(2_500);
		await devtools.click('#submit-btn');
		expect(await answerHeading()).toBe("You're in!");
		const gus = await program.getParticipant(run.campaignId!, { email: 'gus.hill@example.com' });

		// The referred form through Gus's link, as his friend does.
		await devtools.open(`${n8n.instance.url}/form/${BUNDLED_PATHS.referredForm}?ref=${gus.code}`);
		await fill(['Ida', 'Friend', 'ida.friend@example.com']);
		await sleep(2_500);
		await devtools.click('#submit-btn');
		expect(await answerHeading()).toBe('Thank you!');
		expect(await program.getParticipant(run.campaignId!, { email: 'ida.friend@example.com' })).toMatchObject({ source: 'referred', referredBy: gus.id });

		// The same page's stamp sent again by a script: the thank-you page, nothing recorded.
		const replay = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Gus', 'Again', 'gus.again@example.com', '', stamp], '', 60_000, true, { open: false });
		expect(replay.heading).toBe('Please check your details');
		expect(await countOf()).toBe(before + 2);
	});
});
