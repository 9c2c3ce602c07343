/**
 * "The bundled campaign follows its node": a real n8n 2.41 with the bundled sign-up and qualify
 * workflows. A referrer signs up (the campaign is created: 25 EUR per qualified referral); then the
 * owner edits the reward amount on referrer-signup's Referral Campaign node as the editor does
 * (the parameters the editor saves, PATCH, then publish), and what happens next uses 40 EUR: the next
 * sign-up brings the campaign in line, and a referral qualified after it earns 40 EUR.
 */
import type { INode, INodeParameters } from 'n8n-workflow';
import { NodeHelpers } from 'n8n-workflow';

import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { ReferralCampaign } from '../../nodes/ReferralCampaign/ReferralCampaign.node';
import { startSandbox, type Sandbox } from '../../sandbox';
import { BUNDLED_PATHS, bundledWorkflows, QUALIFY_KEY_HEADER } from '../../scripts/n8n/bundle';
import { openForm, prepareBundledN8n, sqliteStorePath, submitForm, waitFor } from './helpers/bundled';
import { setUpOwner, type RealN8n } from './helpers/real-n8n';

const QUALIFY_KEY = 'e2e-follows-node-key-7b1e';
const FILES = ['referrer-signup.json', 'referred-signup.json', 'qualify-with-code-webhook.json'];

describe('real n8n: the bundled campaign follows what its node says', () => {
	let sandbox: Sandbox;
	let n8n: RealN8n;
	let cookie: string;
	let program: ReferralProgram;
	const workflows = bundledWorkflows().filter(({ file }) => FILES.includes(file));
	const signup = workflows.find(({ file }) => file === 'referrer-signup.json')!.workflow;

	beforeAll(async () => {
		sandbox = await startSandbox({ webhookTimeScale: 0.01 });
		n8n = await prepareBundledN8n(sandbox, { qualifyKey: QUALIFY_KEY, workflows: workflows.map(({ workflow }) => workflow) });
		program = new ReferralProgram(await openStore({ backend: 'sqlite', path: sqliteStorePath(n8n.userFolder) }), undefined, {
			publicUrl: () => n8n.instance.url,
		});
		cookie = await setUpOwner(n8n.instance);
		for (const form of [BUNDLED_PATHS.referrerForm, BUNDLED_PATHS.referredForm]) {
			await waitFor(async () => (await openForm(n8n.instance, form)).status === 200, 60_000, `/form/${form}`);
		}
	});

	afterAll(async () => {
		await closeAllStores();
		await n8n?.dispose();
		await sandbox?.close();
	});

	async function rest(method: string, path: string, body?: unknown): Promise<any> {
		const response = await fetch(`${n8n.instance.url}/rest${path}`, {
			method,
			headers: { cookie, 'content-type': 'application/json' },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const text = await response.text();
		if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
		return (JSON.parse(text) as { data: unknown }).data;
	}

	/** Signs a referrer up through the form; returns their code. */
	async function referrer(first: string, email: string): Promise<string> {
		const page = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, [first, 'Lee', email]);
		expect(page.heading).toBe("You're in!");
		return /Your code is (\S+)\./.exec(page.text)![1];
	}

	/** A friend signs up with the code and is qualified through the qualify webhook; returns the referrer's rewards. */
	async function referAndQualify(code: string, friendEmail: string) {
		const query = `ref=${encodeURIComponent(code)}`;
		const page = await submitForm(n8n.instance, BUNDLED_PATHS.referredForm, ['Friend', 'Of', friendEmail, code], query);
		expect(page.heading).toBe('Thank you!');
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		const friend = await program.getParticipant(campaign.id, { email: friendEmail });
		const answer = await fetch(`${n8n.instance.url}/webhook/${BUNDLED_PATHS.qualifyWebhook}`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', [QUALIFY_KEY_HEADER]: QUALIFY_KEY },
			body: JSON.stringify({ code: friend.code }),
		});
		expect(answer.status).toBe(200);
		const rewards = await program.rewards.list({ campaignId: campaign.id, referralId: friend.id }, { limit: 10 });
		return rewards.map((view) => view.reward);
	}

	it('creates the campaign from the node’s fields on the first sign-up: 25 EUR per qualified referral', async () => {
		const ann = await referrer('Ann', 'ann@example.com');
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		expect(campaign.rewardRules.perReferral).toEqual({ every: 1, reward: { kind: 'amount', amount: 25, currency: 'EUR' } });
		expect(await referAndQualify(ann, 'bo@example.com')).toEqual([expect.objectContaining({ amount: 25, currency: 'EUR', rule: 'per_referral' })]);
	});

	it('after the amount is edited in the editor and published, the next referral earns the new amount', async () => {
		// What the editor does: load the workflow, change the field, save (PATCH) and publish.
		const saved = (await rest('GET', `/workflows/${signup.id}`)) as { name: string; nodes: INode[]; connections: unknown; settings: unknown; versionId: string };
		const node = saved.nodes.find((n) => n.name === 'Referral Campaign')!;
		const description = new ReferralCampaign().description;
		// The editor keeps only values that differ from their defaults.
		node.parameters = NodeHelpers.getNodeParameters(description.properties, { ...node.parameters, referrerAmount: 40 } as INodeParameters, false, false, node, description)!;
		expect(node.parameters).toMatchObject({ referrerAmount: 40, ifExists: 'update' });
		const updated = (await rest('PATCH', `/workflows/${signup.id}`, { name: saved.name, nodes: saved.nodes, connections: saved.connections, settings: saved.settings })) as { versionId: string };
		expect(updated.versionId).not.toBe(saved.versionId);
		await rest('POST', `/workflows/${signup.id}/activate`, { versionId: updated.versionId });
		// n8n 2.41 publishes through an outbox: webhooks and forms run the published version, which
		// the outbox advances after the call returns. Wait as the editor's publishing indicator does.
		await waitFor(
			async () => ((await rest('GET', `/workflows/${signup.id}/publication-status`)) as { liveVersionId: string | null }).liveVersionId === updated.versionId,
			60_000,
			'the edited version to be live',
		);
		await waitFor(async () => (await openForm(n8n.instance, BUNDLED_PATHS.referrerForm)).status === 200, 60_000, 'the republished form');

		const cy = await referrer('Cy', 'cy@example.com');
		const campaign = await program.getCampaign({ slug: 'referral-program' });
		expect(campaign.rewardRules.perReferral).toEqual({ every: 1, reward: { kind: 'amount', amount: 40, currency: 'EUR' } });
		expect(await referAndQualify(cy, 'dee@example.com')).toEqual([expect.objectContaining({ amount: 40, currency: 'EUR', rule: 'per_referral' })]);
		// Ann's earlier reward keeps its amount; only what happens next follows the edit.
		const bo = await program.getParticipant(campaign.id, { email: 'bo@example.com' });
		expect((await program.rewards.list({ campaignId: campaign.id, referralId: bo.id }, { limit: 10 })).map((view) => view.reward.amount)).toEqual([25]);
		expect(sandbox.state.violations).toEqual([]);
	});
});
