/**
 * The program dashboard in a real n8n 2.41 (the bundled workflow, the package installed as a
 * community package) seen in Debian's headless Chromium, on a program seeded through the store in
 * a non-UTC zone (Asia/Kolkata, +05:30) with sign-ups either side of local midnight (helpers/dashboard.ts): every number on
 * the page equals what counting the store's rows gives; Approve in the browser makes a pending
 * reward due; two Approve posts at once make it due exactly once; no login, no page (401).
 */
import { formatMoney } from '../../lib/portal/stats';
import type { Campaign } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { startSandbox, type Sandbox } from '../../sandbox';
import { launchChromium, type Browser } from '../../scripts/chromium';
import { BUNDLED_PATHS, bundledWorkflows, DASHBOARD_USER } from '../../scripts/n8n/bundle';
import { countedFigures } from '../dashboard/counted';
import { prepareBundledN8n, sqliteStorePath } from './helpers/bundled';
import { seedDashboardProgram } from './helpers/dashboard';
import type { RealN8n } from './helpers/real-n8n';

const ZONE = 'Asia/Kolkata';
const PASSWORD = 'e2e-dashboard-password-4f1a';
const SECRET = 'e2e-dashboard-secret-0123456789abcdefghijklmn';
const AUTH = `Basic ${Buffer.from(`${DASHBOARD_USER}:${PASSWORD}`).toString('base64')}`;

