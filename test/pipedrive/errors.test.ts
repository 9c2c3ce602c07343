import { PipedriveApiError } from '../../lib/pipedrive';
import { BASE, makeClient, nock, useNock } from './helpers';

useNock();

async function failure(promise: Promise<unknown>): Promise<PipedriveApiError> {
	const error = await promise.catch((e) => e);
	expect(error).toBeInstanceOf(PipedriveApiError);
	return error as PipedriveApiError;
}

describe('HTTP errors become PipedriveApiError with Pipedrive\'s own message', () => {
	it('401: the API token was refused', async () => {
		const { client, requests } = makeClient();
		nock(BASE).get('/v1/users/me').reply(401, { success: false, error: 'unauthorized access', errorCode: 401 });
		const error = await failure(client.getCurrentUser());
		expect(error).toMatchObject({ kind: 'auth', status: 401, pipedriveError: 'unauthorized access', pipedriveCode: 401, method: 'GET', path: '/v1/users/me' });
		expect(error.message).toMatch(/^Pipedrive refused the API token \(401\): unauthorized access\./);
		expect(error.message).toContain('[GET /v1/users/me]');
		expect(requests).toHaveLength(1);
		// Never the token.
		expect(JSON.stringify(error.toJSON())).not.toContain('test-token-123');
		expect(error.message).not.toContain('test-token-123');
	});

	it('401 with OAuth: asks to reconnect', async () => {
		const { client } = makeClient({ authType: 'oauth2' });
		nock(BASE).get('/v1/users/me').reply(401, { success: false, error: 'Unauthorized' });
		const error = await failure(client.getCurrentUser());
		expect(error.message).toMatch(/^Pipedrive refused the OAuth access token \(401\): Unauthorized\. Reconnect/);
	});

	it('403 scope mismatch: kind scope, naming the scopes the operation needs', async () => {
		const { client } = makeClient({ authType: 'oauth2' });
		nock(BASE)
			.post('/v1/leads')
			.reply(403, { success: false, error: 'Scope and URL mismatch', errorCode: 403, error_info: 'Please check developers.pipedrive.com' });
		const error = await failure(client.createLead({ title: 'Referral: Ann', person_id: 7 }));
		expect(error).toMatchObject({ kind: 'scope', status: 403, requiredScopes: ['leads:full'], pipedriveError: 'Scope and URL mismatch' });
		expect(error.message).toMatch(/lack of an OAuth scope \(403\): Scope and URL mismatch\. This call needs one of the OAuth scopes: leads:full\./);
	});

	it('403 scope: names the missing scope when Pipedrive does', async () => {
		const { client } = makeClient({ authType: 'oauth2' });
		nock(BASE).get('/v1/webhooks').reply(403, { success: false, error: 'Missing scope: admin' });
		const error = await failure(client.listWebhooks());
		expect(error.kind).toBe('scope');
		expect(error.message).toMatch(/The missing scope is admin\./);
	});

	it('403 plan limit: kind forbidden with Pipedrive\'s code', async () => {
		const { client } = makeClient();
		nock(BASE).post('/api/v2/deals').reply(403, {
			success: false,
			error: "Couldn't add the deal. Open deals limit reached.",
			error_info: 'Please check developers.pipedrive.com for more information about Pipedrive API.',
			data: null,
			additional_data: null,
			code: 'feature_capping_deals_limit',
		});
		const error = await failure(client.createDeal({ title: 'ACME' }));
		expect(error).toMatchObject({ kind: 'forbidden', status: 403, pipedriveCode: 'feature_capping_deals_limit', outcomeUnknown: false });
		expect(error.message).toBe("Pipedrive refused the request (403): Couldn't add the deal. Open deals limit reached. [code feature_capping_deals_limit] [POST /api/v2/deals]");
	});

	it('403 Cloudflare page after too many 429s: kind rate_limit', async () => {
		const { client } = makeClient();
		nock(BASE).get('/api/v2/deals/1').reply(403, '<html><body><h1>Access denied</h1><p>Error 1020. This error is produced by Cloudflare.</p></body></html>', { 'content-type': 'text/html' });
		const error = await failure(client.getDeal(1));
		expect(error.kind).toBe('rate_limit');
		expect(error.message).toMatch(/firewall blocked/);
	});

	it('404 JSON: kind not_found with the message', async () => {
		const { client } = makeClient();
		nock(BASE)
			.get('/v1/leads/adf21080-0e10-11eb-879b-05d71fb426ec')
			.reply(404, { success: false, error: 'Lead not found', error_info: 'Please check developers.pipedrive.com', data: null, additional_data: null });
		const error = await failure(client.getLead('adf21080-0e10-11eb-879b-05d71fb426ec'));
		expect(error).toMatchObject({ kind: 'not_found', status: 404, pipedriveError: 'Lead not found' });
		expect(error.message).toBe('Not found in Pipedrive (404): Lead not found [GET /v1/leads/adf21080-0e10-11eb-879b-05d71fb426ec]');
	});

	it('404 HTML on users/me: the company domain looks wrong', async () => {
		const { client } = makeClient();
		nock(BASE).get('/v1/users/me').reply(404, '<!DOCTYPE html><html><head><title>Page not found</title></head><body>Oops</body></html>', { 'content-type': 'text/html' });
		const error = await failure(client.getCurrentUser());
		expect(error.kind).toBe('not_found');
		expect(error.message).toMatch(/404 with a web page instead of the API's JSON: the company domain or base URL looks wrong \(https:\/\/acme\.pipedrive\.com\)/);
	});

	it('200 HTML (a proxy or web page at the base URL): invalid_response', async () => {
		const { client } = makeClient();
		nock(BASE).get('/v1/users/me').reply(200, '<html><body>Welcome</body></html>', { 'content-type': 'text/html' });
		const error = await failure(client.getCurrentUser());
		expect(error.kind).toBe('invalid_response');
		expect(error.message).toMatch(/base URL .* looks wrong/);
	});

	it('400: kind validation with the message and field errors', async () => {
		const { client } = makeClient();
		nock(BASE).post('/v1/webhooks').reply(400, { status: 'error', success: false, errors: { subscription_url: ['invalid or non-reachable URL'] } });
		const error = await failure(client.createWebhook({ subscription_url: 'https://nowhere.example', event_action: 'change', event_object: 'deal', name: 'x' }));
		expect(error).toMatchObject({ kind: 'validation', status: 400, fieldErrors: { subscription_url: ['invalid or non-reachable URL'] } });
		expect(error.message).toBe('Pipedrive rejected the request (400): subscription_url: invalid or non-reachable URL [POST /v1/webhooks]');
	});

	it('400 v2: the error and its error_info', async () => {
		const { client } = makeClient();
		nock(BASE).patch('/api/v2/persons/7').reply(400, { success: false, error: 'Validation failed: emails: must be array', error_info: 'Use the emails array format.' });
		const error = await failure(client.updatePerson(7, { name: 'Ann' }));
		expect(error.message).toBe('Pipedrive rejected the request (400): Validation failed: emails: must be array (Use the emails array format.) [PATCH /api/v2/persons/7]');
	});
});

describe('checks before sending', () => {
	it('refuses bodies the spec would reject, without a request', async () => {
		const { client, requests } = makeClient();
		await expect(client.createDeal({ title: '  ' })).rejects.toMatchObject({ kind: 'validation' });
		await expect(client.createLead({ title: 'x' })).rejects.toThrow(/person \(person_id\) or an organization/);
		await expect(client.createLead({ title: 'x', person_id: 1, value: { amount: 10 } as never })).rejects.toThrow(/amount: number, currency: string/);
		await expect(client.createLead({ title: 'x', person_id: 1, label_ids: ['hot'] })).rejects.toThrow(/UUID/);
		await expect(client.createPerson({ emails: ['ann@example.com'] as never })).rejects.toThrow(/v2 format/);
		await expect(client.updateDeal(1, { custom_fields: { ['a'.repeat(40)]: [] } })).rejects.toThrow(/send null to clear/);
		await expect(client.getLead('12')).rejects.toThrow(/UUID/);
		await expect(client.getPerson(-1)).rejects.toThrow(/positive integer/);
		await expect(client.searchPersonsByEmail('nobody')).rejects.toThrow(/e-mail address/);
		await expect(client.createWebhook({ subscription_url: 'ftp://x', event_action: 'change', event_object: 'deal', name: 'x' })).rejects.toThrow(/http/);
		expect(requests).toHaveLength(0);
	});
});
