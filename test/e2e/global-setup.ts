/**
 * Once per `npm run test:e2e`: make sure n8n is installed (the first time ~5 min, outside any test
 * timeout) and build + pack the package once for all suites (E2E_TARBALL, unless already set).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_N8N_VERSION, ensureN8n } from '../../scripts/n8n/install';
import { packPackage } from '../../scripts/n8n/package';

export default async function globalSetup(): Promise<void> {
	await ensureN8n(process.env.N8N_VERSION || DEFAULT_N8N_VERSION);
	if (process.env.E2E_TARBALL) return;
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'n8n-e2e-pack-'));
	process.env.E2E_TARBALL = await packPackage({ destination: dir });
	process.env.E2E_PACK_DIR = dir; // removed by global-teardown.ts
}
