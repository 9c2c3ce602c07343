import type { ProgramContext } from '../referrals/context';
import { ReferralError, invalidInput } from '../referrals/errors';
import type { RewardStatus } from '../referrals/model';
import type { SeriesRow, SeriesSpan, TallyRow } from '../store/types';
import { METRIC, REWARD_METRIC_PREFIX } from './metrics';
import { addDays, BUCKET_MS, daysBetween, localDate, parsePeriod, parseTimeZone, type DashboardPeriod } from './time';

/**
 * The program's figures for one campaign over a period in a time zone: what the dashboard shows,
 * and what Referral Campaign → Get Stats returns with a period. Read from tallies the store keeps
 * per quarter hour, so the cost follows the period, not the campaign's size.
 */
export interface FigureOptions {
	period?: DashboardPeriod | string;
	/** IANA zone of the days; empty: UTC. */
	timeZone?: string;
	/** Best referrers to list (all time). */
	topReferrers?: number;
}

export interface Money {
	/** Null for rewards without an amount (coupons, custom). */
	currency: string | null;
	count: number;
	amount: number;
}

/** Reward statuses as a person reads them. */
export const REWARD_GROUPS = {
	awaiting: ['pending_approval', 'pending_hold'],
	due: ['due', 'issuing'],
	issued: ['issued'],
	failed: ['failed'],
	cancelled: ['cancelled'],
} as const satisfies Record<string, readonly RewardStatus[]>;
export type RewardGroup = keyof typeof REWARD_GROUPS;

export interface DailyFigures {
	date: string;
	signups: number;
	referrals: number;
	qualifications: number;
}

export interface LeaderboardEntry {
	participantId: number;
	name: string;
	email: string | null;
	code: string;
	pipedrivePersonId: number | null;
	referrals: number;
	qualified: number;
	rewards: number;
}

export interface DashboardFigures {
	campaignId: number;
	period: DashboardPeriod;
	timeZone: string;
	/** First and last local day of the period. */
	firstDay: string;
	lastDay: string;
	/** People who joined to refer (not referred themselves) in the period. */
	referrers: number;
	referredSignups: number;
	/** Of the referred sign-ups of the period, those qualified now. */
	qualified: number;
	conversionRate: number;
	qualifiedPerReferrer: number;
	/** Rewards created in the period, by current status group, per currency. */
	rewards: Record<RewardGroup, Money[]>;
	couponsLeft: number;
	/** Of the referred sign-ups of the period: in Pipedrive, qualified, with an issued reward. */
	funnel: { referred: number; sent: number; qualified: number; rewarded: number };
	daily: DailyFigures[];
	/** All time: by qualified, then referrals. */
	topReferrers: LeaderboardEntry[];
}

const DAYS: Record<Exclude<DashboardPeriod, 'all'>, number> = { '7': 7, '30': 30, '90': 90 };

export async function getDashboardFigures(ctx: ProgramContext, campaignId: number, options: FigureOptions = {}): Promise<DashboardFigures> {
	const period = parsePeriod(options.period);
	const timeZone = parseTimeZone(options.timeZone);
	const top = options.topReferrers ?? 10;
	if (!Number.isInteger(top) || top < 0 || top > 1000) throw invalidInput('topReferrers', 'Top referrers must be a whole number from 0 to 1,000');
	const lastDay = localDate(timeZone, Date.parse(ctx.now()));
	await ctx.store.transaction((tx) => tx.foldDashboardTallies(campaignId));
	return await ctx.store.read(async (tx) => {
		if (!(await tx.getCampaign({ id: campaignId }))) throw new ReferralError('not_found', `There is no campaign with id ${campaignId}`, 'campaign');
		const fromDay = period === 'all' ? null : addDays(lastDay, 1 - DAYS[period]);
		const firstBucket = fromDay === null ? await tx.dashboardFirstBucket(campaignId) : null;
		const firstDay = fromDay ?? (firstBucket === null ? lastDay : localDate(timeZone, firstBucket * BUCKET_MS));
		const { days, endBucket } = daysBetween(timeZone, firstDay < lastDay ? firstDay : lastDay, lastDay);
		const totals = await tx.dashboardTotals(campaignId, fromDay === null ? null : days[0].fromBucket, endBucket);
		const { spans, firstDayOf } = spansOf(days, endBucket);
		const series = await tx.dashboardSeries(campaignId, [METRIC.signup, METRIC.referral, METRIC.qualification], spans);
		const board = top > 0 ? await tx.referrerBoard(campaignId, top) : [];
		const coupons = await tx.couponPool(campaignId);
		return {
			campaignId,
			period,
			timeZone,
			firstDay: days[0].date,
			lastDay,
			...kpis(totals),
			couponsLeft: coupons.available,
			rewards: rewardsOf(totals),
			funnel: {
				referred: total(totals, METRIC.referral),
				sent: total(totals, METRIC.sent),
				qualified: total(totals, METRIC.qualified),
				rewarded: total(totals, METRIC.rewarded),
			},
			daily: dailyOf(series, days, firstDayOf),
			topReferrers: board.map((b) => ({
				participantId: b.participantId,
				name: [b.firstName, b.lastName].filter(Boolean).join(' ') || (b.email ?? `Participant ${b.participantId}`),
				email: b.email,
				code: b.code,
				pipedrivePersonId: b.pipedrivePersonId,
				referrals: b.referrals,
				qualified: b.qualified,
				rewards: b.liveRewards,
			})),
		};
	});
}

