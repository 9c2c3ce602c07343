/**
 * Driving the bundled workflows over HTTP, as visitors, Pipedrive and other systems do: n8n forms
 * (multipart POST, then the completion page), the editor's "Execute workflow" (REST, with the owner's
 * session), and a workflow copy with the qualifying stage picked, as a user does in the editor.
 */
import * as path from 'node:path';
import type { Sandbox } from '../../../sandbox';
import { bundledCredentialFiles, bundledWorkflows, withStampSecret, type BundledWorkflow } from '../../../scripts/n8n/bundle';
import type { N8nInstance } from '../../../scripts/n8n/instance';
import { sleep } from '../../../scripts/n8n/proc';
import type { WorkflowFile } from '../fixtures/workflows';
import { prepareRealN8n, setUpOwner, type RealN8n } from './real-n8n';

/**
 * Every bundled workflow, with `stageId` added to what qualifies, as a user does: in the
 * Qualification fields of the Referral Campaign node that defines the campaign (referrer-signup).
 * The rule is stored when that node runs, i.e. at the first sign-up.
 */
export function bundledWithQualifyingStage(stageId: number): BundledWorkflow[] {
	return bundledWorkflows().map(({ file, workflow }) => {
		if (file !== 'referrer-signup.json') return workflow;
		const copy = JSON.parse(JSON.stringify(workflow)) as BundledWorkflow;
		const campaign = copy.nodes.find((node) => node.type.endsWith('.referralCampaign') && node.parameters.operation === 'create')!;
		campaign.parameters.qualification = { dealStageIds: String(stageId) };
		return copy;
	});
}

export interface FormResult {
	/** Status of the submission (n8n answers 200 with the URL of the page to show next). */
	status: number;
	/** The page shown after submitting (the form's ending page). */
	page: string;
	/** The page's heading and text, without markup. */
	heading: string;
	text: string;
	/** From posting the form to the answer's last byte: the visitor's wait. */
	answerMs: number;
}

/** Opens a form page like a browser does (GET /form/<path>?<query>). */
export async function openForm(instance: N8nInstance, formPath: string, query = ''): Promise<{ status: number; html: string }> {
	const response = await fetch(`${instance.url}/form/${formPath}${query ? `?${query}` : ''}`, { signal: AbortSignal.timeout(30_000) });
	return { status: response.status, html: await response.text() };
}

/** The value of a hidden input of a rendered form (`field-<index>`). */
export function hiddenValue(html: string, index: number): string | null {
	const match = new RegExp(`<input type="hidden" id="field-${index}" name="field-${index}" value="([^"]*)"`).exec(html);
	return match ? decodeHtml(match[1]) : null;
}

/** A person needs a moment to fill in a form: the bundled forms take quicker submissions for a bot's (Check Form Submission). */
export const SECONDS_ON_PAGE = 2.2;

/**
 * Submits a form as a person does: opens the page (which gives it its signed render-time stamp and
 * the hidden fields' values), waits SECONDS_ON_PAGE, then posts multipart fields `field-0..n` in the
 * form's order with the page's query string kept. `fields` overrides the page's values; hidden
 * fields past them keep the page's (pass `{ open: false }` to post only `fields`, as a script does).
 */
export async function submitForm(
	instance: N8nInstance,
	formPath: string,
	fields: string[],
	query = '',
	timeoutMs = 60_000,
	settle = true,
	how: { open?: boolean; secondsOnPage?: number; headers?: Record<string, string> } = {},
): Promise<FormResult> {
	const values = [...fields];
	if (how.open !== false) {
		const { html } = await openForm(instance, formPath, query);
		// The time on the page counts from when it arrived, as for a person: n8n stamped it while
		// rendering, and a busy n8n can take longer than the margin over 2 s to answer the GET.
		const opened = Date.now();
		for (const [, index, value] of html.matchAll(/<input type="hidden" id="field-(\d+)" name="field-\d+" value="([^"]*)"/g)) {
			if (Number(index) >= fields.length) values[Number(index)] = decodeHtml(value);
		}
		await sleep(Math.max(0, opened + (how.secondsOnPage ?? SECONDS_ON_PAGE) * 1000 - Date.now()));
	}
	const body = new FormData();
	values.forEach((value, index) => body.append(`field-${index}`, value ?? ''));
	const posted = performance.now();
	const response = await fetch(`${instance.url}/form/${formPath}${query ? `?${query}` : ''}`, {
		method: 'POST',
		body,
		headers: how.headers,
		signal: AbortSignal.timeout(timeoutMs),
	});
	const answer = await response.text();
	const answerMs = performance.now() - posted;
	let waitingUrl: string | undefined;
	try {
		waitingUrl = (JSON.parse(answer) as { formWaitingUrl?: string }).formWaitingUrl;
	} catch {
		/* not JSON */
	}
	// The bundled forms answer with their ending page in the submission's response (Respond to
	// Webhook), then send to Pipedrive: unless told not to, wait for that too, as tests check it.
	if (!waitingUrl) {
		if (settle) await waitUntilIdle(instance, await ownerSession(instance), timeoutMs);
		return { status: response.status, page: answer, ...endingPageText(answer), answerMs };
	}
	// As the form page's script does: wait until the execution reaches its ending page, then open it.
	const statusUrl = new URL(waitingUrl);
	statusUrl.pathname += '/n8n-execution-status';
	await waitFor(async () => {
		const status = await (await fetch(statusUrl, { signal: AbortSignal.timeout(10_000) })).text();
		return ['form-waiting', 'success', 'error', 'canceled', 'crashed'].includes(status);
	}, timeoutMs, `the form's execution (${statusUrl.pathname})`);
	const page = await (await fetch(waitingUrl, { signal: AbortSignal.timeout(timeoutMs) })).text();
	return { status: response.status, page, ...endingPageText(page), answerMs };
}

