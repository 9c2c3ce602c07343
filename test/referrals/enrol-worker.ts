// One of the processes of the enrolment race (concurrency.test.ts): opens the store given as
// JSON, waits for the common start time, enrols every email in its own random order in small
// batches, and prints the code it got for each email as one JSON line.
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { StoreConfig } from '../../lib/store/types';

async function main(): Promise<void> {
	const [configJson, campaignId, emailsJson, startAt] = process.argv.slice(2);
	const program = new ReferralProgram(await openStore(JSON.parse(configJson) as StoreConfig));
	const emails = (JSON.parse(emailsJson) as string[]).sort(() => Math.random() - 0.5);
	await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(startAt) - Date.now())));
	const codes: Record<string, string> = {};
	for (let i = 0; i < emails.length; i += 25) {
		const batch = emails.slice(i, i + 25).map((email) => ({ email }));
		const outcomes = await program.enrol(Number(campaignId), batch, { stopOnError: true });
		outcomes.forEach((outcome, index) => {
			if (!outcome.ok) throw outcome.error;
			codes[batch[index].email] = outcome.value.participant.code;
		});
	}
	await closeAllStores();
	process.stdout.write(`${JSON.stringify(codes)}\n`);
}

main().catch((error) => {
	process.stderr.write(`${(error as Error).stack}\n`);
	process.exit(1);
});
