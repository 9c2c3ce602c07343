// The dashboard's store queries on PostgreSQL: both read tables kept by the triggers of the
// dashboard migration, through their primary key or index, so they cost the same whatever the
// campaign's size.
import { splitRange } from '../dashboard-range';
import type { BoardRow, SeriesRow, SeriesSpan, TallyRow } from '../types';

type Query = (sql: string, params: Array<string | number | null | string[] | number[]>) => Promise<Array<Record<string, unknown>>>;

const toRow = (r: Record<string, unknown>): TallyRow => ({
	metric: r.metric as string,
	currency: r.currency as string,
	bucket: Number(r.bucket),
	n: Number(r.n),
	amount: Number(r.amount),
});

// Deltas a fold has not reached yet (written meanwhile, or folded by a view still running) count too.
const BOTH = (where: string) =>
	['dashboard_tallies', 'dashboard_deltas'].map((table) => `SELECT metric, currency, bucket, n, amount FROM ${table} WHERE ${where}`).join(' UNION ALL ');

export async function dashboardSeries(q: Query, campaignId: number, metrics: string[], spans: SeriesSpan[]): Promise<SeriesRow[]> {
	if (spans.length === 0) return [];
	const rows = await q(
		'SELECT metric, s.span, (bucket - s.from_bucket) / s.width AS slice, sum(n) AS n ' +
			'FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) WITH ORDINALITY AS s (from_bucket, to_bucket, width, span) ' +
			`CROSS JOIN LATERAL (${BOTH('campaign_id = $1 AND metric = ANY($5::text[]) AND bucket >= s.from_bucket AND bucket < s.to_bucket')}) AS figures ` +
			'GROUP BY metric, s.span, slice',
		[campaignId, spans.map((s) => s.from), spans.map((s) => s.to), spans.map((s) => s.width), metrics],
	);
	return rows.map((r) => ({ metric: r.metric as string, span: Number(r.span) - 1, slice: Number(r.slice), n: Number(r.n) }));
}

export async function dashboardFirstBucket(q: Query, campaignId: number): Promise<number | null> {
	const [row] = await q(
		'SELECT least((SELECT min(bucket) FROM dashboard_tallies WHERE campaign_id = $1), (SELECT min(bucket) FROM dashboard_deltas WHERE campaign_id = $1)) AS first',
		[campaignId],
	);
	return row.first === null ? null : Number(row.first);
}

export async function dashboardTotals(q: Query, campaignId: number, fromBucket: number | null, toBucket: number): Promise<TallyRow[]> {
	const { days, edges } = splitRange(fromBucket, toBucket);
	const edge = (placeholder: number) =>
		`SELECT metric, currency, n, amount FROM dashboard_tallies WHERE campaign_id = $1 AND bucket >= $${placeholder} AND bucket < $${placeholder + 1}`;
	const rows = await q(
		'SELECT metric, currency, 0 AS bucket, sum(n) AS n, sum(amount)::float8 AS amount FROM (' +
			'SELECT metric, currency, n, amount FROM dashboard_days WHERE campaign_id = $1 AND day >= $2 AND day < $3 ' +
			`UNION ALL ${edge(4)} ${edges[1] ? `UNION ALL ${edge(6)}` : ''} ` +
			'UNION ALL SELECT metric, currency, n, amount FROM dashboard_deltas WHERE campaign_id = $1 AND ($8::bigint IS NULL OR bucket >= $8::bigint) AND bucket < $9' +
			') AS figures GROUP BY metric, currency HAVING sum(n) <> 0',
		[campaignId, days.from, days.to, edges[0].from, edges[0].to, edges[1]?.from ?? 0, edges[1]?.to ?? 0, fromBucket, toBucket],
	);
	return rows.map(toRow);
}

/** Distinct from the events lock's class: folding never waits for event writers. */
const FOLD_LOCK_CLASS = 0x52464432; // 'RFD2'

/**
 * Moves the campaign's deltas into its tallies, summed. One folder per campaign at a time (others
 * skip: they read the deltas as they are), so tally rows are only ever written here, never by two
 * transactions at once.
 */
export async function foldDashboardTallies(q: Query, schema: string, campaignId: number): Promise<void> {
	const lockKey = `${schema}:${campaignId}`;
	const [lock] = await q('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS got', [FOLD_LOCK_CLASS, lockKey]);
	if (!lock.got) return;
	await q(
		'WITH moved AS (DELETE FROM dashboard_deltas WHERE campaign_id = $1 RETURNING metric, currency, bucket, n, amount), ' +
			'tallied AS (INSERT INTO dashboard_tallies AS t (campaign_id, metric, currency, bucket, n, amount) ' +
			'SELECT $1, metric, currency, bucket, sum(n), sum(amount) FROM moved GROUP BY metric, currency, bucket ' +
			'ON CONFLICT (campaign_id, bucket, metric, currency) DO UPDATE SET n = t.n + excluded.n, amount = t.amount + excluded.amount) ' +
			'INSERT INTO dashboard_days AS d (campaign_id, day, metric, currency, n, amount) ' +
			'SELECT $1, bucket / 96, metric, currency, sum(n), sum(amount) FROM moved GROUP BY 2, 3, 4 ' +
			'ON CONFLICT (campaign_id, day, metric, currency) DO UPDATE SET n = d.n + excluded.n, amount = d.amount + excluded.amount',
		[campaignId],
	);
}

export async function referrerBoard(q: Query, campaignId: number, limit: number): Promise<BoardRow[]> {
	const rows = await q(
		'SELECT p.id, p.email, p.first_name, p.last_name, p.code, p.pipedrive_person_id, b.referrals, b.qualified, ' +
			'coalesce(t.live_rewards, 0) AS live_rewards FROM referrer_board AS b ' +
			'JOIN participants AS p ON p.id = b.referrer_id LEFT JOIN referrer_tallies AS t ON t.referrer_id = b.referrer_id ' +
			'WHERE b.campaign_id = $1 ORDER BY b.qualified DESC, b.referrals DESC, b.referrer_id ASC LIMIT $2',
		[campaignId, limit],
	);
	return rows.map((r) => ({
		participantId: Number(r.id),
		email: r.email as string | null,
		firstName: r.first_name as string | null,
		lastName: r.last_name as string | null,
		code: r.code as string,
		pipedrivePersonId: r.pipedrive_person_id === null ? null : Number(r.pipedrive_person_id),
		referrals: Number(r.referrals),
		qualified: Number(r.qualified),
		liveRewards: Number(r.live_rewards),
	}));
}
