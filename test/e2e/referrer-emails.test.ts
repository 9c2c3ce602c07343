/**
 * The referrer emails as the demo runs them: the bundled workflows in a real n8n 2.41, their Send
 * Email nodes pointed at the mail catcher (scripts/mail-catcher.ts). A referrer signs up, a friend
 * signs up with their link, n8n restarts, the friend converts and the reward is issued: the catcher
 * holds the four referrer emails, each once, with the right links and amount.
 */
import { ReferralProgram } from '../../lib/referrals/program';
import { verifyToken } from '../../lib/portal/tokens';
import { closeAllStores, openStore } from '../../lib/store';
import { startSandbox, type Sandbox } from '../../sandbox';
import { startMailCatcher, type CaughtMail, type MailCatcher } from '../../scripts/mail-catcher';
import { BUNDLED_PATHS, bundledWorkflows, demoMailCredentialFile, QUALIFY_KEY_HEADER, withDemoMail } from '../../scripts/n8n/bundle';
import { startN8n, type N8nInstance } from '../../scripts/n8n/instance';
import { sleep } from '../../scripts/n8n/proc';
import { notifyActive, prepareBundledN8n, sqliteStorePath, submitForm, waitFor } from './helpers/bundled';
import type { RealN8n } from './helpers/real-n8n';

const QUALIFY_KEY = 'e2e-emails-qualify-key-77a1';
const PORTAL_SECRET = 'e2e-emails-portal-secret-0123456789abcdefgh';
const WORKFLOWS = ['referrer-signup.json', 'referred-signup.json', 'referrer-portal.json', 'qualify-with-code-webhook.json', 'issue-rewards.json', 'notify-referrers.json'];
const SUBJECTS = {
	welcome: 'Your referral link is ready',
	friend: 'A friend signed up with your link',
	converted: 'Your referral converted',
	reward: 'Your reward is on its way',
};

describe('real n8n: the referrer emails, each once, across a restart', () => {
	let sandbox: Sandbox;
	let mail: MailCatcher;
	let n8n: RealN8n;
	let restarted: N8nInstance | undefined;
	let program: ReferralProgram;
	let url: string;

	beforeAll(async () => {
		sandbox = await startSandbox({});
		mail = await startMailCatcher();
		n8n = await prepareBundledN8n(sandbox, {
			qualifyKey: QUALIFY_KEY,
			portalSecret: PORTAL_SECRET,
			extraCredentials: [demoMailCredentialFile(mail.smtpPort)],
			workflows: bundledWorkflows()
				.filter(({ file }) => WORKFLOWS.includes(file))
				.map(({ workflow }) => withDemoMail(workflow)),
		});
		url = n8n.instance.url;
		// The Referral Trigger starts from "now" when first activated: sign up only after that.
		await notifyActive(n8n.instance);
		const store = await openStore({ backend: 'sqlite', path: sqliteStorePath(n8n.userFolder) });
		program = new ReferralProgram(store, undefined, { publicUrl: () => url });
	});

	afterAll(async () => {
		await restarted?.stop();
		await closeAllStores();
		await n8n?.dispose();
		await mail?.close();
		await sandbox?.close();
	});

	const withSubject = (subject: string) => mail.messages().filter((m) => m.subject === subject);
	const arrives = async (subject: string): Promise<CaughtMail> =>
		await waitFor(() => withSubject(subject)[0], 150_000, `the email "${subject}"`);
	const statsParticipant = (text: string, campaignId: number) => {
		const token = new URL(/(http\S+\/webhook\/referrals\/stats\?t=\S+)/.exec(text)![1]).searchParams.get('t');
		return verifyToken(PORTAL_SECRET, campaignId, token, Math.floor(Date.now() / 1000));
	};

	it('welcome, friend signed up, (restart), converted and reward on its way: four emails, each once, with the right links and amount', async () => {
		const signup = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Ann', 'Lee', 'ann.lee@example.com']);
		const [, link, code] = /(http\S+\/form\/refer\?ref=(\S+))/.exec(signup.text)!;
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		const ann = await program.getParticipant(campaign.id, { code });

		const welcome = await arrives(SUBJECTS.welcome);
		expect(welcome.to).toEqual(['ann.lee@example.com']);
		expect(welcome.text).toContain(link);
		expect(welcome.text).toContain(`${url}/webhook/${BUNDLED_PATHS.sharePage}?ref=${code}`);
		expect(statsParticipant(welcome.text, campaign.id)).toBe(ann.id);

		await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, ['Bo', 'Friend', 'bo.friend@example.com', code], `ref=${code}`);
		const friend = await arrives(SUBJECTS.friend);
		expect(friend.to).toEqual(['ann.lee@example.com']);
		expect(friend.text).toContain('Bo just signed up with your referral link');
		expect(friend.text).not.toContain('bo.friend@example.com');
		expect(statsParticipant(friend.text, campaign.id)).toBe(ann.id);
		// The friend joined through the referred form with a code: no welcome email of their own.

		// n8n restarts: the triggers' cursors were saved, nothing is sent again.
		const port = n8n.instance.port;
		await n8n.instance.stop();
		restarted = await startN8n({ n8nDir: n8n.n8nDir, userFolder: n8n.userFolder, port, logFile: `${n8n.userFolder}/n8n-restarted.log` });
		await notifyActive(restarted);
		await waitFor(async () => (await fetch(`${url}/webhook/${BUNDLED_PATHS.qualifyWebhook}`, { method: 'POST' })).status !== 404, 120_000, 'the qualify webhook after the restart');

		const bo = await program.getParticipant(campaign.id, { email: 'bo.friend@example.com' });
		const qualified = await fetch(`${url}/webhook/${BUNDLED_PATHS.qualifyWebhook}`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', [QUALIFY_KEY_HEADER]: QUALIFY_KEY },
			body: JSON.stringify({ code: bo.code }),
		});
		expect(qualified.status).toBe(200);
		const converted = await arrives(SUBJECTS.converted);
		expect(converted.to).toEqual(['ann.lee@example.com']);
		expect(converted.text).toContain('Bo, whom you referred, just became a customer');
		const reward = await arrives(SUBJECTS.reward);
		expect(reward.to).toEqual(['ann.lee@example.com']);
		expect(reward.text).toContain('Your reward is on its way: 25 EUR.');
		expect(statsParticipant(reward.text, campaign.id)).toBe(ann.id);

		// Two more polls of every trigger: still each email once.
		await sleep(130_000);
		for (const subject of Object.values(SUBJECTS)) expect({ subject, count: withSubject(subject).length }).toEqual({ subject, count: 1 });
		// The issue-rewards workflow's own delivery email went to the catcher too (the demo's setup).
		expect(withSubject('Your referral reward')).toHaveLength(1);
	});
});
