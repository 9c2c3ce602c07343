// The store contract: the event log.

import { campaignRow, LATER, NOW, type ContractContext } from './shared';

/** Events: appended in order, listed with filters, direction and limit. */
export function eventTests(ctx: ContractContext): void {
	const { isolated } = ctx;

	it('appends events in order and lists them with afterId, types, campaignId, order and limit', async () => {
		const own = await isolated();
		const [c1, c2] = await own.transaction(async (t) => [
			(await t.insertCampaign(campaignRow(), NOW))!,
			(await t.insertCampaign(campaignRow(), NOW))!,
		]);
		await own.transaction((t) =>
			t.appendEvents(
				[
					{ type: 'participant.enrolled', campaignId: c1.id, participantId: 1, referrerId: null, payload: { code: 'A' } },
					{ type: 'referral.registered', campaignId: c1.id, participantId: 2, referrerId: 1, payload: { code: 'B' } },
					{ type: 'participant.enrolled', campaignId: c2.id, participantId: 3, referrerId: null, payload: {} },
				],
				NOW,
			),
		);
		await own.transaction(async (t) => {
			await t.appendEvents([], LATER);
			await t.appendEvents(
				[{ type: 'referral.qualified', campaignId: c1.id, participantId: 2, referrerId: 1, payload: { amount: 12.5, nested: { ok: true } } }],
				LATER,
			);
			await t.appendEvents([{ type: 'reward.due', campaignId: c1.id, participantId: 1, referrerId: null, payload: {} }], LATER);
		});
		const all = await own.read((t) => t.listEvents({}, 100, 'asc'));
		expect(all.map((e) => e.type)).toEqual([
			'participant.enrolled',
			'referral.registered',
			'participant.enrolled',
			'referral.qualified',
			'reward.due',
		]);
		for (let i = 1; i < all.length; i++) expect(all[i].id).toBeGreaterThan(all[i - 1].id);
		expect(all[1]).toEqual({
			id: all[1].id,
			type: 'referral.registered',
			campaignId: c1.id,
			participantId: 2,
			referrerId: 1,
			payload: { code: 'B' },
			createdAt: NOW,
		});
		expect(all[3].payload).toEqual({ amount: 12.5, nested: { ok: true } });
		expect(all[3].createdAt).toBe(LATER);
		const ids = (list: { id: number }[]) => list.map((e) => e.id);
		expect(ids(await own.read((t) => t.listEvents({}, 100, 'desc')))).toEqual(ids(all).reverse());
		expect(ids(await own.read((t) => t.listEvents({ afterId: all[1].id }, 100, 'asc')))).toEqual(ids(all.slice(2)));
		expect(ids(await own.read((t) => t.listEvents({ afterId: all[1].id }, 2, 'asc')))).toEqual(ids(all.slice(2, 4)));
		expect(ids(await own.read((t) => t.listEvents({}, 2, 'desc')))).toEqual([all[4].id, all[3].id]);
		expect(ids(await own.read((t) => t.listEvents({ types: ['participant.enrolled'] }, 100, 'asc')))).toEqual([all[0].id, all[2].id]);
		expect(ids(await own.read((t) => t.listEvents({ campaignId: c2.id }, 100, 'asc')))).toEqual([all[2].id]);
		expect(
			ids(await own.read((t) => t.listEvents({ campaignId: c1.id, types: ['referral.qualified', 'reward.due'], afterId: all[0].id }, 100, 'desc'))),
		).toEqual([all[4].id, all[3].id]);
		expect(await own.read((t) => t.listEvents({ afterId: all[4].id }, 100, 'asc'))).toEqual([]);
		await own.close();
	});
}
