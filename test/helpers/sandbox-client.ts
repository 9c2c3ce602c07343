// A Pipedrive client on the sandbox for unit tests: its API token, and retries short enough that a
// test with faults runs in milliseconds (the retry schedule itself is tested in test/pipedrive).
import { setTimeout as sleep } from 'node:timers/promises';

import { PipedriveClient, type PipedriveClientOptions } from '../../lib/pipedrive/client';
import type { Sandbox } from '../../sandbox';
import { createHttpRequest } from './pipedrive-http';

export function sandboxClient(sandbox: Sandbox, options: Partial<PipedriveClientOptions> = {}): PipedriveClient {
	return new PipedriveClient({
		request: createHttpRequest({ apiToken: sandbox.apiToken }),
		baseUrl: sandbox.url,
		sleep: (ms) => sleep(ms),
		retryBaseMs: 5,
		retryMaxMs: 20,
		timeoutMs: 2000,
		...options,
	});
}
