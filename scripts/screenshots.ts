/**
 * `npm run screenshots`: a PNG of each bundled workflow open in the real n8n editor, for the README
 * (docs/workflows/<file>.png). Sets up n8n as the end-to-end suite does (the package installed as a
 * community package, the credentials and workflows imported, the sandbox as Pipedrive), then drives
 * headless Chromium over the DevTools protocol with the owner's session cookie. Then the referrer's
 * share and stats pages and an email (docs/referrer/*.png, see screenshots-referrer.ts).
 * SCREENSHOTS=workflows or SCREENSHOTS=referrer takes one part only.
 *
 * Needs Debian's Chromium (`apt-get install chromium`; CHROMIUM overrides /usr/bin/chromium). Not
 * part of CI: the PNGs are committed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startSandbox } from '../sandbox';
import { prepareBundledN8n } from '../test/e2e/helpers/bundled';
import { setUpOwner } from '../test/e2e/helpers/real-n8n';
import { bundledWorkflows } from './n8n/bundle';
import { launchChromium } from './chromium';
import { referrerScreenshots } from './screenshots-referrer';
import { REPO_ROOT, sleep } from './n8n/proc';

const OUT_DIR = path.join(REPO_ROOT, 'docs', 'workflows');

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

/** SCREENSHOTS=workflows or SCREENSHOTS=referrer takes one part only. */
async function main(): Promise<void> {
	const part = process.env.SCREENSHOTS ?? 'all';
	if (part === 'all' || part === 'workflows') await workflowScreenshots();
	if (part === 'all' || part === 'referrer') await referrerScreenshots();
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
			const names = workflow.nodes.filter((node) => node.type !== 'n8n-nodes-base.stickyNote').map((node) => node.name);
			const drawn = `${JSON.stringify(names)}.every((name) => document.body.innerText.includes(name))`;
			for (let waited = 0; waited < 60_000; waited += 500) {
				const check = (await devtools.send('Runtime.evaluate', { expression: drawn, returnByValue: true })) as { result: { value: boolean } };
				if (check.result.value) break;
				await sleep(500);
			}
			await sleep(3_000);
			await devtools.send('Runtime.evaluate', { expression: CLOSE_POPUPS });
			await sleep(1_000);
			const shot = (await devtools.send('Page.captureScreenshot', { format: 'png' })) as { data: string };
			const target = path.join(OUT_DIR, file.replace(/\.json$/, '.png'));
			fs.writeFileSync(target, Buffer.from(shot.data, 'base64'));
			process.stdout.write(`${path.relative(REPO_ROOT, target)}\n`);
		}
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
