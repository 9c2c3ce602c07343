import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ItemFailedError, ReferralError } from '../../lib/referrals/errors';
import type { Campaign } from '../../lib/referrals/model';
import { ReferralProgram, type Outcome } from '../../lib/referrals/program';
import { openStore } from '../../lib/store';
import type { ReferralStore } from '../../lib/store/types';

const TEMPLATE = 'https://n8n.example.com/form/refer?ref={{code}}';
const keepGoing = { stopOnError: false };
const stopAtFirst = { stopOnError: true };

function value<T>(outcome: Outcome<T>): T {
	if (!outcome.ok) throw outcome.error;
	return outcome.value;
}

function errorOf<T>(outcome: Outcome<T>): ReferralError {
	if (outcome.ok) throw new Error('expected the item to fail');
	return outcome.error as ReferralError;
}

describe('ReferralProgram (SQLite store)', () => {
	let folder: string;
	let store: ReferralStore;
	let program: ReferralProgram;
	let campaign: Campaign;
	let clock: Date;

	beforeEach(async () => {
		folder = mkdtempSync(join(tmpdir(), 'program-'));
		store = await openStore({ backend: 'sqlite', path: join(folder, 'referrals.sqlite') });
		clock = new Date('2026-11-01T10:00:00.000Z');
		program = new ReferralProgram(store, () => clock);
		campaign = await program.createCampaign({ name: 'Spring 2026' }, TEMPLATE);
	});

	afterEach(async () => {
		await store.close();
		rmSync(folder, { recursive: true, force: true });
	});

	async function counts() {
		const stats = await program.getCampaignStats(campaign.id);
		const events = await store.read((tx) => tx.listEvents({}, 10_000, 'asc'));
		return { participants: stats.participants, referrals: stats.referrals.total, events: events.length };
	}

	async function enrolOne(email: string, extra: Record<string, unknown> = {}) {
		const [outcome] = await program.enrol(campaign.id, [{ email, ...extra }], stopAtFirst);
		return value(outcome);
	}

	describe('campaigns', () => {
		it('are created with a slug from the name, 9-character codes and the given default link', () => {
			expect(campaign).toMatchObject({
				slug: 'spring-2026',
				status: 'active',
				linkTemplate: TEMPLATE,
				codeSettings: { length: 9, prefix: '' },
				fraudSettings: { blockedEmailDomains: [], maxReferralsPerReferrerPerDay: 0 },
			});
		});

		it('refuse a slug that is taken, naming the field', async () => {
			await expect(program.createCampaign({ name: 'Other', slug: 'spring-2026' }, TEMPLATE)).rejects.toMatchObject({
				kind: 'conflict',
				field: 'slug',
			});
		});

		it('re-render every link when the template changes', async () => {
			const { participant } = await enrolOne('ann@example.com');
			await program.updateCampaign(campaign.id, { linkTemplate: 'https://acme.io/r/{{code}}' });
			const after = await program.getParticipant(campaign.id, { id: participant.id });
			expect(after.link).toBe(`https://acme.io/r/${participant.code}`);
		});

		it('keep the current settings an update does not name', async () => {
			const updated = await program.updateCampaign(campaign.id, { codePrefix: 'spr-' });
			expect(updated.codeSettings).toEqual({ length: 9, prefix: 'SPR-' });
			expect(updated.name).toBe('Spring 2026');
			expect((await enrolOne('bo@example.com')).participant.code).toMatch(/^SPR-[2-9A-Z]{9}$/);
		});
	});

	describe('links to this n8n ({{n8nUrl}})', () => {
		it('are stored without the URL and read with the public URL of the process reading them', async () => {
			const main = new ReferralProgram(store, () => clock, { publicUrl: () => 'https://n8n.acme.com/' });
			const worker = new ReferralProgram(store, () => clock, { publicUrl: () => 'https://n8n.acme.com' });
			const moved = new ReferralProgram(store, () => clock, { publicUrl: () => 'https://refer.acme.com' });
			const own = await worker.createCampaign({ name: 'Default links' });
			expect(own.linkTemplate).toBe('{{n8nUrl}}/form/refer?ref={{code}}');
			const [enrolled] = await worker.enrol(own.id, [{ email: 'ann@example.com' }], stopAtFirst);
			const ann = value(enrolled).participant;
			expect(ann.link).toBe(`https://n8n.acme.com/form/refer?ref=${ann.code}`);
			expect((await main.getParticipant(own.id, { id: ann.id })).link).toBe(ann.link);
			expect((await moved.getParticipant(own.id, { id: ann.id })).link).toBe(`https://refer.acme.com/form/refer?ref=${ann.code}`);
			const [raw] = await store.read((tx) => tx.getParticipants([ann.id]));
			expect(raw.link).toBe(`{{n8nUrl}}/form/refer?ref=${ann.code}`);
			// Without a public URL such a link cannot be read (the rest of the participant can); other
			// campaigns' links still can.
			const unknownUrl = await program.getParticipant(own.id, { id: ann.id });
			expect(unknownUrl.code).toBe(ann.code);
			expect(() => unknownUrl.link).toThrow("n8n's public URL is not known here");
			const bo = await enrolOne('bo@example.com');
			expect((await program.getParticipant(campaign.id, { id: bo.participant.id })).link).toBe(
				`https://n8n.example.com/form/refer?ref=${bo.participant.code}`,
			);
		});
	});

	describe('ensureCampaign', () => {
		it('creates a campaign once, even when asked 10 times at once, and never changes it', async () => {
			const results = await Promise.all(
				Array.from({ length: 10 }, (_, i) => program.ensureCampaign({ name: `Friends ${i}`, slug: 'friends', codeLength: 9 + i }, TEMPLATE)),
			);
			expect(results.filter((result) => result.created)).toHaveLength(1);
			const ids = new Set(results.map((result) => result.campaign.id));
			expect(ids.size).toBe(1);
			const winner = results.find((result) => result.created)!.campaign;
			expect(results.every((result) => JSON.stringify(result.campaign) === JSON.stringify(winner))).toBe(true);
			expect(await program.getCampaign({ slug: 'friends' })).toEqual(winner);
		});

		it('still refuses bad settings of a new campaign', async () => {
			await expect(program.ensureCampaign({ name: 'X', slug: 'Not a slug!' }, TEMPLATE)).rejects.toMatchObject({ field: 'slug' });
		});
	});

	describe('enrol', () => {
		it('gives a unique code and a link, and the same ones when enrolled again', async () => {
			const first = await enrolOne(' Ann@Example.com ', { firstName: 'Ann' });
			expect(first.created).toBe(true);
			expect(first.participant).toMatchObject({ email: 'ann@example.com', firstName: 'Ann', source: 'direct' });
			expect(first.participant.link).toBe(`https://n8n.example.com/form/refer?ref=${first.participant.code}`);
			const again = await enrolOne('ann@example.com', { lastName: 'Lee', source: 'synced' });
			expect(again.created).toBe(false);
			expect(again.participant).toMatchObject({
				id: first.participant.id,
				code: first.participant.code,
				link: first.participant.link,
				firstName: 'Ann',
				lastName: 'Lee',
				source: 'direct',
			});
		});

		it('writes nothing when enrolling again changes nothing', async () => {
			const first = await enrolOne('ann@example.com', { firstName: 'Ann' });
			clock = new Date('2026-11-02T10:00:00.000Z');
			const again = await enrolOne('ann@example.com', { firstName: 'Ann' });
			expect(again.participant.updatedAt).toBe(first.participant.updatedAt);
		});

		it('merges metadata given on a later enrolment', async () => {
			await enrolOne('ann@example.com', { metadata: { plan: 'pro' } });
			const again = await enrolOne('ann@example.com', { metadata: '{"utm":"mail"}' });
			expect(again.participant.metadata).toEqual({ plan: 'pro', utm: 'mail' });
		});

		it('with updateExisting false, leaves someone already enrolled exactly as they are', async () => {
			const first = await enrolOne('ann@example.com', { metadata: { plan: 'pro' } });
			const eventsBefore = await store.read((tx) => tx.listEvents({}, 100, 'asc'));
			const [again] = await program.enrol(
				campaign.id,
				[{ email: 'ann@example.com', firstName: 'Mallory', lastName: 'Intruder', metadata: { plan: 'free' } }],
				{ ...stopAtFirst, updateExisting: false },
			);
			expect(value(again)).toEqual({ participant: first.participant, created: false });
			expect(await program.getParticipant(campaign.id, { id: first.participant.id })).toEqual(first.participant);
			expect(await store.read((tx) => tx.listEvents({}, 100, 'asc'))).toEqual(eventsBefore);
			// New people are still enrolled.
			const [bo] = await program.enrol(campaign.id, [{ email: 'bo@example.com', firstName: 'Bo' }], { ...stopAtFirst, updateExisting: false });
			expect(value(bo)).toMatchObject({ created: true, participant: { firstName: 'Bo' } });
		});

		it('treats the same email twice in one batch as one participant', async () => {
			const outcomes = await program.enrol(
				campaign.id,
				[{ email: 'ann@example.com' }, { email: 'ANN@example.com', firstName: 'Ann' }, { email: 'bo@example.com' }],
				keepGoing,
			);
			const [a, b, c] = outcomes.map(value);
			expect(a.created).toBe(true);
			expect(b.created).toBe(false);
			expect(b.participant).toMatchObject({ id: a.participant.id, code: a.participant.code, firstName: 'Ann' });
			expect(c.participant.code).not.toBe(a.participant.code);
			expect(await counts()).toEqual({ participants: 2, referrals: 0, events: 2 });
		});

		it('with stop-on-error, a bad item aborts the batch and writes nothing', async () => {
			const before = await counts();
			await expect(
				program.enrol(campaign.id, [{ email: 'ann@example.com' }, { email: 'not-an-email' }], stopAtFirst),
			).rejects.toMatchObject({ itemIndex: 1, cause: { field: 'email' } });
			expect(await counts()).toEqual(before);
		});

		it('otherwise, bad items fail on their own and the others are written', async () => {
			const outcomes = await program.enrol(
				campaign.id,
				[{ email: 'ann@example.com' }, { email: 'x@y', firstName: 'X' }, { email: 'bo@example.com', firstName: 7 }],
				keepGoing,
			);
			expect(outcomes[0].ok).toBe(true);
			expect(errorOf(outcomes[1])).toMatchObject({ kind: 'invalid_input', field: 'email' });
			expect(errorOf(outcomes[2]).message).toBe('The firstName must be text, not a number');
			expect(await counts()).toEqual({ participants: 1, referrals: 0, events: 1 });
		});

		it('an archived campaign refuses new people but still answers for existing ones', async () => {
			const ann = await enrolOne('ann@example.com');
			await program.updateCampaign(campaign.id, { status: 'archived' });
			const outcomes = await program.enrol(campaign.id, [{ email: 'ann@example.com' }, { email: 'new@example.com' }], keepGoing);
			expect(value(outcomes[0]).participant.code).toBe(ann.participant.code);
			expect(errorOf(outcomes[1])).toMatchObject({ kind: 'campaign_inactive' });
			expect(errorOf(outcomes[1]).message).toBe('Campaign "Spring 2026" is archived: it accepts no new participants');
		});

		it('refuses an unknown campaign', async () => {
			await expect(program.enrol(999, [{ email: 'ann@example.com' }], keepGoing)).rejects.toThrow(
				'There is no campaign with id 999',
			);
		});
	});

	describe('registerReferred', () => {
		let referrerCode: string;

		beforeEach(async () => {
			referrerCode = (await enrolOne('ann@example.com', { firstName: 'Ann' })).participant.code;
		});

		async function registerOne(email: string, code = referrerCode) {
			const [outcome] = await program.registerReferred(campaign.id, [{ code, email }], keepGoing);
			return outcome;
		}

		it('records the referred person as a pending referral of the code’s owner', async () => {
			const result = value(await registerOne('bo@example.com', ` ${referrerCode.toLowerCase()} `));
			expect(result.created).toBe(true);
			expect(result.participant).toMatchObject({ source: 'referred', referralStatus: 'pending', email: 'bo@example.com' });
			expect(result.referrer).toMatchObject({ code: referrerCode, firstName: 'Ann' });
			expect(result.participant.referredBy).toBe(result.referrer!.id);
			expect(result.participant.code).not.toBe(referrerCode);
			const events = await store.read((tx) => tx.listEvents({ types: ['referral.registered'] }, 10, 'asc'));
			expect(events).toHaveLength(1);
			expect(events[0]).toMatchObject({ participantId: result.participant.id, referrerId: result.referrer!.id });
			expect(JSON.stringify(events[0].payload)).not.toContain('@');
		});

		it('first referral wins: a known person is never re-attributed', async () => {
			const cy = (await enrolOne('cy@example.com')).participant;
			const first = value(await registerOne('bo@example.com'));
			const second = value(await registerOne('BO@example.com', cy.code));
			expect(second.created).toBe(false);
			expect(second.participant.id).toBe(first.participant.id);
			expect(second.referrer!.code).toBe(referrerCode);
			expect(await counts()).toMatchObject({ referrals: 1 });
		});

		it('one person, many spellings: a plus-tag or Gmail-dot variant of a registered address is that person', async () => {
			const cy = (await enrolOne('cy@example.com')).participant;
			const dee = value(await registerOne('dee@x.com'));
			for (const [email, code] of [
				['dee+promo@x.com', referrerCode],
				['DEE+other@x.com', cy.code],
			] as const) {
				const again = value(await registerOne(email, code));
				expect(again).toMatchObject({ created: false, participant: { id: dee.participant.id, email: 'dee@x.com' } });
				expect(again.referrer!.code).toBe(referrerCode);
			}
			const gmail = value(await registerOne('d.e.e@gmail.com'));
			expect(value(await registerOne('dee+x@googlemail.com', cy.code))).toMatchObject({
				created: false,
				participant: { id: gmail.participant.id, email: 'd.e.e@gmail.com' },
			});
			// Two spellings in one batch make one referral too.
			const both = await program.registerReferred(
				campaign.id,
				[
					{ code: referrerCode, email: 'eve+a@x.com' },
					{ code: cy.code, email: 'eve+b@x.com' },
				],
				keepGoing,
			);
			expect(both.map((o) => value(o).participant.id)).toEqual([value(both[0]).participant.id, value(both[0]).participant.id]);
			expect(both.map((o) => value(o).created)).toEqual([true, false]);
			expect(value(both[0]).participant.email).toBe('eve+a@x.com');
			expect(await counts()).toMatchObject({ referrals: 3 });
			// Enrolling or looking up by a variant finds the same participant; the address as typed first stays.
			const [enrolled] = await program.enrol(campaign.id, [{ email: 'dee+news@x.com' }], stopAtFirst);
			expect(value(enrolled)).toMatchObject({ created: false, participant: { id: dee.participant.id } });
			expect((await program.getParticipant(campaign.id, { email: 'dee+anything@x.com' })).id).toBe(dee.participant.id);
		});

		it('a person already enrolled as a referrer is not re-attributed either', async () => {
			const cy = (await enrolOne('cy@example.com')).participant;
			const result = value(await registerOne('cy@example.com'));
			expect(result).toMatchObject({ created: false, referrer: null });
			expect(result.participant).toMatchObject({ id: cy.id, referredBy: null, referralStatus: 'none' });
		});

		it.each([
			['the same email', 'ann@example.com'],
			['a plus-tag of it', 'Ann+friend@example.com'],
		])('refuses a self-referral with %s', async (_label, email) => {
			const error = errorOf(await registerOne(email));
			expect(error).toMatchObject({ kind: 'self_referral', field: 'email' });
		});

		it('refuses an unknown code, a code of another campaign and an erased referrer’s code', async () => {
			const other = await program.createCampaign({ name: 'Other' }, TEMPLATE);
			const [outsider] = await program.enrol(other.id, [{ email: 'zed@example.com' }], stopAtFirst);
			const erased = (await enrolOne('gone@example.com')).participant;
			await program.eraseParticipant(campaign.id, { id: erased.id });
			for (const code of ['ZZZZZZZZZ', value(outsider).participant.code, erased.code]) {
				const error = errorOf(await registerOne('bo@example.com', code));
				expect(error).toMatchObject({ kind: 'not_found', field: 'code' });
				expect(error.message).toBe(`No participant of campaign "Spring 2026" has the referral code "${code}"`);
			}
			expect(await counts()).toMatchObject({ referrals: 0 });
		});

		it('a paused campaign refuses new referrals with the reason', async () => {
			await program.updateCampaign(campaign.id, { status: 'paused' });
			const error = errorOf(await registerOne('bo@example.com'));
			expect(error).toMatchObject({ kind: 'campaign_inactive', field: 'campaign' });
			expect(error.message).toBe('Campaign "Spring 2026" is paused: it accepts no new referrals');
		});

		it('refuses blocked email domains', async () => {
			await program.updateCampaign(campaign.id, { blockedEmailDomains: 'mailinator.com' });
			expect(errorOf(await registerOne('bo@Mailinator.com'))).toMatchObject({ kind: 'fraud_blocked', field: 'email' });
		});

		it('enforces the daily limit per referrer across batches and within one', async () => {
			await program.updateCampaign(campaign.id, { maxReferralsPerReferrerPerDay: 2 });
			value(await registerOne('a1@example.com'));
			const outcomes = await program.registerReferred(
				campaign.id,
				[{ code: referrerCode, email: 'a2@example.com' }, { code: referrerCode, email: 'a3@example.com' }],
				keepGoing,
			);
			expect(outcomes[0].ok).toBe(true);
			expect(errorOf(outcomes[1]).message).toContain('reached the limit of 2 referrals in 24 hours');
			clock = new Date(clock.getTime() + 25 * 60 * 60 * 1000);
			expect((await registerOne('a4@example.com')).ok).toBe(true);
		});

		it('with stop-on-error, a refused referral leaves the store as it was', async () => {
			const before = await counts();
			await expect(
				program.registerReferred(
					campaign.id,
					[{ code: referrerCode, email: 'bo@example.com' }, { code: referrerCode, email: 'ann@example.com' }],
					stopAtFirst,
				),
			).rejects.toBeInstanceOf(ItemFailedError);
			expect(await counts()).toEqual(before);
		});
	});

	describe('participants', () => {
		it('are found by id, email or code, only within their campaign', async () => {
			const { participant } = await enrolOne('ann@example.com');
			for (const ref of [{ id: participant.id }, { email: 'ANN@example.com' }, { code: participant.code.toLowerCase() }]) {
				expect((await program.getParticipant(campaign.id, ref)).id).toBe(participant.id);
			}
			const other = await program.createCampaign({ name: 'Other' }, TEMPLATE);
			await expect(program.getParticipant(other.id, { id: participant.id })).rejects.toThrow(
				`This campaign has no participant with id "${participant.id}"`,
			);
		});

		it('update names and metadata (merge or replace)', async () => {
			const { participant } = await enrolOne('ann@example.com', { metadata: { a: 1 } });
			const merged = await program.updateParticipant(campaign.id, { id: participant.id }, { lastName: 'Lee', metadata: { b: 2 } });
			expect(merged).toMatchObject({ lastName: 'Lee', metadata: { a: 1, b: 2 } });
			const replaced = await program.updateParticipant(campaign.id, { id: participant.id }, { metadata: { c: 3 }, metadataMode: 'replace' });
			expect(replaced.metadata).toEqual({ c: 3 });
		});

		it('erasure removes personal data and keeps the counts', async () => {
			const ann = (await enrolOne('ann@example.com', { firstName: 'Ann', metadata: { phone: '123' } })).participant;
			const [bo] = await program.registerReferred(campaign.id, [{ code: ann.code, email: 'bo@example.com', firstName: 'Bo' }], stopAtFirst);
			const before = await program.getCampaignStats(campaign.id);
			const erased = await program.eraseParticipant(campaign.id, { id: value(bo).participant.id });
			expect(erased).toMatchObject({ email: null, firstName: null, lastName: null, metadata: {}, referredBy: ann.id });
			expect(erased.erasedAt).not.toBeNull();
			const after = await program.getCampaignStats(campaign.id);
			expect(after.referrals).toEqual(before.referrals);
			expect(after.participants).toBe(before.participants);
			// The address is free again: the same person may join anew.
			expect((await enrolOne('bo@example.com')).created).toBe(true);
		});

		it('stats count sources, referral states, conversion and top referrers', async () => {
			const ann = (await enrolOne('ann@example.com')).participant;
			const cy = (await enrolOne('cy@example.com', { source: 'synced' })).participant;
			await program.registerReferred(
				campaign.id,
				[
					{ code: ann.code, email: 'r1@example.com' },
					{ code: ann.code, email: 'r2@example.com' },
					{ code: cy.code, email: 'r3@example.com' },
				],
				stopAtFirst,
			);
			const stats = await program.getCampaignStats(campaign.id, 1);
			expect(stats).toMatchObject({
				participants: 5,
				participantsBySource: { direct: 1, synced: 1, referred: 3, manual: 0, api: 0 },
				referrals: { total: 3, pending: 3, qualified: 0, unqualified: 0 },
				conversionRate: 0,
			});
			expect(stats.topReferrers).toEqual([expect.objectContaining({ participantId: ann.id, referrals: 2, qualified: 0 })]);
		});
	});
});
