// Child process of bench/sync.ts: runs the Pipedrive sandbox in its own process, so that its
// memory (up to 50,000 persons) is not counted in the benchmark's RSS, and its CPU work runs on
// the other core. Prints one JSON line `{ url, apiToken }` on stdout once listening; the benchmark
// then drives it over HTTP (the API and `/__admin/`). Exits when stdin closes (the parent is gone)
// or on SIGTERM.
//
//   node --import tsx bench/sync-sandbox.ts [rateLimit] [extraPersons]
import { startSandbox } from '../sandbox';

async function main(): Promise<void> {
	const rateLimit = Number(process.argv[2] ?? 0);
	const extraPersons = Number(process.argv[3] ?? 0);
	const sandbox = await startSandbox({ rateLimit, seed: { extraPersons } });
	let closing = false;
	const stop = async () => {
		if (closing) return;
		closing = true;
		await sandbox.close();
		process.exit(0);
	};
	process.on('SIGTERM', () => void stop());
	process.on('SIGINT', () => void stop());
	process.stdin.on('end', () => void stop());
	process.stdin.on('error', () => void stop());
	process.stdin.resume();
	process.stdout.write(`${JSON.stringify({ url: sandbox.url, apiToken: sandbox.apiToken })}\n`);
}

main().catch((error) => {
	console.error(error);
	process.exit(1);
});
