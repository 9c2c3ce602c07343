/**
 * Proves the n8n test harness (test/helpers/n8n.ts) with test-only nodes defined here:
 * expressions per item, NodeOperationError with itemIndex (failing and continue-on-fail),
 * credentials applied to a real HTTP request, getInstanceBaseUrl, loadOptions/listSearch,
 * polling with static data, a webhook with a response, and webhookMethods.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
	ICredentialType,
	IDataObject,
	IExecuteFunctions,
	IHookFunctions,
	ILoadOptionsFunctions,
	INodeExecutionData,
	INodeListSearchResult,
	INodePropertyOptions,
	INodeType,
	INodeTypeDescription,
	IPollFunctions,
	IWebhookFunctions,
	IWebhookResponseData,
} from 'n8n-workflow';
import { NodeConnectionTypes, NodeOperationError } from 'n8n-workflow';

import {
	loadOptions,
	runPoll,
	runWebhook,
	runWebhookMethods,
	runWorkflow,
	type WorkflowJson,
} from '../helpers/n8n';

// ---------------------------------------------------------------------------------------
// A local HTTP server standing in for a third-party API
// ---------------------------------------------------------------------------------------

interface SeenRequest {
	method: string;
	url: string;
	headers: IncomingHttpHeaders;
	body: string;
}

let server: Server;
let apiUrl: string;
const seen: SeenRequest[] = [];

beforeAll(async () => {
	server = createServer((req, res) => {
		let body = '';
		req.on('data', (chunk: Buffer) => (body += chunk.toString()));
		req.on('end', () => {
			seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
			const url = new URL(req.url ?? '/', 'http://localhost');
			const reply = (status: number, payload?: unknown) => {
				res.writeHead(status, { 'content-type': 'application/json' });
				res.end(payload === undefined ? undefined : JSON.stringify(payload));
			};
			if (req.headers['x-api-key'] !== 'secret-key') return reply(401, { message: 'bad key' });
			if (url.pathname === '/echo') return reply(200, { tenant: url.searchParams.get('tenant') });
			if (url.pathname === '/lists') {
				const all = ['Alpha', 'Beta', 'Gamma'].map((name, i) => ({ id: `l${i + 1}`, name }));
				const q = (url.searchParams.get('q') ?? '').toLowerCase();
				return reply(200, { lists: all.filter((l) => l.name.toLowerCase().includes(q)) });
			}
			if (url.pathname === '/hooks' && req.method === 'POST') return reply(201, { id: 'hook-1' });
			if (url.pathname === '/hooks/hook-1' && req.method === 'DELETE') return reply(204);
			return reply(404, { message: 'not found' });
		});
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
	await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
	seen.length = 0;
});

// ---------------------------------------------------------------------------------------
// Test-only credential type and nodes
// ---------------------------------------------------------------------------------------

class TestApi implements ICredentialType {
	name = 'testApi';
	displayName = 'Test API';
	properties: ICredentialType['properties'] = [
		{ displayName: 'API Key', name: 'apiKey', type: 'string', typeOptions: { password: true }, default: '' },
		{ displayName: 'Base URL', name: 'baseUrl', type: 'string', default: 'http://unused.invalid' },
		{ displayName: 'Tenant', name: 'tenant', type: 'string', default: 'default-tenant' },
	];
	authenticate: ICredentialType['authenticate'] = {
		type: 'generic',
		properties: {
			headers: { 'X-Api-Key': '={{$credentials.apiKey}}' },
			qs: { tenant: '={{$credentials.tenant}}' },
		},
	};
}

const credentialTypes = [new TestApi()];
const credentials = () => ({ testApi: { apiKey: 'secret-key', baseUrl: apiUrl } });

function description(name: string, extra: Partial<INodeTypeDescription> = {}): INodeTypeDescription {
	return {
		displayName: name,
		name,
		group: ['transform'],
		version: 1,
		description: `Test node ${name}`,
		defaults: { name },
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		properties: [],
		...extra,
	};
}

/** Outputs `doubled` = its `value` parameter, evaluated per item. */
class DoubleNode implements INodeType {
	description = description('double', {
		properties: [{ displayName: 'Value', name: 'value', type: 'number', default: 0 }],
	});

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return [
			this.getInputData().map((item, i) => ({
				json: { ...item.json, doubled: this.getNodeParameter('value', i) as number },
				pairedItem: { item: i },
			})),
		];
	}
}

