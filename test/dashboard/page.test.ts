/**
 * The dashboard page and its buttons through lib/dashboard (the real-n8n suite drives the same in
 * Chromium): CSRF tokens bound to action, subject and campaign and short-lived; Approve applied once;
 * the page shows each section and escapes what people typed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CSRF_LIFETIME_SECONDS, signCsrfToken, verifyCsrfToken } from '../../lib/dashboard/csrf';
import { answerDashboardRequest, type DashboardSettings } from '../../lib/dashboard/page';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';

const SECRET = 'dashboard-test-secret-0123456789abcdefghij';
const SETTINGS: DashboardSettings = { title: 'Referral program', accentColor: '#017737', pipedriveDomain: 'acme', topReferrers: 10, timeZone: 'Europe/Berlin' };

describe('CSRF tokens', () => {
	const claims = { action: 'reward.approve', subjectId: 7, campaignId: 1 };
	it('verify for exactly their action, subject and campaign, until they expire', () => {
		const token = signCsrfToken(SECRET, claims, 1_000_000);
		expect(verifyCsrfToken(SECRET, claims, token, 1_000_001)).toBe(true);
		expect(verifyCsrfToken(SECRET, { ...claims, action: 'reward.cancel' }, token, 1_000_001)).toBe(false);
		expect(verifyCsrfToken(SECRET, { ...claims, subjectId: 8 }, token, 1_000_001)).toBe(false);
		expect(verifyCsrfToken(SECRET, { ...claims, campaignId: 2 }, token, 1_000_001)).toBe(false);
		expect(verifyCsrfToken(`${SECRET}x`, claims, token, 1_000_001)).toBe(false);
		expect(verifyCsrfToken(SECRET, claims, token, 1_000_000 + CSRF_LIFETIME_SECONDS)).toBe(false);
		for (const bad of ['', token.slice(0, -1), `${token}a`, 'A'.repeat(5000), null, 42]) expect(verifyCsrfToken(SECRET, claims, bad, 1_000_001)).toBe(false);
	});
});

describe('the dashboard page and its buttons', () => {
	const folder = mkdtempSync(join(tmpdir(), 'dashboard-page-'));
	let program: ReferralProgram;
	let campaignId: number;
	let rewardId: number;

	beforeAll(async () => {
		program = new ReferralProgram(await openStore({ backend: 'sqlite', path: join(folder, 'referrals.sqlite') }));
		const campaign = await program.createCampaign(
			{
				name: 'Spring <b>2026</b>',
				rewardRules: { perReferral: { reward: { kind: 'amount', amount: 25, currency: 'EUR' } }, approval: true },
				maxReferralsPerReferrerPerHour: 1,
				velocityAction: 'flag',
			},
			'https://x.test/?ref={{code}}',
		);
		campaignId = campaign.id;
		const [ann] = await program.enrol(campaignId, [{ email: 'ann@example.com', firstName: '<script>x</script>Ann' }], { stopOnError: true });
		if (!ann.ok) throw ann.error;
		const [bo] = await program.registerReferred(campaignId, [{ code: ann.value.participant.code, email: 'bo@example.com' }], { stopOnError: true });
		if (!bo.ok) throw bo.error;
		await program.linkPipedrive(ann.value.participant.id, { personId: 77 });
		await program.qualify({ id: bo.value.participant.id }, { action: 'qualify' });
		rewardId = (await program.rewards.list({ campaignId, status: ['pending_approval'] }, { limit: 1 }))[0].reward.id;
	});

	afterAll(async () => {
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});

	const view = (action?: { name: unknown; subject: unknown; token: unknown }, now = new Date()) =>
		answerDashboardRequest(program, SECRET, SETTINGS, { campaign: '', period: '30', action }, now);
	const tokenFrom = (html: string, action: string, subject: number) =>
		new RegExp(`name="subject" value="${subject}"><input type="hidden" name="token" value="([^"]+)"><button type="submit" class="[a-z]+" data-action="${action.replace('.', '\\.')}"`).exec(html)![1];

	it('shows every section, escapes names, links referrers to Pipedrive, and loads nothing from elsewhere', async () => {
		const { statusCode, html } = await view();
		expect(statusCode).toBe(200);
		for (const id of ['kpis', 'funnel', 'trends', 'attention', 'review', 'leaderboard']) expect(html).toContain(`id="${id}"`);
		expect(html).toContain('Spring &lt;b&gt;2026&lt;/b&gt;');
		expect(html).not.toContain('<script>x</script>');
		expect(html).toContain('href="https://acme.pipedrive.com/person/77"');
		expect(html).toMatch(/<svg viewBox/);
		expect(html).not.toMatch(/<script src|<link rel="stylesheet"|https:\/\/cdn/);
		expect(html).toContain(`data-reward="${rewardId}"`);
	});

	it('approves a pending reward once: the second click says it was already approved and writes nothing', async () => {
		const page = (await view()).html;
		const action = { name: 'reward.approve', subject: String(rewardId), token: tokenFrom(page, 'reward.approve', rewardId) };
		const events = async () => (await program.listEvents({ campaignId }, 1000, 'asc')).length;
		const before = await events();
		const first = await view(action);
		expect(first.outcome).toMatchObject({ changed: true, tone: 'done' });
		expect(first.html).toContain(`Reward #${rewardId} approved: now due.`);
		expect((await program.rewards.get(rewardId)).reward.status).toBe('due');
		expect(await events()).toBe(before + 1);
		const second = await view(action);
		expect(second.outcome).toMatchObject({ changed: false, tone: 'info' });
		expect(second.html).toContain('was already approved (it is due). Nothing changed.');
		expect(await events()).toBe(before + 1);
		const cancel = await view({ name: 'reward.cancel', subject: String(rewardId), token: signCsrfToken(SECRET, { action: 'reward.cancel', subjectId: rewardId, campaignId }, Date.now() / 1000) });
		expect(cancel.outcome).toMatchObject({ changed: true, message: `Reward #${rewardId} cancelled.` });
	});

	it('refuses forged, replayed-elsewhere and expired buttons with 403, and unknown ones with 400, writing nothing', async () => {
		const events = (await program.listEvents({ campaignId }, 1000, 'asc')).length;
		const sign = (action: string, subjectId: number, at = Date.now() / 1000) => signCsrfToken(SECRET, { action, subjectId, campaignId }, at);
		const cases: Array<[{ name: unknown; subject: unknown; token: unknown }, number]> = [
			[{ name: 'reward.approve', subject: rewardId, token: 'forged.token' }, 403],
			[{ name: 'reward.approve', subject: rewardId, token: sign('reward.cancel', rewardId) }, 403],
			[{ name: 'reward.approve', subject: rewardId, token: sign('reward.approve', rewardId + 1) }, 403],
			[{ name: 'reward.approve', subject: rewardId, token: sign('reward.approve', rewardId, Date.now() / 1000 - CSRF_LIFETIME_SECONDS - 1) }, 403],
			[{ name: 'reward.delete', subject: rewardId, token: sign('reward.delete', rewardId) }, 400],
			[{ name: 'toString', subject: rewardId, token: '' }, 400],
			[{ name: 'reward.approve', subject: 'x', token: '' }, 400],
			[{ name: 'reward.approve', subject: 999_999, token: sign('reward.approve', 999_999) }, 404],
		];
		for (const [action, status] of cases) {
			const answer = await view(action);
			expect({ action, status: answer.statusCode, changed: answer.outcome?.changed }).toEqual({ action, status, changed: false });
		}
		expect((await program.listEvents({ campaignId }, 1000, 'asc')).length).toBe(events);
	});

	it('lists referrals held for review with why, and takes each decision once', async () => {
		const [ann] = await program.enrol(campaignId, [{ email: 'ann@example.com' }], { stopOnError: true });
		if (!ann.ok) throw ann.error;
		const held = await program.registerReferred(campaignId, ['cy@example.com', 'dee@example.com'].map((email) => ({ code: ann.value.participant.code, email })), { stopOnError: true });
		const [cy, dee] = held.map((outcome) => {
			if (!outcome.ok) throw outcome.error;
			expect(outcome.value.participant.referralStatus).toBe('flagged');
			return outcome.value.participant.id;
		});
		const page = (await view()).html;
		const row = new RegExp(`<tr data-referral="${cy}">.*?</tr>`).exec(page)![0];
		expect(row).toContain('cy@example.com');
		expect(row).toContain('past the referrer&#39;s hourly limit');
		const approve = { name: 'referral.approve', subject: String(cy), token: tokenFrom(page, 'referral.approve', cy) };
		expect((await view(approve)).outcome).toMatchObject({ changed: true, message: `Referral #${cy} approved.` });
		expect((await view(approve)).outcome).toMatchObject({ changed: false, tone: 'info', message: `Referral #${cy} was already approved. Nothing changed.` });
		expect((await program.getParticipant(campaignId, { id: cy })).referralStatus).toBe('pending');
		const reject = { name: 'referral.reject', subject: String(dee), token: tokenFrom(page, 'referral.reject', dee) };
		expect((await view(reject)).outcome).toMatchObject({ changed: true, message: `Referral #${dee} rejected.` });
		// Approving what was rejected is refused, and says why.
		const late = await view({ name: 'referral.approve', subject: String(dee), token: tokenFrom(page, 'referral.approve', dee) });
		expect(late.outcome).toMatchObject({ changed: false, tone: 'error' });
		expect((await program.getParticipant(campaignId, { id: dee })).referralStatus).toBe('rejected');
		const types = (await program.listEvents({ campaignId }, 1000, 'asc')).map((event) => event.type);
		expect(types.filter((type) => type === 'referral.approved')).toHaveLength(1);
		expect(types.filter((type) => type === 'referral.rejected')).toHaveLength(1);
		expect((await view()).html).toContain('No referral waits for review.');
	});
});
