/**
 * `npm run bench:outage`: the outage hardening suite (test/hardening/outage.test.ts, real n8n +
 * sandbox) at the sizes: 50 referred deals won, 10 lost after being won, 10 leads labelled,
 * 5 converted while n8n is down and its webhook banned; then 100 referred sign-ups while Pipedrive
 * answers 503 to every write for 10 minutes (OUTAGE_MS to change it). Prints the figures; the last
 * line is one JSON object.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-outage-')), 'report.json');
const env = {
	...process.env,
	OUTAGE_WON: process.env.OUTAGE_WON ?? '50',
	OUTAGE_LOST_AFTER_WON: process.env.OUTAGE_LOST_AFTER_WON ?? '10',
	OUTAGE_LABELLED: process.env.OUTAGE_LABELLED ?? '10',
	OUTAGE_CONVERTED: process.env.OUTAGE_CONVERTED ?? '5',
	OUTAGE_SIGNUPS: process.env.OUTAGE_SIGNUPS ?? '100',
	OUTAGE_MS: process.env.OUTAGE_MS ?? String(10 * 60_000),
	OUTAGE_REPORT: report,
};
const jest = path.join(__dirname, '..', 'node_modules', '.bin', 'jest');
const run = spawnSync(jest, ['-c', 'jest.hardening.config.js', 'test/hardening/outage.test.ts', '--testTimeout', String(60 * 60_000)], {
	cwd: path.join(__dirname, '..'),
	env,
	stdio: ['ignore', 'inherit', 'inherit'],
});
if (!fs.existsSync(report)) {
	console.error('bench:outage: the suite wrote no report');
	process.exit(run.status ?? 1);
}
const figures = JSON.parse(fs.readFileSync(report, 'utf8')) as Record<string, number>;
const result = {
	reconciled: figures.reconciled,
	expected: figures.expected,
	duplicates: figures.duplicates,
	lost_deliveries: figures.lostDeliveries,
	webhooks_restored: figures.webhooksRestored,
	no_change_pass_store_writes: figures.noChangePassStoreWrites,
	no_change_pass_pipedrive_writes: figures.noChangePassPipedriveWrites,
	signups: Number(env.OUTAGE_SIGNUPS),
	outage_ms: Number(env.OUTAGE_MS),
	signup_p95_ms_normal: Math.round(figures.signupP95MsNormal),
	signup_p95_ms_outage: Math.round(figures.signupP95MsOutage),
	p95_ratio: figures.signupP95MsNormal ? Math.round((figures.signupP95MsOutage / figures.signupP95MsNormal) * 100) / 100 : null,
	sent_after_recovery_s: figures.sentAfterRecoveryS,
	send_duplicates: figures.sendDuplicates ?? 0,
	suite_passed: run.status === 0,
};
console.log(JSON.stringify(result));
process.exit(run.status ?? 1);
