/**
 * The referrer's pages and an email for the README (docs/referrer/*.png), part of `npm run
 * screenshots`: the bundled workflows as the demo runs them (emails to the mail catcher) in a real
 * n8n; a referrer signs up, two friends sign up and one converts; then the share page and the stats
 * page at desktop and phone widths, and the welcome email as the mail catcher shows it. Then the two
 * forms as a person uses them in the browser: filled in, and the answer shown in their place.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { signToken } from '../lib/portal/tokens';
import { ReferralProgram } from '../lib/referrals/program';
import { closeAllStores, openStore } from '../lib/store';
import { startSandbox } from '../sandbox';
import { notifyActive, prepareBundledN8n, sqliteStorePath, submitForm, waitFor } from '../test/e2e/helpers/bundled';
import { launchChromium, type Devtools } from './chromium';
import { startMailCatcher } from './mail-catcher';
import { BUNDLED_PATHS, bundledWorkflows, demoMailCredentialFile, QUALIFY_KEY_HEADER, withDemoMail } from './n8n/bundle';
import { REPO_ROOT, sleep } from './n8n/proc';

const OUT_DIR = path.join(REPO_ROOT, 'docs', 'referrer');
const SECRET = 'screenshots-portal-secret-0123456789abcdef';
const SIZES = { desktop: { width: 1280, height: 900, mobile: false }, phone: { width: 390, height: 844, mobile: true } };

async function shoot(devtools: Devtools, url: string, size: keyof typeof SIZES, file: string): Promise<void> {
	const { width, height, mobile } = SIZES[size];
	await devtools.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: mobile ? 2 : 1, mobile });
	await devtools.open(url);
	await sleep(500);
	const target = path.join(OUT_DIR, file);
	fs.writeFileSync(target, await devtools.screenshot(null, true));
	process.stdout.write(`${path.relative(REPO_ROOT, target)}\n`);
}

export async function referrerScreenshots(): Promise<void> {
	const sandbox = await startSandbox({});
	const mail = await startMailCatcher();
	const qualifyKey = 'screenshot-key';
	const n8n = await prepareBundledN8n(sandbox, {
		qualifyKey,
		portalSecret: SECRET,
		extraCredentials: [demoMailCredentialFile(mail.smtpPort)],
		workflows: bundledWorkflows()
			.filter(({ file }) => !file.startsWith('qualify-on') && !file.startsWith('unqualify') && !file.startsWith('sync'))
			.map(({ workflow }) => withDemoMail(workflow)),
	});
	const browser = await launchChromium({ width: SIZES.desktop.width, height: SIZES.desktop.height });
	try {
		await notifyActive(n8n.instance);
		const signup = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Ann', 'Lee', 'ann.lee@example.com']);
		const code = /\/form\/refer\?ref=(\S+)/.exec(signup.text)![1];
		for (const [first, last, email] of [['Bo', 'Friend', 'bo@example.com'], ['Cy', 'Young', 'cy@example.com']]) {
			await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, [first, last, email, code], `ref=${code}`);
		}
		const program = new ReferralProgram(await openStore({ backend: 'sqlite', path: sqliteStorePath(n8n.userFolder) }), undefined, {
			publicUrl: () => n8n.instance.url,
		});
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		const bo = await program.getParticipant(campaign.id, { email: 'bo@example.com' });
		await fetch(`${n8n.instance.url}/webhook/${BUNDLED_PATHS.qualifyWebhook}`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', [QUALIFY_KEY_HEADER]: qualifyKey },
			body: JSON.stringify({ code: bo.code }),
		});
		const ann = await program.getParticipant(campaign.id, { code });
		const token = signToken(SECRET, { campaignId: campaign.id, participantId: ann.id, expiresAt: null });
		await waitFor(() => mail.messages().some((m) => m.subject === 'Your referral link is ready'), 150_000, 'the welcome email');

		fs.mkdirSync(OUT_DIR, { recursive: true });
		const { devtools } = browser;
		const share = `${n8n.instance.url}/webhook/${BUNDLED_PATHS.sharePage}?ref=${code}`;
		const stats = `${n8n.instance.url}/webhook/${BUNDLED_PATHS.statsPage}?t=${token}`;
		await shoot(devtools, share, 'desktop', 'share-desktop.png');
		await shoot(devtools, share, 'phone', 'share-phone.png');
		await shoot(devtools, stats, 'desktop', 'stats-desktop.png');
		await shoot(devtools, stats, 'phone', 'stats-phone.png');
		await shoot(devtools, mail.url, 'desktop', 'email-welcome.png');
		await formScreenshots(devtools, n8n.instance.url, code);
	} finally {
		await browser.close();
		await closeAllStores();
		await n8n.dispose();
		await mail.close();
		await sandbox.close();
	}
}

/** Both forms filled in as a person does (a few seconds on the page: the bot check), and their answers. */
async function formScreenshots(devtools: Devtools, n8nUrl: string, code: string): Promise<void> {
	const fill = async (values: string[]) =>
		await devtools.evaluate(
			`(${JSON.stringify(values)}).forEach((value, index) => { const input = document.getElementById('field-' + index); input.value = value; input.dispatchEvent(new Event('input', { bubbles: true })); })`,
		);
	const submitAndShoot = async (file: string) => {
		await sleep(2_500);
		await devtools.click('#submit-btn');
		await waitFor(async () => !(await devtools.evaluate<boolean>('Boolean(document.getElementById("submit-btn"))')), 30_000, 'the answer in place of the form');
		await sleep(300);
		const target = path.join(OUT_DIR, file);
		fs.writeFileSync(target, await devtools.screenshot(null, true));
		process.stdout.write(`${path.relative(REPO_ROOT, target)}\n`);
	};
	await shoot(devtools, `${n8nUrl}/form/${BUNDLED_PATHS.referrerForm}`, 'desktop', 'form-referrer-desktop.png');
	await shoot(devtools, `${n8nUrl}/form/${BUNDLED_PATHS.referrerForm}`, 'phone', 'form-referrer-phone.png');
	await fill(['Dee', 'Park', 'dee.park@example.com']);
	await submitAndShoot('form-referrer-answer-phone.png');
	await shoot(devtools, `${n8nUrl}/form/${BUNDLED_PATHS.referredForm}?ref=${code}`, 'phone', 'form-referred-phone.png');
	await fill(['Eli', 'Friend', 'eli.friend@example.com']);
	await submitAndShoot('form-referred-answer-phone.png');
}
