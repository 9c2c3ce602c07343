/**
 * `npm run n8n:lock -- [<n8n version>] [--node <node version>] [--check]`
 *
 * Regenerates the committed description of the n8n runtime (scripts/n8n/runtime/):
 *   <n8n version>   pin n8n to that exact version in runtime/package.json and regenerate
 *                   runtime/package-lock.json from it (`npm install --package-lock-only
 *                   --ignore-scripts`, with download addresses and sha512 for every package)
 *   (no version)    regenerate the lock for the version already pinned
 *   --node <v>      re-pin Node's headers (runtime/downloads.json) to Node <v>, sha512 from the
 *                   registry; the root package.json's `node` devDependency must be moved to the same
 *                   version (`npm i -D -E node@<v>`). Only the headers pin changes unless a version is
 *                   also given.
 *   --check         change nothing; exit 1 if the lock has drifted from its package.json
 *
 * This is the only place where the n8n tree is resolved against the registry. Installs (npm start,
 * the end-to-end suites, CI) run `npm ci` from the committed lock.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_N8N_VERSION, installFolderName, pinnedN8nVersion, RUNTIME_DOWNLOADS, RUNTIME_LOCK, RUNTIME_PACKAGE_JSON, runtimeLock } from './install';
import { formatDuration, log, npmChildEnv, npmCommand, REPO_ROOT, run, withRetries } from './proc';

const EXACT_VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
export const LOCK_REGISTRY = 'https://registry.npmjs.org/';

interface LockEntry {
	version?: string;
	resolved?: string;
	integrity?: string;
	link?: boolean;
	inBundle?: boolean;
	dependencies?: Record<string, string>;
}

export interface LockFile {
	name?: string;
	lockfileVersion?: number;
	packages: Record<string, LockEntry>;
}

interface RuntimePackageJson {
	name: string;
	dependencies: Record<string, string>;
	[key: string]: unknown;
}

interface DownloadsFile {
	nodeHeaders: { version: string; packages: Record<string, { name: string; integrity: string }> };
	[key: string]: unknown;
}

function readJson<T>(file: string): T {
	return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

function writeJsonAtomic(file: string, value: unknown): void {
	const tmp = `${file}.tmp-${process.pid}`;
	fs.writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
	fs.renameSync(tmp, file);
}

function sameDeps(a: Record<string, string> = {}, b: Record<string, string> = {}): boolean {
	const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
	return [...keys].every((key) => a[key] === b[key]);
}

/**
 * What is wrong between a runtime package.json and its lock (empty when they agree): the lock's
 * root dependencies, lockfileVersion 3, n8n's locked version, and a registry address and sha512
 * for every package.
 */
export function lockProblems(pkg: RuntimePackageJson, lock: LockFile): string[] {
	const problems: string[] = [];
	if (lock.lockfileVersion !== 3) problems.push(`lockfileVersion is ${lock.lockfileVersion}, expected 3`);
	const root = lock.packages?.[''];
	if (!root) return [...problems, 'the lock has no root package entry ("")'];
	if (!sameDeps(root.dependencies, pkg.dependencies)) {
		problems.push(`the lock's root dependencies ${JSON.stringify(root.dependencies)} differ from package.json's ${JSON.stringify(pkg.dependencies)}`);
	}
	const n8n = pkg.dependencies?.n8n;
	if (!n8n || !EXACT_VERSION.test(n8n)) problems.push(`package.json must pin n8n to an exact version (found ${JSON.stringify(n8n)})`);
	const locked = lock.packages['node_modules/n8n']?.version;
	if (locked !== n8n) problems.push(`the lock has n8n ${locked}, package.json pins ${n8n}`);
	const unpinned: string[] = [];
	for (const [location, entry] of Object.entries(lock.packages)) {
		if (location === '' || entry.link || entry.inBundle) continue;
		if (!entry.resolved?.startsWith(LOCK_REGISTRY) || !/^sha512-[A-Za-z0-9+/]+=*$/.test(entry.integrity ?? '')) unpinned.push(location);
	}
	if (unpinned.length > 0) {
		problems.push(
			`${unpinned.length} locked packages lack a ${LOCK_REGISTRY} address or a sha512 (first: ${unpinned.slice(0, 3).join(', ')})`,
		);
	}
	return problems;
}

