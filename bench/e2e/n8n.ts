// What the benchmark reads off a running n8n: executions (through the editor's REST API, with the
// owner's session) and the memory of its process (/proc).
import * as fs from 'node:fs';
import type { N8nInstance } from '../../scripts/n8n/instance';
import { sleep } from '../../scripts/n8n/proc';

interface ExecutionSummary {
	id: string;
	status: string;
	workflowId: string;
}

/** Every execution of a workflow so far (newest first), page by page. */
export async function listExecutions(instance: N8nInstance, cookie: string, workflowId: string): Promise<ExecutionSummary[]> {
	const found: ExecutionSummary[] = [];
	let cursor: string | undefined;
	for (;;) {
		const query = new URLSearchParams({ filter: JSON.stringify({ workflowId }), limit: '100' });
		if (cursor) query.set('cursor', cursor);
		const response = await fetch(`${instance.url}/rest/executions?${query}`, { headers: { cookie } });
		if (!response.ok) throw new Error(`listing executions: ${response.status} ${await response.text()}`);
		const { data } = (await response.json()) as { data: { results: ExecutionSummary[]; nextCursor?: string | null } };
		found.push(...data.results);
		if (!data.nextCursor || data.results.length === 0) return found;
		cursor = data.nextCursor;
	}
}

/**
 * Waits until a workflow has at least `expected` executions and none is still running; answers
 * how many ended with each status. A form's execution stays `waiting` on its ending page: pass
 * `waitingIsDone` for those.
 */
export async function waitForExecutions(
	instance: N8nInstance,
	cookie: string,
	workflowId: string,
	expected: number,
	options: { timeoutMs: number; waitingIsDone?: boolean },
): Promise<Record<string, number>> {
	const { timeoutMs } = options;
	const unfinishedStates = new Set(options.waitingIsDone ? ['new', 'running'] : ['new', 'running', 'waiting']);
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const executions = await listExecutions(instance, cookie, workflowId);
		const unfinished = executions.filter((execution) => unfinishedStates.has(execution.status)).length;
		if (executions.length >= expected && unfinished === 0) {
			const byStatus: Record<string, number> = {};
			for (const execution of executions) byStatus[execution.status] = (byStatus[execution.status] ?? 0) + 1;
			return byStatus;
		}
		if (Date.now() > deadline) {
			throw new Error(`${workflowId}: ${executions.length} of ${expected} executions, ${unfinished} unfinished after ${timeoutMs / 1000} s`);
		}
		await sleep(500);
	}
}

/** Resident set size of a process, in bytes (VmRSS). */
export function rssBytes(pid: number): number {
	const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
	const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? Number.NaN);
	return kb * 1024;
}

/** Samples a process's RSS every `everyMs` until stopped; answers the peak. */
export function sampleRss(pid: number, everyMs = 100): { stop: () => number } {
	let peak = rssBytes(pid);
	const timer = setInterval(() => {
		try {
			peak = Math.max(peak, rssBytes(pid));
		} catch {
			/* the process is gone */
		}
	}, everyMs);
	return {
		stop: () => {
			clearInterval(timer);
			return peak;
		},
	};
}

export interface HeapUsage {
	/** Bytes on the JavaScript heap in use after a full garbage collection: what is kept alive. */
	liveBytes: number;
	/** The process's RSS right after that collection. */
	rssBytes: number;
}

/**
 * Forces a full garbage collection in a node process started with `--inspect=<port>` and reads
 * the live heap (Chrome DevTools protocol over the inspector's WebSocket).
 */
export async function collectGarbage(inspectorPort: number, pid: number): Promise<HeapUsage> {
	const [target] = (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
	const socket = new WebSocket(target.webSocketDebuggerUrl);
	await new Promise((resolve, reject) => {
		socket.addEventListener('open', resolve);
		socket.addEventListener('error', reject);
	});
	let lastId = 0;
	const call = <T>(method: string) =>
		new Promise<T>((resolve) => {
			const id = ++lastId;
			const onMessage = (message: MessageEvent) => {
				const data = JSON.parse(String(message.data)) as { id?: number; result: T };
				if (data.id !== id) return;
				socket.removeEventListener('message', onMessage);
				resolve(data.result);
			};
			socket.addEventListener('message', onMessage);
			socket.send(JSON.stringify({ id, method }));
		});
	try {
		await call('HeapProfiler.collectGarbage');
		const usage = await call<{ usedSize: number }>('Runtime.getHeapUsage');
		return { liveBytes: usage.usedSize, rssBytes: rssBytes(pid) };
	} finally {
		socket.close();
	}
}