/** The heading and message of an ending page, without markup. */
function endingPageText(page: string): { heading: string; text: string } {
	const heading = decodeHtml(/<h1>([\s\S]*?)<\/h1>/.exec(page)?.[1] ?? '').trim();
	const text = decodeHtml(/<p style="white-space: pre-line;">([\s\S]*?)<\/p>/.exec(page)?.[1] ?? '').trim();
	return { heading, text: text || (heading ? '' : page) };
}

function decodeHtml(text: string): string {
	return text
		.replace(/&#(\d+);/g, (_match, code: string) => String.fromCharCode(Number(code)))
		.replace(/&#x27;/g, "'")
		.replace(/&quot;/g, '"')
		.replace(/&lt;/g, '<')
		.replace(/&gt;/g, '>')
		.replace(/&#x2F;/g, '/')
		.replace(/&amp;/g, '&');
}

export { executeWorkflowNow } from '../../../scripts/n8n/run-workflow';

const sessions = new Map<string, Promise<string>>();

/** The owner's session cookie for an instance (set up, or logged in, once). */
function ownerSession(instance: N8nInstance): Promise<string> {
	let session = sessions.get(instance.url);
	if (!session) {
		session = setUpOwner(instance);
		sessions.set(instance.url, session);
	}
	return session;
}

/**
 * Waits until no execution is new or running. The bundled forms answer the visitor first and
 * send to Pipedrive after, so a store read right after a submission may see the send still going.
 */
export async function waitUntilIdle(instance: N8nInstance, cookie: string, timeoutMs = 60_000): Promise<void> {
	await waitFor(
		async () => {
			const response = await fetch(`${instance.url}/rest/executions?limit=100`, { headers: { cookie }, signal: AbortSignal.timeout(10_000) });
			if (!response.ok) throw new Error(`GET /rest/executions: ${response.status}`);
			const { data } = (await response.json()) as { data: { results: Array<{ status: string }> } };
			return data.results.every((execution) => execution.status !== 'new' && execution.status !== 'running');
		},
		timeoutMs,
		'running executions to finish',
	);
}

/** Polls until `check` returns a value other than undefined/false. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let lastError: unknown;
	for (;;) {
		try {
			const value = await check();
			if (value !== undefined && value !== false) return value as T;
		} catch (error) {
			lastError = error;
		}
		if (Date.now() > deadline) {
			throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
		}
		await sleep(250);
	}
}

/** The referral store file of a user folder, as the bundled SQLite credential points at it. */
export function sqliteStorePath(userFolder: string): string {
	return path.join(userFolder, '.n8n', 'referrals.sqlite');
}

/** The bundled forms' Stamp Secret in the suites. */
export const E2E_STAMP_SECRET = 'e2e-stamp-secret-5b0c7d21a9f34e68';

/**
 * A real n8n with the package, the three bundled credentials (the store on SQLite in the user
 * folder, Pipedrive pointing at the sandbox, the qualify key) and the given workflows (by default
 * every bundled one, with the qualifying stage picked as a user does after importing).
 */
export async function prepareBundledN8n(
	sandbox: Sandbox,
	options: {
		qualifyKey: string;
		workflows?: BundledWorkflow[];
		portalSecret?: string;
		dashboardPassword?: string;
		extraCredentials?: unknown[];
		env?: Record<string, string>;
	},
): Promise<RealN8n> {
	return await prepareRealN8n({
		env: options.env,
		credentials: (userFolder) => [
			...bundledCredentialFiles({
				store: { backend: 'sqlite', sqlitePath: sqliteStorePath(userFolder) },
				pipedrive: { apiToken: sandbox.apiToken, companyDomain: 'referral-sandbox', baseUrl: sandbox.url },
				qualifyKey: options.qualifyKey,
				portalSecret: options.portalSecret,
				dashboardPassword: options.dashboardPassword,
			}),
			...(options.extraCredentials ?? []),
		],
		// Signed as the main job signs them: the CLI import keeps the published workflow IDs.
		workflows: (options.workflows ?? bundledWithQualifyingStage(3)).map((workflow) => withStampSecret(workflow, E2E_STAMP_SECRET)) as unknown as WorkflowFile[],
	});
}

/**
 * Waits until the notify-referrers workflow is active. Its Referral Triggers start from "now" at
 * their first poll, made when n8n activates them, and n8n 2.41 logs no line for that (it activates
 * published workflows from an outbox): so the workflow must read as active (published, without an activation error), then 10 s more.
 */
export async function notifyActive(instance: N8nInstance): Promise<void> {
	const login = await fetch(`${instance.url}/rest/login`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ emailOrLdapLoginId: 'owner@example.com', password: 'E2e-password-1234' }),
	});
	const cookie = login.ok ? login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ') : await setUpOwner(instance);
	await waitFor(async () => {
		const answer = (await (await fetch(`${instance.url}/rest/active-workflows`, { headers: { cookie } })).json()) as { data?: string[] };
		return answer.data?.includes('notifyReferrers1');
	}, 120_000, 'the notify-referrers workflow to be active');
	await sleep(10_000);
}
