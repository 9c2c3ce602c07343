/**
 * Bad input and security at the two public doors, in a real n8n 2.41 running the bundled
 * workflows against the sandbox: the forms (referrer signup, referred signup) and the qualify
 * webhook. Every case asserts the exact answer a caller gets and that the referral store is
 * unchanged (or changed exactly as intended); then nothing secret may appear in what the suite saw.
 */
import * as fs from 'node:fs';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import type { ReferralStore } from '../../lib/store/types';
import { startSandbox, type Sandbox } from '../../sandbox';
import { BUNDLED_PATHS, QUALIFY_KEY_HEADER } from '../../scripts/n8n/bundle';
import { signStamp, stampKey } from '../../lib/referrals/form-stamp';
import { sleep } from '../../scripts/n8n/proc';
import { bundledWithQualifyingStage, E2E_STAMP_SECRET, hiddenValue, openForm, prepareBundledN8n, sqliteStorePath, submitForm, waitFor, waitUntilIdle } from '../e2e/helpers/bundled';
import { setUpOwner, type RealN8n } from '../e2e/helpers/real-n8n';

const QUALIFY_KEY = 'hardening-qualify-key-7c4e19b2d8';
/**
 * Every bundled workflow but the two that write to the store on a clock of their own: the hourly
 * contact sync (n8n fires it at a fixed minute of each hour, where it enrols every Pipedrive person)
 * and the reconciliation. Either would change the store between the two snapshots of a case, by
 * the time of day; faults.test.ts and outage.test.ts run them.
 */
const SCHEDULED = ['syncPipedriveCon', 'reconcilePipedri'];
const TEN_KB = 'x'.repeat(10 * 1024);

