/**
 * A credentials helper for the n8n test harness (see ./n8n.ts).
 *
 * n8n-core never reads credentials itself: every `this.getCredentials(type)` and every
 * `helpers.httpRequestWithAuthentication(type, ...)` goes through
 * `additionalData.credentialsHelper`, an `ICredentialsHelper` that the n8n CLI implements
 * on top of its database. This one keeps decrypted data in memory, keyed by credential
 * type name, and otherwise follows the CLI's `CredentialsHelper` (packages/cli/src/
 * credentials-helper.ts) on what a node can observe:
 *  - `getDecrypted` fills the credential type's property defaults and resolves `={{ }}`
 *    expressions in the stored values, as `applyDefaultsAndOverwrites` does;
 *  - `authenticate` runs a function `authenticate`, or applies a generic one by resolving
 *    each `={{$credentials.x}}` key and value with the workflow's expression engine;
 *  - `preAuthentication` refreshes a hidden `expirable` property when it is empty or the
 *    request got a 401, and persists the result (here: into the in-memory store).
 * OAuth1/OAuth2 token flows are not emulated.
 */
import type {
	ICredentialDataDecryptedObject,
	ICredentialsEncrypted,
	ICredentialsExpressionResolveValues,
	ICredentialType,
	IDataObject,
	IExecuteData,
	IHttpRequestHelper,
	IHttpRequestOptions,
	INode,
	INodeCredentialsDetails,
	INodeParameters,
	INodeProperties,
	INodeTypes,
	IRequestOptionsSimplified,
	IWorkflowExecuteAdditionalData,
	WorkflowExecuteMode,
} from 'n8n-workflow';
import {
	ICredentials,
	ICredentialsHelper,
	NodeHelpers,
	UnexpectedError,
	Workflow,
	deepCopy,
	isExpression,
} from 'n8n-workflow';
import { getAdditionalKeys } from 'n8n-core';

/** Decrypted credential data by credential type name, e.g. `{ referralStoreApi: { apiKey: 'k' } }`. */
export type CredentialsData = Record<string, ICredentialDataDecryptedObject>;

/** Plain in-memory stand-in for n8n's encrypted `Credentials` (only OAuth paths ask for it). */
class InMemoryCredentials extends ICredentials {
	constructor(
		details: INodeCredentialsDetails,
		type: string,
		private readonly store: CredentialsData,
	) {
		super(details, type);
	}

	async getData(): Promise<ICredentialDataDecryptedObject> {
		return deepCopy(this.store[this.type] ?? {});
	}

	getDataToSave(): ICredentialsEncrypted {
		return { id: this.id, name: this.name, type: this.type, data: JSON.stringify(this.store[this.type] ?? {}) };
	}

	async setData(data: ICredentialDataDecryptedObject): Promise<void> {
		this.store[this.type] = deepCopy(data);
	}

	async updateData(
		toUpdate: Partial<ICredentialDataDecryptedObject>,
		toDelete: string[] = [],
	): Promise<void> {
		const next: ICredentialDataDecryptedObject = { ...(this.store[this.type] ?? {}) };
		for (const [key, value] of Object.entries(toUpdate)) {
			if (value !== undefined) next[key] = value;
		}
		for (const key of toDelete) delete next[key];
		this.store[this.type] = next;
	}
}

/** Mock node used when resolving credential expressions outside a node execution (as the CLI does). */
const credentialResolverNode: INode = {
	id: 'credential-resolver',
	name: '',
	type: 'mock',
	typeVersion: 1,
	position: [0, 0],
	parameters: {},
};

export class HarnessCredentialsHelper extends ICredentialsHelper {
	private readonly types = new Map<string, ICredentialType>();

