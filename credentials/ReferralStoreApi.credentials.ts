import type { ICredentialType, INodeProperties } from 'n8n-workflow';

const postgresOnly = { show: { backend: ['postgres'] } };

/**
 * Where the referral program keeps its data. Tested by the nodes that use it
 * (`referralStoreConnectionTest`): the test opens the store and runs its migrations.
 */
export class ReferralStoreApi implements ICredentialType {
	name = 'referralStoreApi';

	displayName = 'Referral Store API';

	icon = { light: 'file:../icons/referralStore.svg', dark: 'file:../icons/referralStore.dark.svg' } as const;

	documentationUrl = 'https://www.npmjs.com/package/n8n-nodes-pipedrive-referrals#the-referral-store';

	properties: INodeProperties[] = [
		{
			displayName: 'Backend',
			name: 'backend',
			type: 'options',
			options: [
				{
					name: 'SQLite (Embedded)',
					value: 'sqlite',
					description: 'A file next to n8n’s own data. For a single n8n instance.',
				},
				{
					name: 'PostgreSQL',
					value: 'postgres',
					description: 'For queue mode and several n8n workers',
				},
			],
			default: 'sqlite',
		},
		{
			displayName: 'Database File',
			name: 'sqlitePath',
			type: 'string',
			default: '',
			placeholder: 'referrals.sqlite',
			description:
				'Path of the SQLite file. Empty means referrals.sqlite in the n8n user folder (~/.n8n); a relative path is taken from that folder.',
			displayOptions: { show: { backend: ['sqlite'] } },
		},
		{
			displayName: 'Host',
			name: 'host',
			type: 'string',
			default: 'localhost',
			displayOptions: postgresOnly,
		},
		{
			displayName: 'Port',
			name: 'port',
			type: 'number',
			default: 5432,
			displayOptions: postgresOnly,
		},
		{
			displayName: 'Database',
			name: 'database',
			type: 'string',
			default: 'n8n',
			displayOptions: postgresOnly,
		},
		{
			displayName: 'User',
			name: 'user',
			type: 'string',
			default: 'postgres',
			displayOptions: postgresOnly,
		},
		{
			displayName: 'Password',
			name: 'password',
			type: 'string',
			typeOptions: { password: true },
			default: '',
			displayOptions: postgresOnly,
		},
		{
			displayName: 'SSL',
			name: 'ssl',
			type: 'options',
			options: [
				{ name: 'Disable', value: 'disable' },
				{ name: 'Require (No Certificate Check)', value: 'require' },
				{ name: 'Verify Certificate', value: 'verify' },
			],
			default: 'disable',
			displayOptions: postgresOnly,
		},
		{
			displayName: 'Schema',
			name: 'schema',
			type: 'string',
			default: 'referrals',
			description: 'Schema that holds the referral tables; created on first use',
			displayOptions: postgresOnly,
		},
	];
}
