/**
 * sqlite3, n8n's one native module, compiled beside the main `npm ci`: the build plan cut out of
 * the runtime lock, the compiled binding kept in the cache, and the load check of an install.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lockClosure, type LockPackage } from './lock-tree';
import { VERIFIED_MARKER, type NodeHeadersPin } from './node-headers';
import { formatDuration, log, npmCommand, run, withRetries } from './proc';
import { readJson, type RuntimeLock } from './runtime-files';

export interface Sqlite3Plan {
	/** Where the lock puts sqlite3 (`node_modules/sqlite3`). */
	location: string;
	version: string;
	/**
	 * A lock of sqlite3 and everything it depends on (the entries of the runtime lock, at the same
	 * places, each with its address and sha512): what compiling sqlite3 needs (node-addon-api for
	 * the headers, tar to unpack SQLite's source, node-gyp).
	 */
	subLock: { name: string; lockfileVersion: 3; requires: true; packages: Record<string, unknown> };
	/** `<root>/sqlite3-<version>-<key>`: the compiled binding, reused while the inputs are the same. */
	dir: string;
	root: string;
	headers: NodeHeadersPin;
}

/**
 * What compiling sqlite3 on its own needs, from the lock. Undefined when the lock does not have
 * exactly one sqlite3, or its dependencies are not all in the lock; the installer then falls back
 * to `npm rebuild sqlite3` inside the install.
 */
export function sqlite3BuildPlan(lock: RuntimeLock, root: string, headers: NodeHeadersPin): Sqlite3Plan | undefined {
	const packages = readJson<{ packages: Record<string, LockPackage> }>(lock.path).packages;
	const locations = Object.keys(packages).filter((key) => /(^|\/)node_modules\/sqlite3$/.test(key));
	if (locations.length !== 1) return undefined;
	const location = locations[0];
	const version = packages[location].version;
	if (!version || packages[location].link) return undefined;
	const closure = lockClosure(packages, [location]);
	if (!closure.ok) return undefined;
	const subPackages: Record<string, unknown> = { '': { name: 'sqlite3-build', dependencies: { sqlite3: version } } };
	for (const at of closure.locations) subPackages[at] = packages[at];
	const subLock = { name: 'sqlite3-build', lockfileVersion: 3 as const, requires: true as const, packages: subPackages };
	const key = createHash('sha256')
		.update([JSON.stringify(subLock), headers.integrity, process.platform, process.arch].join('\n'))
		.digest('hex')
		.slice(0, 12);
	return { location, version, subLock, dir: path.join(root, `sqlite3-${version}-${key}`), root, headers };
}

/** The compiled node_sqlite3.node for the plan, compiling it (about 2 min) unless already kept. */
export async function ensureSqlite3Binding(plan: Sqlite3Plan, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<string> {
	const kept = path.join(plan.dir, 'node_sqlite3.node');
	if (fs.existsSync(path.join(plan.dir, VERIFIED_MARKER)) && fs.existsSync(kept)) {
		log(`[2/2] sqlite3@${plan.version} already compiled for these headers: ${plan.dir}`);
		return kept;
	}
	const started = Date.now();
	const tmp = fs.mkdtempSync(path.join(plan.root, `.${path.basename(plan.dir)}.tmp-${process.pid}-`));
	try {
		const step = `fetching sqlite3@${plan.version} and its ${Object.keys(plan.subLock.packages).length - 2} dependencies`;
		await withRetries(step, async () => {
			fs.rmSync(path.join(tmp, 'node_modules'), { recursive: true, force: true });
			fs.writeFileSync(
				path.join(tmp, 'package.json'),
				JSON.stringify({ name: 'sqlite3-build', private: true, dependencies: { sqlite3: plan.version } }, null, 2) + '\n',
			);
			fs.writeFileSync(path.join(tmp, 'package-lock.json'), JSON.stringify(plan.subLock, null, 2) + '\n');
			await run(npmCommand(), ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: tmp, env });
		}, { signal });
		log(`[2/2] compiling sqlite3@${plan.version} (SQLite from source) while npm ci runs ...`);
		await run(npmCommand(), ['rebuild', 'sqlite3'], { cwd: tmp, env });
		const built = path.join(tmp, plan.location, 'build', 'Release', 'node_sqlite3.node');
		if (!fs.existsSync(built)) throw new Error('compiling sqlite3 finished but produced no build/Release/node_sqlite3.node');
		const out = path.join(tmp, 'out');
		fs.mkdirSync(out);
		fs.copyFileSync(built, path.join(out, 'node_sqlite3.node'));
		fs.writeFileSync(
			path.join(out, VERIFIED_MARKER),
			JSON.stringify({ sqlite3: plan.version, packages: Object.keys(plan.subLock.packages).length - 1, nodeHeaders: plan.headers, builtAt: new Date().toISOString() }, null, 2) + '\n',
		);
		fs.rmSync(plan.dir, { recursive: true, force: true });
		fs.renameSync(out, plan.dir);
		log(`[2/2] sqlite3 compiled in ${formatDuration(Date.now() - started)}`);
		return kept;
	} finally {
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

/** Loads the installed sqlite3 with the Node that runs n8n and opens an in-memory database. */
export async function checkSqlite3Loads(node: string, sqlite3Dir: string): Promise<void> {
	const probe =
		`const sqlite3 = require(${JSON.stringify(sqlite3Dir)});` +
		`const db = new sqlite3.Database(':memory:');` +
		`db.get('select sqlite_version() as v', (e, row) => { if (e) { console.error(e.message); process.exit(1); } console.log(row.v); db.close(); });`;
	await run(node, ['-e', probe], { timeoutMs: 60_000 });
}