	/**
	 * @param store   decrypted data by type; mutated when a credential refreshes itself
	 *                (preAuthentication / OAuth token updates), like n8n writes to its DB
	 * @param credentialTypes the credential type classes the nodes may ask for
	 * @param nodeTypes only used to build the throw-away Workflow for expression resolution
	 */
	constructor(
		readonly store: CredentialsData,
		credentialTypes: ICredentialType[],
		private readonly nodeTypes: INodeTypes,
	) {
		super();
		for (const type of credentialTypes) this.types.set(type.name, type);
	}

	getCredentialType(name: string): ICredentialType {
		const type = this.types.get(name);
		if (!type) {
			throw new UnexpectedError(
				`Unknown credential type "${name}": pass its class instance in the harness "credentialTypes" option`,
			);
		}
		return type;
	}

	getParentTypes(name: string): string[] {
		const type = this.types.get(name);
		if (!type?.extends) return [];
		return type.extends.flatMap((parent) => [parent, ...this.getParentTypes(parent)]);
	}

	isCredentialUsableByNode(credentialType: string, nodeType: string): boolean {
		const type = this.types.get(credentialType);
		if (!type?.restrictToSupportedNodes) return true;
		// `supportedNodes` lists short names; compare against both forms of the node type.
		const shortName = nodeType.split('.').pop() ?? nodeType;
		return (type.supportedNodes ?? []).some((name) => name === nodeType || name === shortName);
	}

	getCredentialsProperties(type: string): INodeProperties[] {
		const credentialType = this.getCredentialType(type);
		if (credentialType.extends === undefined) return credentialType.properties;
		// Parent properties first, the child's own ones take precedence (CLI behaviour).
		const combined: INodeProperties[] = [];
		for (const parent of credentialType.extends) {
			if (this.types.has(parent)) {
				NodeHelpers.mergeNodeProperties(combined, this.getCredentialsProperties(parent));
			}
		}
		NodeHelpers.mergeNodeProperties(combined, credentialType.properties);
		return combined;
	}

	async authenticate(
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		requestOptions: IHttpRequestOptions | IRequestOptionsSimplified,
		workflow?: Workflow,
		node?: INode,
	): Promise<IHttpRequestOptions> {
		const { authenticate } = this.getCredentialType(typeName);
		if (typeof authenticate === 'function') {
			return await authenticate(credentials, requestOptions as IHttpRequestOptions);
		}
		if (authenticate?.type === 'generic') {
			if (!workflow || !node) {
				throw new UnexpectedError('Workflow and node are required for declarative credential authentication');
			}
			requestOptions.headers ??= {};
			// `properties` is { headers?: {..}, qs?: {..}, body?: {..}, auth?: {..} }; each key and
			// value may be an expression over `$credentials`, resolved in the request's workflow.
			const target = requestOptions as unknown as Record<string, IDataObject | undefined>;
			for (const [outerKey, outerValue] of Object.entries(authenticate.properties)) {
				const section = (target[outerKey] ??= {});
				for (const [key, value] of Object.entries(outerValue as IDataObject)) {
					const resolvedKey = this.resolveValue(key, credentials, workflow, node);
					section[resolvedKey] = this.resolveValue(value, credentials, workflow, node);
				}
			}
		}
		return requestOptions as IHttpRequestOptions;
	}

	private resolveValue(
		value: unknown,
		credentials: ICredentialDataDecryptedObject,
		workflow: Workflow,
		node: INode,
	): string {
		if (!isExpression(value)) return value as string;
		const resolved = workflow.expression.getSimpleParameterValue(
			node,
			value,
			'internal',
			{ $credentials: credentials },
			undefined,
			'',
		);
		return resolved ? String(resolved) : '';
	}