/** lockProblems for the committed files, plus the Node headers pin against the root project's Node. */
export function runtimeDriftProblems(): string[] {
	const problems = lockProblems(readJson<RuntimePackageJson>(RUNTIME_PACKAGE_JSON), readJson<LockFile>(RUNTIME_LOCK));
	const rootNode = readJson<{ devDependencies?: Record<string, string> }>(path.join(REPO_ROOT, 'package.json')).devDependencies?.node;
	const headers = readJson<DownloadsFile>(RUNTIME_DOWNLOADS).nodeHeaders.version;
	if (rootNode !== headers) {
		problems.push(`runtime/downloads.json pins the headers of Node ${headers}, the root package.json's node devDependency is ${rootNode}`);
	}
	return problems;
}

/** `npm install --package-lock-only` of `pkg` in a scratch folder; returns the lock it wrote. */
async function generateLock(pkg: RuntimePackageJson): Promise<LockFile> {
	const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'n8n-runtime-lock-'));
	try {
		fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
		await withRetries(`npm install --package-lock-only (n8n@${pkg.dependencies.n8n})`, async () => {
			fs.rmSync(path.join(scratch, 'package-lock.json'), { force: true });
			await run(
				npmCommand(),
				[
					'install',
					'--package-lock-only',
					'--ignore-scripts',
					'--no-audit',
					'--no-fund',
					'--lockfile-version=3',
					// Keep each package's download address (the user config may omit it): npm ci then
					// fetches every tarball directly, with no registry metadata to resolve.
					'--omit-lockfile-registry-resolved=false',
				],
				{ cwd: scratch, env: npmChildEnv() },
			);
		});
		return readJson<LockFile>(path.join(scratch, 'package-lock.json'));
	} finally {
		fs.rmSync(scratch, { recursive: true, force: true });
	}
}

/** The registry's sha512 of each pinned headers package at Node `version`. */
async function pinNodeHeaders(version: string): Promise<DownloadsFile> {
	const downloads = readJson<DownloadsFile>(RUNTIME_DOWNLOADS);
	const packages: DownloadsFile['nodeHeaders']['packages'] = {};
	for (const [platform, { name }] of Object.entries(downloads.nodeHeaders.packages)) {
		const viewed = await withRetries(`npm view ${name}@${version}`, () =>
			run(npmCommand(), ['view', `${name}@${version}`, 'dist.integrity', '--json'], { cwd: os.tmpdir(), env: npmChildEnv() }),
		);
		const integrity = viewed.stdout.trim() ? (JSON.parse(viewed.stdout) as string) : '';
		if (!/^sha512-/.test(integrity)) throw new Error(`${name}@${version} has no sha512 integrity in the registry`);
		packages[platform] = { name, integrity };
		log(`${platform}: ${name}@${version} ${integrity}`);
	}
	return { ...downloads, nodeHeaders: { version, packages } };
}

function usage(): never {
	console.error('usage: npm run n8n:lock -- [<n8n version>] [--node <node version>] [--check]');
	process.exit(2);
}

