// The dashboard's store queries on SQLite: both read tables kept by the triggers of the dashboard
// migration, through their primary key or index, so they cost the same whatever the campaign's size.
import type { StatementSync } from 'node:sqlite';

import type { BoardRow, TallyRow } from '../types';

type Prepare = (sql: string) => StatementSync;

export function dashboardTallies(prepare: Prepare, campaignId: number, fromBucket: number | null, toBucket: number): TallyRow[] {
	return prepare(
		'SELECT metric, currency, bucket, n, amount FROM dashboard_tallies ' +
			'WHERE campaign_id = ? AND bucket >= ? AND bucket < ? AND n <> 0 ORDER BY bucket',
	)
		.all(campaignId, fromBucket ?? Number.MIN_SAFE_INTEGER, toBucket)
		.map((r) => ({ metric: r.metric as string, currency: r.currency as string, bucket: r.bucket as number, n: r.n as number, amount: r.amount as number }));
}

export function referrerBoard(prepare: Prepare, campaignId: number, limit: number): BoardRow[] {
	return prepare(
		'SELECT p.id, p.email, p.first_name, p.last_name, p.code, p.pipedrive_person_id, b.referrals, b.qualified, ' +
			'coalesce(t.live_rewards, 0) AS live_rewards FROM referrer_board AS b ' +
			'JOIN participants AS p ON p.id = b.referrer_id LEFT JOIN referrer_tallies AS t ON t.referrer_id = b.referrer_id ' +
			'WHERE b.campaign_id = ? ORDER BY b.qualified DESC, b.referrals DESC, b.referrer_id ASC LIMIT ?',
	)
		.all(campaignId, limit)
		.map((r) => ({
			participantId: r.id as number,
			email: r.email as string | null,
			firstName: r.first_name as string | null,
			lastName: r.last_name as string | null,
			code: r.code as string,
			pipedrivePersonId: r.pipedrive_person_id as number | null,
			referrals: r.referrals as number,
			qualified: r.qualified as number,
			liveRewards: r.live_rewards as number,
		}));
}
