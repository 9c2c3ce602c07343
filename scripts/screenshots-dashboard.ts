/**
 * The program dashboard for the README (docs/dashboard/*.png), part of `npm run screenshots`: the
 * bundled workflow in a real n8n on a seeded program (test/e2e/helpers/dashboard.ts), at desktop
 * and phone widths, in light and dark mode, logged in with the Basic Auth credential.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ReferralProgram } from '../lib/referrals/program';
import { closeAllStores, openStore } from '../lib/store';
import { startSandbox } from '../sandbox';
import { prepareBundledN8n, sqliteStorePath } from '../test/e2e/helpers/bundled';
import { seedDashboardProgram } from '../test/e2e/helpers/dashboard';
import { launchChromium } from './chromium';
import { BUNDLED_PATHS, bundledWorkflows, DASHBOARD_USER } from './n8n/bundle';
import { REPO_ROOT, sleep } from './n8n/proc';

const OUT_DIR = path.join(REPO_ROOT, 'docs', 'dashboard');
const PASSWORD = 'screenshots-dashboard-password';
const SIZES = { desktop: { width: 1280, height: 900, mobile: false }, phone: { width: 390, height: 844, mobile: true } };

export async function dashboardScreenshots(): Promise<void> {
	const sandbox = await startSandbox({});
	const n8n = await prepareBundledN8n(sandbox, {
		qualifyKey: 'screenshot-key',
		portalSecret: 'screenshots-dashboard-secret-0123456789abcdef',
		dashboardPassword: PASSWORD,
		env: { GENERIC_TIMEZONE: 'Europe/Berlin' },
		workflows: bundledWorkflows()
			.filter(({ file }) => file === 'program-dashboard.json')
			.map(({ workflow }) => workflow),
	});
	const browser = await launchChromium({ width: SIZES.desktop.width, height: SIZES.desktop.height });
	try {
		const clock = { now: new Date() };
		const program = new ReferralProgram(await openStore({ backend: 'sqlite', path: sqliteStorePath(n8n.userFolder) }), () => clock.now);
		await seedDashboardProgram(program, clock, { zone: 'Europe/Berlin', friends: 90 });
		fs.mkdirSync(OUT_DIR, { recursive: true });
		const { devtools } = browser;
		await devtools.send('Network.enable');
		await devtools.send('Network.setExtraHTTPHeaders', { headers: { authorization: `Basic ${Buffer.from(`${DASHBOARD_USER}:${PASSWORD}`).toString('base64')}` } });
		const url = `${n8n.instance.url}/webhook/${BUNDLED_PATHS.dashboard}?campaign=referral-program&period=30`;
		for (const size of ['desktop', 'phone'] as const) {
			for (const scheme of ['light', 'dark'] as const) {
				const { width, height, mobile } = SIZES[size];
				await devtools.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: mobile ? 2 : 1, mobile });
				await devtools.send('Emulation.setEmulatedMedia', { features: [{ name: 'prefers-color-scheme', value: scheme }] });
				await devtools.open(url);
				await sleep(500);
				const target = path.join(OUT_DIR, `dashboard-${size}-${scheme}.png`);
				fs.writeFileSync(target, await devtools.screenshot(null, true));
				process.stdout.write(`${path.relative(REPO_ROOT, target)}\n`);
			}
		}
	} finally {
		await browser.close();
		await closeAllStores();
		await n8n.dispose();
		await sandbox.close();
	}
}
