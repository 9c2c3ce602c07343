// The dashboard's store queries on PostgreSQL: both read tables kept by the triggers of the
// dashboard migration, through their primary key or index, so they cost the same whatever the
// campaign's size.
import type { BoardRow, TallyRow } from '../types';

type Query = (sql: string, params: Array<string | number | null>) => Promise<Array<Record<string, unknown>>>;

export async function dashboardTallies(q: Query, campaignId: number, fromBucket: number | null, toBucket: number): Promise<TallyRow[]> {
	// Deltas a fold has not reached yet (written meanwhile, or folded by a view still running) count too.
	const range = 'campaign_id = $1 AND ($2::bigint IS NULL OR bucket >= $2::bigint) AND bucket < $3';
	const rows = await q(
		'SELECT metric, currency, bucket, sum(n) AS n, sum(amount)::float8 AS amount FROM (' +
			`SELECT metric, currency, bucket, n, amount FROM dashboard_tallies WHERE ${range} ` +
			`UNION ALL SELECT metric, currency, bucket, n, amount FROM dashboard_deltas WHERE ${range}` +
			') AS figures GROUP BY metric, currency, bucket HAVING sum(n) <> 0 ORDER BY bucket',
		[campaignId, fromBucket, toBucket],
	);
	return rows.map((r) => ({ metric: r.metric as string, currency: r.currency as string, bucket: Number(r.bucket), n: Number(r.n), amount: Number(r.amount) }));
}

/** Distinct from the events lock's class: folding never waits for event writers. */
const FOLD_LOCK_CLASS = 0x52464432; // 'RFD2'

/**
 * Moves the campaign's deltas into its tallies, summed. One folder per campaign at a time (others
 * skip: they read the deltas as they are), so tally rows are only ever written here, never by two
 * transactions at once.
 */
export async function foldDashboardTallies(q: Query, schema: string, campaignId: number): Promise<void> {
	const [lock] = await q('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS got', [FOLD_LOCK_CLASS, `${schema}:${campaignId}`]);
	if (!lock.got) return;
	await q(
		'WITH moved AS (DELETE FROM dashboard_deltas WHERE campaign_id = $1 RETURNING metric, currency, bucket, n, amount) ' +
			'INSERT INTO dashboard_tallies AS t (campaign_id, metric, currency, bucket, n, amount) ' +
			'SELECT $1, metric, currency, bucket, sum(n), sum(amount) FROM moved GROUP BY metric, currency, bucket ' +
			'ON CONFLICT (campaign_id, metric, currency, bucket) DO UPDATE SET n = t.n + excluded.n, amount = t.amount + excluded.amount',
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
