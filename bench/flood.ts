// `npm run bench:flood`: 5,000 bot POSTs at the bundled forms, 50 at a time, beside 20 real
// sign-ups, in a real n8n 2.41 on SQLite (see bench/flood/run.ts). Loopback only; bounded by the
// post count. Env: FLOOD_POSTS (5000), FLOOD_CONCURRENCY (50), FLOOD_REAL (20).
// The last line printed is one JSON object with every figure.
import { log } from '../scripts/n8n/proc';
import { runFlood } from './flood/run';

async function main(): Promise<void> {
	const result = await runFlood(
		{
			posts: Number(process.env.FLOOD_POSTS ?? 5000),
			concurrency: Number(process.env.FLOOD_CONCURRENCY ?? 50),
			realSignups: Number(process.env.FLOOD_REAL ?? 20),
		},
		log,
	);
	process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
	console.error(error);
	process.exit(1);
});