/** Fails items whose `fail` is true, the usual n8n way. */
class FailNode implements INodeType {
	description = description('fail');

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const out: INodeExecutionData[] = [];
		const items = this.getInputData();
		for (let i = 0; i < items.length; i++) {
			try {
				if (items[i].json.fail === true) throw new Error(`Item ${i} is bad`);
				out.push({ json: { ok: items[i].json.n }, pairedItem: { item: i } });
			} catch (error) {
				if (this.continueOnFail()) {
					out.push({ json: { error: (error as Error).message }, pairedItem: { item: i } });
					continue;
				}
				throw new NodeOperationError(this.getNode(), error as Error, {
					itemIndex: i,
					description: 'The item has fail=true',
				});
			}
		}
		return [out];
	}
}

/** Calls the API with its credential and reports what it saw. */
class ApiNode implements INodeType {
	description = description('api', {
		credentials: [{ name: 'testApi', required: true }],
	});

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const creds = await this.getCredentials<{ baseUrl: string; tenant: string }>('testApi');
		const response = (await this.helpers.httpRequestWithAuthentication.call(this, 'testApi', {
			method: 'GET',
			url: `${creds.baseUrl}/echo`,
			json: true,
		})) as IDataObject;
		return [[{ json: { response, tenantDefault: creds.tenant, instanceBaseUrl: this.getInstanceBaseUrl() } }]];
	}
}

/** loadOptions and listSearch methods backed by the API. */
class ListsNode implements INodeType {
	description = description('lists', {
		credentials: [{ name: 'testApi', required: true }],
		properties: [
			{ displayName: 'Prefix', name: 'prefix', type: 'string', default: '' },
			{
				displayName: 'List',
				name: 'listId',
				type: 'options',
				typeOptions: { loadOptionsMethod: 'getLists' },
				default: '',
			},
			{
				displayName: 'List (search)',
				name: 'list',
				type: 'resourceLocator',
				default: { mode: 'list', value: '' },
				modes: [{ displayName: 'From list', name: 'list', type: 'list', typeOptions: { searchListMethod: 'searchLists' } }],
			},
		],
	});

	methods = {
		loadOptions: {
			async getLists(this: ILoadOptionsFunctions): Promise<INodePropertyOptions[]> {
				const { baseUrl } = await this.getCredentials<{ baseUrl: string }>('testApi');
				const prefix = this.getCurrentNodeParameter('prefix') as string;
				const { lists } = (await this.helpers.httpRequestWithAuthentication.call(this, 'testApi', {
					url: `${baseUrl}/lists`,
					json: true,
				})) as { lists: Array<{ id: string; name: string }> };
				return lists.map((l) => ({ name: `${prefix}${l.name}`, value: l.id }));
			},
		},
		listSearch: {
			async searchLists(
				this: ILoadOptionsFunctions,
				filter?: string,
				paginationToken?: string,
			): Promise<INodeListSearchResult> {
				const { baseUrl } = await this.getCredentials<{ baseUrl: string }>('testApi');
				const { lists } = (await this.helpers.httpRequestWithAuthentication.call(this, 'testApi', {
					url: `${baseUrl}/lists`,
					qs: { q: filter ?? '' },
					json: true,
				})) as { lists: Array<{ id: string; name: string }> };
				return {
					results: lists.map((l) => ({ name: l.name, value: l.id })),
					paginationToken: paginationToken ? undefined : 'page-2',
				};
			},
		},
	};
}

/** Polls a module-level "feed", remembering the last id in node static data. */
const feed: Array<{ id: number }> = [];
class PollNode implements INodeType {
	description = description('poll', { group: ['trigger'], inputs: [], polling: true });

	async poll(this: IPollFunctions): Promise<INodeExecutionData[][] | null> {
		const state = this.getWorkflowStaticData('node');
		const since = (state.lastId as number | undefined) ?? 0;
		const fresh = feed.filter((entry) => entry.id > since);
		if (fresh.length === 0) return null;
		state.lastId = fresh[fresh.length - 1].id;
		return [this.helpers.returnJsonArray(fresh.map((entry) => ({ ...entry, mode: this.getMode() })))];
	}
}

/** A webhook trigger that checks a header and registers itself with the API. */
class HookNode implements INodeType {
	description = description('hook', {
		group: ['trigger'],
		inputs: [],
		credentials: [{ name: 'testApi', required: true }],
		webhooks: [{ name: 'default', httpMethod: 'POST', responseMode: 'onReceived', path: 'hook' }],
	});

