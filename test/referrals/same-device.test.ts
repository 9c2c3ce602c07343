import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { deviceFingerprint } from '../../lib/referrals/device';
import type { Campaign, FraudAction, Participant } from '../../lib/referrals/model';
import { ReferralProgram, type Outcome, type RegisterInput } from '../../lib/referrals/program';
import { openStore } from '../../lib/store';
import type { ReferralStore, StoreConfig } from '../../lib/store/types';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';

const TEMPLATE = 'https://n8n.example.com/form/refer?ref={{code}}';
const keepGoing = { stopOnError: false };
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';

function value<T>(outcome: Outcome<T>): T {
	if (!outcome.ok) throw outcome.error;
	return outcome.value;
}

describe('deviceFingerprint', () => {
	it('is a SHA-256 of the client IP and user agent, holding neither as such', () => {
		const fingerprint = deviceFingerprint('203.0.113.7', FIREFOX);
		expect(fingerprint).toBe(createHash('sha256').update(`203.0.113.7\n${FIREFOX}`).digest('hex'));
		expect(fingerprint).not.toContain('203.0.113.7');
	});

	it('takes the visitor from X-Forwarded-For and spells one address one way', () => {
		const plain = deviceFingerprint('203.0.113.7', FIREFOX);
		for (const ip of ['203.0.113.7, 10.0.0.1, 172.16.0.2', ' 203.0.113.7 ', '203.0.113.7:52144', '::ffff:203.0.113.7', '[::ffff:203.0.113.7]:443']) {
			expect({ ip, same: deviceFingerprint(ip, ` ${FIREFOX} `) === plain }).toEqual({ ip, same: true });
		}
		expect(deviceFingerprint('2001:DB8::1', FIREFOX)).toBe(deviceFingerprint('[2001:db8::1]:8443', FIREFOX));
		expect(deviceFingerprint('203.0.113.8', FIREFOX)).not.toBe(plain);
		expect(deviceFingerprint('203.0.113.7', CHROME)).not.toBe(plain);
	});

	it('is null without both an IP address and a user agent', () => {
		for (const [ip, agent] of [
			[undefined, FIREFOX],
			['', FIREFOX],
			['unknown', FIREFOX],
			['256.1.1.1', FIREFOX],
			['203.0.113.7', undefined],
			['203.0.113.7', '  '],
			[null, null],
		]) {
			expect({ ip, agent, fingerprint: deviceFingerprint(ip, agent) }).toEqual({ ip, agent, fingerprint: null });
		}
	});

	it('refuses a value that is not text, naming the field', () => {
		expect(() => deviceFingerprint({ ip: '203.0.113.7' }, FIREFOX)).toThrow(expect.objectContaining({ kind: 'invalid_input', field: 'clientIp' }));
		expect(() => deviceFingerprint('203.0.113.7', 42)).toThrow(expect.objectContaining({ kind: 'invalid_input', field: 'userAgent' }));
	});
});

