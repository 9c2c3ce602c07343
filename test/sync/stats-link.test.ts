/** Sync Contacts writing each person's signed stats-page link into a mapped person field. */

import { portalLinks } from '../../lib/portal/links';
import { verifyToken } from '../../lib/portal/tokens';
import type { Campaign, Participant } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { syncContacts } from '../../lib/sync';
import type { Sandbox } from '../../sandbox';
import { PERSON_FIELD_KEYS } from '../../sandbox/seed';
import { sandboxClient } from '../helpers/sandbox-client';
import { useSandboxAndStore } from '../helpers/sandbox-store';

const SECRET = 'sync-test-portal-secret-0123456789abcdefgh';

describe('Sync Contacts: the stats-page link in a person field', () => {
	let sandbox: Sandbox;
	let program: ReferralProgram;
	let campaign: Campaign;

	useSandboxAndStore('sync-stats-', (env) => {
		sandbox = env.sandbox;
		if (env.program) program = env.program;
	});
	beforeEach(async () => {
		campaign = await program.createCampaign({ name: 'Friends' }, 'https://n8n.example.com/form/refer?ref={{code}}');
	});
	const client = () => sandboxClient(sandbox);
	const settings = { pagesBaseUrl: 'https://n8n.example.com/webhook', sharePath: 'referrals/share', statsPath: 'referrals/stats', expiresAfterDays: 0 };
	const statsLink = (participant: Participant) => portalLinks(SECRET, campaign, participant, settings, new Date()).statsUrl;
	// The sandbox has no "stats link" field: its "Referral link" text field stands in for it.
	const fields = [{ role: 'statsLink' as const, label: 'Stats Page Link Field', field: 'Referral link' }];

	it('writes a link signed for each person, then nothing on the next run (the link does not change)', async () => {
		const first = await syncContacts(program, client(), { campaignId: campaign.id, mode: 'full', fields, statsLink });
		expect(first.failed).toBe(0);
		const withEmail = sandbox.state.personList.filter((p) => p.emails.some((e) => e.value));
		for (const person of withEmail) {
			const [participant] = await program.findByPipedrivePersons(campaign.id, [person.id]);
			const written = String(sandbox.state.persons.get(person.id)!.custom[PERSON_FIELD_KEYS.referralLink]);
			expect(written.startsWith('https://n8n.example.com/webhook/referrals/stats?t=')).toBe(true);
			expect(verifyToken(SECRET, campaign.id, new URL(written).searchParams.get('t'), Math.floor(Date.now() / 1000))).toBe(participant.id);
		}
		sandbox.clearRequests();
		const second = await syncContacts(program, client(), { campaignId: campaign.id, mode: 'full', fields, statsLink });
		expect(second.written).toBe(0);
		expect(sandbox.requests().filter((r) => r.method === 'PATCH')).toEqual([]);
	});

	it('a stats-link field without a secret to sign with is refused before anything is read or written', async () => {
		sandbox.clearRequests();
		await expect(syncContacts(program, client(), { campaignId: campaign.id, mode: 'full', fields })).rejects.toMatchObject({ field: 'statsLinkField' });
		expect(sandbox.requests()).toEqual([]);
	});
});
