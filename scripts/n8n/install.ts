/**
 * A real n8n, installed from a committed lock file into a cache folder and reused.
 *
 * What is installed is described by committed files, never resolved on the user's machine:
 *   scripts/n8n/runtime/package.json       pins `n8n` to one exact version
 *   scripts/n8n/runtime/package-lock.json  the whole tree (~2,450 packages), each with its download
 *                                          address and sha512; made by `npm run n8n:lock -- <version>`
 *   scripts/n8n/runtime/downloads.json     everything else downloaded: Node's headers for node-gyp,
 *                                          pinned by version and sha512
 *
 * Recipe (see ../shared/n8n-runtime.md), with Node 24 first on PATH:
 *   npm ci --ignore-scripts      in a fresh work folder holding copies of that package.json and
 *                                lock: exactly the locked tree, every tarball checked against its sha512
 *   sqlite3, compiled beside it  n8n's one native module: `npm ci` of the lock's sqlite3 subtree in a
 *                                folder of its own, then `npm rebuild sqlite3` there (compiles SQLite,
 *                                about as long as the main npm ci); the binding is copied into the
 *                                install and kept, keyed by those tarballs and the headers
 *   a load check                 the install's sqlite3 opens an in-memory database
 * Install scripts stay off: a Kafka client's script downloads sources from the internet.
 *
 * Compiling needs the C headers of the Node that runs n8n. They come from the npm registry (the
 * official `node-<os>-<arch>` release package of that exact version, checked against the sha512
 * pinned in downloads.json before it is unpacked, `include/` kept) and are passed as
 * `npm_config_nodedir`; `npm_config_build_from_source=true` skips prebuild-install's GitHub download.
 * So only the npm registry (or the mirror npm is configured with) is contacted.
 *
 * A transient failure (5xx, a timeout, a reset connection, a tarball failing its integrity check) is
 * retried after 15 s, 45 s and 90 s, each attempt in a clean work folder; npm itself also retries each
 * request (--fetch-retries). A failure that persists is reported in one paragraph: the step, npm's
 * error line, that nothing was left half-installed, and the command to run again.
 *
 * Layout (root = $N8N_CACHE_DIR or ~/.cache/n8n-nodes-pipedrive-referrals):
 *   <root>/n8n-<version>-<lock hash>/                  the install (node_modules/n8n/bin/n8n); the
 *                                                      hash is the first 12 hex digits of the lock's
 *                                                      sha256, so a changed lock installs anew
 *   <root>/n8n-<version>-<lock hash>/.install-complete written last; its presence means "ready"
 *   <root>/n8n-<version>-<lock hash>.lock              held while installing; concurrent callers wait
 *   <root>/.n8n-<version>-<lock hash>.tmp-<pid>-<t>/   work folder, renamed into place when complete
 *   <root>/node-headers-<package>-<version>-<sha>/     Node's headers for node-gyp (verified)
 *   <root>/sqlite3-<version>-<key>/node_sqlite3.node   the compiled binding, reused across locks
 * Folders of other locks are never used; they stay until deleted (the installer lists them).
 *
 * This file runs the steps; the parts live beside it: runtime-files.ts (the committed pin and lock),
 * node-headers.ts (the headers pin and download), sqlite3-binding.ts (the compile beside npm ci),
 * lock-tree.ts (cutting sqlite3's lock out of the runtime lock), install-failure.ts (the paragraph a
 * failure reports), file-lock.ts (the cross-process lock). Their names that callers used from here
 * are re-exported below.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { acquireLock, isAlive } from './file-lock';
import { describeFailure, echoTail, installFailureParagraph, rerunCommand } from './install-failure';
import { ensureNodeHeaders, nodeHeadersPin } from './node-headers';
import { failureError, formatDuration, log, nodeBinary, npmChildEnv, npmCommand, run, StepFailedError, withRetries } from './proc';
import { DEFAULT_N8N_VERSION, installFolderName, pinnedN8nVersion, readJson, RUNTIME_PACKAGE_JSON, runtimeLock, type RuntimeLock } from './runtime-files';
import { checkSqlite3Loads, ensureSqlite3Binding, sqlite3BuildPlan } from './sqlite3-binding';

export { type InstallFailure, installFailureParagraph, rerunCommand } from './install-failure';
export { fileIntegrity, type NodeHeadersPin, nodeHeadersPin } from './node-headers';
export {
	DEFAULT_N8N_VERSION,
	installFolderName,
	pinnedN8nVersion,
	RUNTIME_DIR,
	RUNTIME_DOWNLOADS,
	RUNTIME_LOCK,
	RUNTIME_PACKAGE_JSON,
	runtimeLock,
	type RuntimeLock,
} from './runtime-files';
export { type Sqlite3Plan, sqlite3BuildPlan } from './sqlite3-binding';

const MARKER = '.install-complete';

/** The cache root: `$N8N_CACHE_DIR`, else `~/.cache/n8n-nodes-pipedrive-referrals`. */
export function n8nCacheRoot(): string {
	return path.resolve(
		process.env.N8N_CACHE_DIR || path.join(os.homedir(), '.cache', 'n8n-nodes-pipedrive-referrals'),
	);
}