function total(rows: TallyRow[], metric: string): number {
	let n = 0;
	for (const row of rows) if (row.metric === metric) n += row.n;
	return n;
}

function kpis(rows: TallyRow[]): Pick<DashboardFigures, 'referrers' | 'referredSignups' | 'qualified' | 'conversionRate' | 'qualifiedPerReferrer'> {
	const referrers = total(rows, METRIC.referrer);
	const referredSignups = total(rows, METRIC.referral);
	const qualified = total(rows, METRIC.qualified);
	return {
		referrers,
		referredSignups,
		qualified,
		conversionRate: referredSignups === 0 ? 0 : qualified / referredSignups,
		qualifiedPerReferrer: referrers === 0 ? 0 : qualified / referrers,
	};
}

function rewardsOf(rows: TallyRow[]): Record<RewardGroup, Money[]> {
	const groupOf = new Map<string, RewardGroup>();
	for (const [group, statuses] of Object.entries(REWARD_GROUPS) as Array<[RewardGroup, readonly RewardStatus[]]>) {
		for (const status of statuses) groupOf.set(`${REWARD_METRIC_PREFIX}${status}`, group);
	}
	const sums = new Map<string, Money & { group: RewardGroup }>();
	for (const row of rows) {
		const group = groupOf.get(row.metric);
		if (!group) continue;
		const key = `${group}\n${row.currency}`;
		const sum = sums.get(key) ?? { group, currency: row.currency || null, count: 0, amount: 0 };
		sum.count += row.n;
		sum.amount += row.amount;
		sums.set(key, sum);
	}
	const result = Object.fromEntries(Object.keys(REWARD_GROUPS).map((g) => [g, [] as Money[]])) as Record<RewardGroup, Money[]>;
	for (const { group, currency, count, amount } of [...sums.values()].sort((a, b) => (a.currency ?? '').localeCompare(b.currency ?? ''))) {
		// Amounts are kept as sums of money: two decimals is what they are.
		if (count !== 0) result[group].push({ currency, count, amount: Math.round(amount * 100) / 100 });
	}
	return result;
}

/**
 * The days as spans of equal slices for the store to sum in: a run of 24-hour days starting at the
 * same quarter hour is one span of 96-bucket slices; a day of 23 or 25 hours (a DST change) is a
 * span of its own, one slice long.
 */
function spansOf(days: Array<{ date: string; fromBucket: number }>, endBucket: number): { spans: SeriesSpan[]; firstDayOf: number[] } {
	const spans: SeriesSpan[] = [];
	const firstDayOf: number[] = [];
	const DAY = 96;
	for (let i = 0; i < days.length; i++) {
		const from = days[i].fromBucket;
		const to = i + 1 < days.length ? days[i + 1].fromBucket : endBucket;
		const last = spans[spans.length - 1];
		if (to - from === DAY && last && last.width === DAY && last.to === from) {
			last.to = to;
			continue;
		}
		spans.push({ from, to, width: to - from });
		firstDayOf.push(i);
	}
	return { spans, firstDayOf };
}

function dailyOf(rows: SeriesRow[], days: Array<{ date: string }>, firstDayOf: number[]): DailyFigures[] {
	const daily = days.map(({ date }) => ({ date, signups: 0, referrals: 0, qualifications: 0 }));
	const field: Record<string, keyof Omit<DailyFigures, 'date'>> = {
		[METRIC.signup]: 'signups',
		[METRIC.referral]: 'referrals',
		[METRIC.qualification]: 'qualifications',
	};
	for (const row of rows) daily[firstDayOf[row.span] + row.slice][field[row.metric]] += row.n;
	return daily;
}
