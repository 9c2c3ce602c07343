import { invalidInput } from '../referrals/errors';

/**
 * Days in a time zone, as the dashboard counts them. The store keeps figures per quarter hour
 * (UTC); every zone's offset is a whole number of quarter hours, so a local day is a whole run of
 * buckets whatever the zone and its daylight-saving changes.
 */

export const BUCKET_MS = 15 * 60 * 1000;
export const PERIODS = ['7', '30', '90', 'all'] as const;
export type DashboardPeriod = (typeof PERIODS)[number];

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
	let format = formatters.get(timeZone);
	if (!format) {
		format = new Intl.DateTimeFormat('en-US', {
			timeZone,
			hourCycle: 'h23',
			year: 'numeric',
			month: '2-digit',
			day: '2-digit',
			hour: '2-digit',
			minute: '2-digit',
			second: '2-digit',
		});
		formatters.set(timeZone, format);
	}
	return format;
}

/** An IANA zone name (e.g. Europe/Berlin); empty means UTC. */
export function parseTimeZone(value: unknown, field = 'timeZone'): string {
	const zone = typeof value === 'string' && value.trim() !== '' ? value.trim() : 'UTC';
	try {
		formatter(zone);
	} catch {
		throw invalidInput(field, `"${zone}" is not a time zone`, 'Use an IANA name such as Europe/Berlin or America/New_York');
	}
	return zone;
}

export function parsePeriod(value: unknown, field = 'period'): DashboardPeriod {
	const period = value === undefined || value === null || value === '' ? '30' : String(value).trim();
	if (!(PERIODS as readonly string[]).includes(period)) {
		throw invalidInput(field, `"${period}" is not a period`, 'Use 7, 30, 90 (days) or all');
	}
	return period as DashboardPeriod;
}

function wallClock(timeZone: string, utcMs: number): { date: string; asUtcMs: number } {
	const parts = Object.fromEntries(formatter(timeZone).formatToParts(new Date(utcMs)).map((p) => [p.type, p.value]));
	const date = `${parts.year}-${parts.month}-${parts.day}`;
	const asUtcMs = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
	return { date, asUtcMs };
}

/** The local date (YYYY-MM-DD) of an instant in the zone. */
export function localDate(timeZone: string, utcMs: number): string {
	return wallClock(timeZone, utcMs).date;
}

/** The instant a local date starts in the zone (its first existing minute on a DST day). */
export function startOfLocalDay(timeZone: string, date: string): number {
	const [y, m, d] = date.split('-').map(Number);
	const guess = Date.UTC(y, m - 1, d);
	const offset = (at: number) => wallClock(timeZone, at).asUtcMs - Math.floor(at / 1000) * 1000;
	let start = guess - offset(guess);
	start = guess - offset(start);
	// Where midnight does not exist (a DST change at 00:00), the day starts at the first instant of it.
	while (localDate(timeZone, start) < date) start += BUCKET_MS;
	while (localDate(timeZone, start - BUCKET_MS) === date) start -= BUCKET_MS;
	return start;
}

export function addDays(date: string, days: number): string {
	const [y, m, d] = date.split('-').map(Number);
	return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

export function bucketOf(utcMs: number): number {
	return Math.floor(utcMs / BUCKET_MS);
}

/** The local days from `first` to `last` inclusive, with the bucket each one starts at, and where the last ends. */
export function daysBetween(timeZone: string, first: string, last: string): { days: Array<{ date: string; fromBucket: number }>; endBucket: number } {
	const days: Array<{ date: string; fromBucket: number }> = [];
	for (let date = first; date <= last; date = addDays(date, 1)) {
		days.push({ date, fromBucket: bucketOf(startOfLocalDay(timeZone, date)) });
	}
	return { days, endBucket: bucketOf(startOfLocalDay(timeZone, addDays(last, 1))) };
}