describe('real n8n + Chromium: the program dashboard', () => {
	let sandbox: Sandbox;
	let n8n: RealN8n;
	let browser: Browser;
	let program: ReferralProgram;
	let campaign: Campaign;
	const clock = { now: new Date() };
	const url = (query = '') => `${n8n.instance.url}/webhook/${BUNDLED_PATHS.dashboard}${query}`;

	beforeAll(async () => {
		sandbox = await startSandbox({});
		n8n = await prepareBundledN8n(sandbox, {
			qualifyKey: 'e2e-dashboard-qualify-key',
			portalSecret: SECRET,
			dashboardPassword: PASSWORD,
			env: { GENERIC_TIMEZONE: ZONE },
			workflows: bundledWorkflows()
				.filter(({ file }) => file === 'program-dashboard.json')
				.map(({ workflow }) => workflow),
		});
		program = new ReferralProgram(await openStore({ backend: 'sqlite', path: sqliteStorePath(n8n.userFolder) }), () => clock.now);
		browser = await launchChromium({ width: 1280, height: 900 });
		campaign = await seedDashboardProgram(program, clock, { zone: ZONE, friends: 12 });
	});

	afterAll(async () => {
		await browser?.close();
		await closeAllStores();
		await n8n?.dispose();
		await sandbox?.close();
	});

	const text = (selector: string) => browser.devtools.evaluate<string>(`document.querySelector(${JSON.stringify(selector)})?.textContent ?? null`);
	const tableOf = (selector: string) =>
		browser.devtools.evaluate<string[][]>(`[...document.querySelectorAll(${JSON.stringify(`${selector} tbody tr`)})].map((tr) => [...tr.cells].map((c) => c.textContent.trim()))`);

	async function openAuthenticated(query: string): Promise<void> {
		await browser.devtools.send('Network.enable');
		await browser.devtools.send('Network.setExtraHTTPHeaders', { headers: { authorization: AUTH } });
		await browser.devtools.open(url(query));
	}

	it('1. without the login, or with a wrong one: 401 and no page', async () => {
		const none = await fetch(url());
		expect(none.status).toBe(401);
		expect(await none.text()).not.toContain('Key figures');
		const wrong = await fetch(url(), { headers: { authorization: `Basic ${Buffer.from(`${DASHBOARD_USER}:nope`).toString('base64')}` } });
		expect([401, 403]).toContain(wrong.status);
		const post = await fetch(url(), { method: 'POST', body: new URLSearchParams({ action: 'reward.approve', subject: '1', token: 'x' }) });
		expect(post.status).toBe(401);
	});

	it.each(['7', '30', 'all'])('2. every number on the page (period %s) is what counting the store gives, in the zone of the instance', async (period) => {
		await openAuthenticated(`?campaign=referral-program&period=${period}`);
		const range = /^(\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2}), days in (.+)$/.exec((await text('#period-text'))!)!;
		expect(range[3]).toBe(ZONE);
		const counted = await countedFigures(program, campaign.id, ZONE, range[1], range[2]);
		const kpi = (id: string) => text(`#kpi-${id} [data-value]`);
		const qualified = counted.funnel.qualified;
		expect({
			referrers: await kpi('referrers'),
			referred: await kpi('referred'),
			qualified: await kpi('qualified'),
			conversion: await kpi('conversion'),
			perReferrer: await kpi('per-referrer'),
			due: await kpi('rewards-due'),
			issued: await kpi('rewards-issued'),
			cancelled: await kpi('rewards-cancelled'),
			coupons: await kpi('coupons'),
		}).toEqual({
			referrers: String(counted.referrers),
			referred: String(counted.referredSignups),
			qualified: String(qualified),
			conversion: `${((counted.referredSignups ? qualified / counted.referredSignups : 0) * 100).toFixed(1)}%`,
			perReferrer: (counted.referrers ? qualified / counted.referrers : 0).toFixed(2),
			due: counted.rewards.due.map((m) => formatMoney(m.amount, m.currency)).join(' + ') || '0',
			issued: counted.rewards.issued.map((m) => formatMoney(m.amount, m.currency)).join(' + ') || '0',
			cancelled: counted.rewards.cancelled.map((m) => formatMoney(m.amount, m.currency)).join(' + ') || '0',
			coupons: String((await program.rewards.couponPool(campaign.id)).available),
		});
		expect((await tableOf('#funnel-chart')).map((r) => r.slice(0, 2))).toEqual([
			['Referred sign-ups', String(counted.funnel.referred)],
			['Sent to Pipedrive', String(counted.funnel.sent)],
			['Qualified', String(counted.funnel.qualified)],
			['Rewarded', String(counted.funnel.rewarded)],
		]);
		const days = await tableOf('#trends-chart');
		expect(days[0][0]).toBe(range[1]);
		expect(days[days.length - 1][0]).toBe(range[2]);
		const active = Object.fromEntries(days.filter((d) => d.slice(1).some((n) => n !== '0')).map(([date, s, r, q]) => [date, { signups: +s, referrals: +r, qualifications: +q }]));
		expect(active).toEqual(counted.daily);
		if (period === '7') {
			// The two friends 10 minutes either side of local midnight count on two days.
			const today = range[2];
			expect(active[today]?.referrals).toBeGreaterThanOrEqual(1);
			expect(active[days[days.length - 2][0]]?.referrals).toBeGreaterThanOrEqual(1);
		}
		// The leaderboard (all time) against the store's own full-scan ranking.
		const stats = await program.getCampaignStats(campaign.id, 10);
		expect((await tableOf('#leaderboard-table')).map(([, name, referrals, qualifiedCount]) => [name, referrals, qualifiedCount])).toEqual(
			stats.topReferrers.map((t) => [`${t.firstName} ${t.lastName}`, String(t.referrals), String(t.qualified)]),
		);
		expect(await browser.devtools.evaluate<string | null>(`document.querySelector('#leaderboard-table a')?.getAttribute('href') ?? null`)).toBeNull();
		const pending = (await program.rewards.list({ campaignId: campaign.id, status: ['pending_approval'] }, { limit: 50 })).map((v) => String(v.reward.id));
		expect(await browser.devtools.evaluate<string[]>(`[...document.querySelectorAll('#pending-approval tr[data-reward]')].map((tr) => tr.dataset.reward)`)).toEqual(pending);
		// Drawn on the server: no script, no stylesheet or image from anywhere.
		expect(await browser.devtools.evaluate<number>(`document.querySelectorAll('script, link[rel=stylesheet], img, iframe').length`)).toBe(0);
		expect(await browser.devtools.evaluate<number>(`document.querySelectorAll('figure.chart svg').length`)).toBe(2);
	});

	it('3. Approve in the browser makes the reward due and says so; the event is logged once', async () => {
		const [first] = (await program.rewards.list({ campaignId: campaign.id, status: ['pending_approval'] }, { limit: 1 })).map((v) => v.reward.id);
		const events = async () => (await program.listEvents({ campaignId: campaign.id, types: ['reward.due'] }, 1000, 'asc')).filter((e) => e.payload.rewardId === first).length;
		await openAuthenticated('?campaign=referral-program&period=30');
		await browser.devtools.click(`#pending-approval tr[data-reward="${first}"] button[data-action="reward.approve"]`);
		for (let i = 0; i < 100 && !(await text('#notice')); i++) await new Promise((r) => setTimeout(r, 100));
		expect(await text('#notice')).toBe(`Reward #${first} approved: now due.`);
		expect((await program.rewards.get(first)).reward.status).toBe('due');
		expect(await events()).toBe(1);
		expect(await browser.devtools.evaluate<number>(`document.querySelectorAll('#pending-approval tr[data-reward="${first}"]').length`)).toBe(0);
	});

	it('4. Approve posted twice at once (a double click): due exactly once, the other answer says it already was', async () => {
		await openAuthenticated('?campaign=referral-program&period=30');
		const form = await browser.devtools.evaluate<Record<string, string>>(
			`Object.fromEntries(new FormData(document.querySelector('#pending-approval button[data-action="reward.approve"]').form))`,
		);
		const post = () =>
			fetch(url('?campaign=referral-program&period=30'), {
				method: 'POST',
				headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
				body: new URLSearchParams(form),
			}).then(async (r) => ({ status: r.status, html: await r.text() }));
		const answers = await Promise.all([post(), post()]);
		expect(answers.map((a) => a.status)).toEqual([200, 200]);
		const notices = answers.map((a) => /id="notice" role="status">([^<]+)</.exec(a.html)![1]).sort();
		expect(notices).toEqual([`Reward #${form.subject} approved: now due.`, `Reward #${form.subject} was already approved (it is due). Nothing changed.`].sort());
		expect((await program.rewards.get(Number(form.subject))).reward.status).toBe('due');
		const due = (await program.listEvents({ campaignId: campaign.id, types: ['reward.due'] }, 1000, 'asc')).filter((e) => e.payload.rewardId === Number(form.subject));
		expect(due).toHaveLength(1);
		// A forged token: 403, nothing written.
		const forged = await fetch(url('?campaign=referral-program'), {
			method: 'POST',
			headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
			body: new URLSearchParams({ ...form, action: 'reward.cancel' }),
		});
		expect(forged.status).toBe(403);
		expect((await program.rewards.get(Number(form.subject))).reward.status).toBe('due');
	});

	it('5. the review queue: a held referral approved in the browser goes on once, and leaves the queue', async () => {
		const held = await program.listHeldReferrals(campaign.id, { limit: 10 });
		expect(held.map((h) => h.review.reasons)).toEqual([['disposable_email'], ['disposable_email']]);
		const id = held[0].participant.id;
		await openAuthenticated('?campaign=referral-program&period=30');
		expect(await browser.devtools.evaluate<number>(`document.querySelectorAll('#review-table tr[data-referral]').length`)).toBe(2);
		await browser.devtools.click(`#review-table tr[data-referral="${id}"] button[data-action="referral.approve"]`);
		for (let i = 0; i < 100 && !(await text('#notice')); i++) await new Promise((r) => setTimeout(r, 100));
		expect(await text('#notice')).toBe(`Referral #${id} approved.`);
		expect(await program.getParticipant(campaign.id, { id })).toMatchObject({ referralStatus: 'pending' });
		expect((await program.listEvents({ campaignId: campaign.id, types: ['referral.approved'] }, 100, 'asc')).map((e) => e.participantId)).toEqual([id]);
		expect(await browser.devtools.evaluate<number>(`document.querySelectorAll('#review-table tr[data-referral]').length`)).toBe(1);
	});
});
