/**
 * The committed description of the n8n runtime (scripts/n8n/runtime/): the pinned n8n version and
 * the lock it is installed from, read and checked. See install.ts for how they are used.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The committed description of the n8n runtime. */
export const RUNTIME_DIR = path.join(__dirname, 'runtime');
export const RUNTIME_PACKAGE_JSON = path.join(RUNTIME_DIR, 'package.json');
export const RUNTIME_LOCK = path.join(RUNTIME_DIR, 'package-lock.json');
export const RUNTIME_DOWNLOADS = path.join(RUNTIME_DIR, 'downloads.json');

const EXACT_VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

export function readJson<T>(file: string): T {
	return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/** The n8n version that scripts/n8n/runtime/package.json pins (an exact version). */
export function pinnedN8nVersion(file = RUNTIME_PACKAGE_JSON): string {
	const version = readJson<{ dependencies?: Record<string, string> }>(file).dependencies?.n8n;
	if (!version || !EXACT_VERSION.test(version)) {
		throw new Error(`${file} must pin "n8n" to an exact version (found ${JSON.stringify(version)})`);
	}
	return version;
}

/** The n8n version npm start and the suites run: the one the runtime package.json pins. */
export const DEFAULT_N8N_VERSION: string = pinnedN8nVersion();

export interface RuntimeLock {
	path: string;
	/** The n8n version the lock installs (`packages["node_modules/n8n"].version`). */
	version: string;
	/** sha256 of the lock file's bytes, hex. */
	sha256: string;
	/** Its first 12 hex digits: the cache folder's key. */
	hash: string;
	/** Packages in the locked tree (the root project excluded). */
	packages: number;
}

let lockMemo: { key: string; lock: RuntimeLock } | undefined;

/** Reads the runtime lock (memoised while the file is unchanged). */
export function runtimeLock(lockPath = RUNTIME_LOCK): RuntimeLock {
	const stat = fs.statSync(lockPath);
	const key = `${lockPath}:${stat.size}:${stat.mtimeMs}`;
	if (lockMemo?.key === key) return lockMemo.lock;
	const bytes = fs.readFileSync(lockPath);
	const sha256 = createHash('sha256').update(bytes).digest('hex');
	const parsed = JSON.parse(bytes.toString('utf8')) as { packages?: Record<string, { version?: string }> };
	const version = parsed.packages?.['node_modules/n8n']?.version;
	if (!version) throw new Error(`${lockPath} does not lock node_modules/n8n: regenerate it with \`npm run n8n:lock\``);
	const lock = { path: lockPath, version, sha256, hash: sha256.slice(0, 12), packages: Object.keys(parsed.packages!).length - 1 };
	lockMemo = { key, lock };
	return lock;
}

/** The cache folder name of a lock: `n8n-<version>-<12 hex of the lock's sha256>`. */
export function installFolderName(lock: RuntimeLock): string {
	return `n8n-${lock.version}-${lock.hash}`;
}
