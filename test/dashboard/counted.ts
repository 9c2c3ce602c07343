// The dashboard's figures as counting every row gives them (full scans, no tallies): what the
// tallies, the page and Get Stats must agree with. Used by the unit suite and the real-n8n suite.
import { localDate } from '../../lib/dashboard/time';
import type { Participant, Reward } from '../../lib/referrals/model';
import type { ReferralProgram } from '../../lib/referrals/program';

export async function countedFigures(program: ReferralProgram, campaignId: number, timeZone: string, firstDay: string, lastDay: string) {
	const people: Participant[] = [];
	for (let afterId = 0; ; ) {
		const page = await program.listParticipants(campaignId, { includeErased: true }, { limit: 1000, afterId });
		if (page.length === 0) break;
		people.push(...page);
		afterId = page[page.length - 1].id;
	}
	const rewards: Reward[] = (await program.rewards.list({ campaignId }, { limit: 1000 })).map((v) => v.reward);
	const inPeriod = (iso: string | null) => iso !== null && localDate(timeZone, Date.parse(iso)) >= firstDay && localDate(timeZone, Date.parse(iso)) <= lastDay;
	const referred = people.filter((p) => p.referredBy !== null && inPeriod(p.createdAt));
	const issuedReferrals = new Set(rewards.filter((r) => r.status === 'issued').map((r) => r.referralId));
	const daily = new Map<string, { signups: number; referrals: number; qualifications: number }>();
	const day = (iso: string) => {
		const date = localDate(timeZone, Date.parse(iso));
		if (!daily.has(date)) daily.set(date, { signups: 0, referrals: 0, qualifications: 0 });
		return daily.get(date)!;
	};
	for (const p of people) {
		if (inPeriod(p.createdAt)) day(p.createdAt).signups++;
		if (p.referredBy !== null && inPeriod(p.createdAt)) day(p.createdAt).referrals++;
		if (p.referredBy !== null && p.referralStatus === 'qualified' && inPeriod(p.qualifiedAt)) day(p.qualifiedAt!).qualifications++;
	}
	const money = (statuses: string[]) => {
		const sums = new Map<string | null, { currency: string | null; count: number; amount: number }>();
		for (const r of rewards.filter((r) => statuses.includes(r.status) && inPeriod(r.createdAt))) {
			const sum = sums.get(r.currency) ?? { currency: r.currency, count: 0, amount: 0 };
			sum.count++;
			sum.amount += r.amount ?? 0;
			sums.set(r.currency, sum);
		}
		return [...sums.values()];
	};
	return {
		referrers: people.filter((p) => p.referredBy === null && inPeriod(p.createdAt)).length,
		referredSignups: referred.length,
		funnel: {
			referred: referred.length,
			sent: referred.filter((p) => p.pipedrivePersonId !== null || p.pipedriveLeadId !== null || p.pipedriveDealId !== null).length,
			qualified: referred.filter((p) => p.referralStatus === 'qualified').length,
			rewarded: referred.filter((p) => issuedReferrals.has(p.id)).length,
		},
		rewards: { awaiting: money(['pending_approval', 'pending_hold']), due: money(['due', 'issuing']), issued: money(['issued']), failed: money(['failed']), cancelled: money(['cancelled']) },
		daily: Object.fromEntries([...daily].filter(([, d]) => d.signups + d.referrals + d.qualifications > 0)),
	};
}

