/**
 * Test harness running n8n nodes through n8n-core's real execution engine.
 *
 *  - runWorkflow        a workflow JSON through `WorkflowExecute.processRunExecutionData`
 *  - loadOptions        `methods.loadOptions[...]` / `methods.listSearch[...]` in a LoadOptionsContext
 *  - runPoll            `poll()` in a PollContext, with workflow static data carried between calls
 *  - runWebhook         `webhook()` in a WebhookContext, with express-like request/response doubles
 *  - runWebhookMethods  `webhookMethods[name].checkExists|create|delete` in a HookContext
 *
 * What n8n-core 2.41 needs from its host (the n8n CLI), and this file provides:
 *  - `additionalData` (IWorkflowExecuteAdditionalData) with a credentials helper, lifecycle
 *    `hooks` (WorkflowExecute asserts they exist), the instance/webhook/form/REST base URLs,
 *    `variables`, `externalSecretsProxy`, and stubs for sub-workflows and task runners;
 *  - an INodeTypes registry the Workflow resolves `node.type` + `typeVersion` against;
 *  - InstanceSettings, which n8n-core builds from disk on first use (see ./n8n-env.ts).
 */
import './n8n-env';

import {
	ExecutionLifecycleHooks,
	ExternalSecretsProxy,
	HookContext,
	LoadOptionsContext,
	PollContext,
	WebhookContext,
	WorkflowExecute,
} from 'n8n-core';
import type {
	ExecutionStatus,
	ICredentialType,
	IConnections,
	IDataObject,
	IExecuteFunctions,
	INode,
	INodeCredentials,
	INodeExecutionData,
	INodeListSearchResult,
	INodeParameters,
	INodePropertyOptions,
	INodeType,
	INodeTypeDescription,
	INodeTypes,
	IRun,
	IRunData,
	IVersionedNodeType,
	IWebhookData,
	IWebhookResponseData,
	IWorkflowBase,
	IWorkflowExecuteAdditionalData,
	IWorkflowSettings,
	WebhookType,
	WorkflowActivateMode,
	WorkflowExecuteMode,
} from 'n8n-workflow';
import {
	NodeConnectionTypes,
	NodeHelpers,
	UnexpectedError,
	Workflow,
	createRunExecutionData,
	deepCopy,
	isNodeClassInstance,
	jsonParse,
} from 'n8n-workflow';

import { type CredentialsData, HarnessCredentialsHelper } from './n8n-credentials';
import { FakeRequest, FakeResponse, type WebhookRequestInput } from './n8n-http';

export type { CredentialsData } from './n8n-credentials';
export { FakeRequest, FakeResponse, type WebhookRequestInput } from './n8n-http';

// ---------------------------------------------------------------------------------------
// Node types
// ---------------------------------------------------------------------------------------

/** Node type of the built-in start node fixtures use to feed items to the node under test. */
export const TEST_START_NODE_TYPE = 'test.start';

/**
 * Trigger-like start node. Outputs the items in its `items` parameter (a JSON array of
 * objects, as a string or array, expressions allowed); without them it passes on what the
 * harness put on the execution stack for it: `inputItems`, or n8n's usual single `{}` item.
 *
 * It is an `execute()` node rather than a real trigger so it behaves the same in 'manual'
 * and 'trigger' mode (WorkflowExecute only calls `trigger()` in manual mode).
 */
class TestStartNode implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Test Start',
		name: 'start',
		group: ['trigger'],
		version: 1,
		description: 'Feeds test items into a workflow',
		defaults: { name: 'Start' },
		inputs: [],
		outputs: [NodeConnectionTypes.Main],
		properties: [
			{
				displayName: 'Items (JSON)',
				name: 'items',
				type: 'json',
				default: '',
				description: 'JSON array of objects to output, one item each',
			},
		],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		const raw = this.getNodeParameter('items', 0, '') as unknown;
		const parsed = typeof raw === 'string' ? (raw.trim() === '' ? undefined : jsonParse<unknown>(raw)) : raw;
		if (parsed === undefined || parsed === null) {
			return [this.getInputData().map((item, index) => ({ ...item, pairedItem: { item: index } }))];
		}
		const list = Array.isArray(parsed) ? parsed : [parsed];
		return [list.map((json) => ({ json: json as IDataObject, pairedItem: { item: 0 } }))];
	}
}