function assertPinned(version: string, lock: RuntimeLock): void {
	if (version === lock.version) return;
	throw new Error(
		`n8n ${version} is not the n8n this repository runs: scripts/n8n/runtime/package-lock.json locks n8n ${lock.version}, ` +
			`and n8n is only ever installed from that committed lock (nothing is resolved on your machine). ` +
			`Unset N8N_VERSION to use ${lock.version}, or move the repository to ${version} with \`npm run n8n:lock -- ${version}\` ` +
			`and then run \`npm test\` and \`npm run test:e2e\` (README, "The n8n runtime").`,
	);
}

/**
 * Where the given version is (or will be) installed: `<root>/n8n-<version>-<lock hash>`. Only the
 * locked version can be installed; another one throws an error that says how to move to it.
 */
export function n8nInstallDir(version = DEFAULT_N8N_VERSION): string {
	const lock = runtimeLock();
	assertPinned(version, lock);
	return path.join(n8nCacheRoot(), installFolderName(lock));
}

/** The n8n CLI entry point inside an install folder. */
export function n8nBin(n8nDir: string): string {
	return path.join(n8nDir, 'node_modules', 'n8n', 'bin', 'n8n');
}

export function isInstallComplete(dir: string): boolean {
	return fs.existsSync(path.join(dir, MARKER)) && fs.existsSync(n8nBin(dir));
}

/**
 * Returns the folder of a complete n8n install of `version` (the locked one), installing it first
 * if needed. Safe to call concurrently from several processes: one installs, the others wait.
 * On failure the Error's message is one paragraph meant for the user.
 */
export async function ensureN8n(version = DEFAULT_N8N_VERSION): Promise<string> {
	const dir = n8nInstallDir(version);
	if (isInstallComplete(dir)) return dir;

	const root = path.dirname(dir);
	fs.mkdirSync(root, { recursive: true });
	const release = await acquireLock(`${dir}.lock`, `n8n@${version}`);
	try {
		if (isInstallComplete(dir)) return dir; // someone finished while we waited
		await install(runtimeLock(), root, dir);
		return dir;
	} finally {
		release();
	}
}

