/**
 * `npm run screenshots`: a PNG of each bundled workflow open in the real n8n editor, for the README
 * (docs/workflows/<file>.png), and of the Referral Campaign node's reward fields (docs/nodes/*.png). Sets up n8n as the end-to-end suite does (the package installed as a
 * community package, the credentials and workflows imported, the sandbox as Pipedrive), then drives
 * headless Chromium over the DevTools protocol with the owner's session cookie. Then the referrer's
 * share and stats pages and an email (docs/referrer/*.png, see screenshots-referrer.ts).
 * Then the program dashboard (docs/dashboard/*.png, see screenshots-dashboard.ts).
 * SCREENSHOTS=workflows, SCREENSHOTS=referrer or SCREENSHOTS=dashboard takes one part only.
 *
 * Needs Debian's Chromium (`apt-get install chromium`; CHROMIUM overrides /usr/bin/chromium). Not
 * part of CI: the PNGs are committed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startSandbox } from '../sandbox';
import { prepareBundledN8n } from '../test/e2e/helpers/bundled';
import { setUpOwner } from '../test/e2e/helpers/real-n8n';
import { BUNDLED_CREDENTIALS, bundledWorkflows } from './n8n/bundle';
import { launchChromium, type Devtools } from './chromium';
import { PACKAGE_NAME } from './n8n/package';
import { dashboardScreenshots } from './screenshots-dashboard';
import { referrerScreenshots } from './screenshots-referrer';
import { REPO_ROOT, sleep } from './n8n/proc';

const OUT_DIR = path.join(REPO_ROOT, 'docs', 'workflows');
const NODES_DIR = path.join(REPO_ROOT, 'docs', 'nodes');

/** A double-sided program with milestones and fraud protection, to show the fields it uses (saved over REST, never published). */
const FIELDS_EXAMPLE = {
	name: 'Reward fields example',
	settings: { executionOrder: 'v1' },
	connections: {},
	nodes: [
		{
			id: 'b4f0c2a1-9d7e-4b53-8a61-2f3c5e7d9a10',
			name: 'Referral Campaign',
			type: `${PACKAGE_NAME}.referralCampaign`,
			typeVersion: 2,
			position: [0, 0],
			parameters: {
				resource: 'campaign',
				operation: 'create',
				name: 'Spring referral program',
				ifExists: 'update',
				rewardWho: 'both',
				referrerEarns: ['perReferral', 'milestones'],
				milestones: { milestone: [{ at: 5, amount: 50 }, { at: 10, rewardType: 'custom', payload: '{"gift": "hoodie"}' }] },
				maxRewardsPerReferrer: 20,
				friendRewardType: 'coupon',
				holdDays: 14,
				requireApproval: true,
				couponCodes: 'WELCOME-7GQ2\nWELCOME-K9PX',
				fraudSettings: { blockedEmailDomains: { domain: [{ domain: 'mailinator.com' }] }, maxReferralsPerReferrerPerDay: 5 },
			},
			credentials: { referralStoreApi: BUNDLED_CREDENTIALS.store },
		},
	],
};

/** Node panels to take: the bundled campaign node as imported, and the example above. */
const NODE_SHOTS = [
	{ file: 'referral-campaign-rewards.png', workflow: 'referrer-signup.json', node: 'Referral Campaign', height: 1300 },
	{ file: 'referral-campaign-double-sided.png', workflow: FIELDS_EXAMPLE.name, node: 'Referral Campaign', height: 2450 },
];


/** Hides the editor's "Production Checklist" card, which would cover the workflow's note. */
const CLOSE_POPUPS = `(() => {
	const title = [...document.querySelectorAll('body *')].find((el) => el.childElementCount === 0 && el.textContent.trim() === 'Production Checklist');
	let card = title;
	while (card && card.parentElement && !/Enable MCP access|Track time saved/.test(card.textContent)) card = card.parentElement;
	if (card && card !== document.body) card.style.display = 'none';
	return Boolean(card);
})()`;
const WIDTH = 1600;
const HEIGHT = 900;

/** Waits until every text is on the page (the editor draws lazily), then a little longer for layout. */
async function waitForTexts(devtools: Devtools, texts: string[]): Promise<void> {
	const drawn = `${JSON.stringify(texts)}.every((text) => document.body.innerText.includes(text))`;
	for (let waited = 0; waited < 60_000; waited += 500) {
		const check = (await devtools.send('Runtime.evaluate', { expression: drawn, returnByValue: true })) as { result: { value: boolean } };
		if (check.result.value) break;
		await sleep(500);
	}
	await sleep(3_000);
}

