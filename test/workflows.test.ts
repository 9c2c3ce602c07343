/**
 * The bundled workflow files, checked against the nodes they use: this package's node types as an
 * installed community package names them, with parameters these nodes have and option values they
 * offer, and n8n's own core nodes. The real-n8n suite (test/e2e/bundled.test.ts) imports and runs
 * them; this one says precisely which file and node is wrong, in a second.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { INodeProperties, INodeType, INodeTypeDescription } from 'n8n-workflow';

import { BUNDLED_CREDENTIALS, BUNDLED_PATHS, bundledWorkflows, type BundledWorkflowNode } from '../scripts/n8n/bundle';

const ROOT = path.resolve(__dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
	name: string;
	n8n: { nodes: string[] };
};

/** This package's node descriptions by type, loaded from the sources the manifest's dist files come from. */
const packageNodes = new Map<string, INodeTypeDescription>(
	manifest.n8n.nodes.map((distFile) => {
		const source = path.join(ROOT, distFile.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
		const className = path.basename(source, '.node.ts');
		const NodeClass = (require(source) as Record<string, new () => INodeType>)[className];
		const description = new NodeClass().description;
		return [`${manifest.name}.${description.name}`, description];
	}),
);

/** The core nodes the design allows in bundled workflows, with the versions used. */
const CORE_NODES: Record<string, number[]> = {
	// 2.1: the last Form Trigger version that answers through Respond to Webhook (no execution waits for an ending page).
	'n8n-nodes-base.formTrigger': [2.1],
	'n8n-nodes-base.form': [2.5],
	'n8n-nodes-base.webhook': [2.1],
	'n8n-nodes-base.respondToWebhook': [1.5],
	'n8n-nodes-base.scheduleTrigger': [1.2],
	'n8n-nodes-base.manualTrigger': [1],
	'n8n-nodes-base.if': [2.2],
	'n8n-nodes-base.emailSend': [2.1],
	'n8n-nodes-base.noOp': [1],
	'n8n-nodes-base.stickyNote': [1],
};

const EXPECTED_FILES = [
	'issue-rewards.json',
	'notify-referrers.json',
	'program-dashboard.json',
	'qualify-on-deal-stage.json',
	'qualify-with-code-webhook.json',
	'reconcile-pipedrive.json',
	'referred-signup.json',
	'referrer-portal.json',
	'referrer-signup.json',
	'sync-pipedrive-contacts.json',
];

const workflows = bundledWorkflows();
const allNodes = workflows.flatMap(({ file, workflow }) => workflow.nodes.map((node) => ({ file, node })));
const isExpression = (value: unknown) => typeof value === 'string' && value.startsWith('=');

/** Problems with one package node's top-level parameters: unknown names, values not offered. */
function parameterProblems(node: BundledWorkflowNode, description: INodeTypeDescription): string[] {
	const properties = description.properties;
	const known = new Set(properties.map((property) => property.name));
	if (description.polling) known.add('pollTimes');
	const problems: string[] = [];
	for (const [name, value] of Object.entries(node.parameters)) {
		if (!known.has(name)) {
			problems.push(`unknown parameter "${name}"`);
			continue;
		}
		const candidates = properties.filter((property) => property.name === name);
		if (candidates.some((property) => property.type === 'collection' || property.type === 'fixedCollection')) {
			const options = candidates.flatMap((property) => (property.options ?? []) as INodeProperties[]);
			for (const key of Object.keys(value as object)) {
				if (!options.some((option) => option.name === key)) problems.push(`unknown option "${name}.${key}"`);
			}
			continue;
		}
		const offered = candidates.flatMap((property) =>
			property.type === 'options' || property.type === 'multiOptions'
				? ((property.options ?? []) as Array<{ value: unknown }>).map((option) => option.value)
				: [],
		);
		const dynamic = candidates.some((property) => property.typeOptions?.loadOptionsMethod);
		if (offered.length === 0 || dynamic || isExpression(value)) continue;
		for (const chosen of Array.isArray(value) ? value : [value]) {
			if (!offered.includes(chosen)) problems.push(`"${name}" is ${JSON.stringify(chosen)}, not one of ${JSON.stringify(offered)}`);
		}
	}
	return problems;
}

describe('bundled workflows (workflows/*.json)', () => {
	it('are the ten the README lists, each importable as is (id, name, active, v1 execution order)', () => {
		expect(workflows.map(({ file }) => file)).toEqual(EXPECTED_FILES);
		for (const { file, workflow } of workflows) {
			expect({ file, id: workflow.id }).toEqual({ file, id: expect.stringMatching(/^[A-Za-z0-9]{16}$/) });
			expect(workflow.name).toMatch(/^Referral program: /);
			expect(workflow.active).toBe(true);
			expect(workflow.settings).toMatchObject({ executionOrder: 'v1' });
		}
		expect(new Set(workflows.map(({ workflow }) => workflow.id)).size).toBe(workflows.length);
	});

	it('use only this package’s node types (as installed) and the allowed core nodes, at known versions', () => {
		const problems = allNodes.flatMap(({ file, node }) => {
			const own = packageNodes.get(node.type);
			if (own) {
				const versions = Array.isArray(own.version) ? own.version : [own.version];
				return versions.includes(node.typeVersion) ? [] : [`${file} / ${node.name}: version ${node.typeVersion}`];
			}
			const core = CORE_NODES[node.type];
			if (!core) return [`${file} / ${node.name}: node type ${node.type} is not allowed`];
			return core.includes(node.typeVersion) ? [] : [`${file} / ${node.name}: ${node.type} version ${node.typeVersion}`];
		});
		expect(problems).toEqual([]);
		expect(allNodes.some(({ node }) => node.type.startsWith('CUSTOM.'))).toBe(false);
	});

	it('set only parameters this package’s nodes have, with values they offer', () => {
		const problems = allNodes.flatMap(({ file, node }) => {
			const description = packageNodes.get(node.type);
			return description ? parameterProblems(node, description).map((problem) => `${file} / ${node.name}: ${problem}`) : [];
		});
		expect(problems).toEqual([]);
	});

	it('connect existing nodes, with unique node ids and webhook ids across all files', () => {
		for (const { file, workflow } of workflows) {
			const names = new Set(workflow.nodes.map((node) => node.name));
			expect({ file, unique: names.size }).toEqual({ file, unique: workflow.nodes.length });
			for (const [from, outputs] of Object.entries(workflow.connections)) {
				expect({ file, from, exists: names.has(from) }).toEqual({ file, from, exists: true });
				for (const target of outputs.main.flat()) expect({ file, to: target.node, exists: names.has(target.node) }).toEqual({ file, to: target.node, exists: true });
			}
		}
		const ids = allNodes.map(({ node }) => node.id);
		expect(new Set(ids).size).toBe(ids.length);
		// Two workflows registering the same webhook id would clash when both are published.
		const webhookIds = allNodes.map(({ node }) => node.webhookId).filter(Boolean);
		expect(new Set(webhookIds).size).toBe(webhookIds.length);
	});

	it('reference the bundled credentials by id and name, of types the nodes accept', () => {
		const bundled = Object.values(BUNDLED_CREDENTIALS);
		for (const { file, node } of allNodes) {
			const accepted = packageNodes.get(node.type)?.credentials?.map((credential) => credential.name);
			for (const [type, ref] of Object.entries(node.credentials ?? {})) {
				expect({ file, node: node.name, ref }).toEqual({ file, node: node.name, ref: expect.objectContaining(bundled.find((b) => b.id === ref.id) ?? { id: 'a bundled credential' }) });
				if (accepted) expect({ file, node: node.name, type, accepted: accepted.includes(type) }).toEqual({ file, node: node.name, type, accepted: true });
			}
			if (packageNodes.has(node.type) && node.type !== `${manifest.name}.pipedriveReferralTrigger`) {
				expect({ file, node: node.name, store: node.credentials?.referralStoreApi?.id }).toEqual({
					file,
					node: node.name,
					store: BUNDLED_CREDENTIALS.store.id,
				});
			}
		}
	});

	it('each carry a sticky note saying what the workflow does and what to set up', () => {
		for (const { file, workflow } of workflows) {
			const notes = workflow.nodes.filter((node) => node.type === 'n8n-nodes-base.stickyNote').map((node) => String(node.parameters.content));
			expect({ file, note: notes.some((note) => /^## /.test(note) && /Set up/.test(note)) }).toEqual({ file, note: true });
		}
	});

	it('serve the public paths: two branded forms, the hidden ref field, the qualify webhook with header auth', () => {
		const forms = allNodes.filter(({ node }) => node.type === 'n8n-nodes-base.formTrigger').map(({ node }) => node);
		expect(forms.map((form) => form.parameters.options.path).sort()).toEqual([BUNDLED_PATHS.referredForm, BUNDLED_PATHS.referrerForm].sort());
		for (const form of forms) {
			expect(form.parameters).toMatchObject({ formTitle: expect.any(String), formDescription: expect.any(String), responseMode: 'responseNode' });
			expect(form.parameters.options).toMatchObject({ buttonLabel: expect.any(String), customCss: expect.stringContaining(':root') });
		}
		const referred = forms.find((form) => form.parameters.options.path === BUNDLED_PATHS.referredForm)!;
		expect(referred.parameters.formFields.values).toContainEqual({ fieldName: 'ref', fieldType: 'hiddenField' });

		const webhooks = allNodes
			.filter(({ node }) => node.type === 'n8n-nodes-base.webhook' && node.parameters.path !== BUNDLED_PATHS.dashboard)
			.map(({ node }) => node);
		const qualify = webhooks.filter((node) => node.parameters.httpMethod === 'POST');
		expect(qualify).toEqual([
			expect.objectContaining({
				parameters: expect.objectContaining({ httpMethod: 'POST', path: BUNDLED_PATHS.qualifyWebhook, authentication: 'headerAuth', responseMode: 'responseNode' }),
				credentials: { httpHeaderAuth: BUNDLED_CREDENTIALS.qualifyKey },
			}),
		]);
		// The referrer pages: public GETs, answered by their Respond to Webhook node.
		const pages = webhooks.filter((node) => node.parameters.httpMethod === 'GET');
		expect(pages.map((node) => node.parameters.path).sort()).toEqual([BUNDLED_PATHS.sharePage, BUNDLED_PATHS.statsPage]);
		for (const node of pages) expect(node.parameters).toMatchObject({ responseMode: 'responseNode' });
	});

	it('answer form visitors in the submission\'s response, before Pipedrive, with a hidden bot trap and no personal data kept on success', () => {
		for (const file of ['referrer-signup.json', 'referred-signup.json']) {
			const { workflow } = workflows.find((entry) => entry.file === file)!;
			// No Form (ending page / wait) node: nothing waits for a second page load.
			expect({ file, waits: workflow.nodes.filter((node) => ['n8n-nodes-base.form', 'n8n-nodes-base.wait'].includes(node.type)).length }).toEqual({ file, waits: 0 });
			expect(workflow.settings).toMatchObject({ saveDataSuccessExecution: 'none', saveDataErrorExecution: 'all' });
			const byName = new Map(workflow.nodes.map((node) => [node.name, node]));
			const form = workflow.nodes.find((node) => node.type === 'n8n-nodes-base.formTrigger')!;
			const fields = form.parameters.formFields.values as Array<{ fieldName: string }>;
			const trap = fields.findIndex((field) => (field as { fieldLabel?: string }).fieldLabel === 'Leave this field empty');
			expect(trap).toBeGreaterThan(0);
			expect(form.parameters.options.customCss).toContain(`[name="field-${trap}"]`);
			// The signed render-time stamp: made by the page's hidden field, checked first thing (its secret empty in the file).
			const stamp = fields.find((field) => field.fieldName === 'stamp') as { fieldType?: string; fieldValue?: string } | undefined;
			expect(stamp).toMatchObject({ fieldType: 'hiddenField', fieldValue: expect.stringContaining("$('Check Form Submission').params.stampSecret") });
			expect(workflow.connections[form.name].main[0].map((next: { node: string }) => next.node)).toEqual(['Check Form Submission']);
			expect(byName.get('Check Form Submission')!.parameters).toMatchObject({ resource: 'form', operation: 'check', stampSecret: '' });
			expect(workflow.connections['Check Form Submission'].main[0].map((next: { node: string }) => next.node)).toEqual(['Looks Like a Bot?']);
			// Every path from the form reaches a Respond to Webhook before any Pipedrive send.
			const walk = (name: string, answered: boolean, seen: Set<string>): void => {
				const node = byName.get(name)!;
				if (node.type.endsWith('.pipedriveReferralSync')) expect({ file, name, answered }).toEqual({ file, name, answered: true });
				const here = answered || node.type === 'n8n-nodes-base.respondToWebhook';
				for (const output of workflow.connections[name]?.main ?? []) {
					for (const next of output ?? []) {
						const key = `${next.node}:${here}`;
						if (!seen.has(key)) walk(next.node, here, new Set([...seen, key]));
					}
				}
			};
			walk(form.name, false, new Set());
		}
	});

	it('hand the visitor’s IP and browser from the form’s headers to every node that records them; the bundled campaign holds same-device referrals', () => {
		for (const file of ['referrer-signup.json', 'referred-signup.json']) {
			const { workflow } = workflows.find((entry) => entry.file === file)!;
			const form = workflow.nodes.find((node) => node.type === 'n8n-nodes-base.formTrigger')!;
			expect({ file, showHeaders: form.parameters.options.showHeaders }).toEqual({ file, showHeaders: true });
			const recording = workflow.nodes.filter((node) => ['enrol', 'registerReferred'].includes(node.parameters.operation));
			expect(recording.length).toBeGreaterThan(0);
			for (const node of recording) {
				expect({ file, node: node.name, fields: node.parameters.additionalFields }).toEqual({
					file,
					node: node.name,
					fields: expect.objectContaining({
						clientIp: expect.stringMatching(/^=\{\{ .*headers\?\.\['x-forwarded-for'\] \}\}$/),
						userAgent: expect.stringMatching(/^=\{\{ .*headers\?\.\['user-agent'\] \}\}$/),
					}),
				});
			}
		}
		const { workflow } = workflows.find((entry) => entry.file === 'referrer-signup.json')!;
		expect(workflow.nodes.find((node) => node.parameters.operation === 'create')!.parameters.fraudSettings).toMatchObject({ sameDeviceAction: 'flag' });
	});

	it('serve the program dashboard only behind Basic Auth: GET renders, POST applies a button, both as HTML that no page may frame', () => {
		const { workflow } = workflows.find(({ file }) => file === 'program-dashboard.json')!;
		const byName = new Map(workflow.nodes.map((node) => [node.name, node]));
		const hooks = workflow.nodes.filter((node) => node.type === 'n8n-nodes-base.webhook');
		expect(hooks.map((node) => [node.parameters.httpMethod, node.parameters.path, node.parameters.authentication, node.credentials])).toEqual([
			['GET', BUNDLED_PATHS.dashboard, 'basicAuth', { httpBasicAuth: BUNDLED_CREDENTIALS.dashboardLogin }],
			['POST', BUNDLED_PATHS.dashboard, 'basicAuth', { httpBasicAuth: BUNDLED_CREDENTIALS.dashboardLogin }],
		]);
		for (const hook of hooks) {
			const renderer = byName.get(workflow.connections[hook.name].main[0][0].node)!;
			expect(renderer).toMatchObject({
				type: 'n8n-nodes-pipedrive-referrals.referralDashboard',
				parameters: { operation: hook.parameters.httpMethod === 'GET' ? 'renderPage' : 'handleAction' },
				credentials: { referralPortalApi: BUNDLED_CREDENTIALS.portal },
			});
			const respond = byName.get(workflow.connections[renderer.name].main[0][0].node)!;
			expect(respond.parameters.options.responseHeaders.entries).toEqual(
				expect.arrayContaining([{ name: 'x-frame-options', value: 'DENY' }, { name: 'cache-control', value: 'no-store' }]),
			);
		}
	});

	it('serve the referrer pages as HTML with the status the Referral Portal node decides; the stats page signs with the portal credential', () => {
		const { workflow } = workflows.find(({ file }) => file === 'referrer-portal.json')!;
		const byName = new Map(workflow.nodes.map((node) => [node.name, node]));
		for (const [hook, page] of [['Share Page', 'share'], ['Stats Page', 'stats']] as const) {
			const [render] = workflow.connections[hook].main[0];
			const renderer = byName.get(render.node)!;
			expect(renderer).toMatchObject({ type: 'n8n-nodes-pipedrive-referrals.referralPortal', parameters: { page, campaign: { mode: 'slug', value: 'referral-program' } } });
			expect(Boolean(renderer.credentials?.referralPortalApi)).toBe(page === 'stats');
			const [respond] = workflow.connections[render.node].main[0];
			expect(byName.get(respond.node)!.parameters).toMatchObject({
				respondWith: 'text',
				responseBody: '={{ $json.html }}',
				options: {
					responseCode: '={{ $json.statusCode }}',
					responseHeaders: { entries: expect.arrayContaining([{ name: 'content-type', value: 'text/html; charset=utf-8' }, { name: 'cache-control', value: 'no-store' }]) },
				},
			});
		}
		// Page views keep no execution data: it would hold the visitor's token and the page.
		expect(workflow.settings).toMatchObject({ saveDataSuccessExecution: 'none' });
	});

	it('use the latest Referral Campaign node, and the campaign follows what its node says', () => {
		const type = `${manifest.name}.referralCampaign`;
		const versions = packageNodes.get(type)!.version as number[];
		const campaignNodes = allNodes.filter(({ node }) => node.type === type);
		expect(campaignNodes.length).toBeGreaterThan(0);
		for (const { file, node } of campaignNodes) expect({ file, node: node.name, version: node.typeVersion }).toEqual({ file, node: node.name, version: Math.max(...versions) });
		const creates = campaignNodes.filter(({ node }) => node.parameters.operation === 'create');
		expect(creates.map(({ file, node }) => ({ file, slug: node.parameters.additionalFields.slug, ifExists: node.parameters.ifExists }))).toEqual([
			{ file: 'referrer-signup.json', slug: 'referral-program', ifExists: 'update' },
		]);
	});

	it('keep reward delivery disabled until configured, with its failures going to Mark Failed', () => {
		const { workflow } = workflows.find(({ file }) => file === 'issue-rewards.json')!;
		const deliver = workflow.nodes.find((node) => node.type === 'n8n-nodes-base.emailSend')!;
		expect(deliver).toMatchObject({ disabled: true, onError: 'continueErrorOutput' });
		expect(workflow.connections[deliver.name].main[1]).toEqual([expect.objectContaining({ node: 'Mark Failed' })]);
	});
});

describe('the referrer emails (workflows/notify-referrers.json)', () => {
	const { workflow } = workflows.find(({ file }) => file === 'notify-referrers.json')!;
	const byName = new Map(workflow.nodes.map((node) => [node.name, node]));
	/** The nodes reached from `start`, in order along the first output of each. */
	const path = (start: string): BundledWorkflowNode[] => {
		const seen: BundledWorkflowNode[] = [];
		for (let name: string | undefined = start; name; name = workflow.connections[name]?.main[0]?.[0]?.node) seen.push(byName.get(name)!);
		return seen;
	};

	it('send four emails, each from its own Referral Trigger event, with the share and stats links of Get Portal Links', () => {
		const triggers = workflow.nodes.filter((node) => node.type.endsWith('.referralTrigger'));
		expect(triggers.map((node) => node.parameters.events)).toEqual([['participant.enrolled'], ['referral.registered'], ['referral.qualified'], ['reward.issued']]);
		for (const trigger of triggers) {
			const chain = path(trigger.name);
			const last = chain[chain.length - 1];
			expect({ trigger: trigger.name, last: last.type }).toEqual({ trigger: trigger.name, last: 'n8n-nodes-base.emailSend' });
			const links = chain.find((node) => node.parameters.operation === 'getPortalLinks');
			expect({ trigger: trigger.name, links: Boolean(links?.credentials?.referralPortalApi) }).toEqual({ trigger: trigger.name, links: true });
			expect(last.parameters.text).toEqual(expect.stringContaining('{{ $json.shareUrl }}'));
			expect(last.parameters.text).toEqual(expect.stringContaining('{{ $json.statsUrl }}'));
			expect(last.parameters.toEmail).toBe('={{ $json.email }}');
		}
		// Synced Pipedrive contacts are enrolled too: only people who joined through a form are welcomed.
		expect(path('Participant Enrolled')[1].parameters.conditions.conditions[0].leftValue).toContain("source === 'direct'");
		expect(path('Reward Issued')[path('Reward Issued').length - 1].parameters.text).toContain('couponCode');
	});

	it('keep every email disabled until an SMTP credential is set, and never stop on a failed send', () => {
		const emails = workflow.nodes.filter((node) => node.type === 'n8n-nodes-base.emailSend');
		expect(emails).toHaveLength(4);
		for (const email of emails) expect(email).toMatchObject({ disabled: true, onError: 'continueRegularOutput' });
		expect(emails.every((email) => email.credentials === undefined)).toBe(true);
	});
});