async function install(lock: RuntimeLock, root: string, dir: string): Promise<void> {
	const started = Date.now();
	const version = lock.version;
	const pinned = pinnedN8nVersion();
	if (pinned !== version) {
		throw new Error(
			`scripts/n8n/runtime/package.json pins n8n ${pinned} but scripts/n8n/runtime/package-lock.json locks n8n ${version}: ` +
				`the lock is out of date. Regenerate it with \`npm run n8n:lock -- ${pinned}\` and commit both files. Nothing was installed.`,
		);
	}
	const node = nodeBinary();
	const nodeVersion = (await run(node, ['--version'])).stdout.trim();
	const pin = nodeHeadersPin(nodeVersion);

	log(`installing n8n@${version} from scripts/n8n/runtime/package-lock.json (${lock.packages} locked packages, lock ${lock.hash}) into ${dir}`);
	log(`first time only: about 5 min and 2.7 GB (Node ${nodeVersion}, npm registry only)`);
	warnIfLowDisk(root);
	listOtherInstalls(root, dir);

	// Leftovers of interrupted installs of this lock (we hold the lock, so nobody uses them), and
	// work folders of header fetches and sqlite3 compiles whose process is gone.
	const tmpPrefix = `.${path.basename(dir)}.tmp-`;
	for (const entry of fs.readdirSync(root)) {
		const owner = /^\.(?:node-headers|sqlite3)-.*\.tmp-(\d+)-/.exec(entry)?.[1];
		if (entry.startsWith(tmpPrefix) || (owner && !isAlive(Number(owner)))) {
			fs.rmSync(path.join(root, entry), { recursive: true, force: true });
		}
	}
	if (fs.existsSync(dir)) {
		log(`removing incomplete install ${dir}`);
		fs.rmSync(dir, { recursive: true, force: true });
	}

	let tmp: string | undefined;
	let step = `fetching Node headers (${pin.name}@${pin.version})`;
	// Aborted when the install fails, so the work beside npm ci stops retrying.
	const sideWork = new AbortController();
	const timings: Record<string, number> = {};
	try {
		// Node's headers, then sqlite3's compile, run beside npm ci (which runs no scripts and needs
		// neither): the compile takes about as long as npm ci. sqlite3 is compiled in a folder of its
		// own from the sqlite3 and node-addon-api tarballs the lock pins, and the result is kept,
		// keyed by those tarballs' and the headers' sha512 (another lock with the same sqlite3 does
		// not compile again).
		const headers = withRetries(step, () => ensureNodeHeaders(root, pin), { signal: sideWork.signal });
		// node-gyp's make jobs: beside npm ci, one (npm ci keeps the other CPU busy, and SQLite's
		// source is a single file anyway); alone, one per CPU.
		const buildEnv = (headersDir: string, jobs: string) =>
			npmChildEnv({ npm_config_nodedir: headersDir, npm_config_build_from_source: 'true', npm_config_jobs: jobs });
		const sqlite3Plan = sqlite3BuildPlan(lock, root, pin);
		const sqlite3Build = headers.then(
			async (headersDir) => ({ headersDir, binding: sqlite3Plan ? await ensureSqlite3Binding(sqlite3Plan, buildEnv(headersDir, '1'), sideWork.signal) : undefined }),
		);
		// Settled here so that a failure is reported where it is awaited, not as an unhandled rejection.
		const sqlite3Outcome = sqlite3Build.then(
			(value) => ({ ok: true as const, ...value }),
			(error: unknown) => ({ ok: false as const, error }),
		);

		step = '[1/2] npm ci --ignore-scripts';
		let stepStarted = Date.now();
		await withRetries(step, async (attempt) => {
			if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
			tmp = path.join(root, `${tmpPrefix}${process.pid}-${Date.now()}`);
			fs.mkdirSync(tmp, { recursive: true });
			fs.copyFileSync(RUNTIME_PACKAGE_JSON, path.join(tmp, 'package.json'));
			fs.copyFileSync(lock.path, path.join(tmp, 'package-lock.json'));
			const work = tmp;
			log(`[1/2] npm ci --ignore-scripts (${lock.packages} locked packages)${attempt > 1 ? `, attempt ${attempt}` : ''} ...`);
			await withHeartbeat(
				() =>
					run(npmCommand(), ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
						cwd: work,
						env: npmChildEnv(),
					}),
				(elapsed) => `[1/2] still installing (${formatDuration(elapsed)}, ${safeCount(path.join(work, 'node_modules'))} top-level packages so far)`,
			);
		});
		const work = tmp!;
		const installed = readJson<{ version?: string }>(path.join(work, 'node_modules', 'n8n', 'package.json')).version;
		if (installed !== version) {
			throw failureError({
				kind: 'permanent',
				code: 'ELOCKMISMATCH',
				keyLine: `ELOCKMISMATCH: npm ci installed n8n ${installed}, the lock pins ${version}`,
			});
		}
		timings.ci = Date.now() - stepStarted;
		log(`[1/2] done in ${formatDuration(timings.ci)}`);

		stepStarted = Date.now();
		step = sqlite3Plan ? `[2/2] compiling sqlite3@${sqlite3Plan.version}` : '[2/2] npm rebuild sqlite3';
		const outcome = await withHeartbeat(
			() => sqlite3Outcome,
			(elapsed) => `[2/2] waiting for the sqlite3 compile (${formatDuration(elapsed)} after npm ci)`,
		);
		if (!outcome.ok) {
			if (outcome.error instanceof StepFailedError) step = outcome.error.step;
			throw outcome.error;
		}
		if (sqlite3Plan && outcome.binding) {
			const release = path.join(work, sqlite3Plan.location, 'build', 'Release');
			fs.mkdirSync(release, { recursive: true });
			fs.copyFileSync(outcome.binding, path.join(release, 'node_sqlite3.node'));
		} else {
			log('[2/2] npm rebuild sqlite3 (compiles SQLite) ...');
			const env = buildEnv(outcome.headersDir, 'max');
			await withRetries(step, () =>
				withHeartbeat(
					() => run(npmCommand(), ['rebuild', 'sqlite3'], { cwd: work, env }),
					(elapsed) => `[2/2] still compiling sqlite3 (${formatDuration(elapsed)})`,
				),
			);
			if (!findFile(path.join(work, 'node_modules', 'sqlite3', 'build'), 'node_sqlite3.node')) {
				throw new Error('npm rebuild sqlite3 finished but produced no node_sqlite3.node');
			}
		}
		step = '[2/2] loading sqlite3';
		await checkSqlite3Loads(node, path.join(work, 'node_modules', 'sqlite3'));
		timings.rebuild = Date.now() - stepStarted;
		log(`[2/2] sqlite3 loads and opens a database (${formatDuration(timings.rebuild)} after npm ci)`);

		fs.writeFileSync(
			path.join(work, MARKER),
			JSON.stringify(
				{
					n8n: version,
					lockSha256: lock.sha256,
					packages: lock.packages,
					node: nodeVersion,
					nodeHeaders: pin,
					installedAt: new Date().toISOString(),
					seconds: { ci: Math.round(timings.ci / 1000), sqlite3AfterCi: Math.round(timings.rebuild / 1000), total: Math.round((Date.now() - started) / 1000) },
				},
				null,
				2,
			) + '\n',
		);
		fs.renameSync(work, dir);
		tmp = undefined;
	} catch (error) {
		sideWork.abort();
		if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
		const failure = describeFailure(error);
		if (failure.kind === 'permanent' && !failure.code) echoTail(error);
		throw new Error(
			installFailureParagraph({
				version,
				step: error instanceof StepFailedError ? error.step : step,
				failure,
				attempts: error instanceof StepFailedError ? error.attempts : 1,
				elapsedMs: Date.now() - started,
				dir,
				rerun: rerunCommand(),
			}),
			{ cause: error },
		);
	}
	log(`n8n@${version} ready in ${formatDuration(Date.now() - started)}: ${dir}`);
}