	webhookMethods = {
		default: {
			async checkExists(this: IHookFunctions): Promise<boolean> {
				return this.getWorkflowStaticData('node').hookId !== undefined;
			},
			async create(this: IHookFunctions): Promise<boolean> {
				const { baseUrl } = await this.getCredentials<{ baseUrl: string }>('testApi');
				const { id } = (await this.helpers.httpRequestWithAuthentication.call(this, 'testApi', {
					method: 'POST',
					url: `${baseUrl}/hooks`,
					body: { url: this.getNodeWebhookUrl('default') },
					json: true,
				})) as { id: string };
				this.getWorkflowStaticData('node').hookId = id;
				return true;
			},
			async delete(this: IHookFunctions): Promise<boolean> {
				const state = this.getWorkflowStaticData('node');
				const { baseUrl } = await this.getCredentials<{ baseUrl: string }>('testApi');
				await this.helpers.httpRequestWithAuthentication.call(this, 'testApi', {
					method: 'DELETE',
					url: `${baseUrl}/hooks/${String(state.hookId)}`,
				});
				delete state.hookId;
				return true;
			},
		},
	};

	async webhook(this: IWebhookFunctions): Promise<IWebhookResponseData> {
		const headers = this.getHeaderData();
		if (headers['x-signature'] !== 'good') {
			this.getResponseObject().status(401).json({ error: 'bad signature' });
			return { noWebhookResponse: true };
		}
		const body = this.getBodyData();
		const query = this.getQueryData() as IDataObject;
		return {
			workflowData: [this.helpers.returnJsonArray({ ...body, source: query.source ?? null })],
			webhookResponse: { received: true },
		};
	}
}

// ---------------------------------------------------------------------------------------
// Workflow fixtures (shaped like editor exports)
// ---------------------------------------------------------------------------------------

const nodeTypes = {
	'test.double': new DoubleNode(),
	'test.fail': new FailNode(),
	'test.api': new ApiNode(),
};

