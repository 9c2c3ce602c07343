// The store contract: participants (insert, find, list, update, erase, sign-up devices, locks).

import { setTimeout as sleep } from 'node:timers/promises';
import type { StoreTransaction } from '../../../lib/store';
import { LATER, NOW, personRow, uid, type ContractContext } from './shared';

/** Participants: uniqueness, lookups, filters and paging, patches, erasure, referral counts, locks. */
export function participantTests(ctx: ContractContext): void {
	const { tx, read, newCampaign, insert } = ctx;

	it('inserts participants and returns them exactly as they are read back', async () => {
		const c = await newCampaign();
		const referrer = personRow(c.id, `ref-${uid()}@example.com`, { metadata: { nested: { a: [1, 'x"y\\z', null] }, emoji: '🎉' } });
		const [r] = await insert([referrer]);
		expect(r).toEqual({
			id: expect.any(Number),
			campaignId: c.id,
			email: referrer.email,
			firstName: 'Ada',
			lastName: 'Lovelace',
			source: 'direct',
			code: referrer.code,
			link: referrer.link,
			referredBy: null,
			referralStatus: 'none',
			qualifiedAt: null,
			saleValue: null,
			saleCurrency: null,
			pipedrivePersonId: null,
			pipedriveLeadId: null,
			pipedriveDealId: null,
			metadata: { nested: { a: [1, 'x"y\\z', null] }, emoji: '🎉' },
			createdAt: NOW,
			updatedAt: NOW,
			erasedAt: null,
		});
		const referred = await insert([
			personRow(c.id, `a-${uid()}@example.com`, {
				source: 'referred',
				referredBy: r.id,
				referralStatus: 'pending',
				firstName: null,
				lastName: null,
				metadata: {},
			}),
		]);
		expect(referred).toHaveLength(1);
		expect(referred[0]).toMatchObject({ referredBy: r.id, referralStatus: 'pending', firstName: null, source: 'referred' });
		expect(await read((t) => t.getParticipant(r.id))).toEqual(r);
		expect(await read((t) => t.getParticipant(referred[0].id))).toEqual(referred[0]);
		expect(await read((t) => t.getParticipant(987654))).toBeNull();
		expect(await insert([])).toEqual([]);
	});

	it('skips rows that break the (campaign, email) or code uniqueness and returns only inserted rows', async () => {
		const c = await newCampaign();
		const other = await newCampaign();
		const taken = await insert([personRow(c.id, 'taken@example.com', { code: `TAKEN${uid()}` })]);
		expect(taken).toHaveLength(1);
		const batch = [
			personRow(c.id, 'new1@example.com'),
			personRow(c.id, 'taken@example.com'), // email taken in this campaign
			personRow(c.id, 'new2@example.com', { code: taken[0].code }), // code taken (store-wide)
			personRow(other.id, 'new3@example.com', { code: taken[0].code }), // code taken, other campaign
			personRow(other.id, 'taken@example.com'), // same email, other campaign: fine
			personRow(c.id, 'twice@example.com', { firstName: 'First' }),
			personRow(c.id, 'twice@example.com', { firstName: 'Second' }), // duplicate within the batch
		];
		const inserted = await insert(batch);
		const key = (p: { campaignId: number; email: string | null }) => `${p.campaignId}:${p.email}`;
		expect(inserted.map(key).sort()).toEqual(
			[`${c.id}:new1@example.com`, `${other.id}:taken@example.com`, `${c.id}:twice@example.com`].sort(),
		);
		expect(inserted.find((p) => p.email === 'twice@example.com')!.firstName).toBe('First');
		for (const p of inserted) expect(await read((t) => t.getParticipant(p.id))).toEqual(p);
		const all = await read((t) => t.listParticipants(c.id, {}, { limit: 100 }));
		expect(all.map((p) => p.email).sort()).toEqual(['new1@example.com', 'taken@example.com', 'twice@example.com']);
		// the existing row is untouched
		expect(await read((t) => t.getParticipant(taken[0].id))).toEqual(taken[0]);
		// a batch made only of conflicts inserts nothing
		expect(await insert([personRow(c.id, 'new1@example.com'), personRow(c.id, 'x@example.com', { code: taken[0].code })])).toEqual([]);
	});

	it('inserts 1,000 rows in one call', async () => {
		const c = await newCampaign();
		const rows = Array.from({ length: 1000 }, (_, i) => personRow(c.id, `bulk${i}@example.com`));
		const inserted = await insert(rows);
		expect(inserted).toHaveLength(1000);
		expect(new Set(inserted.map((p) => p.id)).size).toBe(1000);
		const again = await insert([...rows.slice(0, 500).map((r) => ({ ...r, code: `${r.code}X` })), personRow(c.id, 'bulk-extra@example.com')]);
		expect(again.map((p) => p.email)).toEqual(['bulk-extra@example.com']);
	});

	it('finds participants by email within a campaign and by code across campaigns', async () => {
		const c = await newCampaign();
		const other = await newCampaign();
		const [a, b] = await insert([personRow(c.id, 'find-a@example.com'), personRow(c.id, 'find-b@example.com')]);
		const [o] = await insert([personRow(other.id, 'find-a@example.com')]);
		const byEmail = await read((t) => t.findParticipantsByEmail(c.id, ['find-a@example.com', 'find-b@example.com', 'none@example.com'], []));
		expect(byEmail.sort((x, y) => x.id - y.id)).toEqual([a, b]);
		expect(await read((t) => t.findParticipantsByEmail(other.id, ['find-a@example.com'], []))).toEqual([o]);
		expect(await read((t) => t.findParticipantsByEmail(c.id, [], []))).toEqual([]);
		const byCode = await read((t) => t.findParticipantsByCode([a.code, o.code, 'NO-SUCH-CODE']));
		expect(byCode.sort((x, y) => x.id - y.id)).toEqual([a, o]);
		expect(await read((t) => t.findParticipantsByCode([]))).toEqual([]);
	});

	it('lists participants with filters, in ascending id order, with keyset paging', async () => {
		const c = await newCampaign();
		const other = await newCampaign();
		const [ref] = await insert([personRow(c.id, 'lp-ref@example.com')], '2024-01-01T00:00:00.000Z');
		const [r1, r2, r3] = await insert(
			[
				personRow(c.id, 'lp-1@example.com', { source: 'referred', referredBy: ref.id, referralStatus: 'pending' }),
				personRow(c.id, 'lp-2@example.com', { source: 'referred', referredBy: ref.id, referralStatus: 'qualified' }),
				personRow(c.id, 'lp-3@example.com', { source: 'api', referralStatus: 'none' }),
			],
			'2024-02-01T00:00:00.000Z',
		);
		const [synced] = await insert([personRow(c.id, 'lp-4@example.com', { source: 'synced' })], '2024-03-01T00:00:00.000Z');
		await insert([personRow(other.id, 'lp-1@example.com')]);
		const erased = (await insert([personRow(c.id, 'lp-5@example.com', { source: 'synced' })], '2024-03-01T00:00:00.000Z'))[0];
		await tx((t) => t.eraseParticipant(erased.id, '2024-04-01T00:00:00.000Z'));
		const list = async (filter: Parameters<StoreTransaction['listParticipants']>[1], limit = 100, afterId?: number) =>
			(await read((t) => t.listParticipants(c.id, filter, { limit, afterId }))).map((p) => p.id);

		expect(await list({})).toEqual([ref.id, r1.id, r2.id, r3.id, synced.id]);
		expect(await list({ includeErased: true })).toEqual([ref.id, r1.id, r2.id, r3.id, synced.id, erased.id]);
		expect(await list({ referralStatus: ['pending', 'qualified'] })).toEqual([r1.id, r2.id]);
		expect(await list({ referralStatus: ['none'] })).toEqual([ref.id, r3.id, synced.id]);
		expect(await list({ source: ['synced'] })).toEqual([synced.id]);
		expect(await list({ source: ['synced'], includeErased: true })).toEqual([synced.id, erased.id]);
		expect(await list({ source: ['api', 'referred'] })).toEqual([r1.id, r2.id, r3.id]);
		expect(await list({ referredBy: ref.id })).toEqual([r1.id, r2.id]);
		expect(await list({ referredBy: ref.id, referralStatus: ['qualified'] })).toEqual([r2.id]);
		expect(await list({ updatedSince: '2024-02-01T00:00:00.000Z' })).toEqual([r1.id, r2.id, r3.id, synced.id]);
		expect(await list({ updatedSince: '2024-02-15T00:00:00Z' })).toEqual([synced.id]);
		expect(await list({ updatedSince: '2024-02-15T00:00:00Z', includeErased: true })).toEqual([synced.id, erased.id]);
		// paging: limit and afterId walk the list without gaps or repeats
		const seen: number[] = [];
		let after: number | undefined;
		for (;;) {
			const page = await list({ includeErased: true }, 2, after);
			if (page.length === 0) break;
			expect(page.length).toBeLessThanOrEqual(2);
			seen.push(...page);
			after = page[page.length - 1];
		}
		expect(seen).toEqual([ref.id, r1.id, r2.id, r3.id, synced.id, erased.id]);
		expect(await list({}, 0)).toEqual([]);
	});

	it('updates only the given fields and bumps updatedAt', async () => {
		const c = await newCampaign();
		const [p] = await insert([personRow(c.id, `up-${uid()}@example.com`)]);
		const u1 = await tx((t) =>
			t.updateParticipant(
				p.id,
				{
					referralStatus: 'qualified',
					qualifiedAt: '2024-05-03T08:00:00Z',
					saleValue: 1234.56,
					saleCurrency: 'EUR',
					pipedrivePersonId: 901,
					pipedriveLeadId: 'adf21080-0e10-11eb-879b-05d71fb426ec',
					pipedriveDealId: 4242,
				},
				LATER,
			),
		);
		expect(u1).toEqual({
			...p,
			referralStatus: 'qualified',
			qualifiedAt: '2024-05-03T08:00:00.000Z',
			saleValue: 1234.56,
			saleCurrency: 'EUR',
			pipedrivePersonId: 901,
			pipedriveLeadId: 'adf21080-0e10-11eb-879b-05d71fb426ec',
			pipedriveDealId: 4242,
			updatedAt: LATER,
		});
		expect(typeof u1!.pipedriveDealId).toBe('number');
		expect(await read((t) => t.getParticipant(p.id))).toEqual(u1);
		const u2 = await tx((t) =>
			t.updateParticipant(p.id, { firstName: null, lastName: 'Byron', link: 'https://x.test/l', metadata: { b: 2 } }, '2024-05-04T00:00:00.000Z'),
		);
		expect(u2).toEqual({ ...u1, firstName: null, lastName: 'Byron', link: 'https://x.test/l', metadata: { b: 2 }, updatedAt: '2024-05-04T00:00:00.000Z' });
		// setting fields back to null
		const u3 = await tx((t) => t.updateParticipant(p.id, { qualifiedAt: null, saleValue: null, pipedriveDealId: null }, '2024-05-05T00:00:00.000Z'));
		expect(u3).toEqual({ ...u2, qualifiedAt: null, saleValue: null, pipedriveDealId: null, updatedAt: '2024-05-05T00:00:00.000Z' });
		// an empty patch only bumps updatedAt
		const u4 = await tx((t) => t.updateParticipant(p.id, {}, '2024-05-06T00:00:00.000Z'));
		expect(u4).toEqual({ ...u3, updatedAt: '2024-05-06T00:00:00.000Z' });
		expect(await tx((t) => t.updateParticipant(987654, { firstName: 'x' }, LATER))).toBeNull();
	});

	it('erases personal data, keeps counts and links, and lets the email be used again', async () => {
		const c = await newCampaign();
		const [ref] = await insert([personRow(c.id, 'erase-ref@example.com', { metadata: { phone: '+331234' } })]);
		const [child] = await insert([
			personRow(c.id, 'erase-child@example.com', { source: 'referred', referredBy: ref.id, referralStatus: 'pending' }),
		]);
		await tx((t) => t.updateParticipant(ref.id, { pipedrivePersonId: 77, referralStatus: 'qualified', saleValue: 10 }, NOW));
		const before = await read((t) => t.campaignStats(c.id, 5));
		const unerased = (await read((t) => t.getParticipant(ref.id)))!;

		const erased = await tx((t) => t.eraseParticipant(ref.id, LATER));
		expect(erased).toEqual({
			...unerased,
			email: null,
			firstName: null,
			lastName: null,
			metadata: {},
			erasedAt: LATER,
			updatedAt: LATER,
		});
		expect(erased).toMatchObject({
			id: ref.id,
			code: ref.code,
			source: 'direct',
			referralStatus: 'qualified',
			pipedrivePersonId: 77,
			saleValue: 10,
			link: ref.link,
			erasedAt: LATER,
			updatedAt: LATER,
		});
		expect(await read((t) => t.getParticipant(ref.id))).toEqual(erased);
		expect(await read((t) => t.findParticipantsByEmail(c.id, ['erase-ref@example.com'], ['erase-ref@example.com']))).toEqual([]);
		expect((await read((t) => t.getParticipant(child.id)))!.referredBy).toBe(ref.id);

		const after = await read((t) => t.campaignStats(c.id, 5));
		expect(after.participants).toBe(before.participants);
		expect(after.participantsBySource).toEqual(before.participantsBySource);
		expect(after.referrals).toEqual(before.referrals);
		expect(after.topReferrers).toEqual([{ ...before.topReferrers[0], email: null, firstName: null, lastName: null }]);

		// the email is free again; a second erased participant does not collide on NULL
		const [again] = await insert([personRow(c.id, 'erase-ref@example.com')]);
		expect(again.id).not.toBe(ref.id);
		await tx((t) => t.eraseParticipant(again.id, LATER));
		const [third] = await insert([personRow(c.id, 'erase-ref@example.com')]);
		expect(third.email).toBe('erase-ref@example.com');
		// erasing twice keeps the first erasure time
		const twice = await tx((t) => t.eraseParticipant(ref.id, '2025-01-01T00:00:00.000Z'));
		expect(twice!.erasedAt).toBe(LATER);
		expect(await tx((t) => t.eraseParticipant(987654, LATER))).toBeNull();
	});

	it('counts referrals registered since a time, per referrer', async () => {
		const c = await newCampaign();
		const [r1, r2, r3] = await insert([
			personRow(c.id, 'cr-1@example.com'),
			personRow(c.id, 'cr-2@example.com'),
			personRow(c.id, 'cr-3@example.com'),
		]);
		const referred = (referrer: number, i: number) =>
			personRow(c.id, `cr-${referrer}-${i}@example.com`, { source: 'referred', referredBy: referrer, referralStatus: 'pending' });
		await insert([referred(r1.id, 1), referred(r2.id, 1)], '2024-05-01T00:00:00.000Z');
		await insert([referred(r1.id, 2), referred(r1.id, 3), referred(r2.id, 2)], '2024-05-02T12:00:00.000Z');
		const counts = await read((t) => t.countReferralsSince([r1.id, r2.id, r3.id], '2024-05-02T00:00:00.000Z'));
		expect([...counts.entries()].sort((a, b) => a[0] - b[0])).toEqual([
			[r1.id, 2],
			[r2.id, 1],
		]);
		const all = await read((t) => t.countReferralsSince([r1.id], '2024-05-01T00:00:00Z'));
		expect([...all.entries()]).toEqual([[r1.id, 3]]);
		expect((await read((t) => t.countReferralsSince([], NOW))).size).toBe(0);
		expect((await read((t) => t.countReferralsSince([r1.id], '2024-06-01T00:00:00.000Z'))).size).toBe(0);
	});

	it('keeps sign-up devices out of the participant, reads them by id, and forgets one on erasure', async () => {
		const c = await newCampaign();
		const [withDevice, without] = await insert([personRow(c.id, `dev-1-${uid()}@example.com`), personRow(c.id, `dev-2-${uid()}@example.com`)]);
		const device = 'a'.repeat(64);
		await tx((t) => t.setSignupDevices(new Map([[withDevice.id, device]])));
		await tx((t) => t.setSignupDevices(new Map()));
		expect(await read((t) => t.getParticipant(withDevice.id))).toEqual(withDevice);
		const devices = await read((t) => t.signupDevices([withDevice.id, without.id, 987654]));
		expect([...devices.entries()]).toEqual([[withDevice.id, device]]);
		expect((await read((t) => t.signupDevices([]))).size).toBe(0);
		await tx((t) => t.eraseParticipant(withDevice.id, LATER));
		expect((await read((t) => t.signupDevices([withDevice.id]))).size).toBe(0);
	});

	it('lockParticipants serialises concurrent read-modify-write transactions', async () => {
		const c = await newCampaign();
		const [p] = await insert([personRow(c.id, `lock-${uid()}@example.com`, { metadata: { n: 0 } })]);
		await tx((t) => t.lockParticipants([]));
		const bump = () =>
			ctx.store.transaction(async (t) => {
				await t.lockParticipants([p.id]);
				const current = (await t.getParticipant(p.id))!;
				await sleep(2);
				await t.updateParticipant(p.id, { metadata: { n: (current.metadata.n as number) + 1 } }, LATER);
			});
		await Promise.all(Array.from({ length: 8 }, bump));
		expect((await read((t) => t.getParticipant(p.id)))!.metadata).toEqual({ n: 8 });
	});
}
