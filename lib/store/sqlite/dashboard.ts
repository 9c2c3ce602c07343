// The dashboard's store queries on SQLite: both read tables kept by the triggers of the dashboard
// migration, through their primary key or index, so they cost the same whatever the campaign's size.
import type { StatementSync } from 'node:sqlite';

import { splitRange } from '../dashboard-range';
import type { BoardRow, SeriesRow, SeriesSpan, TallyRow } from '../types';

type Prepare = (sql: string) => StatementSync;

const toRow = (r: Record<string, unknown>): TallyRow => ({
	metric: r.metric as string,
	currency: r.currency as string,
	bucket: r.bucket as number,
	n: r.n as number,
	amount: r.amount as number,
});

export function dashboardSeries(prepare: Prepare, campaignId: number, metrics: string[], spans: SeriesSpan[]): SeriesRow[] {
	if (spans.length === 0) return [];
	const one =
		// Bound numbers arrive as REAL: cast, or the division would not be an integer one.
		'SELECT metric, CAST(? AS INTEGER) AS span, (bucket - CAST(? AS INTEGER)) / CAST(? AS INTEGER) AS slice, sum(n) AS n FROM dashboard_tallies WHERE campaign_id = ? ' +
		'AND metric IN (SELECT value FROM json_each(?)) AND bucket >= ? AND bucket < ? GROUP BY metric, slice';
	const params = spans.flatMap((s, i) => [i, s.from, s.width, campaignId, JSON.stringify(metrics), s.from, s.to]);
	return prepare(spans.map(() => one).join(' UNION ALL '))
		.all(...params)
		.map((r) => ({ metric: r.metric as string, span: r.span as number, slice: r.slice as number, n: r.n as number }));
}

export function dashboardFirstBucket(prepare: Prepare, campaignId: number): number | null {
	const row = prepare('SELECT min(bucket) AS first FROM dashboard_tallies WHERE campaign_id = ?').get(campaignId);
	return (row?.first as number | null) ?? null;
}

export function dashboardTotals(prepare: Prepare, campaignId: number, fromBucket: number | null, toBucket: number): TallyRow[] {
	const { days, edges } = splitRange(fromBucket, toBucket);
	const edge = 'UNION ALL SELECT metric, currency, n, amount FROM dashboard_tallies WHERE campaign_id = ? AND bucket >= ? AND bucket < ? ';
	return prepare(
		'SELECT metric, currency, 0 AS bucket, sum(n) AS n, sum(amount) AS amount FROM (' +
			'SELECT metric, currency, n, amount FROM dashboard_days WHERE campaign_id = ? AND day >= ? AND day < ? ' +
			edges.map(() => edge).join('') +
			') GROUP BY metric, currency HAVING sum(n) <> 0',
	)
		.all(campaignId, days.from, days.to, ...edges.flatMap((e) => [campaignId, e.from, e.to]))
		.map(toRow);
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