/** The node's panel, opened by its URL (/workflow/<id>/<node id>), in a window tall enough for every field. */
async function nodeShots(devtools: Devtools, baseUrl: string, cookie: string): Promise<void> {
	fs.mkdirSync(NODES_DIR, { recursive: true });
	const created = await fetch(`${baseUrl}/rest/workflows`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(FIELDS_EXAMPLE) });
	if (!created.ok) throw new Error(`saving the example workflow: ${created.status} ${await created.text()}`);
	const example = { ...FIELDS_EXAMPLE, id: ((await created.json()) as { data: { id: string } }).data.id };
	const all = [...bundledWorkflows().map(({ file, workflow }) => ({ key: file, workflow })), { key: FIELDS_EXAMPLE.name, workflow: example }];
	for (const shot of NODE_SHOTS) {
		const { workflow } = all.find(({ key }) => key === shot.workflow)!;
		const node = workflow.nodes.find((n) => n.name === shot.node)!;
		await devtools.send('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: shot.height, deviceScaleFactor: 1, mobile: false });
		await devtools.send('Page.navigate', { url: `${baseUrl}/workflow/${workflow.id}/${node.id}` });
		await waitForTexts(devtools, ['Who Gets Rewarded', 'Define Rewards']);
		await devtools.send('Runtime.evaluate', { expression: CLOSE_POPUPS });
		const png = (await devtools.send('Page.captureScreenshot', { format: 'png' })) as { data: string };
		const target = path.join(NODES_DIR, shot.file);
		fs.writeFileSync(target, Buffer.from(png.data, 'base64'));
		process.stdout.write(`${path.relative(REPO_ROOT, target)}\n`);
	}
}

/** SCREENSHOTS=workflows, SCREENSHOTS=referrer or SCREENSHOTS=dashboard takes one part only. */
async function main(): Promise<void> {
	const part = process.env.SCREENSHOTS ?? 'all';
	if (part === 'all' || part === 'workflows') await workflowScreenshots();
	if (part === 'all' || part === 'referrer') await referrerScreenshots();
	if (part === 'all' || part === 'dashboard') await dashboardScreenshots();
}

async function workflowScreenshots(): Promise<void> {
	const sandbox = await startSandbox({});
	const n8n = await prepareBundledN8n(sandbox, {
		qualifyKey: 'screenshot-key',
		workflows: bundledWorkflows().map(({ workflow }) => workflow),
	});
	const browser = await launchChromium({ width: WIDTH, height: HEIGHT });
	try {
		const cookie = await setUpOwner(n8n.instance);
		const { devtools } = browser;
		await devtools.send('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: HEIGHT, deviceScaleFactor: 1, mobile: false });
		for (const part of cookie.split('; ')) {
			const [name, ...value] = part.split('=');
			await devtools.send('Network.setCookie', { name, value: value.join('='), url: n8n.instance.url });
		}
		fs.mkdirSync(OUT_DIR, { recursive: true });
		for (const { file, workflow } of bundledWorkflows()) {
			await devtools.send('Page.navigate', { url: `${n8n.instance.url}/workflow/${workflow.id}` });
			// The editor loads (slowly the first time), draws the nodes, then fits the canvas to them.
			await waitForTexts(devtools, workflow.nodes.filter((node) => node.type !== 'n8n-nodes-base.stickyNote').map((node) => node.name));
			await devtools.send('Runtime.evaluate', { expression: CLOSE_POPUPS });
			await sleep(1_000);
			const shot = (await devtools.send('Page.captureScreenshot', { format: 'png' })) as { data: string };
			const target = path.join(OUT_DIR, file.replace(/\.json$/, '.png'));
			fs.writeFileSync(target, Buffer.from(shot.data, 'base64'));
			process.stdout.write(`${path.relative(REPO_ROOT, target)}\n`);
		}
		await nodeShots(devtools, n8n.instance.url, cookie);
	} finally {
		await browser.close();
		await n8n.dispose();
		await sandbox.close();
	}
}

main().catch((error) => {
	process.stderr.write(`screenshots failed: ${error instanceof Error ? error.stack : String(error)}\n`);
	process.exit(1);
});
