// Child process of the multi-process store tests (sqlite.test.ts, postgres.test.ts):
//   node --import tsx concurrent-insert.script.ts '<StoreConfig JSON>' <emailCount>
// Loads everything, prints "ready", waits for a line on stdin so that every child opens the
// store at the same moment (migrations race on a fresh database), then inserts the same emails
// (random codes) in transactions of 100 rows. Prints {"inserted": n} on its last line and exits
// 0, or prints the error and exits 1.

import { LEGACY_FRAUD_DEFAULTS } from '../../lib/referrals/model';
import { randomBytes } from 'node:crypto';

import { closeAllStores, openStore, type StoreConfig } from '../../lib/store';
import { NO_REWARD_RULES } from './fixtures';

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
	const emailCount = Number(process.argv[3] ?? 500);
	const go = waitForGo();
	process.stdout.write('ready\n');
	await go;

	const store = await openStore(config);
	const now = new Date().toISOString();
	let inserted = 0;
	for (let start = 0; start < emailCount; start += 100) {
		inserted += await store.transaction(async (tx) => {
			const campaign =
				(await tx.insertCampaign(
					{
						slug: 'race',
						name: 'Race',
						status: 'active',
						linkTemplate: 'https://x.test/?ref={{code}}',
						codeSettings: { length: 8, prefix: '' },
						fraudSettings: { blockedEmailDomains: [], maxReferralsPerReferrerPerDay: 0, ...LEGACY_FRAUD_DEFAULTS },
						rewardRules: NO_REWARD_RULES,
					},
					now,
				)) ?? (await tx.getCampaign({ slug: 'race' }));
			if (!campaign) throw new Error('campaign missing');
			const rows = [];
			for (let i = start; i < Math.min(start + 100, emailCount); i++) {
				const code = randomBytes(8).toString('hex').toUpperCase();
				rows.push({
					campaignId: campaign.id,
					email: `person${i}@example.com`,
					emailIdentity: `person${i}@example.com`,
					firstName: null,
					lastName: null,
					source: 'direct' as const,
					code,
					link: `https://x.test/?ref=${code}`,
					referredBy: null,
					referralStatus: 'none' as const,
					metadata: { pid: process.pid },
				});
			}
			return (await tx.insertParticipants(rows, now)).length;
		});
	}
	await closeAllStores();
	process.stdout.write(`${JSON.stringify({ inserted })}\n`);
}

main().catch((err) => {
	process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
	process.exit(1);
});
