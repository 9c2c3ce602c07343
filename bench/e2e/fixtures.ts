// What the end-to-end benchmark loads into n8n besides the bundled workflows: the baseline
// workflow, the peer flows' credentials and tables, and the referral store seeded with pending
// referrals to qualify.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NodeHelpers, type INode, type INodeParameters } from 'n8n-workflow';

import { ReferralProgram } from '../../lib/referrals/program';
import { rulesFromForm, type RuleForm } from '../../lib/referrals/rule-form';
// `.js`, as in bench/store.ts: without an extension tsx finds the node's codex file (.node.json).
import { ReferralCampaign } from '../../nodes/ReferralCampaign/ReferralCampaign.node.js';
import { closeAllStores, openStore, type StoreConfig } from '../../lib/store';
import type { TestDatabase } from '../../test/helpers/postgres';
import { BUNDLED_CREDENTIALS, bundledWorkflows, type BundledWorkflow } from '../../scripts/n8n/bundle';
import { seedReferrerOfSize } from '../big-referrer';

export const BASELINE_PATH = 'bench/baseline';
export const PEER_DIR = path.join(__dirname, '..', 'peer');
export const PEER_PATHS = { form: 'peer-refer', dealWebhook: 'peer-pipedrive-deal' };
export const CAMPAIGN_SLUG = 'referral-program';
const LINK_TEMPLATE = 'http://localhost:5678/form/refer?ref={{code}}';

/** The bundled workflows by file name (without .json). */
export function bundled(...names: string[]): BundledWorkflow[] {
	const all = new Map(bundledWorkflows().map(({ file, workflow }) => [file.replace(/\.json$/, ''), workflow]));
	return names.map((name) => {
		const workflow = all.get(name);
		if (!workflow) throw new Error(`no bundled workflow ${name}`);
		return workflow;
	});
}

/**
 * The referrer-signup workflow with the campaign's referral limits off: the side-by-side run signs
 * up hundreds of friends under ten referrers within minutes, which the bundled limits (10 an hour,
 * 25 a day per referrer) would hold for review. flood.test.ts proves the limits.
 */
export function referrerSignupWithoutLimits(): BundledWorkflow {
	const copy = JSON.parse(JSON.stringify(bundled('referrer-signup')[0])) as BundledWorkflow;
	const campaign = copy.nodes.find((node) => node.name === 'Referral Campaign')!;
	const fraud = campaign.parameters.fraudSettings as Record<string, unknown>;
	campaign.parameters.fraudSettings = { ...fraud, maxReferralsPerReferrerPerHour: 0, maxReferralsPerReferrerPerDay: 0 };
	return copy;
}

/** The smallest webhook workflow n8n can answer with: the floor every figure is compared to. */
export function baselineWorkflow(): BundledWorkflow {
	return {
		id: 'benchBaseline001',
		name: 'Bench baseline: Webhook -> Respond to Webhook',
		active: false,
		nodes: [
			{
				parameters: { httpMethod: 'POST', path: BASELINE_PATH, authentication: 'headerAuth', responseMode: 'responseNode', options: {} },
				id: '0b0b6a52-3c1e-4a53-9d6c-0c3bb1f7a001',
				name: 'Webhook',
				type: 'n8n-nodes-base.webhook',
				typeVersion: 2.1,
				position: [0, 0],
				webhookId: '0b0b6a52-3c1e-4a53-9d6c-0c3bb1f7a0aa',
				credentials: { httpHeaderAuth: { id: BUNDLED_CREDENTIALS.qualifyKey.id, name: BUNDLED_CREDENTIALS.qualifyKey.name } },
			},
			{
				// No expression: what n8n itself costs for a webhook answered by a second node.
				parameters: { respondWith: 'firstIncomingItem', options: {} },
				id: '0b0b6a52-3c1e-4a53-9d6c-0c3bb1f7a002',
				name: 'Respond',
				type: 'n8n-nodes-base.respondToWebhook',
				typeVersion: 1.5,
				position: [220, 0],
			},
		],
		connections: { Webhook: { main: [[{ node: 'Respond', type: 'main', index: 0 }]] } },
		settings: { executionOrder: 'v1' },
	} as unknown as BundledWorkflow;
}

export function peerWorkflows(): BundledWorkflow[] {
	return ['peer-referred-signup.json', 'peer-qualify-on-deal-won.json'].map(
		(file) => JSON.parse(fs.readFileSync(path.join(PEER_DIR, file), 'utf8')) as BundledWorkflow,
	);
}

export const PEER_WEBHOOK_AUTH = { user: 'pipedrive', password: 'peer-webhook-secret-5d1c' };