/** Fixtures exported from the editor usually start with a Manual Trigger; run it as the start node. */
const START_NODE_TYPES = [TEST_START_NODE_TYPE, 'n8n-nodes-base.manualTrigger'];

export type NodeTypeMap = Record<string, INodeType | IVersionedNodeType>;

class HarnessNodeTypes implements INodeTypes {
	private readonly types = new Map<string, INodeType | IVersionedNodeType>();

	constructor(nodeTypes: NodeTypeMap) {
		const start = new TestStartNode();
		for (const name of START_NODE_TYPES) this.types.set(name, start);
		for (const [name, type] of Object.entries(nodeTypes)) {
			this.types.set(name, type);
			// n8n registers a `<type>Tool` variant of `usableAsTool` nodes for AI agents. Its
			// parameters are the node's own, so the same instance resolves fixtures that use it
			// (standalone; agent tool-calling itself is not emulated).
			if (!nodeTypes[`${name}Tool`]) this.types.set(`${name}Tool`, type);
		}
	}

	getByName(nodeType: string): INodeType | IVersionedNodeType {
		const type = this.types.get(nodeType);
		if (!type) {
			throw new UnexpectedError(`Unknown node type "${nodeType}": add it to the harness "nodeTypes" map`);
		}
		return type;
	}

	getByNameAndVersion(nodeType: string, version?: number): INodeType {
		return NodeHelpers.getVersionedNodeType(this.getByName(nodeType), version);
	}

	getKnownTypes(): IDataObject {
		return Object.fromEntries([...this.types.keys()].map((name) => [name, {}]));
	}
}

/** Latest version of a node type, as the editor picks for a new node. */
function latestVersion(nodeType: INodeType | IVersionedNodeType): number {
	if ('nodeVersions' in nodeType) return nodeType.currentVersion;
	const { version } = nodeType.description;
	return Array.isArray(version) ? Math.max(...version) : version;
}

// ---------------------------------------------------------------------------------------
// Environment (additionalData)
// ---------------------------------------------------------------------------------------

export interface HarnessOptions {
	/**
	 * Decrypted credential data by credential type name. Used as the store itself: a
	 * credential that refreshes a token (preAuthentication) writes it back here, as n8n
	 * saves it to its database.
	 */
	credentials?: CredentialsData;
	/** Credential type classes (`new MyApi()`), needed for defaults and `authenticate`. */
	credentialTypes?: ICredentialType[];
	/** What `this.getInstanceBaseUrl()` returns; the other base URLs derive from it. */
	instanceBaseUrl?: string;
	/** `$vars` in expressions. */
	variables?: IDataObject;
}

export const DEFAULT_INSTANCE_BASE_URL = 'http://localhost:5678/';

let executionCounter = 0;

interface Environment {
	nodeTypes: HarnessNodeTypes;
	credentialsHelper: HarnessCredentialsHelper;
	additionalData: IWorkflowExecuteAdditionalData;
}

function createEnvironment(
	nodeTypeMap: NodeTypeMap,
	options: HarnessOptions,
	extra: Partial<IWorkflowExecuteAdditionalData> = {},
): Environment {
	const nodeTypes = new HarnessNodeTypes(nodeTypeMap);
	// The helper writes refreshed tokens into this object, as n8n writes them to its DB.
	const credentialsHelper = new HarnessCredentialsHelper(
		options.credentials ?? {},
		options.credentialTypes ?? [],
		nodeTypes,
	);
	const instanceBaseUrl = options.instanceBaseUrl ?? DEFAULT_INSTANCE_BASE_URL;
	// The CLI builds these as `<webhook base url with trailing slash><endpoint>`.
	const base = instanceBaseUrl.endsWith('/') ? instanceBaseUrl : `${instanceBaseUrl}/`;
	const notSupported = (what: string) => async (): Promise<never> => {
		throw new UnexpectedError(`${what} is not supported by the test harness`);
	};

	const additionalData: IWorkflowExecuteAdditionalData = {
		credentialsHelper,
		executionId: String(++executionCounter),
		currentNodeExecutionIndex: 0,
		instanceBaseUrl,
		restApiUrl: `${base}rest`,
		webhookBaseUrl: `${base}webhook`,
		webhookWaitingBaseUrl: `${base}webhook-waiting`,
		webhookTestBaseUrl: `${base}webhook-test`,
		formBaseUrl: `${base}form`,
		formWaitingBaseUrl: `${base}form-waiting`,
		formTestBaseUrl: `${base}form-test`,
		mcpBaseUrl: `${base}mcp`,
		mcpTestBaseUrl: `${base}mcp-test`,
		variables: options.variables ?? {},
		// `$secrets` in expressions reads through this; with no manager it has no providers.
		externalSecretsProxy: new ExternalSecretsProxy(),
		executeWorkflow: notSupported('Executing a sub-workflow'),
		startRunnerTask: notSupported('Running a Code-node task'),
		getRunExecutionData: async () => undefined,
		getRuntimeCredential: async () => undefined,
		logAiEvent: () => {},
		...extra,
	};
	return { nodeTypes, credentialsHelper, additionalData };
}

