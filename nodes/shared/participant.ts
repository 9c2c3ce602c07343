import type { IExecuteFunctions, INodeProperties } from 'n8n-workflow';

import { invalidInput } from '../../lib/referrals/errors';
import type { ParticipantRef } from '../../lib/referrals/program';

/**
 * How an operation finds its participant. Nodes that follow a Referral Campaign node default to
 * its output's `id`; lookups typed by hand default to the email.
 */
export function participantLookupFields(defaults: { by: 'email' | 'id' | 'code'; value: string }): INodeProperties[] {
	return [{ ...LOOKUP_BY, default: defaults.by }, { ...LOOKUP_VALUE, default: defaults.value }];
}

const LOOKUP_BY: INodeProperties = {
	displayName: 'Find Participant By',
	name: 'lookupBy',
	type: 'options',
	options: [
		{ name: 'Email', value: 'email' },
		{ name: 'ID', value: 'id' },
		{ name: 'Referral Code', value: 'code' },
	],
	default: 'email',
};

const LOOKUP_VALUE: INodeProperties = {
	displayName: 'Value',
	name: 'lookupValue',
	type: 'string',
	default: '',
	required: true,
	placeholder: 'ann@example.com',
	description: 'The email, participant ID or referral code to look for',
};

export function participantRefOf(context: IExecuteFunctions, itemIndex: number): ParticipantRef {
	const by = context.getNodeParameter('lookupBy', itemIndex) as 'email' | 'id' | 'code';
	const value = context.getNodeParameter('lookupValue', itemIndex) as unknown;
	if (by !== 'id') return by === 'email' ? { email: value } : { code: value };
	const id = Number(value);
	if (!Number.isInteger(id) || id <= 0) {
		throw invalidInput('lookupValue', `"${String(value)}" is not a participant ID`);
	}
	return { id };
}
