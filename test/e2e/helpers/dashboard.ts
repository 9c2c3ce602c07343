// A program to look at on the dashboard, seeded through the program API with a moving clock: three
// referrers (one linked to Pipedrive), friends over the last 40 days (the first two 10 minutes either
// side of today's local midnight), some in Pipedrive, most qualified, rewards waiting for approval,
// one issued, one cancelled, three coupons in the pool, and two referrals from a disposable-address
// domain held for review. Used by the real-n8n suite and the screenshots.
import { localDate } from '../../../lib/dashboard/time';
import type { Campaign } from '../../../lib/referrals/model';
import type { ReferralProgram } from '../../../lib/referrals/program';

const DAY = 86_400_000;

export async function seedDashboardProgram(
	program: ReferralProgram,
	clock: { now: Date },
	options: { zone: string; friends: number },
): Promise<Campaign> {
	const now = Date.now();
	const at = (ms: number) => (clock.now = new Date(ms));
	const offset = new Intl.DateTimeFormat('en', { timeZone: options.zone, timeZoneName: 'longOffset' }).formatToParts(now).find((p) => p.type === 'timeZoneName')!.value.replace('GMT', '') || '+00:00';
	const midnight = Date.parse(`${localDate(options.zone, now)}T00:00:00${offset}`);
	const campaign = await program.createCampaign(
		{
			name: 'Referral Program',
			slug: 'referral-program',
			rewardRules: { perReferral: { reward: { kind: 'amount', amount: 25, currency: 'EUR' } }, approval: true },
			disposableEmailAction: 'flag',
		},
		'https://x.test/?ref={{code}}',
	);
	await program.rewards.addCoupons(campaign.id, ['SPRING-1', 'SPRING-2', 'SPRING-3']);
	const referrers = [];
	for (const [i, name] of ['Ann Lee', 'Bo Chan', 'Cy Diaz'].entries()) {
		at(now - (40 - i * 15) * DAY);
		const [first, last] = name.split(' ');
		const [outcome] = await program.enrol(campaign.id, [{ email: `${first.toLowerCase()}@example.com`, firstName: first, lastName: last }], { stopOnError: true });
		if (!outcome.ok) throw outcome.error;
		referrers.push(outcome.value.participant);
	}
	await program.linkPipedrive(referrers[0].id, { personId: 4242 });
	for (let i = 0; i < options.friends; i++) {
		const time = i === 0 ? midnight - 10 * 60_000 : i === 1 ? midnight + 10 * 60_000 : now - ((i * 7919) % (38 * 24)) * 3_600_000 - 60_000;
		at(Math.min(time, now - 60_000));
		const referrer = referrers[i % 5 === 0 ? 2 : i % 3 === 0 ? 1 : 0];
		const [outcome] = await program.registerReferred(campaign.id, [{ code: referrer.code, email: `friend${i}@example.com`, firstName: `Friend${i}` }], { stopOnError: true });
		if (!outcome.ok) throw outcome.error;
		const friend = outcome.value.participant;
		if (i % 4 !== 3) await program.linkPipedrive(friend.id, { personId: 5000 + i, dealId: 9000 + i });
		if (i % 3 !== 2 && i % 4 !== 3) {
			at(Math.min(clock.now.getTime() + 26 * 3_600_000, now - 1000));
			await program.qualify({ id: friend.id }, { action: 'qualify' });
		}
	}
	for (const [i, email] of ['quick.signup@mailinator.com', 'another.try@mailinator.com'].entries()) {
		at(now - (2 - i) * 3_600_000);
		const [outcome] = await program.registerReferred(campaign.id, [{ code: referrers[1].code, email, firstName: `Held${i + 1}` }], { stopOnError: true });
		if (!outcome.ok) throw outcome.error;
	}
	clock.now = new Date();
	const pending = (await program.rewards.list({ campaignId: campaign.id, status: ['pending_approval'] }, { limit: 1000 })).map((v) => v.reward.id);
	// About half approved and issued, one cancelled; the rest wait for approval.
	const issue = pending.slice(0, Math.max(1, Math.floor(pending.length / 2) - 1));
	for (const id of issue) await program.rewards.approve(id);
	await program.rewards.claim({ campaignId: campaign.id, limit: issue.length, leaseSeconds: 60 });
	for (const id of issue) await program.rewards.confirm(id, `payout-${id}`);
	await program.rewards.cancel(pending[issue.length]);
	return campaign;
}
