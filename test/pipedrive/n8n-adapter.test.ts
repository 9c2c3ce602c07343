import { NodeApiError } from 'n8n-workflow';
import type { IHttpRequestOptions, IN8nHttpFullResponse, INode } from 'n8n-workflow';
import { PipedriveClient, createN8nRequest } from '../../lib/pipedrive';
import type { N8nHttpRequestOptions } from '../../lib/pipedrive';
import { BASE } from './helpers';

const node: INode = { id: '1', name: 'Pipedrive Referral Sync', type: 'n8n-nodes-pipedrive-referrals.pipedriveReferralSync', typeVersion: 1, position: [0, 0], parameters: {} };

function axiosLikeError(status: number, data: unknown, headers: Record<string, string> = {}) {
	return Object.assign(new Error(`Request failed with status code ${status}`), { name: 'AxiosError', isAxiosError: true, response: { status, headers, data } });
}

describe('createN8nRequest (adapter over httpRequestWithAuthentication)', () => {
	it('sends n8n options that keep the OAuth refresh working, and passes answers through', async () => {
		const seen: IHttpRequestOptions[] = [];
		// What a node would pass: n8n's helper, typed as n8n types it.
		const helper = async (options: IHttpRequestOptions): Promise<IN8nHttpFullResponse> => {
			seen.push(options);
			return { statusCode: 200, headers: { 'x-ratelimit-limit': 40, 'X-RateLimit-Remaining': '39' }, body: { success: true, data: { id: 1 } } };
		};
		const request = createN8nRequest((options: N8nHttpRequestOptions) => helper(options as IHttpRequestOptions));
		const client = new PipedriveClient({ baseUrl: BASE, request, sleep: async () => undefined });
		expect((await client.getPerson(1)).id).toBe(1);
		expect(seen).toEqual([
			{
				method: 'GET',
				url: `${BASE}/api/v2/persons/1`,
				json: true,
				returnFullResponse: true,
				ignoreHttpStatusErrors: { ignore: true, except: [401] },
				timeout: 30000,
			},
		]);
		expect(client.pacer.snapshot('default')).toMatchObject({ limit: 40, remaining: 39 });
	});

	it('turns the 401 n8n throws (after its refresh attempt) back into an auth error with Pipedrive\'s message', async () => {
		const request = createN8nRequest(async () => {
			throw new NodeApiError(node, axiosLikeError(401, { success: false, error: 'unauthorized access', errorCode: 401 }) as never);
		});
		const client = new PipedriveClient({ baseUrl: BASE, request, sleep: async () => undefined, authType: 'oauth2' });
		await expect(client.getCurrentUser()).rejects.toMatchObject({ kind: 'auth', status: 401, pipedriveError: 'unauthorized access' });
	});

	it('keeps network errors as network errors (code on the cause chain)', async () => {
		const request = createN8nRequest(async () => {
			throw new NodeApiError(node, Object.assign(new Error('getaddrinfo ENOTFOUND nope.pipedrive.com'), { code: 'ENOTFOUND' }) as never);
		});
		const client = new PipedriveClient({ baseUrl: 'https://nope.pipedrive.com', request, sleep: async () => undefined });
		const error = await client.getCurrentUser().catch((e) => e);
		expect(error.kind).toBe('network');
		expect(error.message).toMatch(/the company domain looks wrong/);
	});
});
