// One process of the qualification race (qualify.test.ts): delivers the same qualification
// `count` times, `parallel` at a time, and prints how many changed the status.
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { StoreConfig } from '../../lib/store/types';

async function main(): Promise<void> {
	const [configJson, code, key, count, parallel, startAt] = process.argv.slice(2);
	const program = new ReferralProgram(await openStore(JSON.parse(configJson) as StoreConfig));
	await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
	let changed = 0;
	for (let sent = 0; sent < Number(count); sent += Number(parallel)) {
		const results = await Promise.all(
			Array.from({ length: Number(parallel) }, () =>
				program.qualify({ code }, { action: 'qualify', idempotencyKey: key || undefined, saleValue: 99, currency: 'EUR', via: 'pipedrive' }),
			),
		);
		changed += results.filter((r) => r.changed).length;
	}
	await closeAllStores();
	process.stdout.write(`${changed}\n`);
}

main().catch((error) => {
	process.stderr.write(`${(error as Error).stack}\n`);
	process.exit(1);
});
