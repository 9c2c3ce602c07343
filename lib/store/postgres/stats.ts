// Counts: a campaign's statistics, a referrer's reward tally, and referrals made since a time.

import { PARTICIPANT_SOURCES, type CampaignStats, type ParticipantSource, type TopReferrer } from '../../referrals/model';
import type { ReferrerTally } from '../types';
import { toIso, toLimit, type Query } from './rows';

export async function referrerTally(q: Query, referrerId: number): Promise<ReferrerTally> {
	const rows = await q('SELECT qualified, live_rewards, settled_rules FROM referrer_tallies WHERE referrer_id = $1', [referrerId]);
	if (rows.length === 0) return { qualified: 0, liveRewards: 0, settledRules: null };
	const r = rows[0];
	return { qualified: r.qualified as number, liveRewards: r.live_rewards as number, settledRules: r.settled_rules as string | null };
}

export async function settleReferrerTally(q: Query, referrerId: number, settledRules: string | null): Promise<void> {
	await q(
		'INSERT INTO referrer_tallies (referrer_id, settled_rules) VALUES ($1, $2) ' +
			'ON CONFLICT (referrer_id) DO UPDATE SET settled_rules = excluded.settled_rules',
		[referrerId, settledRules],
	);
}

export async function countReferralsSince(q: Query, referrerIds: number[], since: string): Promise<Map<number, number>> {
	const counts = new Map<number, number>();
	if (referrerIds.length === 0) return counts;
	const rows = await q(
		'SELECT referred_by AS referrer, count(*) AS n FROM participants ' +
			'WHERE referred_by = ANY($1::bigint[]) AND created_at >= $2::timestamptz GROUP BY referred_by',
		[referrerIds, toIso(since)],
	);
	for (const r of rows) counts.set(r.referrer as number, r.n as number);
	return counts;
}

export async function campaignStats(q: Query, campaignId: number, topReferrers: number): Promise<CampaignStats> {
	const bySource = Object.fromEntries(PARTICIPANT_SOURCES.map((s) => [s, 0])) as Record<
		ParticipantSource,
		number
	>;
	let participants = 0;
	for (const r of await q(
		'SELECT source, count(*) AS n FROM participants WHERE campaign_id = $1 GROUP BY source',
		[campaignId],
	)) {
		bySource[r.source as ParticipantSource] = r.n as number;
		participants += r.n as number;
	}
	const referrals = { total: 0, pending: 0, qualified: 0, unqualified: 0 };
	for (const r of await q(
		'SELECT referral_status AS status, count(*) AS n FROM participants ' +
			'WHERE campaign_id = $1 AND referred_by IS NOT NULL GROUP BY referral_status',
		[campaignId],
	)) {
		referrals.total += r.n as number;
		if (r.status === 'pending' || r.status === 'qualified' || r.status === 'unqualified') {
			referrals[r.status] = r.n as number;
		}
	}
	const limit = toLimit(topReferrers);
	const top: TopReferrer[] =
		limit > 0
			? (
					await q(
						'SELECT p.id, p.email, p.first_name, p.last_name, p.code, c.referrals, c.qualified ' +
							'FROM (SELECT referred_by, count(*) AS referrals, ' +
							"count(*) FILTER (WHERE referral_status = 'qualified') AS qualified " +
							'FROM participants WHERE campaign_id = $1 AND referred_by IS NOT NULL GROUP BY referred_by) AS c ' +
							'JOIN participants AS p ON p.id = c.referred_by ' +
							'ORDER BY c.qualified DESC, c.referrals DESC, p.id ASC LIMIT $2',
						[campaignId, limit],
					)
				).map((r) => ({
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
