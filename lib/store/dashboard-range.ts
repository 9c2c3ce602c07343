// How both backends read a range of dashboard buckets cheaply: whole UTC days from the day
// roll-up (dashboard_days), the ragged ends from the quarter-hour tallies. A campaign's figures
// over 90 days are then at most 90 day rows plus two partial days per metric, however busy it is.

export const BUCKETS_PER_DAY = 96;

export interface SplitRange {
	/** Whole UTC days (bucket / 96), from <= day < to. */
	days: { from: number; to: number };
	/** Quarter-hour ranges left over at either end. */
	edges: Array<{ from: number; to: number }>;
}

/** Far below any bucket: "from the start". */
const START = -(2 ** 40);

export function splitRange(fromBucket: number | null, toBucket: number): SplitRange {
	const from = fromBucket ?? START;
	const dayFrom = Math.ceil(from / BUCKETS_PER_DAY);
	const dayTo = Math.floor(toBucket / BUCKETS_PER_DAY);
	if (dayFrom >= dayTo) return { days: { from: 0, to: 0 }, edges: [{ from, to: toBucket }] };
	return {
		days: { from: dayFrom, to: dayTo },
		edges: [
			{ from, to: dayFrom * BUCKETS_PER_DAY },
			{ from: dayTo * BUCKETS_PER_DAY, to: toBucket },
		],
	};
}
