/**
 * The package in a real n8n 2.41 in queue mode: main + one `n8n worker`, Redis, n8n's database and
 * the referral store in PostgreSQL. Webhooks arrive at the main instance; the worker runs the
 * executions (with the package installed in its own user folder, as on a separate machine).
 *
 * Needs `redis-server` on PATH and PostgreSQL at 127.0.0.1:5432 (PG* env overrides); skipped with
 * the reason printed when either is missing, failed instead when CI=true.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startWorker, type N8nProcess } from '../../scripts/n8n/instance';
import { installCommunityPackage } from '../../scripts/n8n/package';
import { createTestDatabase, PG_HOST, PG_PASSWORD, PG_PORT, PG_USER, type TestDatabase } from '../helpers/postgres';
import { createCampaignWorkflow, enrolWorkflow, postgresStoreCredential } from './fixtures/workflows';
import { postWebhook, prepareRealN8n, type RealN8n } from './helpers/real-n8n';
import { describeQueue, queueModeEnv, startRedis, type RedisServer } from './helpers/redis';

const credential = { id: 'e2eQueueStore001', name: 'E2E referral store (Postgres)' };
const PATHS = { campaign: 'e2e/q/campaign', enrol: 'e2e/q/enrol' };


describeQueue('real n8n in queue mode: main + worker, PostgreSQL', () => {
	let redisServer: RedisServer;
	let db: TestDatabase;
	let n8n: RealN8n;
	let worker: N8nProcess;
	let workerFolder: string;

	beforeAll(async () => {
		redisServer = await startRedis();
		db = await createTestDatabase('n8n_queue');
		const env = queueModeEnv(redisServer, db.database);
		const store = { host: PG_HOST, port: PG_PORT, database: db.database, user: PG_USER, password: PG_PASSWORD, schema: 'referrals' };
		n8n = await prepareRealN8n({
			env,
			credentials: [postgresStoreCredential(credential, store)],
			workflows: [
				createCampaignWorkflow({ id: 'e2eQCampaignWf01', path: PATHS.campaign, credential }),
				enrolWorkflow({ id: 'e2eQEnrolWf00001', path: PATHS.enrol, credential, campaignId: '1' }),
			],
		});
		workerFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'n8n-e2e-worker-'));
		await installCommunityPackage(workerFolder, n8n.tarball);
		worker = await startWorker({
			n8nDir: n8n.n8nDir,
			userFolder: workerFolder,
			env,
			mainUrl: n8n.instance.url,
			logFile: path.join(workerFolder, 'n8n-worker.log'),
		});
	});

	afterAll(async () => {
		await worker?.stop();
		await n8n?.dispose();
		if (workerFolder && process.env.E2E_KEEP !== '1') fs.rmSync(workerFolder, { recursive: true, force: true });
		await db?.drop();
		await redisServer?.stop();
	});

	it('runs the package on the worker: create a campaign, enrol twice, same code', async () => {
		const campaign = await postWebhook(n8n.instance, PATHS.campaign, { name: 'Queue spring' });
		expect(campaign.status).toBe(200);
		expect(campaign.body).toMatchObject({ id: 1, name: 'Queue spring' });
		// Stored without a URL; the worker fills in its public URL (startWorker's mainUrl) when a link is read.
		expect(campaign.body.linkTemplate).toBe('{{n8nUrl}}/form/refer?ref={{code}}');

		const first = await postWebhook(n8n.instance, PATHS.enrol, { email: 'bo@example.com' });
		const second = await postWebhook(n8n.instance, PATHS.enrol, { email: 'BO@example.com' });
		expect(first.body).toMatchObject({ created: true, email: 'bo@example.com' });
		expect(first.body.link).toBe(`${n8n.instance.url}/form/refer?ref=${first.body.code}`);
		expect(second.body).toMatchObject({ created: false, code: first.body.code });

		// The executions ran on the worker, and the rows are in PostgreSQL.
		expect(worker.logs()).toMatch(/Worker (started|finished) execution/i);
		const rows = await db.query<{ email: string }>('SELECT email FROM referrals.participants');
		expect(rows.map((row) => row.email)).toEqual(['bo@example.com']);
	});
});
