import type { INodeProperties } from 'n8n-workflow';

import * as del from './delete.operation';
import * as enrol from './enrol.operation';
import * as get from './get.operation';
import * as getPortalLinks from './getPortalLinks.operation';
import * as getAll from './getAll.operation';
import * as registerReferred from './registerReferred.operation';
import * as review from './review.operation';
import * as update from './update.operation';

import type { Operation } from '../types';

export const operations: Record<string, Operation> = {
	approve: review.approve,
	delete: del.execute,
	enrol: enrol.execute,
	get: get.execute,
	getAll: getAll.execute,
	getPortalLinks: getPortalLinks.execute,
	registerReferred: registerReferred.execute,
	reject: review.reject,
	update: update.execute,
};

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['participant'] } },
		options: [
			{
				name: 'Approve',
				value: 'approve',
				description: 'Let a referral held for review go on: it is rewarded and can be sent to Pipedrive',
				action: 'Approve a held referral',
			},
			{
				name: 'Delete (Erase)',
				value: 'delete',
				description: 'Erase a participant’s personal data, keeping counts right',
				action: 'Erase a participant',
			},
			{
				name: 'Enrol',
				value: 'enrol',
				description: 'Add a referrer, or get their existing code and link',
				action: 'Enrol a participant',
			},
			{ name: 'Get', value: 'get', description: 'Get a participant', action: 'Get a participant' },
			{ name: 'Get Many', value: 'getAll', description: 'Get many participants', action: 'Get many participants' },
			{
				name: 'Get Portal Links',
				value: 'getPortalLinks',
				description: 'Get a referrer’s share-page link and signed personal stats-page link',
				action: 'Get a participant s portal links',
			},
			{
				name: 'Register Referred',
				value: 'registerReferred',
				description: 'Record a person referred with a code',
				action: 'Register a referred person',
			},
			{
				name: 'Reject',
				value: 'reject',
				description: 'Refuse a referral held for review, with the reason',
				action: 'Reject a held referral',
			},
			{ name: 'Update', value: 'update', description: 'Update a participant', action: 'Update a participant' },
		],
		default: 'enrol',
	},
	...del.description,
	...enrol.description,
	...get.description,
	...getAll.description,
	...getPortalLinks.description,
	...registerReferred.description,
	...review.description,
	...update.description,
];
