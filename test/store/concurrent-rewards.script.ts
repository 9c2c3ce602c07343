// Child process of the multi-process reward tests (contract/rewards.ts, contract/coupons.ts):
//   node --import tsx concurrent-rewards.script.ts '<StoreConfig JSON>' claim <campaignId> <batch>
//   node --import tsx concurrent-rewards.script.ts '<StoreConfig JSON>' coupons <campaignId> <batch> <child> <children> <passes>
// Loads everything, prints "ready" and waits for a line on stdin, so that every child starts at the
// same moment. Then
//   claim:   claims the campaign's rewards in transactions of <batch> until none is left, and
//            prints {"claimed": [reward ids]};
//   coupons: cuts the campaign's rewards (by id) into batches of <batch>; child k of <children>
//            starts at batch k * batches / children and goes over <passes> consecutive batches
//            (wrapping around), one transaction each, ascending ids within it, taking a coupon of
//            the campaign for each reward; with passes >= batches / children every reward is
//            asked for by two children or more. Prints {"taken": [[reward id, code or null], ...]}.
// The JSON is the last line of stdout and the exit code 0; on failure the error goes to stderr
// and the exit code is 1.

import { closeAllStores, openStore, type StoreConfig } from '../../lib/store';

function waitForGo(): Promise<void> {
	return new Promise((resolve) => {
		process.stdin.once('data', () => {
			process.stdin.pause();
			resolve();
		});
	});
}

async function main(): Promise<void> {
	const config = JSON.parse(process.argv[2]) as StoreConfig;
	const mode = process.argv[3];
	const campaignId = Number(process.argv[4]);
	const batch = Number(process.argv[5]);
	const child = Number(process.argv[6] ?? 0);
	const children = Number(process.argv[7] ?? 1);
	const passes = Number(process.argv[8] ?? 1);
	const go = waitForGo();
	process.stdout.write('ready\n');
	await go;

	const store = await openStore(config);
	let result: unknown;
	if (mode === 'claim') {
		const claimed: number[] = [];
		for (;;) {
			const rewards = await store.transaction((tx) =>
				tx.claimRewards({ campaignId, limit: batch, leaseUntil: '2099-01-01T00:00:00.000Z' }, new Date().toISOString()),
			);
			if (rewards.length === 0) break;
			claimed.push(...rewards.map((r) => r.id));
		}
		result = { claimed };
	} else if (mode === 'coupons') {
		const ids: number[] = [];
		for (let afterId: number | undefined; ; ) {
			const page = await store.read((tx) => tx.listRewards({ campaignId }, { limit: 1000, afterId }));
			if (page.length === 0) break;
			ids.push(...page.map((r) => r.id));
			afterId = page[page.length - 1].id;
		}
		const batches: number[][] = [];
		for (let i = 0; i < ids.length; i += batch) batches.push(ids.slice(i, i + batch));
		const taken: Array<[number, string | null]> = [];
		const start = Math.floor((child * batches.length) / children);
		for (let k = 0; k < Math.min(passes, batches.length); k++) {
			const rewardIds = batches[(start + k) % batches.length];
			taken.push(
				...(await store.transaction(async (tx) => {
					const pairs: Array<[number, string | null]> = [];
					for (const id of rewardIds) pairs.push([id, await tx.takeCoupon(campaignId, id, new Date().toISOString())]);
					return pairs;
				})),
			);
		}
		result = { taken };
	} else {
		throw new Error(`unknown mode ${mode}`);
	}
	await closeAllStores();
	process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err) => {
	process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
	process.exit(1);
});