/** The same-device fraud rule, on one store backend. */
function sameDeviceSuite(config: () => StoreConfig) {
	let store: ReferralStore;
	let program: ReferralProgram;

	beforeEach(async () => {
		store = await openStore(config());
		program = new ReferralProgram(store, () => new Date('2026-11-01T10:00:00.000Z'));
	});

	afterEach(async () => {
		await store.close();
	});

	/** A campaign with the rule set to `action` (absent: the default) and a referrer signed up from 203.0.113.7 with Firefox. */
	async function setUp(action?: FraudAction): Promise<{ campaign: Campaign; referrer: Participant }> {
		const campaign = await program.createCampaign(
			{
				name: `Device ${action ?? 'default'}`,
				disposableEmailAction: 'flag',
				sameDeviceAction: action,
				rewardRules: { referred: { on: 'registration', reward: { kind: 'amount', amount: 5, currency: 'EUR' } } },
			},
			TEMPLATE,
		);
		const [enrolled] = await program.enrol(campaign.id, [{ email: 'ann@acme.com', clientIp: '203.0.113.7', userAgent: FIREFOX }], keepGoing);
		return { campaign, referrer: value(enrolled).participant };
	}

	const register = (campaign: Campaign, inputs: RegisterInput[]) => program.registerReferred(campaign.id, inputs, keepGoing);

	it('holds a referral from the referrer’s sign-up IP and browser with reason same_device; neither alone, nor without an IP', async () => {
		const { campaign, referrer } = await setUp('flag');
		const code = referrer.code;
		const results = (
			await register(campaign, [
				{ code, email: 'b1@x.com', clientIp: '203.0.113.7, 10.0.0.1', userAgent: FIREFOX },
				{ code, email: 'b2@x.com', clientIp: '198.51.100.4', userAgent: FIREFOX },
				{ code, email: 'b3@x.com', clientIp: '203.0.113.7', userAgent: CHROME },
				{ code, email: 'b4@x.com', userAgent: FIREFOX },
				{ code, email: 'b5@mailinator.com', clientIp: '203.0.113.7', userAgent: FIREFOX },
			])
		).map(value);
		expect(results.map((r) => [r.participant.email, r.participant.referralStatus, r.flagReasons])).toEqual([
			['b1@x.com', 'flagged', ['same_device']],
			['b2@x.com', 'pending', []],
			['b3@x.com', 'pending', []],
			['b4@x.com', 'pending', []],
			['b5@mailinator.com', 'flagged', ['disposable_email', 'same_device']],
		]);
		const held = await program.listHeldReferrals(campaign.id, { limit: 10 });
		expect(held.map((h) => [h.participant.email, h.review.reasons])).toEqual([
			['b1@x.com', ['same_device']],
			['b5@mailinator.com', ['disposable_email', 'same_device']],
		]);
		const events = await program.listEvents({ campaignId: campaign.id }, 100, 'asc');
		expect(events.filter((e) => e.type === 'referral.flagged').map((e) => e.payload.reasons)).toEqual([['same_device'], ['disposable_email', 'same_device']]);
		// Held referrals earn nothing until approved: the registration reward went to the other three only.
		expect(events.filter((e) => e.type === 'reward.due')).toHaveLength(3);
		expect(JSON.stringify(events)).not.toContain('203.0.113.7');
	});

	it('refuses such a referral when set to block, naming the client IP field, and writes nothing for it', async () => {
		const { campaign, referrer } = await setUp('block');
		const [blocked, other] = await register(campaign, [
			{ code: referrer.code, email: 'b1@x.com', clientIp: '203.0.113.7', userAgent: FIREFOX },
			{ code: referrer.code, email: 'b2@x.com', clientIp: '198.51.100.4', userAgent: FIREFOX },
		]);
		expect(blocked).toMatchObject({ ok: false, error: { kind: 'fraud_blocked', field: 'clientIp', message: expect.stringContaining(referrer.code) } });
		expect(value(other).participant.referralStatus).toBe('pending');
		await expect(program.getParticipant(campaign.id, { email: 'b1@x.com' })).rejects.toMatchObject({ kind: 'not_found' });
	});

	it('lets it through when the campaign does not set the rule; an update sets it, checked', async () => {
		const { campaign, referrer } = await setUp();
		expect(campaign.fraudSettings.sameDeviceAction).toBe('allow');
		const [result] = (await register(campaign, [{ code: referrer.code, email: 'b1@x.com', clientIp: '203.0.113.7', userAgent: FIREFOX }])).map(value);
		expect(result.flagReasons).toEqual([]);
		const updated = await program.updateCampaign(campaign.id, { sameDeviceAction: 'flag' });
		expect(updated.fraudSettings).toMatchObject({ sameDeviceAction: 'flag', disposableEmailAction: 'flag' });
		await expect(program.updateCampaign(campaign.id, { sameDeviceAction: 'hold' })).rejects.toMatchObject({ kind: 'invalid_input', field: 'sameDeviceAction' });
	});

	it('compares with the device a referred person signed up from when they refer in turn; an erased referrer’s device is gone', async () => {
		const { campaign, referrer } = await setUp('flag');
		const [friend] = (await register(campaign, [{ code: referrer.code, email: 'bo@x.com', clientIp: '198.51.100.4', userAgent: CHROME }])).map(value);
		const [next] = (await register(campaign, [{ code: friend.participant.code, email: 'cy@x.com', clientIp: '198.51.100.4', userAgent: CHROME }])).map(value);
		expect(next.flagReasons).toEqual(['same_device']);

		await program.eraseParticipant(campaign.id, { id: friend.participant.id });
		expect((await store.read((tx) => tx.signupDevices([friend.participant.id, referrer.id]))).has(friend.participant.id)).toBe(false);
	});

	it('keeps the device of the sign-up that created the participant: enrolling again changes nothing', async () => {
		const { campaign, referrer } = await setUp('flag');
		await program.enrol(campaign.id, [{ email: 'ann@acme.com', clientIp: '198.51.100.4', userAgent: CHROME }], keepGoing);
		const [result] = (await register(campaign, [{ code: referrer.code, email: 'b1@x.com', clientIp: '203.0.113.7', userAgent: FIREFOX }])).map(value);
		expect(result.flagReasons).toEqual(['same_device']);
	});
}

describe('same device as referrer (SQLite)', () => {
	let folder: string;
	beforeAll(() => {
		folder = mkdtempSync(join(tmpdir(), 'same-device-'));
	});
	afterAll(() => rmSync(folder, { recursive: true, force: true }));
	let n = 0;
	sameDeviceSuite(() => ({ backend: 'sqlite', path: join(folder, `d${++n}.sqlite`) }));
});

describePostgres('same device as referrer (PostgreSQL)', () => {
	let database: TestDatabase;
	beforeAll(async () => {
		database = await createTestDatabase('samedevice');
	});
	afterAll(async () => {
		await database?.drop();
	});
	sameDeviceSuite(() => database.config(database.freshSchema()));
});
