import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { PipedriveClient } from '../../lib/pipedrive/client';
import { resolveBaseUrl } from '../../lib/pipedrive/request';
import { createHttpRequest } from '../helpers/pipedrive-http';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { PipedriveSender, syncContacts } from '../../lib/sync';
import { startSandbox, type Sandbox } from '../../sandbox';

// The mistakes a user makes when setting Pipedrive up, and what they are told.
describe('Pipedrive setup mistakes', () => {
	let sandbox: Sandbox;
	let folder: string;
	let program: ReferralProgram;
	let campaignId: number;
	let friendId: number;

	beforeAll(async () => {
		sandbox = await startSandbox({
			rateLimit: 0,
			tokens: [{ token: 'limited-oauth-token', kind: 'oauth', scopes: ['contacts:read', 'deals:read', 'users:read'] }],
		});
	});

	afterAll(async () => {
		await sandbox.close();
	});

	beforeEach(async () => {
		folder = mkdtempSync(join(tmpdir(), 'pd-errors-'));
		program = new ReferralProgram(await openStore({ backend: 'sqlite', path: join(folder, 'r.sqlite') }));
		const campaign = await program.createCampaign({ name: 'Friends' }, 'https://x.example/r?ref={{code}}');
		campaignId = campaign.id;
		const [ann] = await program.enrol(campaignId, [{ email: 'ann@example.com' }], { stopOnError: true });
		if (!ann.ok) throw ann.error;
		const [bo] = await program.registerReferred(campaignId, [{ code: ann.value.participant.code, email: 'bo@example.com' }], { stopOnError: true });
		if (!bo.ok) throw bo.error;
		friendId = bo.value.participant.id;
	});

	afterEach(async () => {
		await closeAllStores();
		rmSync(folder, { recursive: true, force: true });
	});

	const client = (baseUrl: string, auth: { apiToken?: string; accessToken?: string }) =>
		new PipedriveClient({
			request: createHttpRequest(auth),
			baseUrl,
			authType: auth.accessToken ? 'oauth2' : 'apiToken',
			sleep: (ms) => sleep(ms),
			retryBaseMs: 5,
			retryMaxMs: 10,
			maxRetries: 1,
		});

	it('a company domain that does not exist is named in the error', async () => {
		const wrong = client(resolveBaseUrl({ companyDomain: 'no-such-company-zz' }), { apiToken: 'x' });
		const error = await syncContacts(program, wrong, { campaignId, mode: 'full', fields: [] }).catch((e: Error) => e);
		expect(error).toMatchObject({ kind: 'network' });
		expect((error as Error).message).toContain('no-such-company-zz.pipedrive.com');
	});

	it('an OAuth token without the scope to create persons says which scopes are needed, and nothing is written', async () => {
		const limited = client(sandbox.url, { accessToken: 'limited-oauth-token' });
		const sender = new PipedriveSender(program, limited, {
			target: 'person',
			sources: ['referred'],
			recordFields: [],
			extraRecordFields: [],
			personFields: [],
		});
		await sender.prepare();
		const error = await sender.send({ campaignId, participant: { id: friendId } }).catch((e: Error) => e);
		expect(error).toMatchObject({ kind: 'scope', status: 403 });
		expect((error as Error).message).toContain('contacts:full');
		expect(sandbox.state.personList.filter((p) => p.emails.some((e) => e.value === 'bo@example.com'))).toHaveLength(0);
		expect((await program.getParticipant(campaignId, { id: friendId })).pipedrivePersonId).toBeNull();
		expect(sandbox.violations()).toEqual([]);
	});
});