function twoNodeWorkflow(second: { type: string; [key: string]: unknown }, items: IDataObject[]): WorkflowJson {
	return {
		name: 'fixture',
		nodes: [
			{
				id: 'a',
				name: 'Start',
				type: 'test.start',
				typeVersion: 1,
				position: [0, 0],
				parameters: { items: JSON.stringify(items) },
			},
			{ id: 'b', name: 'Second', typeVersion: 1, position: [200, 0], parameters: {}, ...second },
		],
		connections: { Start: { main: [[{ node: 'Second', type: 'main', index: 0 }]] } },
		settings: { executionOrder: 'v1' },
	};
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

describe('runWorkflow', () => {
	it('evaluates a parameter expression per item', async () => {
		const result = await runWorkflow({
			nodeTypes,
			workflow: twoNodeWorkflow(
				{ type: 'test.double', parameters: { value: '={{ $json.x * 2 }}' } },
				[{ x: 1 }, { x: 2 }, { x: 5 }],
			),
		});

		expect(result.status).toBe('success');
		expect(result.executedNodes).toEqual(['Start', 'Second']);
		expect(result.json('Second')).toEqual([
			{ x: 1, doubled: 2 },
			{ x: 2, doubled: 4 },
			{ x: 5, doubled: 10 },
		]);
		expect(result.outputOf('Second')[0].map((item) => item.pairedItem)).toEqual([
			{ item: 0 },
			{ item: 1 },
			{ item: 2 },
		]);
	});

	it('feeds inputItems through the start node when it has no items parameter', async () => {
		const workflow = twoNodeWorkflow({ type: 'test.double', parameters: { value: '={{ $json.x + 1 }}' } }, []);
		workflow.nodes[0].parameters = {};
		const result = await runWorkflow({ nodeTypes, workflow, inputItems: [{ x: 41 }], mode: 'trigger' });
		expect(result.json('Second')).toEqual([{ x: 41, doubled: 42 }]);
	});

	it('starts from an exported Manual Trigger and resolves <type>Tool names', async () => {
		const result = await runWorkflow({
			nodeTypes,
			inputItems: [{ x: 3 }],
			workflow: {
				nodes: [
					{ id: 'm', name: "When clicking 'Execute workflow'", type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
					{ id: 't', name: 'Tool', type: 'test.doubleTool', typeVersion: 1, position: [200, 0], parameters: { value: '={{ $json.x * 2 }}' } },
				],
				connections: { "When clicking 'Execute workflow'": { main: [[{ node: 'Tool', type: 'main', index: 0 }]] } },
			},
		});
		expect(result.json('Tool')).toEqual([{ x: 3, doubled: 6 }]);
	});

	it('fails the run with the NodeOperationError and its itemIndex', async () => {
		const result = await runWorkflow({
			nodeTypes,
			workflow: twoNodeWorkflow({ type: 'test.fail' }, [{ n: 1 }, { n: 2, fail: true }, { n: 3 }]),
		});

		expect(result.status).toBe('error');
		expect(result.error).toMatchObject({
			name: 'NodeOperationError',
			message: 'Item 1 is bad',
			description: 'The item has fail=true',
			itemIndex: 1,
			nodeName: 'Second',
		});
		expect(result.runData.Second[0].error?.message).toBe('Item 1 is bad');
	});

	it('turns the failure into an item with onError continueRegularOutput', async () => {
		const result = await runWorkflow({
			nodeTypes,
			workflow: twoNodeWorkflow(
				{ type: 'test.fail', onError: 'continueRegularOutput' },
				[{ n: 1 }, { n: 2, fail: true }, { n: 3 }],
			),
		});

		expect(result.status).toBe('success');
		expect(result.error).toBeUndefined();
		expect(result.json('Second')).toEqual([{ ok: 1 }, { error: 'Item 1 is bad' }, { ok: 3 }]);
	});

	it('routes the failed item to the error output with onError continueErrorOutput', async () => {
		const result = await runWorkflow({
			nodeTypes,
			workflow: twoNodeWorkflow(
				{ type: 'test.fail', onError: 'continueErrorOutput' },
				[{ n: 1 }, { n: 2, fail: true }, { n: 3 }],
			),
		});

		const [success, failed] = result.outputOf('Second');
		expect(success.map((item) => item.json)).toEqual([{ ok: 1 }, { ok: 3 }]);
		// n8n merges the failed input item into the error item it routes to the error output.
		expect(failed.map((item) => item.json)).toEqual([{ n: 2, fail: true, error: 'Item 1 is bad' }]);
	});

	it('applies the credential type authenticate to a real HTTP request', async () => {
		const result = await runWorkflow({
			nodeTypes,
			credentials: credentials(),
			credentialTypes,
			instanceBaseUrl: 'https://n8n.example.com/',
			workflow: twoNodeWorkflow(
				{ type: 'test.api', credentials: { testApi: { id: '1', name: 'Test API account' } } },
				[{}],
			),
		});

		expect(result.error).toBeUndefined();
		expect(seen).toHaveLength(1);
		expect(seen[0].headers['x-api-key']).toBe('secret-key');
		expect(result.json('Second')).toEqual([
			{
				response: { tenant: 'default-tenant' },
				tenantDefault: 'default-tenant',
				instanceBaseUrl: 'https://n8n.example.com/',
			},
		]);
	});

	it('returns the default instance base URL and surfaces API errors', async () => {
		const ok = await runWorkflow({
			nodeTypes,
			credentials: credentials(),
			credentialTypes,
			workflow: twoNodeWorkflow({ type: 'test.api', credentials: { testApi: { id: '1', name: 'x' } } }, [{}]),
		});
		expect(ok.json('Second')[0].instanceBaseUrl).toBe('http://localhost:5678/');

		const denied = await runWorkflow({
			nodeTypes,
			credentials: { testApi: { apiKey: 'wrong', baseUrl: apiUrl } },
			credentialTypes,
			workflow: twoNodeWorkflow({ type: 'test.api', credentials: { testApi: { id: '1', name: 'x' } } }, [{}]),
		});
		expect(denied.status).toBe('error');
		expect(denied.error).toMatchObject({ name: 'NodeApiError', httpCode: '401', nodeName: 'Second' });
	});
});

describe('loadOptions', () => {
	it('runs a loadOptions method with credentials and current parameters', async () => {
		const options = await loadOptions({
			kind: 'loadOptions',
			nodeType: new ListsNode(),
			methodName: 'getLists',
			parameters: { prefix: '#' },
			credentials: credentials(),
			credentialTypes,
		});

		expect(options).toEqual([
			{ name: '#Alpha', value: 'l1' },
			{ name: '#Beta', value: 'l2' },
			{ name: '#Gamma', value: 'l3' },
		]);
		expect(seen[0].headers['x-api-key']).toBe('secret-key');
	});

	it('runs a listSearch method with filter and pagination token', async () => {
		const page = await loadOptions({
			kind: 'listSearch',
			nodeType: new ListsNode(),
			methodName: 'searchLists',
			filter: 'ga',
			credentials: credentials(),
			credentialTypes,
		});
		expect(page).toEqual({ results: [{ name: 'Gamma', value: 'l3' }], paginationToken: 'page-2' });

		const last = await loadOptions({
			kind: 'listSearch',
			nodeType: new ListsNode(),
			methodName: 'searchLists',
			paginationToken: 'page-2',
			credentials: credentials(),
			credentialTypes,
		});
		expect(last.paginationToken).toBeUndefined();
		expect(last.results).toHaveLength(3);
	});
});

describe('runPoll', () => {
	it('keeps node static data between polls', async () => {
		feed.length = 0;
		feed.push({ id: 1 }, { id: 2 });
		const nodeType = new PollNode();

		const first = await runPoll({ nodeType });
		expect(first.data?.[0].map((item) => item.json)).toEqual([
			{ id: 1, mode: 'trigger' },
			{ id: 2, mode: 'trigger' },
		]);
		expect(first.nodeStaticData).toEqual({ lastId: 2 });
		expect(first.staticDataChanged).toBe(true);

		const second = await runPoll({ nodeType, staticData: first.staticData });
		expect(second.data).toBeNull();

		feed.push({ id: 3 });
		const third = await runPoll({ nodeType, staticData: second.staticData, mode: 'manual' });
		expect(third.data?.[0].map((item) => item.json)).toEqual([{ id: 3, mode: 'manual' }]);
		expect(third.staticData).toEqual({ 'node:Node': { lastId: 3 } });
	});
});

describe('runWebhook', () => {
	it('returns workflow data and the webhook response', async () => {
		const result = await runWebhook({
			nodeType: new HookNode(),
			credentials: credentials(),
			credentialTypes,
			request: { method: 'POST', headers: { 'X-Signature': 'good' }, body: { event: 'ping' }, query: { source: 'test' } },
		});

		expect(result.noWebhookResponse).toBeUndefined();
		expect(result.webhookResponse).toEqual({ received: true });
		expect(result.workflowData?.[0].map((item) => item.json)).toEqual([{ event: 'ping', source: 'test' }]);
		expect(result.responseBody).toBeUndefined();
	});

	it('captures a response the node writes itself', async () => {
		const result = await runWebhook({
			nodeType: new HookNode(),
			credentials: credentials(),
			credentialTypes,
			request: { body: { event: 'ping' } },
		});

		expect(result.noWebhookResponse).toBe(true);
		expect(result.statusCode).toBe(401);
		expect(result.responseBody).toEqual({ error: 'bad signature' });
		expect(result.workflowData).toBeUndefined();
	});
});

describe('runWebhookMethods', () => {
	it('creates, checks and deletes the webhook sharing static data', async () => {
		const common = { nodeType: new HookNode(), credentials: credentials(), credentialTypes };

		const before = await runWebhookMethods({ ...common, method: 'checkExists' });
		expect(before.result).toBe(false);
		// Without an override, n8n's own URL: <base>/webhook/<webhookId>/<path>.
		expect(before.webhookUrl).toBe('http://localhost:5678/webhook/test-webhook-id/hook');

		const created = await runWebhookMethods({
			...common,
			method: 'create',
			staticData: before.staticData,
			webhookUrl: 'https://tunnel.example.com/webhook/abc',
		});
		expect(created.result).toBe(true);
		expect(created.nodeStaticData).toEqual({ hookId: 'hook-1' });
		expect(JSON.parse(seen[0].body)).toEqual({ url: 'https://tunnel.example.com/webhook/abc' });
		expect(seen[0].headers['x-api-key']).toBe('secret-key');

		const exists = await runWebhookMethods({ ...common, method: 'checkExists', staticData: created.staticData });
		expect(exists.result).toBe(true);

		const deleted = await runWebhookMethods({ ...common, method: 'delete', staticData: exists.staticData });
		expect(deleted.result).toBe(true);
		expect(seen[1]).toMatchObject({ method: 'DELETE', url: '/hooks/hook-1?tenant=default-tenant' });
		expect(deleted.nodeStaticData).toEqual({});
	});
});
