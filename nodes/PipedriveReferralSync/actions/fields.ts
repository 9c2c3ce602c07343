import type { IDataObject, IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import type { FieldChoice } from '../../../lib/sync/mapping';

/** A dropdown of the account's custom fields of one kind, by field key. */
export function fieldPicker(
	displayName: string,
	name: string,
	loader: 'getPersonFields' | 'getDealFields',
	description: string,
	required = false,
): INodeProperties {
	return {
		displayName,
		name,
		type: 'options',
		typeOptions: { loadOptionsMethod: loader },
		default: '',
		required,
		description: `${description}. Choose from the list, or specify a field key or name using an <a href="https://docs.n8n.io/code/expressions/">expression</a>.`,
	};
}

/** The chosen fields (empty choices left out) as role → field choices for lib/sync. */
export function chosenFields<R extends string>(
	values: IDataObject,
	roles: Array<{ role: R; parameter: string; label: string }>,
): Array<FieldChoice<R>> {
	return roles
		.filter(({ parameter }) => typeof values[parameter] === 'string' && (values[parameter] as string).trim() !== '')
		.map(({ role, parameter, label }) => ({ role, label, field: (values[parameter] as string).trim() }));
}

/** Reads the named parameters of item 0 into one object (settings that hold for the whole run). */
export function runSettings(context: IExecuteFunctions, names: string[]): IDataObject {
	const values: IDataObject = {};
	for (const name of names) values[name] = context.getNodeParameter(name, 0, '') as IDataObject[string];
	return values;
}
