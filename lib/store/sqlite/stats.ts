// Counts: a campaign's statistics, a referrer's reward tally, and referrals made since a time.

import { PARTICIPANT_SOURCES, type CampaignStats, type ParticipantSource, type TopReferrer } from '../../referrals/model';
import type { ReferrerTally } from '../types';
import { toIso, toLimit, type Prepare } from './rows';

export function referrerTally(prepare: Prepare, referrerId: number): ReferrerTally {
	const r = prepare('SELECT qualified, live_rewards, settled_rules FROM referrer_tallies WHERE referrer_id = ?').get(referrerId);
	if (r === undefined) return { qualified: 0, liveRewards: 0, settledRules: null };
	return { qualified: r.qualified as number, liveRewards: r.live_rewards as number, settledRules: r.settled_rules as string | null };
}

export function settleReferrerTally(prepare: Prepare, referrerId: number, settledRules: string | null): void {
	prepare(
		'INSERT INTO referrer_tallies (referrer_id, settled_rules) VALUES (?, ?) ' +
			'ON CONFLICT (referrer_id) DO UPDATE SET settled_rules = excluded.settled_rules',
	).run(referrerId, settledRules);
}

export function countReferralsSince(prepare: Prepare, referrerIds: number[], since: string): Map<number, number> {
	const counts = new Map<number, number>();
	if (referrerIds.length === 0) return counts;
	const rows = prepare(
		'SELECT referred_by AS referrer, count(*) AS n FROM participants ' +
			'WHERE referred_by IN (SELECT value FROM json_each(?)) AND created_at >= ? GROUP BY referred_by',
	).all(JSON.stringify(referrerIds), toIso(since));
	for (const r of rows) counts.set(r.referrer as number, r.n as number);
	return counts;
}

export function campaignStats(prepare: Prepare, campaignId: number, topReferrers: number): CampaignStats {
	const bySource = Object.fromEntries(PARTICIPANT_SOURCES.map((s) => [s, 0])) as Record<
		ParticipantSource,
		number
	>;
	let participants = 0;
	for (const r of prepare(
		'SELECT source, count(*) AS n FROM participants WHERE campaign_id = ? GROUP BY source',
	).all(campaignId)) {
		bySource[r.source as ParticipantSource] = r.n as number;
		participants += r.n as number;
	}
	const referrals = { total: 0, pending: 0, qualified: 0, unqualified: 0 };
	for (const r of prepare(
		'SELECT referral_status AS status, count(*) AS n FROM participants ' +
			'WHERE campaign_id = ? AND referred_by IS NOT NULL GROUP BY referral_status',
	).all(campaignId)) {
		referrals.total += r.n as number;
		if (r.status === 'pending' || r.status === 'qualified' || r.status === 'unqualified') {
			referrals[r.status] = r.n as number;
		}
	}
	const top: TopReferrer[] =
		topReferrers > 0
			? prepare(
					'SELECT p.id, p.email, p.first_name, p.last_name, p.code, c.referrals, c.qualified ' +
						'FROM (SELECT referred_by, count(*) AS referrals, ' +
						"sum(CASE WHEN referral_status = 'qualified' THEN 1 ELSE 0 END) AS qualified " +
						'FROM participants WHERE campaign_id = ? AND referred_by IS NOT NULL GROUP BY referred_by) AS c ' +
						'JOIN participants AS p ON p.id = c.referred_by ' +
						'ORDER BY c.qualified DESC, c.referrals DESC, p.id ASC LIMIT ?',
				)
					.all(campaignId, toLimit(topReferrers))
					.map((r) => ({
						participantId: r.id as number,
						email: r.email as string | null,
						firstName: r.first_name as string | null,
						lastName: r.last_name as string | null,
						code: r.code as string,
						referrals: r.referrals as number,
						qualified: r.qualified as number,
					}))
			: [];
	return {
		campaignId,
		participants,
		participantsBySource: bySource,
		referrals,
		conversionRate: referrals.total === 0 ? 0 : referrals.qualified / referrals.total,
		topReferrers: top,
	};
}