/** Lists installs of other locks (never used by this one) so the user can delete them. */
function listOtherInstalls(root: string, dir: string): void {
	const others = fs
		.readdirSync(root, { withFileTypes: true })
		.filter((entry) => entry.isDirectory() && /^n8n-\d/.test(entry.name) && entry.name !== path.basename(dir))
		.map((entry) => entry.name);
	if (others.length > 0) {
		log(
			`not used by this lock (about 2.9 GB each; delete with rm -rf once nothing runs from them): ${others.map((name) => path.join(root, name)).join(', ')}`,
		);
	}
}

async function withHeartbeat<T>(work: () => Promise<T>, message: (elapsedMs: number) => string): Promise<T> {
	const started = Date.now();
	const timer = setInterval(() => log(message(Date.now() - started)), 30_000);
	try {
		return await work();
	} finally {
		clearInterval(timer);
	}
}

function safeCount(dir: string): number {
	try {
		return fs.readdirSync(dir).length;
	} catch {
		return 0;
	}
}

function findFile(dir: string, name: string): string | undefined {
	if (!fs.existsSync(dir)) return undefined;
	for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
		if (entry.isFile() && entry.name === name) return path.join(entry.parentPath, entry.name);
	}
	return undefined;
}

function warnIfLowDisk(root: string): void {
	try {
		const stats = fs.statfsSync(root);
		const freeGb = (stats.bavail * stats.bsize) / 1024 ** 3;
		if (freeGb < 4) log(`warning: only ${freeGb.toFixed(1)} GB free under ${root}; the install needs about 3 GB`);
	} catch {
		/* statfs unsupported: skip */
	}
}

// `tsx scripts/n8n/install.ts [version]` installs (or finds) the locked n8n and prints its folder.
if (require.main === module) {
	ensureN8n(process.argv[2] || DEFAULT_N8N_VERSION).then(
		(dir) => console.log(dir),
		(error) => {
			console.error(error instanceof Error ? error.message : error);
			process.exit(1);
		},
	);
}