describe('hardening: the public forms and the qualify webhook in a real n8n', () => {
	let sandbox: Sandbox;
	let n8n: RealN8n;
	let store: ReferralStore;
	let program: ReferralProgram;
	let campaignId: number;
	let referrerCode: string;
	let referralCode: string;
	/** Everything callers were answered, for the secrets check. */
	const answers: string[] = [];
	let cases = 0;

	beforeAll(async () => {
		sandbox = await startSandbox({ webhookTimeScale: 0.01, webhookTimeoutMs: 10_000 });
		n8n = await prepareBundledN8n(sandbox, {
			qualifyKey: QUALIFY_KEY,
			workflows: bundledWithQualifyingStage(3).filter((workflow) => !SCHEDULED.includes(workflow.id)),
		});
		store = await openStore({ backend: 'sqlite', path: sqliteStorePath(n8n.userFolder) });
		program = new ReferralProgram(store, undefined, { publicUrl: () => n8n.instance.url });
		await waitFor(async () => (await openForm(n8n.instance, BUNDLED_PATHS.referredForm)).status === 200, 60_000, 'the forms');
		// One referrer and one pending referral to aim at.
		const signup = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Ann', 'Lee', 'ann@example.com']);
		referrerCode = /ref=(\S+)/.exec(signup.text)![1];
		await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, ['Bo', 'Friend', 'bo@example.com', referrerCode], `ref=${referrerCode}`);
		campaignId = (await program.getCampaign({ slug: 'referral-program' })).id;
		referralCode = (await program.getParticipant(campaignId, { email: 'bo@example.com' })).code;
	});

	afterAll(async () => {
		// eslint-disable-next-line no-console
		console.log(`hardening (public endpoints): ${cases} bad-input cases run`);
		await closeAllStores();
		await n8n?.dispose();
		await sandbox?.close();
	});

	let cookie = '';
	/** Every execution id (of one workflow, when given), newest first (n8n pages its list 100 at a time, by cursor). */
	async function executionIds(workflowId?: string): Promise<string[]> {
		cookie ||= await setUpOwner(n8n.instance);
		const ids: string[] = [];
		for (let cursor: string | null = ''; ; ) {
			const response = await fetch(`${n8n.instance.url}/rest/executions?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { headers: { cookie } });
			if (!response.ok) throw new Error(`GET /rest/executions: ${response.status} ${await response.text()}`);
			const page = ((await response.json()) as { data: { results: Array<{ id: string; workflowId: string }>; nextCursor?: string | null } }).data;
			ids.push(...page.results.filter((execution) => !workflowId || execution.workflowId === workflowId).map((execution) => execution.id));
			cursor = page.nextCursor ?? null;
			if (!cursor || page.results.length === 0) return ids;
		}
	}

	/** The whole store as JSON: every change to it also appends an event, and rewards and people are compared as well. */
	async function snapshot(): Promise<unknown> {
		cookie ||= await setUpOwner(n8n.instance);
		await waitUntilIdle(n8n.instance, cookie);
		const events = await program.listEvents({}, 100_000, 'asc');
		const people = await program.listParticipants(campaignId, { includeErased: true }, { limit: 100_000 });
		const rewards = await program.rewards.list({}, { limit: 100_000 });
		// Compared as objects, so a failure shows which record changed rather than two long strings.
		return JSON.parse(JSON.stringify({ events, people, rewards }));
	}

	async function qualify(body: string | object, headers: Record<string, string> = { [QUALIFY_KEY_HEADER]: QUALIFY_KEY }, contentType = 'application/json') {
		const response = await fetch(`${n8n.instance.url}/webhook/${BUNDLED_PATHS.qualifyWebhook}`, {
			method: 'POST',
			headers: { 'content-type': contentType, ...headers },
			body: typeof body === 'string' ? body : JSON.stringify(body),
		});
		const text = await response.text();
		answers.push(text);
		let json: unknown = text;
		try {
			json = JSON.parse(text);
		} catch {
			/* not JSON */
		}
		return { status: response.status, body: json };
	}

	describe('the qualify webhook answers bad bodies plainly and changes nothing', () => {
		const table: Array<[string, () => string | object, number, object | RegExp]> = [
			['an empty object', () => ({}), 400, { error: 'The referral code is missing', field: 'code' }],
			['an empty code', () => ({ code: '' }), 400, { error: 'The referral code is empty', field: 'code' }],
			['an unknown code', () => ({ code: 'NOPE23456' }), 404, { error: 'No referral in campaign 1 has the referral code "NOPE23456"', field: 'code' }],
			['a code too short to exist', () => ({ code: 'ab' }), 404, { error: 'No referral in campaign 1 has the referral code "AB"', field: 'code' }],
			['SQL in the code', () => ({ code: "' OR 1=1 --" }), 400, { error: `"' OR 1=1 --" is not a referral code`, field: 'code' }],
			['quotes in the code', () => ({ code: 'A"B\'C;DROP' }), 400, { error: `"A"B'C;DROP" is not a referral code`, field: 'code' }],
			['a 10 KB code', () => ({ code: TEN_KB }), 400, { error: `"${'x'.repeat(40)}" is not a referral code`, field: 'code' }],
			['emoji as the code', () => ({ code: '😀😀😀😀😀' }), 400, { error: '"😀😀😀😀😀" is not a referral code', field: 'code' }],
			['a code that is an object', () => ({ code: { $ne: null } }), 400, { error: 'The referral code must be text', field: 'code' }],
			['a code that is a list', () => ({ code: [referralCode] }), 400, { error: 'The referral code must be text', field: 'code' }],
			['a code that is true', () => ({ code: true }), 400, { error: 'The referral code must be text', field: 'code' }],
			['a malformed email', () => ({ email: 'not-an-email' }), 400, { error: 'The email "not-an-email" is not a valid email address', field: 'email' }],
			['SQL in the email', () => ({ email: "x'; DROP TABLE participants;--@example.com" }), 400, /is not a valid email address/],
			['a 10 KB email', () => ({ email: `${TEN_KB}@example.com` }), 400, { error: 'The email is longer than 254 characters', field: 'email' }],
			['an email nobody has', () => ({ email: 'nobody@example.com' }), 404, /nobody@example\.com/],
			['an email that is a number', () => ({ email: 42 }), 400, { error: 'The email must be text, not a number', field: 'email' }],
			['a sale value that is text', () => ({ code: referralCode, saleValue: 'lots' }), 400, { error: 'The sale value "lots" is not an amount', field: 'saleValue' }],
			['a negative sale value', () => ({ code: referralCode, saleValue: -5 }), 400, /sale value/i],
			['a sale value that is a list', () => ({ code: referralCode, saleValue: [1] }), 400, /sale value/i],
			['a made-up currency', () => ({ code: referralCode, saleValue: 10, currency: 'EURO' }), 400, /currency/i],
			['an unknown action', () => ({ code: referralCode, action: 'refund' }), 400, { error: 'The action must be qualify or unqualify', field: 'action' }],
			['an action that is a list', () => ({ code: referralCode, action: ['qualify'] }), 400, { error: 'The action must be qualify or unqualify', field: 'action' }],
			['extra fields with an unknown code', () => ({ code: 'NOPE23456', admin: true, referrerId: 1, status: 'qualified' }), 404, /NOPE23456/],
			['a body that is a JSON list', () => [referralCode], 400, { error: 'The referral code is missing', field: 'code' }],
			['a body that is a JSON string', () => JSON.stringify(referralCode), 400, /code/],
		];
		it.each(table)('%s', async (_name, body, status, expected) => {
			const before = await snapshot();
			const answer = await qualify(body());
			cases++;
			expect(answer.status).toBe(status);
			if (expected instanceof RegExp) expect(JSON.stringify(answer.body)).toMatch(expected);
			else expect(answer.body).toEqual(expected);
			expect(await snapshot()).toEqual(before);
		});

		it('a body that is not JSON is refused by n8n itself (422), before any workflow runs', async () => {
			const before = await snapshot();
			for (const body of ['not json', '{"code": ', Buffer.from([0xff, 0xfe, 0x7b]).toString('latin1')]) {
				const answer = await qualify(body);
				cases++;
				expect(answer.status).toBe(422);
				expect(answer.body).toMatchObject({ message: 'Failed to parse request body' });
			}
			expect(await snapshot()).toEqual(before);
		});

		it('without its header key, or with a wrong one, it is refused (403) and nothing runs', async () => {
			const before = await snapshot();
			for (const headers of [{}, { [QUALIFY_KEY_HEADER]: 'wrong' }, { [QUALIFY_KEY_HEADER]: `${QUALIFY_KEY}x` }, { authorization: `Bearer ${QUALIFY_KEY}` }] as Array<Record<string, string>>) {
				const answer = await qualify({ code: referralCode }, headers);
				cases++;
				expect(answer.status).toBe(403);
			}
			expect(await snapshot()).toEqual(before);
			expect(await program.getParticipant(campaignId, { code: referralCode })).toMatchObject({ referralStatus: 'pending' });
		});
	});

	describe('the forms never show an error page to a visitor and never qualify anyone', () => {
		const referred = (fields: string[], query = '') => submitForm(n8n.instance, BUNDLED_PATHS.referredForm, fields, query);

		const unchanged: Array<[string, () => string[]]> = [
			['a malformed email', () => ['Eve', '', 'not-an-email', referrerCode]],
			['a hostile email', () => ['Eve', '', '<script>alert(1)</script>@example.com', referrerCode]],
			['SQL in the email', () => ['Eve', '', "eve@example.com' OR '1'='1", referrerCode]],
			['a 10 KB email', () => ['Eve', '', `${TEN_KB}@example.com`, referrerCode]],
			['a 10 KB first name', () => [TEN_KB, '', 'eve.long@example.com', referrerCode]],
			['a name with control characters', () => ['Eve\u0007\u0000', '', 'eve.ctrl@example.com', referrerCode]],
			['a name that is not valid UTF-8', () => [Buffer.from([0x45, 0xff, 0x76, 0x65]).toString('utf8'), '', 'eve.bytes@example.com', referrerCode]],
			['the referrer’s own email (self-referral)', () => ['Ann', 'Lee', 'ann@example.com', referrerCode]],
			['a referral signing up again with another code', () => ['Bo', 'Friend', 'bo@example.com', 'NOPE23456']],
		];
		it.each(unchanged)('%s: the thank-you page, the store unchanged', async (_name, fields) => {
			const before = await snapshot();
			const page = await referred(fields(), `ref=${encodeURIComponent(fields()[3])}`);
			answers.push(page.page);
			cases++;
			expect(page).toMatchObject({ status: 200, heading: 'Thank you!' });
			expect(await snapshot()).toEqual(before);
		});

		it('a filled bot-trap field gets the same page on either form, and nothing is recorded', async () => {
			const before = await snapshot();
			const friend = await referred(['Bot', '', 'bot.friend@example.com', referrerCode, 'https://spam.example'], `ref=${referrerCode}`);
			const referrer = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Bot', '', 'bot.referrer@example.com', 'buy now']);
			answers.push(friend.page, referrer.page);
			cases += 2;
			expect(friend).toMatchObject({ status: 200, heading: 'Thank you!' });
			expect(referrer).toMatchObject({ status: 200, heading: 'Please check your details' });
			expect(await snapshot()).toEqual(before);
		});

		it('a missing, malformed, forged, too quick, expired or replayed stamp gets the same page, and nothing is recorded', async () => {
			const { html } = await openForm(n8n.instance, BUNDLED_PATHS.referredForm, `ref=${referrerCode}`);
			const stampIndex = [...html.matchAll(/id="field-(\d+)" name="field-\d+" value="(\d{13}\.[0-9a-f]{64})"/g)].map((m) => Number(m[1]))[0];
			expect(stampIndex).toBe(5);
			const real = hiddenValue(html, stampIndex)!;
			const [renderedAt, signature] = real.split('.');
			const key = stampKey('referredSignup01', E2E_STAMP_SECRET);
			const friend = (email: string) => ['Bot', '', email, referrerCode, ''];
			const tries: Array<[string, string[], { open?: boolean; secondsOnPage?: number }]> = [
				['no stamp (a script posting the fields only)', friend('bot.nostamp@example.com'), { open: false }],
				['a malformed stamp', [...friend('bot.malformed@example.com'), 'not-a-stamp'], { open: false }],
				['a stamp signed without the secret (the public workflow id)', [...friend('bot.forged@example.com'), signStamp(Date.now() - 5_000, stampKey('referredSignup01', ''))], { open: false }],
				['a real stamp with its time moved back', [...friend('bot.moved@example.com'), `${Number(renderedAt) - 60_000}.${signature}`], { open: false }],
				['a signed stamp older than 24 hours', [...friend('bot.old@example.com'), signStamp(Date.now() - 25 * 3_600_000, key)], { open: false }],
				['a submission 0.3 s after the page was rendered', friend('bot.fast@example.com'), { secondsOnPage: 0.3 }],
			];
			for (const [name, fields, how] of tries) {
				const before = await snapshot();
				const page = await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, fields, `ref=${referrerCode}`, 60_000, true, how);
				answers.push(page.page);
				cases++;
				expect({ name, status: page.status, heading: page.heading }).toEqual({ name, status: 200, heading: 'Thank you!' });
				expect({ name, store: await snapshot() }).toEqual({ name, store: before });
			}
			// The page's own stamp, used by a person after 2 s: recorded; the same stamp again: a replay.
			await sleep(Math.max(0, Number(renderedAt) + 2_500 - Date.now()));
			const person = await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, ['Flo', '', 'flo.person@example.com', referrerCode, '', real], `ref=${referrerCode}`, 60_000, true, { open: false });
			expect(person.heading).toBe('Thank you!');
			expect(await program.getParticipant(campaignId, { email: 'flo.person@example.com' })).toMatchObject({ source: 'referred' });
			const before = await snapshot();
			const replay = await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, ['Bot', '', 'bot.replay@example.com', referrerCode, '', real], `ref=${referrerCode}`, 60_000, true, { open: false });
			answers.push(person.page, replay.page);
			cases += 2;
			expect(replay).toMatchObject({ status: 200, heading: 'Thank you!' });
			expect(await snapshot()).toEqual(before);
			// The referrer form: a script without the page gets its friendly ending page, nothing recorded.
			const script = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Bot', '', 'bot.joiner@example.com'], '', 60_000, true, { open: false });
			answers.push(script.page);
			cases++;
			expect(script).toMatchObject({ status: 200, heading: 'Please check your details' });
			expect(script.text).toContain('Reload this page and try again');
			expect(await snapshot()).toEqual(before);
		});

		it('a friend signing up from the referrer’s device (the same IP behind the proxy, the same browser) is held for review', async () => {
			const device = { 'x-forwarded-for': '203.0.113.7, 10.0.0.2', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0' };
			const joined = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Hal', 'Lone', 'hal.lone@example.com'], '', 60_000, true, { headers: device });
			const halCode = /ref=(\S+)/.exec(joined.text)![1];
			const other = await referred(['Ina', '', 'ina.other@example.com', halCode], `ref=${halCode}`);
			const same = await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, ['Hal', 'Again', 'hal.again@example.com', halCode], `ref=${halCode}`, 60_000, true, {
				headers: { ...device, 'x-forwarded-for': '203.0.113.7' },
			});
			answers.push(joined.page, other.page, same.page);
			cases += 2;
			expect([other.heading, same.heading]).toEqual(['Thank you!', 'Thank you!']);
			expect(await program.getParticipant(campaignId, { email: 'ina.other@example.com' })).toMatchObject({ referralStatus: 'pending' });
			expect(await program.getParticipant(campaignId, { email: 'hal.again@example.com' })).toMatchObject({ referralStatus: 'flagged' });
			const held = await program.listHeldReferrals(campaignId, { limit: 10 });
			expect(held.find((h) => h.participant.email === 'hal.again@example.com')?.review.reasons).toEqual(['same_device']);
		});

		it('SQL metacharacters, quotes and emoji in names are kept verbatim, nothing else changes', async () => {
			const names: Array<[string, string, string]> = [
				["Robert'); DROP TABLE participants;--", 'O\'Brien "Bobby"', 'bobby.tables@example.com'],
				['Zoë 😀', '山田', 'zoe.emoji@example.com'],
				['%_\\', '`$(rm -rf /)`', 'wild.cards@example.com'],
			];
			for (const [first, last, email] of names) {
				const page = await referred([first, last, email, referrerCode], `ref=${referrerCode}`);
				cases++;
				expect(page.heading).toBe('Thank you!');
				expect(await program.getParticipant(campaignId, { email })).toMatchObject({ firstName: first, lastName: last, source: 'referred' });
			}
			// Every table is still there and counts add up: 1 referrer + Bo + Flo (the stamp case) + Hal, Ina and Hal again (the device case) + these 3.
			expect((await program.getCampaignStats(campaignId)).participants).toBe(9);
		});

		it('a hostile or malformed code in the link records a direct signup, never an error page', async () => {
			for (const [ref, email] of [["' OR 1=1 --", 'hostile.ref@example.com'], ['😀', 'emoji.ref@example.com'], [TEN_KB, 'long.ref@example.com']]) {
				const page = await referred(['Cy', '', email, ref], `ref=${encodeURIComponent(ref)}`);
				cases++;
				expect(page.heading).toBe('Thank you!');
				expect(await program.getParticipant(campaignId, { email })).toMatchObject({ source: 'direct', referredBy: null });
			}
		});

		it('the referrer form answers bad input on its ending page, without a trace or a change', async () => {
			for (const [fields, message] of [
				[['Eve', '', 'not-an-email'], 'The email "not-an-email" is not a valid email address'],
				[['Eve', '', ''], 'The email is empty'],
				[[TEN_KB, '', 'eve.ten@example.com'], 'The firstName is longer than 100 characters'],
			] as Array<[string[], string]>) {
				const before = await snapshot();
				const page = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, fields);
				answers.push(page.page);
				cases++;
				expect(page.heading).toBe('Please check your details');
				expect(page.text).toContain(message);
				expect(page.page).not.toMatch(/at [\w.]+ \(|node_modules|\.ts:\d+/);
				expect(await snapshot()).toEqual(before);
			}
		});

		it('no form qualifies anyone, whatever fields are posted', async () => {
			const before = await program.getParticipant(campaignId, { code: referralCode });
			for (const extra of [['qualify'], ['qualified', 'action=qualify'], [referralCode, 'qualify', '480']]) {
				await referred(['Bo', 'Friend', 'bo@example.com', referralCode, ...extra], `ref=${referralCode}&action=qualify&status=qualified`);
				await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Bo', 'Friend', 'bo@example.com', ...extra]);
				cases += 2;
			}
			expect(await program.getParticipant(campaignId, { code: referralCode })).toMatchObject({ referralStatus: before.referralStatus });
			expect((await program.listEvents({ types: ['referral.qualified'] }, 100, 'asc')).length).toBe(0);
		});

		it('a campaign paused mid-flight: the referral is refused, the person is kept as a direct signup', async () => {
			await program.updateCampaign(campaignId, { status: 'paused' });
			try {
				const page = await referred(['Dee', '', 'dee.paused@example.com', referrerCode], `ref=${referrerCode}`);
				cases++;
				expect(page.heading).toBe('Thank you!');
				const dee = await program.getParticipant(campaignId, { email: 'dee.paused@example.com' });
				expect(dee).toMatchObject({ source: 'direct', referredBy: null });
				expect(dee.metadata).toMatchObject({ refusedCode: referrerCode, reason: expect.stringContaining('is paused') });
			} finally {
				await program.updateCampaign(campaignId, { status: 'active' });
			}
		});
	});

	it('leaves no execution waiting for a visitor, whatever was posted to the forms', async () => {
		cookie ||= await setUpOwner(n8n.instance);
		await waitUntilIdle(n8n.instance, cookie);
		const response = await fetch(`${n8n.instance.url}/rest/executions?limit=100`, { headers: { cookie } });
		const { data } = (await response.json()) as { data: { results: Array<{ status: string }> } };
		expect(data.results.filter((execution) => execution.status === 'waiting')).toEqual([]);
	});

	describe('the Pipedrive webhook', () => {
		it('without or with wrong basic auth answers 401 and starts no execution', async () => {
			// The executions of the workflow behind the webhook, once Pipedrive's own deliveries are out:
			// the referrer emails' triggers poll every minute and start executions of their own.
			const count = async () => {
				cookie ||= await setUpOwner(n8n.instance);
				await sandbox.waitForWebhooks(60_000);
				await waitUntilIdle(n8n.instance, cookie);
				return (await executionIds('qualifyDealStage')).length;
			};
			const webhook = [...sandbox.state.webhooks.values()][0];
			const before = await count();
			const payload = JSON.stringify({ meta: { action: 'change', entity: 'deal', id: 'x', version: '2.0' }, data: { id: 1, status: 'won' }, previous: { status: 'open' } });
			for (const authorization of [undefined, `Basic ${Buffer.from('n8n:wrong').toString('base64')}`, `Basic ${Buffer.from(`n8n:${webhook.http_auth_password}x`).toString('base64')}`, 'Bearer x']) {
				const response = await fetch(webhook.subscription_url, {
					method: 'POST',
					headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
					body: payload,
				});
				answers.push(await response.text());
				cases++;
				expect(response.status).toBe(401);
			}
			await new Promise((resolve) => setTimeout(resolve, 2_000));
			expect(await count()).toBe(before);
		});
	});

	it('no secret appears in any answer, node output, error message or log line the suite produced', async () => {
		const secrets = [sandbox.apiToken, ...[...sandbox.state.webhooks.values()].map((w) => String(w.http_auth_password))];
		const logs = fs.readFileSync(n8n.instance.logFile, 'utf8') + n8n.cliOutput;
		// Node outputs and errors of every execution, as the editor shows them.
		const executions: string[] = [];
		for (const id of await executionIds()) {
			executions.push(await (await fetch(`${n8n.instance.url}/rest/executions/${id}`, { headers: { cookie } })).text());
		}
		expect(executions.length).toBeGreaterThan(10);
		for (const secret of secrets) {
			expect(secret.length).toBeGreaterThan(20);
			for (const [where, text] of [['answers', answers.join('\n')], ['logs', logs], ['executions', executions.join('\n')]] as const) {
				expect({ where, leaked: text.includes(secret) }).toEqual({ where, leaked: false });
			}
		}
		// The qualify key: never in an answer or a log line (n8n's Webhook node keeps request headers in
		// its own output, which is n8n's, not this package's).
		expect(answers.join('\n').includes(QUALIFY_KEY)).toBe(false);
		expect(logs.includes(QUALIFY_KEY)).toBe(false);
	});
});
