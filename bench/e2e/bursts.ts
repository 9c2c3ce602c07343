// How fast one n8n answers Pipedrive deliveries that start nothing: the bundled qualify workflow
// (trigger filtering to the campaign's referrals) receiving deal-won deliveries for deals that are no
// referrals, paced and in bursts (a bulk edit in Pipedrive), on both of n8n's expression engines.
// Pipedrive gives each delivery 10 s; ten failed first attempts ban the webhook for 30 minutes.
import { startSandbox, DEAL_FIELD_KEYS, type Sandbox } from '../../sandbox';
import { bundledCredentialFiles } from '../../scripts/n8n/bundle';
import { log } from '../../scripts/n8n/proc';
import type { WorkflowFile } from '../../test/e2e/fixtures/workflows';
import { sqliteStorePath, waitFor } from '../../test/e2e/helpers/bundled';
import { prepareRealN8n, setUpOwner, type RealN8n } from '../../test/e2e/helpers/real-n8n';
import { bundled } from './fixtures';
import { quantile } from './load';
import { listExecutions } from './n8n';

const PACED = { deliveries: 60, gapMs: 100 };
const BURSTS = [50, 200];

export interface BurstFigures {
	deliveries: number;
	/** First-attempt answer times, ms. */
	p50Ms: number;
	p90Ms: number;
	maxMs: number;
	/** First attempts that got no 2xx within Pipedrive's 10 s. */
	failedFirstAttempts: number;
	wallMs: number;
}

async function deliveriesOf(sandbox: Sandbox, count: number, gapMs: number): Promise<BurstFigures> {
	// Every fourth deal carries a code nobody has: the trigger looks it up in the store. Creating
	// them is delivered too (the workflow's webhook takes every deal event), before the measurement.
	const ids = Array.from({ length: count }, (_, i) => {
		const custom_fields = i % 4 === 0 ? { [DEAL_FIELD_KEYS.referralCode]: 'NOBODY2345' } : {};
		return sandbox.createDeal({ title: `Ordinary deal ${i}`, person_id: 1, stage_id: 1, custom_fields }).id as number;
	});
	await sandbox.waitForWebhooks(60_000);
	const from = sandbox.deliveries().length;
	const started = Date.now();
	for (const id of ids) {
		sandbox.markDealWon(id);
		await new Promise((resolve) => (gapMs > 0 ? setTimeout(resolve, gapMs) : setImmediate(resolve)));
	}
	await sandbox.waitForWebhooks(600_000);
	const wallMs = Date.now() - started;
	const first = sandbox.deliveries().slice(from).map((delivery) => delivery.attempts[0]);
	const times = first.map((attempt) => attempt?.durationMs ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
	const failed = first.filter((attempt) => !attempt || attempt.status === null || attempt.status >= 300).length;
	return { deliveries: first.length, p50Ms: quantile(times, 0.5), p90Ms: quantile(times, 0.9), maxMs: times[times.length - 1], failedFirstAttempts: failed, wallMs };
}

/** One n8n per engine: paced deliveries, then each burst (with a pause after it, and the webhook unbanned). */
export async function burstRun(engine: { name: string; env: Record<string, string> }, qualifyKey: string): Promise<Record<string, unknown>> {
	const sandbox = await startSandbox({ rateLimit: 0, webhookTimeScale: 0.01, webhookTimeoutMs: 10_000 });
	let n8n: RealN8n | undefined;
	try {
		n8n = await prepareRealN8n({
			env: engine.env,
			credentials: (userFolder) =>
				bundledCredentialFiles({
					store: { backend: 'sqlite', sqlitePath: sqliteStorePath(userFolder) },
					pipedrive: { apiToken: sandbox.apiToken, companyDomain: 'referral-sandbox', baseUrl: sandbox.url },
					qualifyKey,
				}),
			workflows: bundled('qualify-on-deal-stage') as unknown as WorkflowFile[],
		});
		await waitFor(() => sandbox.state.webhooks.size >= 1, 60_000, 'the Pipedrive webhook');
		// Warm up: the first delivery reads the field list and opens the store.
		await deliveriesOf(sandbox, 3, 200);
		const paced = await deliveriesOf(sandbox, PACED.deliveries, PACED.gapMs);
		const bursts: Record<string, BurstFigures> = {};
		for (const size of BURSTS) {
			for (const webhook of sandbox.state.webhooks.values()) {
				webhook.banned_until = null;
				webhook.ban_counter = 0;
			}
			bursts[String(size)] = await deliveriesOf(sandbox, size, 0);
			await new Promise((resolve) => setTimeout(resolve, 10_000));
		}
		const cookie = await setUpOwner(n8n.instance);
		const executions = (await listExecutions(n8n.instance, cookie, 'qualifyDealStage')).length;
		log(
			`deliveries that start nothing, expression engine ${engine.name}: paced (1 per ${PACED.gapMs} ms) p50 ${paced.p50Ms} ms, p90 ${paced.p90Ms} ms; ` +
				BURSTS.map((size) => `${size} at once: ${bursts[size].failedFirstAttempts} failed first attempts, max ${bursts[size].maxMs} ms`).join('; ') +
				`; executions started: ${executions}`,
		);
		return { paced, bursts, executions };
	} finally {
		await n8n?.dispose();
		await sandbox.close();
	}
}
