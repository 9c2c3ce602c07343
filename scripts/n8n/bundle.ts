/**
 * The bundled workflows (workflows/*.json) and the credentials they reference, for `npm start` and
 * the end-to-end suites. The workflow files name their credentials by these ids and names, so
 * importing credentials with the same ids wires them up without touching the workflows; a user
 * importing the files into their own n8n picks their credentials on each node instead.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './proc';

export const WORKFLOWS_DIR = path.join(REPO_ROOT, 'workflows');

/** The credentials the bundled workflows reference (id and name). */
export const BUNDLED_CREDENTIALS = {
	store: { id: 'referralStore001', name: 'Referral Store' },
	pipedrive: { id: 'pipedriveRefApi1', name: 'Pipedrive (referrals)' },
	qualifyKey: { id: 'referralQualifyK', name: 'Referral qualify key' },
	portal: { id: 'referralPortal01', name: 'Referral Portal secret' },
	dashboardLogin: { id: 'referralDashAuth', name: 'Referral dashboard login' },
} as const;

/** The program dashboard's Basic Auth user (the password is given, or made at random). */
export const DASHBOARD_USER = 'team';

/** The header the qualify-with-code webhook checks (its Header Auth credential's name). */
export const QUALIFY_KEY_HEADER = 'X-Referral-Key';

/** Public paths of the bundled workflows (forms under /form/, webhooks under /webhook/). */
export const BUNDLED_PATHS = {
	referrerForm: 'referral-signup',
	referredForm: 'refer',
	qualifyWebhook: 'referrals/qualify',
	sharePage: 'referrals/share',
	statsPage: 'referrals/stats',
	dashboard: 'referrals/dashboard',
} as const;

export interface BundledWorkflowNode {
	id: string;
	name: string;
	type: string;
	typeVersion: number;
	position: [number, number];
	parameters: Record<string, any>;
	credentials?: Record<string, { id: string; name: string }>;
	webhookId?: string;
	disabled?: boolean;
	onError?: string;
}

export interface BundledWorkflow {
	id: string;
	name: string;
	active: boolean;
	nodes: BundledWorkflowNode[];
	connections: Record<string, { main: Array<Array<{ node: string; type: string; index: number }>> }>;
	settings: Record<string, unknown>;
	[key: string]: unknown;
}

/** Every workflows/*.json by file name, sorted. */
export function bundledWorkflows(dir = WORKFLOWS_DIR): Array<{ file: string; workflow: BundledWorkflow }> {
	return fs
		.readdirSync(dir)
		.filter((name) => name.endsWith('.json'))
		.sort()
		.map((file) => ({ file, workflow: JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as BundledWorkflow }));
}

export type StoreSettings =
	| { backend: 'sqlite'; sqlitePath: string }
	| { backend: 'postgres'; host: string; port: number; database: string; user: string; password: string; schema: string };

export interface PipedriveSettings {
	apiToken: string;
	companyDomain: string;
	/** The sandbox's URL; empty for real Pipedrive. */
	baseUrl?: string;
}

/**
 * The bundled credentials in the shape `n8n import:credentials` takes (plain data: the import
 * encrypts it with the instance's key). Without a portal secret or a dashboard password, random ones are made.
 */
export function bundledCredentialFiles(settings: {
	store: StoreSettings;
	pipedrive: PipedriveSettings;
	qualifyKey: string;
	portalSecret?: string;
	dashboardPassword?: string;
}): unknown[] {
	const store =
		settings.store.backend === 'sqlite'
			? { backend: 'sqlite', sqlitePath: settings.store.sqlitePath }
			: { ...settings.store, ssl: 'disable' };
	return [
		{ ...BUNDLED_CREDENTIALS.store, type: 'referralStoreApi', data: store },
		{
			...BUNDLED_CREDENTIALS.pipedrive,
			type: 'pipedriveReferralApi',
			data: {
				apiToken: settings.pipedrive.apiToken,
				companyDomain: settings.pipedrive.companyDomain,
				baseUrl: settings.pipedrive.baseUrl ?? '',
			},
		},
		{ ...BUNDLED_CREDENTIALS.qualifyKey, type: 'httpHeaderAuth', data: { name: QUALIFY_KEY_HEADER, value: settings.qualifyKey } },
		{ ...BUNDLED_CREDENTIALS.portal, type: 'referralPortalApi', data: { secret: settings.portalSecret ?? randomBytes(36).toString('base64url') } },
		{
			...BUNDLED_CREDENTIALS.dashboardLogin,
			type: 'httpBasicAuth',
			data: { user: DASHBOARD_USER, password: settings.dashboardPassword ?? randomBytes(18).toString('base64url') },
		},
	];
}

/** The demo's SMTP credential: the local mail catcher (scripts/mail-catcher.ts), no TLS, no login. */
export const DEMO_MAIL_CREDENTIAL = { id: 'demoMailCatcher1', name: 'Demo mail catcher' } as const;

export function demoMailCredentialFile(smtpPort: number): unknown {
	return { ...DEMO_MAIL_CREDENTIAL, type: 'smtp', data: { user: '', password: '', host: '127.0.0.1', port: smtpPort, secure: false, disableStartTls: true } };
}

/**
 * A bundled workflow as the demo runs it: its Send Email nodes enabled and sending to the mail
 * catcher. The files themselves keep them disabled until a user sets up SMTP.
 */
export function withDemoMail(workflow: BundledWorkflow): BundledWorkflow {
	if (!workflow.nodes.some((node) => node.type === 'n8n-nodes-base.emailSend')) return workflow;
	const copy = JSON.parse(JSON.stringify(workflow)) as BundledWorkflow;
	for (const node of copy.nodes) {
		if (node.type !== 'n8n-nodes-base.emailSend') continue;
		delete node.disabled;
		node.credentials = { smtp: { ...DEMO_MAIL_CREDENTIAL } };
	}
	return copy;
}

/**
 * A bundled workflow with its form stamps signed with `secret` (the Check Form Submission nodes'
 * Stamp Secret), as an import by the n8n CLI needs: it keeps the workflow's published ID, which
 * alone would make the stamps forgeable.
 */
export function withStampSecret(workflow: BundledWorkflow, secret: string): BundledWorkflow {
	const isCheck = (node: BundledWorkflowNode) => node.type.endsWith('.referralCampaign') && node.parameters.resource === 'form';
	if (!workflow.nodes.some(isCheck)) return workflow;
	const copy = JSON.parse(JSON.stringify(workflow)) as BundledWorkflow;
	for (const node of copy.nodes) if (isCheck(node)) node.parameters.stampSecret = secret;
	return copy;
}
