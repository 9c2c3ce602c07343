// Running a workflow as the editor's "Execute workflow" button does (REST, with an owner's session),
// for the demo's first run of the sync workflow and for the end-to-end suites.
import type { N8nInstance } from './instance';
import { sleep } from './proc';

/** Runs a workflow from one of its triggers; resolves with the finished execution. */
export async function executeWorkflowNow(
	instance: N8nInstance,
	cookie: string,
	workflowId: string,
	triggerName: string,
	timeoutMs = 120_000,
): Promise<{ id: string; status: string }> {
	const headers = { cookie, 'content-type': 'application/json' };
	const workflow = (await (await fetch(`${instance.url}/rest/workflows/${workflowId}`, { headers })).json()) as { data: unknown };
	const started = await fetch(`${instance.url}/rest/workflows/${workflowId}/run`, {
		method: 'POST',
		headers,
		body: JSON.stringify({ workflowData: workflow.data, triggerToStartFrom: { name: triggerName } }),
	});
	if (!started.ok) throw new Error(`running ${workflowId}: ${started.status} ${await started.text()}`);
	const { executionId } = ((await started.json()) as { data: { executionId: string } }).data;
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const execution = (await (await fetch(`${instance.url}/rest/executions/${executionId}`, { headers })).json()) as { data?: { status: string } };
		const status = execution.data?.status;
		if (status && !['new', 'running', 'waiting'].includes(status)) return { id: executionId, status };
		if (Date.now() > deadline) throw new Error(`execution ${executionId} of ${workflowId} did not finish within ${timeoutMs / 1000} s`);
		await sleep(250);
	}
}

/** The session cookie of an n8n user, or null when the sign-in is refused. */
export async function signIn(instance: N8nInstance, email: string, password: string): Promise<string | null> {
	const response = await fetch(`${instance.url}/rest/login`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ emailOrLdapLoginId: email, password }),
	});
	if (!response.ok) return null;
	return response.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ') || null;
}
