/**
 * The bundled workflows in queue mode, as a team scaling out runs them: n8n main + two `n8n worker`
 * processes, Redis, n8n's database and the referral store on PostgreSQL. A referral made through
 * the forms, then one stage change in Pipedrive delivered 100 times, 20 at a time (Pipedrive's
 * retries and duplicates, at their worst): exactly one qualification and one set of rewards.
 *
 * Needs `redis-server` on PATH and PostgreSQL at 127.0.0.1:5432; skipped with the reason printed
 * when either is missing, failed instead when CI=true.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { startSandbox, type Sandbox } from '../../sandbox';
import { BUNDLED_PATHS, bundledCredentialFiles } from '../../scripts/n8n/bundle';
import { startWorker, type N8nProcess } from '../../scripts/n8n/instance';
import { installCommunityPackage } from '../../scripts/n8n/package';
import { createTestDatabase, PG_HOST, PG_PASSWORD, PG_PORT, PG_USER, type TestDatabase } from '../helpers/postgres';
import type { WorkflowFile } from './fixtures/workflows';
import { bundledWithQualifyingStage, openForm, submitForm, waitFor } from './helpers/bundled';
import { prepareRealN8n, type RealN8n } from './helpers/real-n8n';
import { describeQueue, queueModeEnv, startRedis, type RedisServer } from './helpers/redis';

const QUALIFYING_STAGE = 3;
const DELIVERIES = 100;
const AT_ONCE = 20;


describeQueue('real n8n in queue mode: the bundled workflows on two workers, PostgreSQL', () => {
	let redisServer: RedisServer;
	let db: TestDatabase;
	let sandbox: Sandbox;
	let n8n: RealN8n;
	const workers: Array<{ process: N8nProcess; folder: string }> = [];
	const storeSchema = 'referrals';

	beforeAll(async () => {
		redisServer = await startRedis();
		db = await createTestDatabase('n8n_queue_bundled');
		sandbox = await startSandbox({ webhookTimeScale: 0.01, webhookTimeoutMs: 10_000 });
		const env = queueModeEnv(redisServer, db.database);
		n8n = await prepareRealN8n({
			env,
			credentials: bundledCredentialFiles({
				store: { backend: 'postgres', host: PG_HOST, port: PG_PORT, database: db.database, user: PG_USER, password: PG_PASSWORD, schema: storeSchema },
				pipedrive: { apiToken: sandbox.apiToken, companyDomain: 'referral-sandbox', baseUrl: sandbox.url },
				qualifyKey: 'queue-qualify-key-9d2e7c',
			}),
			workflows: bundledWithQualifyingStage(QUALIFYING_STAGE) as unknown as WorkflowFile[],
		});
		for (const name of ['a', 'b']) {
			const folder = fs.mkdtempSync(path.join(os.tmpdir(), `n8n-e2e-worker-${name}-`));
			await installCommunityPackage(folder, n8n.tarball);
			const worker = await startWorker({
				n8nDir: n8n.n8nDir,
				userFolder: folder,
				env,
				mainUrl: n8n.instance.url,
				logFile: path.join(folder, 'n8n-worker.log'),
			});
			workers.push({ process: worker, folder });
		}
	});

	afterAll(async () => {
		await closeAllStores();
		for (const worker of workers) {
			await worker.process.stop();
			if (process.env.E2E_KEEP !== '1') fs.rmSync(worker.folder, { recursive: true, force: true });
		}
		await n8n?.dispose();
		await sandbox?.close();
		await db?.drop();
		await redisServer?.stop();
	});

	it(`${DELIVERIES} deliveries of one stage change, ${AT_ONCE} at a time: one qualification, one set of rewards`, async () => {
		await waitFor(async () => (await openForm(n8n.instance, BUNDLED_PATHS.referrerForm)).status === 200, 60_000, 'the referrer form');
		const signup = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Ann', 'Lee', 'ann@example.com']);
		const code = /\/form\/refer\?ref=(\S+)/.exec(signup.text)?.[1];
		expect(code).toEqual(expect.any(String));
		// Made on a worker, the link is the public URL every process is configured with.
		expect(signup.text).toContain(`${n8n.instance.url}/form/refer?ref=${code}`);
		const friend = await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, ['Bo', 'Friend', 'bo@example.com', code!], `ref=${code}`);
		expect(friend.heading).toBe('Thank you!');

		const store = await openStore({
			backend: 'postgres',
			host: PG_HOST,
			port: PG_PORT,
			database: db.database,
			user: PG_USER,
			password: PG_PASSWORD,
			schema: storeSchema,
			ssl: 'disable',
		});
		const program = new ReferralProgram(store, undefined, { publicUrl: () => n8n.instance.url });
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		const referral = await program.getParticipant(campaign.id, { email: 'bo@example.com' });
		expect(referral).toMatchObject({ source: 'referred', referralStatus: 'pending', pipedriveDealId: expect.any(Number) });

		// The stage change, as Pipedrive delivers it; then the same delivery 100 more times.
		const webhooks = await waitFor(() => (sandbox.state.webhooks.size >= 2 ? [...sandbox.state.webhooks.values()] : undefined), 60_000, 'webhooks');
		const stageWebhook = webhooks.find((webhook) => webhook.event_object === 'deal')!;
		sandbox.moveDealToStage(referral.pipedriveDealId!, QUALIFYING_STAGE);
		await sandbox.waitForWebhooks();
		const [delivery] = sandbox.deliveries({ webhookId: stageWebhook.id }).filter((d) => (d.payload as any)?.data?.stage_id === QUALIFYING_STAGE);
		expect(delivery).toMatchObject({ state: 'delivered' });
		const authorization = `Basic ${Buffer.from(`${stageWebhook.http_auth_user}:${stageWebhook.http_auth_password}`).toString('base64')}`;
		const statuses: number[] = [];
		for (let sent = 0; sent < DELIVERIES; sent += AT_ONCE) {
			const batch = await Promise.all(
				Array.from({ length: AT_ONCE }, async () => {
					const response = await fetch(stageWebhook.subscription_url, {
						method: 'POST',
						headers: { 'content-type': 'application/json', authorization },
						body: JSON.stringify(delivery.payload),
						signal: AbortSignal.timeout(60_000),
					});
					await response.text();
					return response.status;
				}),
			);
			statuses.push(...batch);
		}
		expect(statuses.filter((status) => status === 200)).toHaveLength(DELIVERIES);

		// Every delivery became an execution on a worker; wait until all have run.
		const finished = () =>
			workers.map((worker) => (worker.process.logs().match(/Worker finished execution/gi) ?? []).length).reduce((a, b) => a + b, 0);
		await waitFor(() => finished() >= DELIVERIES + 1, 180_000, `${DELIVERIES + 1} executions to finish on the workers`);
		for (const worker of workers) expect(worker.process.logs()).toMatch(/Worker finished execution/i);

		const events = await program.listEvents({ campaignId: campaign.id }, 10_000, 'asc');
		expect(events.filter((event) => event.type === 'referral.qualified')).toHaveLength(1);
		const rewards = (await program.rewards.list({ campaignId: campaign.id }, { limit: 100 })).map((view) => view.reward);
		expect(rewards).toEqual([expect.objectContaining({ referralId: referral.id, amount: 25, currency: 'EUR' })]);
		expect(events.filter((event) => event.type === 'reward.due')).toHaveLength(1);
		expect(await program.getParticipant(campaign.id, { id: referral.id })).toMatchObject({ referralStatus: 'qualified' });
		expect(sandbox.state.violations).toEqual([]);
	});
});
