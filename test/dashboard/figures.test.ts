/**
 * The dashboard's figures on both store backends: every figure equals what counting the rows says
 * (participants, rewards, coupons), days follow a non-UTC zone around midnight, and the tallies
 * follow later changes (sent to Pipedrive, qualified, approved, issued, cancelled, un-qualified).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Campaign } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { ReferralStore, StoreConfig } from '../../lib/store/types';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';
import { countedFigures } from './counted';

const ZONE = 'America/New_York';
const RULES = { perReferral: { reward: { kind: 'amount', amount: 25, currency: 'EUR' } }, approval: true };

function describeFigures(name: string, configOf: () => Promise<StoreConfig>) {
	describe(name, () => {
		let store: ReferralStore;
		let program: ReferralProgram;
		let campaign: Campaign;
		let clock: Date;

		const at = (iso: string) => {
			clock = new Date(iso);
		};
		const enrol = async (email: string, when: string) => {
			at(when);
			const [outcome] = await program.enrol(campaign.id, [{ email, firstName: email.split('@')[0] }], { stopOnError: true });
			if (!outcome.ok) throw outcome.error;
			return outcome.value.participant;
		};
		const refer = async (code: string, email: string, when: string) => {
			at(when);
			const [outcome] = await program.registerReferred(campaign.id, [{ code, email }], { stopOnError: true });
			if (!outcome.ok) throw outcome.error;
			return outcome.value.participant;
		};
		const figures = async (period: string) => {
			const f = await program.getDashboardFigures(campaign.id, { period, timeZone: ZONE });
			const counted = await countedFigures(program, campaign.id, ZONE, f.firstDay, f.lastDay);
			return { f, counted };
		};
		const agree = async (period: string) => {
			const { f, counted } = await figures(period);
			expect({ referrers: f.referrers, referredSignups: f.referredSignups, funnel: f.funnel }).toEqual({
				referrers: counted.referrers,
				referredSignups: counted.referredSignups,
				funnel: counted.funnel,
			});
			for (const group of Object.keys(counted.rewards) as Array<keyof typeof counted.rewards>) {
				expect(f.rewards[group]).toEqual(counted.rewards[group]);
			}
			expect(Object.fromEntries(f.daily.filter((d) => d.signups + d.referrals + d.qualifications > 0).map(({ date, ...d }) => [date, d]))).toEqual(counted.daily);
			return f;
		};

		beforeAll(async () => {
			clock = new Date('2026-11-01T10:00:00.000Z');
			store = await openStore(await configOf());
			program = new ReferralProgram(store, () => clock);
			campaign = await program.createCampaign({ name: `Dashboard ${name}`, rewardRules: RULES }, 'https://x.test/?ref={{code}}');
		});

		afterAll(async () => {
			await closeAllStores();
		});

		it('counts sign-ups by the day of the zone: 23:30 and 00:15 New York time are two days, one UTC day', async () => {
			const ann = await enrol('ann@example.com', '2026-12-06T04:30:00.000Z'); // 23:30 on the 5th in New York
			await enrol('bob@example.com', '2026-12-06T05:15:00.000Z'); // 00:15 on the 6th
			await refer(ann.code, 'old@example.com', '2026-11-20T15:00:00.000Z');
			await refer(ann.code, 'cy@example.com', '2026-12-06T04:50:00.000Z');
			await refer(ann.code, 'di@example.com', '2026-12-06T05:05:00.000Z');
			at('2026-12-06T12:00:00.000Z');
			const week = await agree('7');
			expect(week.firstDay).toBe('2026-11-30');
			expect(week.lastDay).toBe('2026-12-06');
			expect(week.daily.find((d) => d.date === '2026-12-05')).toEqual({ date: '2026-12-05', signups: 2, referrals: 1, qualifications: 0 });
			expect(week.daily.find((d) => d.date === '2026-12-06')).toEqual({ date: '2026-12-06', signups: 2, referrals: 1, qualifications: 0 });
			expect(week).toMatchObject({ referrers: 2, referredSignups: 2, qualified: 0, conversionRate: 0 });
			expect((await agree('all')).referredSignups).toBe(3);
			const utc = await program.getDashboardFigures(campaign.id, { period: '7', timeZone: 'UTC' });
			expect(utc.daily.find((d) => d.date === '2026-12-06')).toMatchObject({ signups: 4, referrals: 2 });
		});

		it('follows sends, qualifications, approvals, issuing, cancelling and un-qualifying', async () => {
			const cy = await program.getParticipant(campaign.id, { email: 'cy@example.com' });
			const di = await program.getParticipant(campaign.id, { email: 'di@example.com' });
			at('2026-12-06T13:00:00.000Z');
			await program.linkPipedrive(cy.id, { personId: 501, dealId: 9001 });
			await program.linkPipedrive(di.id, { personId: 502 });
			await program.qualify({ id: cy.id }, { action: 'qualify' });
			await program.qualify({ id: di.id }, { action: 'qualify' });
			let f = await agree('7');
			expect(f.funnel).toEqual({ referred: 2, sent: 2, qualified: 2, rewarded: 0 });
			expect(f.rewards.awaiting).toEqual([{ currency: 'EUR', count: 2, amount: 50 }]);
			expect(f.daily.find((d) => d.date === '2026-12-06')!.qualifications).toBe(2);

			const [first, second] = (await program.rewards.list({ campaignId: campaign.id, status: ['pending_approval'] }, { limit: 10 })).map((v) => v.reward);
			await program.rewards.approve(first.id);
			await program.rewards.cancel(second.id);
			const claimed = await program.rewards.claim({ campaignId: campaign.id, limit: 10, leaseSeconds: 60 });
			expect(claimed.claimed).toHaveLength(1);
			await program.rewards.confirm(first.id, 'payout-1');
			f = await agree('7');
			expect(f.rewards).toMatchObject({ issued: [{ currency: 'EUR', count: 1, amount: 25 }], cancelled: [{ currency: 'EUR', count: 1, amount: 25 }], awaiting: [] });
			expect(f.funnel.rewarded).toBe(1);
			expect(f.qualifiedPerReferrer).toBe(1);
			expect(f.topReferrers.map((t) => [t.name, t.referrals, t.qualified, t.rewards])).toEqual([['ann', 3, 2, 1]]);

			await program.qualify({ id: di.id }, { action: 'unqualify' });
			f = await agree('7');
			expect(f.funnel.qualified).toBe(1);
			expect(f.topReferrers[0].qualified).toBe(1);
			await agree('all');
			await agree('90');
		});

		it('refuses a period or zone it does not know, naming the field', async () => {
			await expect(program.getDashboardFigures(campaign.id, { period: '14' })).rejects.toMatchObject({ field: 'period' });
			await expect(program.getDashboardFigures(campaign.id, { timeZone: 'Mars/Olympus' })).rejects.toMatchObject({ field: 'timeZone' });
		});
	});
}

const folder = mkdtempSync(join(tmpdir(), 'dashboard-figures-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
describeFigures('SQLite', async () => ({ backend: 'sqlite', path: join(folder, 'referrals.sqlite') }));

let db: TestDatabase | undefined;
describePostgres('PostgreSQL', () => {
	beforeAll(async () => {
		db = await createTestDatabase('dashboard');
	});
	afterAll(async () => {
		await closeAllStores();
		await db?.drop();
	});
	describeFigures('PostgreSQL', async () => db!.config(db!.freshSchema()));
});
