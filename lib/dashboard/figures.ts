import type { ProgramContext } from '../referrals/context';
import { ReferralError, invalidInput } from '../referrals/errors';
import type { RewardStatus } from '../referrals/model';
import type { TallyRow } from '../store/types';
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
		const window = daysBetween(timeZone, fromDay ?? lastDay, lastDay);
		const rows = await tx.dashboardTallies(campaignId, fromDay === null ? null : window.days[0].fromBucket, window.endBucket);
		const firstDay = fromDay ?? (rows.length ? localDate(timeZone, rows[0].bucket * BUCKET_MS) : lastDay);
		const days = fromDay === null ? daysBetween(timeZone, firstDay, lastDay).days : window.days;
		const board = top > 0 ? await tx.referrerBoard(campaignId, top) : [];
		const coupons = await tx.couponPool(campaignId);
		return {
			campaignId,
			period,
			timeZone,
			firstDay,
			lastDay,
			...kpis(rows),
			couponsLeft: coupons.available,
			rewards: rewardsOf(rows),
			funnel: {
				referred: total(rows, METRIC.referral),
				sent: total(rows, METRIC.sent),
				qualified: total(rows, METRIC.qualified),
				rewarded: total(rows, METRIC.rewarded),
			},
			daily: dailyOf(rows, days),
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

function dailyOf(rows: TallyRow[], days: Array<{ date: string; fromBucket: number }>): DailyFigures[] {
	const daily = days.map(({ date }) => ({ date, signups: 0, referrals: 0, qualifications: 0 }));
	const field: Record<string, keyof Omit<DailyFigures, 'date'>> = {
		[METRIC.signup]: 'signups',
		[METRIC.referral]: 'referrals',
		[METRIC.qualification]: 'qualifications',
	};
	// Rows come sorted by bucket: one walk over the days.
	let day = 0;
	for (const row of rows) {
		const name = field[row.metric];
		if (!name || row.bucket < days[0].fromBucket) continue;
		while (day + 1 < days.length && row.bucket >= days[day + 1].fromBucket) day++;
		daily[day][name] += row.n;
	}
	return daily;
}