	async preAuthentication(
		helpers: IHttpRequestHelper,
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
		node: INode,
		credentialsExpired: boolean,
	): Promise<ICredentialDataDecryptedObject | undefined> {
		const credentialType = this.getCredentialType(typeName);
		const expirable = credentialType.properties.find(
			(property) => property.type === 'hidden' && property.typeOptions?.expirable === true,
		);
		if (expirable === undefined || typeof credentialType.preAuthentication !== 'function') return undefined;
		if (credentials[expirable.name] !== '' && !credentialsExpired) return undefined;

		const output = (await credentialType.preAuthentication.call(
			helpers,
			credentials,
		)) as ICredentialDataDecryptedObject;
		if (output[expirable.name] === undefined) return undefined;
		if (node.credentials?.[typeName]) {
			this.store[typeName] = { ...(this.store[typeName] ?? {}), ...output };
			return Object.assign(credentials, output);
		}
		return undefined;
	}

	async runPreAuthentication(
		helpers: IHttpRequestHelper,
		credentials: ICredentialDataDecryptedObject,
		typeName: string,
	): Promise<ICredentialDataDecryptedObject | undefined> {
		const { preAuthentication } = this.getCredentialType(typeName);
		if (typeof preAuthentication !== 'function') return undefined;
		return ((await preAuthentication.call(helpers, credentials)) as ICredentialDataDecryptedObject) ?? undefined;
	}

	async getCredentials(nodeCredentials: INodeCredentialsDetails, type: string): Promise<ICredentials> {
		return new InMemoryCredentials(nodeCredentials, type, this.store);
	}

	async getDecrypted(
		additionalData: IWorkflowExecuteAdditionalData,
		nodeCredentials: INodeCredentialsDetails,
		type: string,
		mode: WorkflowExecuteMode,
		executeData?: IExecuteData,
		raw?: boolean,
		expressionResolveValues?: ICredentialsExpressionResolveValues,
	): Promise<ICredentialDataDecryptedObject> {
		const stored = this.store[type];
		if (stored === undefined) {
			// Same wording as the CLI's CredentialNotFoundError, so tests can assert on it.
			throw new UnexpectedError(
				`Credential with ID "${nodeCredentials.id ?? ''}" does not exist for type "${type}".`,
			);
		}
		if (raw === true) return deepCopy(stored);

		// Defaults of the credential type's properties (e.g. a baseUrl the user never changed).
		let data = NodeHelpers.getNodeParameters(
			this.getCredentialsProperties(type),
			deepCopy(stored) as INodeParameters,
			true,
			false,
			null,
			null,
		) as ICredentialDataDecryptedObject;
		if (stored.oauthTokenData !== undefined) data.oauthTokenData = deepCopy(stored.oauthTokenData);

		const additionalKeys = getAdditionalKeys(additionalData, mode, null, { isCredential: true });
		if (expressionResolveValues) {
			const { workflow, runExecutionData, runIndex, itemIndex, node, connectionInputData } =
				expressionResolveValues;
			data = workflow.expression.getParameterValue(
				data as INodeParameters,
				runExecutionData,
				runIndex,
				itemIndex,
				node.name,
				connectionInputData,
				mode,
				additionalKeys,
				executeData,
				false,
				data,
			) as ICredentialDataDecryptedObject;
		} else {
			const workflow = new Workflow({
				nodes: [],
				connections: {},
				active: false,
				nodeTypes: this.nodeTypes,
			});
			data = workflow.expression.getComplexParameterValue(
				credentialResolverNode,
				data as INodeParameters,
				mode,
				additionalKeys,
				undefined,
				undefined,
				data,
			) as ICredentialDataDecryptedObject;
		}
		return data;
	}

	async updateCredentials(
		_nodeCredentials: INodeCredentialsDetails,
		type: string,
		data: ICredentialDataDecryptedObject,
	): Promise<void> {
		this.store[type] = deepCopy(data);
	}

	async updateCredentialsOauthTokenData(
		_nodeCredentials: INodeCredentialsDetails,
		type: string,
		data: ICredentialDataDecryptedObject,
	): Promise<void> {
		this.store[type] = { ...(this.store[type] ?? {}), oauthTokenData: deepCopy(data.oauthTokenData) };
	}
}
