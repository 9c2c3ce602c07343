import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';

export const nameFields: INodeProperties[] = [
	{
		displayName: 'First Name',
		name: 'firstName',
		type: 'string',
		default: '',
	},
	{
		displayName: 'Last Name',
		name: 'lastName',
		type: 'string',
		default: '',
	},
];

export const metadataField: INodeProperties = {
	displayName: 'Metadata',
	name: 'metadata',
	type: 'json',
	default: '{}',
	description: 'Any JSON object to keep with the participant (at most 16 KB), e.g. a customer ID or a UTM source',
};

/**
 * The sign-up request's device, for Fraud Protection → Same Device as Referrer: kept only as a
 * fingerprint (a hash of both), never as such.
 */
export const clientIpField: INodeProperties = {
	displayName: 'Client IP',
	name: 'clientIp',
	type: 'string',
	default: '',
	placeholder: "{{ $json.headers['x-forwarded-for'] }}",
	description:
		'The visitor’s IP address, for the same-device fraud rule. From a Form Trigger with Options → Show Headers on and n8n behind a reverse proxy: its x-forwarded-for header (the first address is taken). Without an IP the rule does not apply.',
};

export const userAgentField: INodeProperties = {
	displayName: 'User Agent',
	name: 'userAgent',
	type: 'string',
	default: '',
	placeholder: "{{ $json.headers['user-agent'] }}",
	description:
		'The visitor’s browser, for the same-device fraud rule. From a Form Trigger with Options → Show Headers on: its user-agent header. Compared together with the Client IP, never alone.',
};

/**
 * How the person's fields reach the node. Mapping automatically reads them from each item's JSON
 * without evaluating expressions, which is many times faster for thousands of items (as with the
 * Postgres node's "Map Automatically").
 */
export function inputModeField(operation: string, keys: string): INodeProperties {
	return {
		displayName: 'Input Mode',
		name: 'inputMode',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Define Below',
				value: 'fields',
				description: 'Set each field, with expressions where needed',
			},
			{
				name: 'Map Automatically',
				value: 'autoMap',
				description: `Read ${keys} from each input item’s JSON; other keys are ignored. Fastest for bulk.`,
			},
		],
		default: 'fields',
		displayOptions: { show: { resource: ['participant'], operation: [operation] } },
	};
}

export const DEFINE_BELOW = { show: { inputMode: ['fields'] } };

/** The item's JSON fields under the given keys (undefined where absent), for "Map Automatically". */
export function mappedInput<K extends string>(
	context: IExecuteFunctions,
	itemIndex: number,
	keys: readonly K[],
): Record<K, unknown> {
	const json = context.getInputData()[itemIndex].json;
	const input = {} as Record<K, unknown>;
	for (const key of keys) input[key] = json[key];
	return input;
}
