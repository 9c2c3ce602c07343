// The store contract: what Pipedrive sync keeps (links, idempotency keys, leases, sends, sync state).

import type { Participant } from '../../../lib/referrals/model';
import { LATER, NOW, personRow, type ContractContext } from './shared';

/** Pipedrive links and sync state: lookups by Pipedrive id, idempotency keys, leases, queued sends, cursors. */
export function pipedriveSyncTests(ctx: ContractContext): void {
	const { tx, read, newCampaign, insert } = ctx;

	it('stores a Pipedrive person id given on insert and finds participants by Pipedrive ids', async () => {
		const c = await newCampaign();
		const other = await newCampaign();
		const [ann] = await tx((t) => t.insertParticipants([personRow(c.id, 'ann@example.com', { pipedrivePersonId: 101 })], NOW));
		expect(ann.pipedrivePersonId).toBe(101);
		const [bo] = await tx((t) => t.insertParticipants([personRow(c.id, 'bo@example.com')], NOW));
		await tx((t) => t.updateParticipant(bo.id, { pipedriveDealId: 7, pipedriveLeadId: 'a1b2c3d4-0000-4000-8000-000000000001' }, NOW));
		const [elsewhere] = await tx((t) => t.insertParticipants([personRow(other.id, 'ann@example.com', { pipedrivePersonId: 101 })], NOW));

		const byPerson = await read((t) => t.findParticipantsByPipedrive({ personIds: [101] }));
		expect(byPerson.map((p) => p.id)).toEqual([ann.id, elsewhere.id]);
		expect((await read((t) => t.findParticipantsByPipedrive({ personIds: [101] }, c.id))).map((p) => p.id)).toEqual([ann.id]);
		expect((await read((t) => t.findParticipantsByPipedrive({ dealIds: [7] }))).map((p) => p.id)).toEqual([bo.id]);
		expect(
			(await read((t) => t.findParticipantsByPipedrive({ leadIds: ['a1b2c3d4-0000-4000-8000-000000000001'], personIds: [101] }, c.id))).map((p) => p.id),
		).toEqual([ann.id, bo.id]);
		expect(await read((t) => t.findParticipantsByPipedrive({ dealIds: [], personIds: [] }))).toEqual([]);
		expect(await read((t) => t.findParticipantsByPipedrive({ dealIds: [999] }))).toEqual([]);
	});

	it('gets participants by ids in one call, skipping ids that do not exist', async () => {
		const c = await newCampaign();
		const [a, b] = await tx((t) => t.insertParticipants([personRow(c.id, 'ids-a@example.com'), personRow(c.id, 'ids-b@example.com')], NOW));
		const found = await read((t) => t.getParticipants([b.id, 999_999, a.id]));
		expect(found.map((p) => p.id)).toEqual([a.id, b.id].sort((x, y) => x - y));
		expect(found[0]).toEqual(await read((t) => t.getParticipant(found[0].id)));
		expect(await read((t) => t.getParticipants([]))).toEqual([]);
	});

	it('counts referrals and qualified referrals per referrer', async () => {
		const c = await newCampaign();
		const [ann, bo] = await tx((t) => t.insertParticipants([personRow(c.id, 'ann@example.com'), personRow(c.id, 'bo@example.com')], NOW));
		await tx((t) =>
			t.insertParticipants(
				[
					personRow(c.id, 'r1@example.com', { referredBy: ann.id, referralStatus: 'qualified', source: 'referred' }),
					personRow(c.id, 'r2@example.com', { referredBy: ann.id, referralStatus: 'pending', source: 'referred' }),
					personRow(c.id, 'r3@example.com', { referredBy: ann.id, referralStatus: 'unqualified', source: 'referred' }),
				],
				NOW,
			),
		);
		const counts = await read((t) => t.referralCounts([ann.id, bo.id]));
		expect(counts.get(ann.id)).toEqual({ referrals: 3, qualified: 1 });
		expect(counts.has(bo.id)).toBe(false);
		expect((await read((t) => t.referralCounts([]))).size).toBe(0);
	});

	it('claims an idempotency key once, also against concurrent transactions', async () => {
		const c = await newCampaign();
		const [p] = await insert([personRow(c.id, 'key@example.com')]);
		const claims = await Promise.all(
			Array.from({ length: 6 }, () => tx((t) => t.claimIdempotencyKey('pipedrive:event:42', p.id, NOW))),
		);
		expect(claims.filter(Boolean)).toHaveLength(1);
		expect(await tx((t) => t.claimIdempotencyKey('pipedrive:event:43', p.id, NOW))).toBe(true);
		const rolledBack = tx(async (t) => {
			await t.claimIdempotencyKey('pipedrive:event:44', p.id, NOW);
			throw new Error('boom');
		});
		await expect(rolledBack).rejects.toThrow('boom');
		expect(await tx((t) => t.claimIdempotencyKey('pipedrive:event:44', p.id, NOW))).toBe(true);
	});

	it('gives a lease to one holder at a time, until it is released or runs out', async () => {
		const until = '2024-05-01T10:05:00.000Z';
		const takers = await Promise.all(
			['a', 'b', 'c', 'd'].map((holder) => tx((t) => t.acquireLease('pipedrive-send:bo@example.com', holder, until, NOW))),
		);
		expect(takers.filter(Boolean)).toHaveLength(1);
		const holder = ['a', 'b', 'c', 'd'][takers.indexOf(true)];
		const other = holder === 'a' ? 'b' : 'a';
		expect(await tx((t) => t.acquireLease('pipedrive-send:ann@example.com', other, until, NOW))).toBe(true);
		// Someone else releasing does nothing; the holder releasing frees it.
		await tx((t) => t.releaseLease('pipedrive-send:bo@example.com', other));
		expect(await tx((t) => t.acquireLease('pipedrive-send:bo@example.com', other, until, NOW))).toBe(false);
		await tx((t) => t.releaseLease('pipedrive-send:bo@example.com', holder));
		expect(await tx((t) => t.acquireLease('pipedrive-send:bo@example.com', other, until, NOW))).toBe(true);
		// A lease that ran out (its holder died) goes to the next taker.
		expect(await tx((t) => t.acquireLease('pipedrive-send:bo@example.com', holder, LATER, '2024-05-01T10:04:59.000Z'))).toBe(false);
		expect(await tx((t) => t.acquireLease('pipedrive-send:bo@example.com', holder, LATER, until))).toBe(true);
	});

	it('deletes only expired leases under a prefix, at most the limit', async () => {
		const expired = '2024-05-01T09:00:00.000Z';
		const live = '2024-05-01T11:00:00.000Z';
		for (const key of ['form-stamp:a', 'form-stamp:b', 'form-stamp:c']) await tx((t) => t.acquireLease(key, 'form', expired, expired));
		await tx((t) => t.acquireLease('form-stamp:live', 'form', live, NOW));
		// Neighbours of the prefix, bytewise and in a locale's order, stay.
		await tx((t) => t.acquireLease('form-stamp', 'other', expired, expired));
		await tx((t) => t.acquireLease('form-stamp;x', 'other', expired, expired));
		await tx((t) => t.acquireLease('formstamp:x', 'other', expired, expired));
		expect(await tx((t) => t.deleteExpiredLeases('form-stamp:', NOW, 2))).toBe(2);
		expect(await tx((t) => t.deleteExpiredLeases('form-stamp:', NOW, 50))).toBe(1);
		expect(await tx((t) => t.deleteExpiredLeases('form-stamp:', NOW, 50))).toBe(0);
		// Deleted ones can be taken again; the live one and the neighbours cannot.
		expect(await tx((t) => t.acquireLease('form-stamp:a', 'form', live, NOW))).toBe(true);
		expect(await tx((t) => t.acquireLease('form-stamp:live', 'form', live, NOW))).toBe(false);
		for (const key of ['form-stamp', 'form-stamp;x', 'formstamp:x']) {
			expect(await tx((t) => t.acquireLease(key, 'form', live, '2024-05-01T08:00:00.000Z'))).toBe(false);
		}
	});

	it('keeps Pipedrive send records: queued ones are claimed once when due, listed by state, deleted on erasure', async () => {
		const c = await newCampaign();
		const people = await insert(['q1', 'q2', 'q3'].map((name) => personRow(c.id, `${name}@example.com`)));
		const due = '2024-05-01T10:00:00.000Z';
		const later = '2024-05-01T11:00:00.000Z';
		const row = (p: Participant, nextAttemptAt: string) => ({
			participantId: p.id,
			campaignId: c.id,
			state: 'queued' as const,
			attempts: 1,
			nextAttemptAt,
			lastError: '503',
			request: { settings: { target: 'deal' }, item: { campaignId: c.id } },
		});
		await tx(async (t) => {
			await t.savePipedriveSend(row(people[0], due), NOW);
			await t.savePipedriveSend(row(people[1], due), NOW);
			await t.savePipedriveSend(row(people[2], later), NOW);
		});
		const [a, b] = await Promise.all([
			tx((t) => t.claimDueSends(NOW, LATER, 10)),
			tx((t) => t.claimDueSends(NOW, LATER, 10)),
		]);
		expect([...a, ...b].map((send) => send.participantId).sort()).toEqual([people[0].id, people[1].id].sort());
		expect([...a, ...b][0]).toMatchObject({ state: 'queued', attempts: 1, lastError: '503', request: { settings: { target: 'deal' } }, nextAttemptAt: new Date(LATER).toISOString() });
		await tx((t) => t.savePipedriveSend({ ...row(people[0], due), state: 'failed', nextAttemptAt: null, attempts: 9 }, NOW));
		expect((await read((t) => t.listPipedriveSends({ state: 'failed', campaignId: c.id }, 10))).map((send) => send.participantId)).toEqual([people[0].id]);
		expect(await read((t) => t.listPipedriveSends({ state: 'queued', participantIds: [people[2].id] }, 10))).toHaveLength(1);
		expect(await read((t) => t.latestQueuedSendAt())).toBe(new Date(NOW).toISOString());
		await tx((t) => t.deletePipedriveSend(people[2].id));
		expect(await read((t) => t.getPipedriveSends(people.map((p) => p.id)))).toHaveLength(2);
	});

	it('finds applied idempotency keys without writing, and keeps the latest event time of a referral', async () => {
		const c = await newCampaign();
		const [p] = await insert([personRow(c.id, 'times@example.com')]);
		await tx((t) => t.claimIdempotencyKey('pipedrive:deal:1:won:x', p.id, NOW));
		expect(await read((t) => t.findIdempotencyKeys(['pipedrive:deal:1:won:x', 'pipedrive:deal:1:lost:y']))).toEqual(['pipedrive:deal:1:won:x']);
		expect(await read((t) => t.getReferralEventTime(p.id))).toBeNull();
		await tx((t) => t.setReferralEventTime(p.id, LATER));
		await tx((t) => t.setReferralEventTime(p.id, NOW));
		expect(await read((t) => t.getReferralEventTime(p.id))).toBe(new Date(LATER).toISOString());
	});

	it('keeps sync state per campaign and key, replaced on save', async () => {
		const c = await newCampaign();
		const other = await newCampaign();
		expect(await read((t) => t.getSyncState(c.id, 'contacts:all'))).toBeNull();
		await tx((t) => t.setSyncState(c.id, 'contacts:all', { cursor: 'abc', since: NOW }, NOW));
		await tx((t) => t.setSyncState(other.id, 'contacts:all', { cursor: 'zzz' }, NOW));
		await tx((t) => t.setSyncState(c.id, 'contacts:all', { cursor: 'def' }, LATER));
		expect(await read((t) => t.getSyncState(c.id, 'contacts:all'))).toEqual({ cursor: 'def' });
		expect(await read((t) => t.getSyncState(other.id, 'contacts:all'))).toEqual({ cursor: 'zzz' });
		expect(await read((t) => t.getSyncState(c.id, 'contacts:filter:4'))).toBeNull();
	});
}
