// The store contract: rows written by older schema versions, read after upgrading.

import { emailIdentity } from '../../../lib/referrals/email';
import { openStore } from '../../../lib/store';
import { LATER, LEGACY_CAMPAIGN_SQL, personRow, type ContractContext } from './shared';

/** People and links written before schema version 6 get their email identity and the {{n8nUrl}} placeholder. */
export function legacyRowTests(ctx: ContractContext): void {
	const legacyParticipant = (email: string, code: string, link = `https://x.test/?ref=${code}`) =>
		`INSERT INTO participants (campaign_id, email, source, code, link, referral_status, metadata, created_at, updated_at)
		VALUES ((SELECT id FROM campaigns WHERE slug = 'legacy'), '${email}', 'direct', '${code}', '${link}', 'none', '{}',
			'2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z')`;

	it('get their identity (the same rule as emailIdentity); later spellings of one person keep their own address', async () => {
		const config = ctx.factory.freshConfig();
		await (await ctx.factory.openAtVersion(config, 5)).close();
		await ctx.factory.execute(config, LEGACY_CAMPAIGN_SQL);
		const emails = [
			'dee@x.com',
			'dee+promo@x.com',
			'a.b+c@gmail.com',
			'ab@googlemail.com',
			'+tag@x.com',
			'ann.lee@x.com',
			'o\'neil+1@x.com',
		];
		for (const [i, email] of emails.entries()) await ctx.factory.execute(config, legacyParticipant(email.replace("'", "''"), `LEG${i}`));
		const upgraded = await openStore(config);
		try {
			const [c] = await upgraded.read((t) => t.listCampaigns({}, { limit: 1 }));
			const byIdentity = async (identity: string) =>
				(await upgraded.read((t) => t.findParticipantsByEmail(c.id, [], [identity]))).map((p) => p.email);
			const byEmail = async (email: string) =>
				(await upgraded.read((t) => t.findParticipantsByEmail(c.id, [email], []))).map((p) => p.email);
			// The oldest participant of each identity holds it; identities are what emailIdentity() says.
			expect(await byIdentity(emailIdentity('dee@x.com'))).toEqual(['dee@x.com']);
			expect(await byIdentity(emailIdentity('a.b+c@gmail.com'))).toEqual(['a.b+c@gmail.com']);
			expect(emailIdentity('ab@googlemail.com')).toBe(emailIdentity('a.b+c@gmail.com'));
			expect(await byIdentity(emailIdentity('+tag@x.com'))).toEqual(['+tag@x.com']);
			expect(await byIdentity(emailIdentity('ann.lee@x.com'))).toEqual(['ann.lee@x.com']);
			expect(await byIdentity(emailIdentity("o'neil+1@x.com"))).toEqual(["o'neil+1@x.com"]);
			// The later spellings are kept as they were, found by their own address.
			expect(await byEmail('dee+promo@x.com')).toEqual(['dee+promo@x.com']);
			expect(await byEmail('ab@googlemail.com')).toEqual(['ab@googlemail.com']);
			// From now on a second spelling of a person is refused by the database.
			const again = await upgraded.transaction((t) =>
				t.insertParticipants([personRow(c.id, 'dee+new@x.com', { emailIdentity: emailIdentity('dee+new@x.com') })], LATER),
			);
			expect(again).toEqual([]);
		} finally {
			await upgraded.close();
		}
	});

	it('made from an unconfigured n8n URL (localhost) get the {{n8nUrl}} placeholder; other links stay', async () => {
		const config = ctx.factory.freshConfig();
		await (await ctx.factory.openAtVersion(config, 6)).close();
		await ctx.factory.execute(config, LEGACY_CAMPAIGN_SQL.replace('https://x.test/?ref={{code}}', 'http://localhost:5678/form/refer?ref={{code}}'));
		await ctx.factory.execute(config, legacyParticipant('ann@x.com', 'LOC1', 'http://localhost:5678/form/refer?ref=LOC1'));
		const others = [
			'http://127.0.0.1/form/refer?ref={{code}}',
			'https://n8n.acme.com/form/refer?ref={{code}}',
			'http://localhost:5678/shop/form/refer?ref={{code}}',
			'http://localhost:5678/form/refer?ref={{code}}&utm=x',
		];
		for (const [i, template] of others.entries()) {
			await ctx.factory.execute(config, LEGACY_CAMPAIGN_SQL.replace("'legacy', 'Legacy'", `'legacy${i}', 'Legacy ${i}'`).replace('https://x.test/?ref={{code}}', template));
		}
		const upgraded = await openStore(config);
		try {
			const campaigns = await upgraded.read((t) => t.listCampaigns({}, { limit: 10 }));
			expect(campaigns.map((c) => c.linkTemplate)).toEqual([
				'{{n8nUrl}}/form/refer?ref={{code}}',
				'{{n8nUrl}}/form/refer?ref={{code}}',
				'https://n8n.acme.com/form/refer?ref={{code}}',
				'http://localhost:5678/shop/form/refer?ref={{code}}',
				'http://localhost:5678/form/refer?ref={{code}}&utm=x',
			]);
			const [ann] = await upgraded.read((t) => t.findParticipantsByCode(['LOC1']));
			expect(ann.link).toBe('{{n8nUrl}}/form/refer?ref=LOC1');
		} finally {
			await upgraded.close();
		}
	});
}
