import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ReferralError } from '../../lib/referrals/errors';
import type { Campaign, Participant } from '../../lib/referrals/model';
import { ReferralProgram, type Outcome } from '../../lib/referrals/program';
import { openStore } from '../../lib/store';
import type { ReferralStore, StoreConfig } from '../../lib/store/types';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';

const TEMPLATE = 'https://n8n.example.com/form/refer?ref={{code}}';
const keepGoing = { stopOnError: false };

function value<T>(outcome: Outcome<T>): T {
	if (!outcome.ok) throw outcome.error;
	return outcome.value;
}

/** Fraud rules and the review queue, on one store backend. */
function reviewSuite(config: () => StoreConfig) {
	let store: ReferralStore;
	let program: ReferralProgram;
	let campaign: Campaign;
	let referrer: Participant;
	let clock: Date;

	beforeEach(async () => {
		store = await openStore(config());
		clock = new Date('2026-11-01T10:00:00.000Z');
		program = new ReferralProgram(store, () => clock);
		campaign = await program.createCampaign(
			{
				name: 'Spring',
				maxReferralsPerReferrerPerHour: 2,
				maxReferralsPerReferrerPerDay: 3,
				velocityAction: 'flag',
				disposableEmailAction: 'flag',
				rewardRules: { referred: { on: 'registration', reward: { kind: 'amount', amount: 5, currency: 'EUR' } } },
			},
			TEMPLATE,
		);
		[referrer] = (await program.enrol(campaign.id, [{ email: 'ann@acme.com' }], keepGoing)).map(value).map((r) => r.participant);
	});

	afterEach(async () => {
		await store.close();
	});

	const register = async (emails: string[]) =>
		(await program.registerReferred(campaign.id, emails.map((email) => ({ code: referrer.code, email })), keepGoing)).map(value);

	it('holds referrals past the hourly and daily limits and from disposable domains, with their reasons', async () => {
		const first = await register(['b1@x.com', 'b2@x.com', 'b3@x.com']);
		expect(first.map((r) => r.participant.referralStatus)).toEqual(['pending', 'pending', 'flagged']);
		expect(first[2].flagReasons).toEqual(['hourly_limit']);
		clock = new Date('2026-11-01T12:00:00.000Z');
		const later = await register(['b4@x.com', 'b5@mailinator.com']);
		expect(later.map((r) => r.flagReasons)).toEqual([['daily_limit'], ['disposable_email', 'daily_limit']]);
		const held = await program.listHeldReferrals(campaign.id, { limit: 10 });
		expect(held.map((h) => [h.participant.email, h.review.reasons])).toEqual([
			['b3@x.com', ['hourly_limit']],
			['b4@x.com', ['daily_limit']],
			['b5@mailinator.com', ['disposable_email', 'daily_limit']],
		]);
		const events = await program.listEvents({ campaignId: campaign.id }, 100, 'asc');
		expect(events.filter((e) => e.type === 'referral.flagged')).toHaveLength(3);
		// Held referrals earn nothing: rewards only for the two that went through.
		const rewardEvents = events.filter((e) => e.type === 'reward.due');
		expect(rewardEvents).toHaveLength(2);
	});

	it('approves once (rewarded, pending, event), rejects with a reason, and refuses to flip a decision', async () => {
		const [, , held] = await register(['b1@x.com', 'b2@x.com', 'b3@x.com']);
		const results = await Promise.all([1, 2, 3].map(() => program.approveReferral(campaign.id, { id: held.participant.id })));
		expect(results.filter((r) => r.changed)).toHaveLength(1);
		expect(results.every((r) => r.participant.referralStatus === 'pending')).toBe(true);
		const events = await program.listEvents({ campaignId: campaign.id }, 100, 'asc');
		expect(events.filter((e) => e.type === 'referral.approved')).toHaveLength(1);
		expect(events.filter((e) => e.type === 'reward.due' && e.participantId === held.participant.id)).toHaveLength(1);
		await expect(program.rejectReferral(campaign.id, { id: held.participant.id }, 'spam')).rejects.toThrow(ReferralError);

		const [other] = await register(['b4@x.com']);
		await expect(program.rejectReferral(campaign.id, { id: other.participant.id }, '  ')).rejects.toThrow(/reason/);
		const rejected = await program.rejectReferral(campaign.id, { id: other.participant.id }, 'Same person as b1');
		expect(rejected).toMatchObject({ changed: true, participant: { referralStatus: 'rejected' }, review: { decision: 'rejected', decisionReason: 'Same person as b1' } });
		expect((await program.rejectReferral(campaign.id, { id: other.participant.id }, 'again')).changed).toBe(false);
		expect(await program.listHeldReferrals(campaign.id, { limit: 10 })).toEqual([]);
		await expect(program.approveReferral(campaign.id, { id: referrer.id })).rejects.toThrow(/not a referral held for review/);
	});

	it('a stored campaign without the new settings keeps limits blocking and disposable domains allowed', async () => {
		const plain = await program.createCampaign({ name: 'Plain', maxReferralsPerReferrerPerDay: 1 }, TEMPLATE);
		expect(plain.fraudSettings).toMatchObject({ velocityAction: 'block', disposableEmailAction: 'allow', maxReferralsPerReferrerPerHour: 0 });
	});
}

describe('review queue (SQLite)', () => {
	let folder: string;
	beforeAll(() => {
		folder = mkdtempSync(join(tmpdir(), 'review-'));
	});
	afterAll(() => rmSync(folder, { recursive: true, force: true }));
	let n = 0;
	reviewSuite(() => ({ backend: 'sqlite', path: join(folder, `r${++n}.sqlite`) }));
});

describePostgres('review queue (PostgreSQL)', () => {
	let database: TestDatabase;
	beforeAll(async () => {
		database = await createTestDatabase('review');
	});
	afterAll(async () => {
		await database?.drop();
	});
	reviewSuite(() => database.config(database.freshSchema()));
});