/** A node's credentials slot for every credential type it declares and the test provides data for. */
function autoNodeCredentials(description: INodeTypeDescription, credentials: CredentialsData): INodeCredentials {
	const result: INodeCredentials = {};
	for (const { name } of description.credentials ?? []) {
		if (credentials[name] !== undefined) result[name] = { id: `${name}-id`, name: `${name} (test)` };
	}
	return result;
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/** The error of a failed run or call, flattened to what tests assert on. */
export interface HarnessError {
	name: string;
	message: string;
	description?: string | null;
	/** Set when the node passed `{ itemIndex }` to NodeOperationError / NodeApiError. */
	itemIndex?: number;
	/** Name of the node that failed. */
	nodeName?: string;
	/** HTTP status of a NodeApiError. */
	httpCode?: string | null;
	/** The original error object. */
	error: Error;
}

function toHarnessError(error: Error, fallbackNodeName?: string): HarnessError {
	const details = error as Error & {
		description?: string | null;
		context?: IDataObject;
		node?: INode;
		httpCode?: string | null;
	};
	const itemIndex = details.context?.itemIndex;
	return {
		name: error.name,
		message: error.message,
		description: details.description,
		itemIndex: typeof itemIndex === 'number' ? itemIndex : undefined,
		nodeName: details.node?.name ?? fallbackNodeName,
		httpCode: details.httpCode,
		error,
	};
}

// ---------------------------------------------------------------------------------------
// runWorkflow
// ---------------------------------------------------------------------------------------

/** A node as it appears in exported workflow JSON (loosely typed so imported JSON files fit). */
export interface WorkflowJsonNode {
	name: string;
	type: string;
	typeVersion: number;
	parameters?: object;
	credentials?: Record<string, { id?: string | null; name: string }>;
	[key: string]: unknown;
}

/** Workflow JSON as exported from the n8n editor. */
export interface WorkflowJson {
	id?: string;
	name?: string;
	nodes: readonly WorkflowJsonNode[];
	connections: object;
	settings?: object;
	staticData?: object | null;
	pinData?: object;
	[key: string]: unknown;
}

export interface RunWorkflowOptions extends HarnessOptions {
	workflow: WorkflowJson;
	nodeTypes: NodeTypeMap;
	/** Items the start node receives (and outputs, unless its `items` parameter is set). */
	inputItems?: Array<IDataObject | INodeExecutionData>;
	/** 'manual' is a run from the editor; 'trigger' a production run. */
	mode?: 'manual' | 'trigger';
	/** Name of the node to start from; by default the `test.start` / Manual Trigger node. */
	startNode?: string;
}

export interface WorkflowRunResult {
	status: ExecutionStatus;
	/** The error that stopped the run (not errors turned into items by "continue on fail"). */
	error?: HarnessError;
	run: IRun;
	runData: IRunData;
	/** Names of the nodes in the order they finished. */
	executedNodes: string[];
	/** Workflow static data after the run. */
	staticData: IDataObject;
	/** A node's output items per output (index 0 is the main / success output). */
	outputOf(nodeName: string, runIndex?: number): INodeExecutionData[][];
	/** `json` of a node's first-output items. */
	json(nodeName: string, runIndex?: number): IDataObject[];
}

function toExecutionItems(items: Array<IDataObject | INodeExecutionData>): INodeExecutionData[] {
	return items.map((item) =>
		typeof item.json === 'object' && item.json !== null && !Array.isArray(item.json)
			? (item as INodeExecutionData)
			: { json: item as IDataObject },
	);
}

function findStartNode(workflow: Workflow, name?: string): INode {
	if (name !== undefined) {
		const node = workflow.getNode(name);
		if (!node) throw new UnexpectedError(`Start node "${name}" is not in the workflow`);
		return node;
	}
	const start =
		Object.values(workflow.nodes).find((node) => START_NODE_TYPES.includes(node.type) && !node.disabled) ??
		workflow.getStartNode();
	if (!start) throw new UnexpectedError('The workflow has no node to start from');
	return start;
}

export async function runWorkflow(options: RunWorkflowOptions): Promise<WorkflowRunResult> {
	const mode: WorkflowExecuteMode = options.mode ?? 'manual';
	// The Workflow constructor rewrites node parameters in place; keep fixtures pristine.
	const json = deepCopy(options.workflow) as unknown as WorkflowJson;
	const workflowData: IWorkflowBase = {
		id: json.id ?? 'test-workflow',
		name: json.name ?? 'Test workflow',
		active: false,
		isArchived: false,
		activeVersionId: null,
		createdAt: new Date(),
		updatedAt: new Date(),
		nodes: json.nodes.map((node) => ({ position: [0, 0], parameters: {}, ...node, id: String(node.id ?? node.name) })) as INode[],
		connections: json.connections as IConnections,
		// Editor-created workflows run with execution order v1; older exports omit the setting.
		settings: { executionOrder: 'v1', ...(json.settings as IWorkflowSettings | undefined) },
		staticData: (json.staticData ?? {}) as IDataObject,
	};

	const env = createEnvironment(options.nodeTypes, options);
	// WorkflowExecute asserts `additionalData.hooks` exists and reports progress through it.
	const hooks = new ExecutionLifecycleHooks(mode, env.additionalData.executionId ?? '1', workflowData);
	env.additionalData.hooks = hooks;
	const executedNodes: string[] = [];
	hooks.addHandler('nodeExecuteAfter', (nodeName) => {
		executedNodes.push(nodeName);
	});

	const workflow = new Workflow({
		id: workflowData.id,
		name: workflowData.name,
		nodes: workflowData.nodes,
		connections: workflowData.connections,
		active: mode === 'trigger',
		nodeTypes: env.nodeTypes,
		staticData: workflowData.staticData,
		settings: workflowData.settings,
	});
	const startNode = findStartNode(workflow, options.startNode);

	// As the CLI does for webhook/trigger runs: the start node's input is on the stack.
	const runExecutionData = createRunExecutionData({
		executionData: {
			nodeExecutionStack: [
				{
					node: startNode,
					data: { main: [toExecutionItems(options.inputItems ?? [{ json: {} }])] },
					source: null,
				},
			],
		},
	});
	const run = await new WorkflowExecute(env.additionalData, mode, runExecutionData).processRunExecutionData(workflow);

	const { runData, error, lastNodeExecuted } = run.data.resultData;
	const outputOf = (nodeName: string, runIndex = 0): INodeExecutionData[][] => {
		const task = runData[nodeName]?.[runIndex];
		if (!task) throw new UnexpectedError(`Node "${nodeName}" has no run ${runIndex} (ran: ${Object.keys(runData).join(', ')})`);
		return (task.data?.main ?? []).map((items) => items ?? []);
	};
	return {
		status: run.status,
		error: error ? toHarnessError(error, lastNodeExecuted) : undefined,
		run,
		runData,
		executedNodes,
		staticData: deepCopy(workflow.staticData),
		outputOf,
		json: (nodeName, runIndex) => (outputOf(nodeName, runIndex)[0] ?? []).map((item) => item.json),
	};
}

// ---------------------------------------------------------------------------------------
// Single-node calls (load options, poll, webhooks)
// ---------------------------------------------------------------------------------------

export interface SingleNodeOptions extends HarnessOptions {
	nodeType: INodeType | IVersionedNodeType;
	/** Type name; defaults to `test.<description.name>`. */
	type?: string;
	/** Defaults to the latest version. */
	typeVersion?: number;
	nodeName?: string;
	parameters?: INodeParameters;
	/** Defaults to a slot for each credential type the node declares and `credentials` has data for. */
	nodeCredentials?: INodeCredentials;
	/** Workflow static data (`{ global: {...}, 'node:<name>': {...} }`) from a previous call. */
	staticData?: IDataObject;
}

interface SingleNode {
	env: Environment;
	workflow: Workflow;
	node: INode;
	nodeType: INodeType;
}

function singleNode(
	options: SingleNodeOptions,
	mode: WorkflowExecuteMode,
	extra: Partial<IWorkflowExecuteAdditionalData> = {},
	nodeExtra: Partial<INode> = {},
): SingleNode {
	const type = options.type ?? `test.${options.nodeType.description.name}`;
	const typeVersion = options.typeVersion ?? latestVersion(options.nodeType);
	const env = createEnvironment({ [type]: options.nodeType }, options, extra);
	const nodeType = env.nodeTypes.getByNameAndVersion(type, typeVersion);
	const node: INode = {
		id: 'node-under-test',
		name: options.nodeName ?? 'Node',
		type,
		typeVersion,
		position: [0, 0],
		parameters: deepCopy(options.parameters ?? {}),
		credentials: options.nodeCredentials ?? autoNodeCredentials(nodeType.description, options.credentials ?? {}),
		...nodeExtra,
	};
	const workflow = new Workflow({
		id: 'test-workflow',
		name: 'Test workflow',
		nodes: [node],
		connections: {},
		active: mode === 'trigger' || mode === 'webhook',
		nodeTypes: env.nodeTypes,
		staticData: deepCopy(options.staticData ?? {}),
		settings: { executionOrder: 'v1' },
	});
	// The Workflow keeps its own node object (with parameter defaults applied); use that one.
	return { env, workflow, node: workflow.nodes[node.name], nodeType };
}

/** Static data after a call; n8n saves it with the workflow only when `changed`. */
export interface StaticDataResult {
	staticData: IDataObject;
	/** Static data of the node under test (`staticData['node:<name>']`). */
	nodeStaticData: IDataObject;
	staticDataChanged: boolean;
}

function staticDataResult(workflow: Workflow, node: INode): StaticDataResult {
	const staticData = deepCopy(workflow.staticData);
	return {
		staticData,
		nodeStaticData: (staticData[`node:${node.name}`] as IDataObject | undefined) ?? {},
		staticDataChanged: (workflow.staticData as IDataObject & { __dataChanged?: boolean }).__dataChanged === true,
	};
}

/** Runs `fn` holding the workflow's expression isolate, as n8n does around node code. */
async function withIsolate<T>(workflow: Workflow, fn: () => Promise<T>): Promise<T> {
	return await workflow.expression.withIsolate(fn);
}

// --- loadOptions / listSearch -----------------------------------------------------------

export interface LoadOptionsOptionsBase extends SingleNodeOptions {
	methodName: string;
	/** Parameter path the editor asks for, e.g. `parameters.listId`; defaults to the property using the method. */
	path?: string;
}

export interface LoadOptionsCall extends LoadOptionsOptionsBase {
	kind: 'loadOptions';
}

export interface ListSearchCall extends LoadOptionsOptionsBase {
	kind: 'listSearch';
	filter?: string;
	paginationToken?: string;
}

function defaultParameterPath(description: INodeTypeDescription, methodName: string): string {
	const property = description.properties.find(
		(prop) =>
			prop.typeOptions?.loadOptionsMethod === methodName ||
			prop.modes?.some((mode) => mode.typeOptions?.searchListMethod === methodName),
	);
	return `parameters.${property?.name ?? methodName}`;
}

/**
 * Calls a node's `methods.loadOptions[methodName]` or `methods.listSearch[methodName]` the way
 * n8n's DynamicNodeParametersService does: a one-node workflow, `currentNodeParameters` set to
 * the editor's parameters, and a LoadOptionsContext for that node.
 */
export async function loadOptions(options: LoadOptionsCall): Promise<INodePropertyOptions[]>;
export async function loadOptions(options: ListSearchCall): Promise<INodeListSearchResult>;
export async function loadOptions(
	options: LoadOptionsCall | ListSearchCall,
): Promise<INodePropertyOptions[] | INodeListSearchResult> {
	const parameters = deepCopy(options.parameters ?? {});
	// `getCurrentNodeParameter()` reads the editor's values from here, not from the node.
	const { env, workflow, node, nodeType } = singleNode(options, 'internal', { currentNodeParameters: parameters });
	const path = options.path ?? defaultParameterPath(nodeType.description, options.methodName);
	const context = new LoadOptionsContext(workflow, node, env.additionalData, path);

	return await withIsolate(workflow, async () => {
		if (options.kind === 'listSearch') {
			const method = nodeType.methods?.listSearch?.[options.methodName];
			if (!method) throw new UnexpectedError(`Node has no listSearch method "${options.methodName}"`);
			return await method.call(context, options.filter, options.paginationToken);
		}
		const method = nodeType.methods?.loadOptions?.[options.methodName];
		if (!method) throw new UnexpectedError(`Node has no loadOptions method "${options.methodName}"`);
		return await method.call(context);
	});
}

// --- poll -------------------------------------------------------------------------------

export interface RunPollOptions extends SingleNodeOptions {
	/** 'manual' = "Fetch test event" in the editor; 'trigger' = a scheduled poll of an active workflow. */
	mode?: 'manual' | 'trigger';
}

export interface PollResult extends StaticDataResult {
	/** What `poll()` returned: items per output, or null for "nothing new". */
	data: INodeExecutionData[][] | null;
}

/**
 * Calls a polling node's `poll()` in a PollContext. Pass `staticData` from the previous
 * result to continue where the last poll left off, as n8n does between scheduled polls.
 */
export async function runPoll(options: RunPollOptions): Promise<PollResult> {
	const mode = options.mode ?? 'trigger';
	const { env, workflow, node, nodeType } = singleNode(options, mode);
	// Production polls run as ('trigger', 'activate'); a test fetch as ('manual', 'manual').
	const activation: WorkflowActivateMode = mode === 'manual' ? 'manual' : 'activate';
	const context = new PollContext(workflow, node, env.additionalData, mode, activation);
	if (!nodeType.poll) throw new UnexpectedError('Node type has no poll() method');
	const poll = nodeType.poll;

	const data = await withIsolate(workflow, async () =>
		// Class-based nodes (n8n-workflow `Node`) get the context as an argument, like in n8n.
		isNodeClassInstance(nodeType) ? await nodeType.poll!(context) : await poll.call(context),
	);
	return { data, ...staticDataResult(workflow, node) };
}

// --- webhook ----------------------------------------------------------------------------

export interface WebhookCallOptions extends SingleNodeOptions {
	/** Name of the webhook description (`description.webhooks[].name`), default 'default'. */
	webhookName?: WebhookType;
	/** The node's webhookId (first path segment of its production URL). */
	webhookId?: string;
	/** 'webhook' = production URL of an active workflow; 'manual' = test URL ("Listen for test event"). */
	mode?: 'webhook' | 'manual';
}

function findWebhookDescription(nodeType: INodeType, name: WebhookType) {
	const description = nodeType.description.webhooks?.find((webhook) => webhook.name === name);
	if (!description) throw new UnexpectedError(`Node type has no webhook named "${name}"`);
	return description;
}

function webhookData(
	single: SingleNode,
	name: WebhookType,
	isTest: boolean,
	mode: WorkflowExecuteMode,
): IWebhookData {
	const { workflow, node, nodeType, env } = single;
	const description = findWebhookDescription(nodeType, name);
	const path = workflow.expression.getSimpleParameterValue(node, description.path, mode, {});
	const method = workflow.expression.getSimpleParameterValue(node, description.httpMethod, mode, {}, undefined, 'POST');
	return {
		httpMethod: String(method) as IWebhookData['httpMethod'],
		node: node.name,
		path: String(path ?? ''),
		webhookDescription: description,
		workflowId: workflow.id,
		workflowExecuteAdditionalData: env.additionalData,
		webhookId: node.webhookId,
		isTest,
	};
}

export interface RunWebhookOptions extends WebhookCallOptions {
	request: WebhookRequestInput;
}

export interface WebhookResult extends StaticDataResult {
	/** Items that would start the workflow. */
	workflowData?: INodeExecutionData[][];
	webhookResponse?: unknown;
	/** True when the node answered the request itself through the response object. */
	noWebhookResponse?: boolean;
	/** Status the response carries (200 unless the node set one). */
	statusCode: number;
	/** Body the node wrote (parsed JSON when it is JSON), undefined when it wrote nothing. */
	responseBody: unknown;
	responseHeaders: Record<string, string | number | readonly string[]>;
	response: FakeResponse;
}

/**
 * Calls a trigger node's `webhook()` in a WebhookContext, as n8n's WebhookService does for an
 * incoming request: the request and response reach the node through `additionalData`.
 */
export async function runWebhook(options: RunWebhookOptions): Promise<WebhookResult> {
	const mode = options.mode ?? 'webhook';
	const request = new FakeRequest(options.request);
	const response = new FakeResponse();
	const single = singleNode(
		options,
		mode,
		{
			// express types in n8n's interface; the doubles implement what nodes use of them.
			httpRequest: request as unknown as IWorkflowExecuteAdditionalData['httpRequest'],
			httpResponse: response as unknown as IWorkflowExecuteAdditionalData['httpResponse'],
		},
		{ webhookId: options.webhookId ?? 'test-webhook-id' },
	);
	const { env, workflow, node, nodeType } = single;
	const data = webhookData(single, options.webhookName ?? 'default', mode === 'manual', mode);
	data.httpMethod = request.method as IWebhookData['httpMethod'];
	const context = new WebhookContext(workflow, node, env.additionalData, mode, data, [], null);
	if (!nodeType.webhook) throw new UnexpectedError('Node type has no webhook() method');
	const webhook = nodeType.webhook;

	const result: IWebhookResponseData = await withIsolate(workflow, async () =>
		isNodeClassInstance(nodeType) ? await nodeType.webhook!(context) : await webhook.call(context),
	);
	return {
		workflowData: result.workflowData,
		webhookResponse: result.webhookResponse as unknown,
		noWebhookResponse: result.noWebhookResponse,
		statusCode: response.statusCode,
		responseBody: response.body,
		responseHeaders: response.getHeaders(),
		response,
		...staticDataResult(workflow, node),
	};
}

// --- webhookMethods ---------------------------------------------------------------------

export type WebhookMethodName = 'checkExists' | 'create' | 'delete';

export interface RunWebhookMethodOptions extends Omit<WebhookCallOptions, 'mode'> {
	method: WebhookMethodName;
	/** 'trigger' for an active workflow (default), 'manual' while listening for a test event. */
	mode?: 'trigger' | 'manual';
	/** Default 'activate' ('manual' in manual mode). */
	activation?: WorkflowActivateMode;
	/** What `this.getNodeWebhookUrl(name)` returns; by default n8n's URL from the base URL + webhookId. */
	webhookUrl?: string;
}

export interface WebhookMethodResult extends StaticDataResult {
	/** The method's return value (`checkExists` / `create` / `delete` return booleans). */
	result: boolean | undefined;
	/** The URL the node saw from `getNodeWebhookUrl`. */
	webhookUrl: string | undefined;
}

/**
 * Calls `webhookMethods[webhookName][method]` in a HookContext, as n8n does when it
 * (de)activates a workflow with a webhook trigger: on activation `checkExists` and, when it
 * returns false, `create`; on deactivation `delete`. Pass `staticData` between calls.
 */
export async function runWebhookMethods(options: RunWebhookMethodOptions): Promise<WebhookMethodResult> {
	const mode = options.mode ?? 'trigger';
	const activation = options.activation ?? (mode === 'manual' ? 'manual' : 'activate');
	const webhookName = options.webhookName ?? 'default';
	const single = singleNode(options, mode, {}, { webhookId: options.webhookId ?? 'test-webhook-id' });
	const { env, workflow, node, nodeType } = single;
	const data = webhookData(single, webhookName, mode === 'manual', mode);
	const context = new HookContext(workflow, node, env.additionalData, mode, activation, data);
	if (options.webhookUrl !== undefined) {
		const { webhookUrl } = options;
		// n8n derives the URL from its configured base URL; a test may want a specific one
		// (e.g. a tunnel), so override just this lookup on the real context.
		context.getNodeWebhookUrl = (name) => (name === webhookName ? webhookUrl : undefined);
	}
	const method = nodeType.webhookMethods?.[webhookName]?.[options.method];
	if (!method) throw new UnexpectedError(`Node type has no webhookMethods.${webhookName}.${options.method}`);

	const result = await withIsolate(workflow, async () => await method.call(context));
	return {
		result,
		webhookUrl: context.getNodeWebhookUrl(webhookName),
		...staticDataResult(workflow, node),
	};
}