async function main(argv: string[]): Promise<void> {
	let version: string | undefined;
	let nodeVersion: string | undefined;
	let check = false;
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === '--check') check = true;
		else if (arg === '--node') nodeVersion = (argv[++i] ?? usage()).replace(/^v/, '');
		else if (arg.startsWith('--node=')) nodeVersion = arg.slice('--node='.length).replace(/^v/, '');
		else if (!arg.startsWith('-') && !version) version = arg.replace(/^n8n@/, '');
		else usage();
	}

	if (check) {
		const problems = runtimeDriftProblems();
		if (problems.length === 0) {
			console.log(`scripts/n8n/runtime is consistent: n8n ${DEFAULT_N8N_VERSION}, lock ${runtimeLock().hash}`);
			return;
		}
		console.error(`scripts/n8n/runtime has drifted:\n- ${problems.join('\n- ')}\nRegenerate with \`npm run n8n:lock\`.`);
		process.exit(1);
	}

	for (const [what, value] of [['n8n', version], ['Node', nodeVersion]] as const) {
		if (value !== undefined && !EXACT_VERSION.test(value)) throw new Error(`${what} version must be exact (like 2.41.0), got "${value}"`);
	}
	const started = Date.now();

	let downloads: DownloadsFile | undefined;
	if (nodeVersion) {
		log(`pinning Node headers to ${nodeVersion} ...`);
		downloads = await pinNodeHeaders(nodeVersion);
		const rootNode = readJson<{ devDependencies?: Record<string, string> }>(path.join(REPO_ROOT, 'package.json')).devDependencies?.node;
		if (rootNode !== nodeVersion) {
			log(`the root package.json's node devDependency is ${rootNode}: move it too with \`npm i -D -E node@${nodeVersion}\` (npm test checks they agree)`);
		}
		if (!version) {
			writeJsonAtomic(RUNTIME_DOWNLOADS, downloads);
			log(`done in ${formatDuration(Date.now() - started)}; the next install compiles sqlite3 against Node ${nodeVersion}'s headers`);
			return;
		}
	}

	const pkg = readJson<RuntimePackageJson>(RUNTIME_PACKAGE_JSON);
	const previous = pinnedN8nVersion();
	const target = version ?? previous;
	const next: RuntimePackageJson = { ...pkg, dependencies: { ...pkg.dependencies, n8n: target } };
	log(`resolving n8n@${target} against ${LOCK_REGISTRY} (about 2 min) ...`);
	const lock = await generateLock(next);
	const problems = lockProblems(next, lock);
	if (problems.length > 0) {
		throw new Error(
			`the generated lock is not usable:\n- ${problems.join('\n- ')}\n` +
				`(if npm uses a mirror, generate against the public registry: npm_config_registry=${LOCK_REGISTRY} npm run n8n:lock -- ${target})`,
		);
	}
	// Written only now, all together: a failure above leaves scripts/n8n/runtime as it was.
	if (downloads) writeJsonAtomic(RUNTIME_DOWNLOADS, downloads);
	writeJsonAtomic(RUNTIME_PACKAGE_JSON, next);
	writeJsonAtomic(RUNTIME_LOCK, lock);
	const written = runtimeLock();
	console.log(
		[
			``,
			`scripts/n8n/runtime now pins n8n ${target}${previous !== target ? ` (was ${previous})` : ''}: ${written.packages} packages, lock ${written.hash}.`,
			`The next npm start / test:e2e installs it once into <cache>/${installFolderName(written)} (${formatDuration(Date.now() - started)} spent here).`,
			``,
			`Then check, before committing scripts/n8n/runtime/package.json and package-lock.json:`,
			`  1. npm test                      (the drift check, and the unit suites)`,
			`  2. npm run test:e2e              (installs the new n8n, runs the bundled workflows in it)`,
			`  3. npm run test:hardening`,
			`  4. n8n's release notes between ${previous} and ${target} (https://docs.n8n.io/release-notes/): breaking changes`,
			`     for community nodes, node-gyp/native modules, Node version (engines.node of n8n ${target}).`,
			`  5. git diff --stat scripts/n8n/runtime: a lock that changed far more than n8n's own packages deserves a look.`,
			`Old cache folders are not deleted: rm -rf ~/.cache/n8n-nodes-pipedrive-referrals/n8n-${previous}-* once unused.`,
		].join('\n'),
	);
}

if (require.main === module) {
	main(process.argv.slice(2)).catch((error) => {
		console.error(`${error instanceof Error ? error.message : error}\nscripts/n8n/runtime was not changed.`);
		process.exit(1);
	});
}