/** The credentials the peer flows use, in `n8n import:credentials` shape. */
export function peerCredentials(settings: { oauthToken: string; database: string; host: string; port: number; user: string; password: string }): unknown[] {
	return [
		{
			id: 'peerPipedrive001',
			name: 'Pipedrive (peer)',
			type: 'pipedriveOAuth2Api',
			data: {
				clientId: 'peer-bench',
				clientSecret: 'peer-bench',
				oauthTokenData: { access_token: settings.oauthToken, token_type: 'Bearer', refresh_token: 'unused', expires_in: 86_400 },
			},
		},
		{
			id: 'peerPostgres0001',
			name: 'Postgres (peer)',
			type: 'postgres',
			data: { host: settings.host, port: settings.port, database: settings.database, user: settings.user, password: settings.password, ssl: 'disable' },
		},
		{ id: 'peerWebhookAuth1', name: 'Pipedrive webhook (peer)', type: 'httpBasicAuth', data: PEER_WEBHOOK_AUTH },
	];
}

export async function createPeerTables(db: TestDatabase): Promise<void> {
	await db.query(fs.readFileSync(path.join(PEER_DIR, 'schema.sql'), 'utf8'));
}

/** Referrals per seeded referrer: a referrer's qualified count drives their reward rules. */
const REFERRALS_PER_REFERRER = 10;

/** The reward rules a Referral Campaign node's fields give, with the defaults n8n fills in when it runs. */
function rulesOf(node: INode) {
	const description = new ReferralCampaign().description;
	const parameters = NodeHelpers.getNodeParameters(description.properties, node.parameters as INodeParameters, true, false, node, description);
	return rulesFromForm(parameters as RuleForm);
}

/**
 * The campaign the bundled workflows use (as the referrer form creates it), and `count` people
 * registered under referrers of ten referrals each: pending referrals, each with a code to qualify.
 */
export async function seedPendingReferrals(config: StoreConfig, count: number, prefix = ''): Promise<string[]> {
	const store = await openStore(config);
	try {
		const program = new ReferralProgram(store);
		const campaign = await bundledCampaign(program);
		const codes: string[] = [];
		// Chunks of 500 referrals (a multiple of REFERRALS_PER_REFERRER): their referrers in one batch, then them.
		for (let start = 0; start < count; start += 500) {
			const size = Math.min(500, count - start);
			const referrers = Array.from({ length: Math.ceil(size / REFERRALS_PER_REFERRER) }, (_, i) => ({
				email: `${prefix}referrer-${start / REFERRALS_PER_REFERRER + i}@bench.example`,
			}));
			const referrerCodes = (await program.enrol(campaign.id, referrers, { stopOnError: true })).map((outcome) => {
				if (!outcome.ok) throw outcome.error;
				return outcome.value.participant.code;
			});
			const inputs = Array.from({ length: size }, (_, i) => ({
				code: referrerCodes[Math.floor(i / REFERRALS_PER_REFERRER)],
				email: `${prefix}pending-${start + i}@bench.example`,
			}));
			for (const outcome of await program.registerReferred(campaign.id, inputs, { stopOnError: true })) {
				if (!outcome.ok) throw outcome.error;
				codes.push(outcome.value.participant.code);
			}
		}
		return codes;
	} finally {
		await closeAllStores();
	}
}

/**
 * A referrer of the bundled campaign with `qualified` qualified referrals (and their rewards),
 * seeded in batches, and `pending` referrals of theirs to qualify: their codes.
 */
export async function seedBigReferrer(config: StoreConfig, qualified: number, pending: number): Promise<string[]> {
	const store = await openStore(config);
	try {
		const program = new ReferralProgram(store);
		const campaign = await bundledCampaign(program);
		const referrals = await seedReferrerOfSize(program, store, campaign.id, { name: 'big-referrer', qualified, pending, linkTemplate: LINK_TEMPLATE });
		return referrals.map((referral) => referral.code);
	} finally {
		await closeAllStores();
	}
}

/** The campaign the bundled workflows use, with the rules the referrer form creates it with. */
async function bundledCampaign(program: ReferralProgram) {
	const [referrerSignup] = bundled('referrer-signup');
	const campaignNode = referrerSignup.nodes.find((node) => node.name === 'Referral Campaign')!;
	const { campaign } = await program.ensureCampaign(
		{
			name: campaignNode.parameters.name,
			slug: CAMPAIGN_SLUG,
			rewardRules: rulesOf(campaignNode as unknown as INode),
		},
		LINK_TEMPLATE,
	);
	return campaign;
}
