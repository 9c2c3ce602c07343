/**
 * A real n8n, installed once per version into a cache folder and reused.
 *
 * Recipe (checked on the project's machines, see ../shared/n8n-runtime.md), with Node >= 24 first
 * on PATH, in a folder holding a package.json:
 *   npm install --ignore-scripts n8n@<version>     (~4.5 min, ~2.9 GB, ~2,400 packages)
 *   npm rebuild sqlite3                            (~1.2 min: compiles SQLite from source)
 * A plain `npm install n8n` fails offline (a Kafka client's install script downloads sources).
 *
 * `npm rebuild sqlite3` compiles with node-gyp, which needs Node's C headers. node-gyp would download
 * them from nodejs.org; here they come from the npm registry instead (the `node-<os>-<arch>` package
 * of the exact Node version, `include/` only, cached next to the installs) and are passed as
 * `npm_config_nodedir`. The compile skips prebuild-install's GitHub download
 * (`npm_config_build_from_source=true`), so only the npm registry is contacted.
 *
 * Layout (root = $N8N_CACHE_DIR or ~/.cache/n8n-nodes-pipedrive-referrals):
 *   <root>/n8n-<version>/                 the install (node_modules/n8n/bin/n8n)
 *   <root>/n8n-<version>/.install-complete  written last; its presence means "ready"
 *   <root>/n8n-<version>.lock             held while installing; concurrent callers wait
 *   <root>/.n8n-<version>.tmp-<pid>-<t>/  work folder, renamed to n8n-<version> when complete
 *   <root>/node-headers-<node version>/   Node's headers for node-gyp
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { childEnv, formatDuration, log, nodeBinary, npmCommand, run, sleep } from './proc';

export const DEFAULT_N8N_VERSION = '2.41.0';
const MARKER = '.install-complete';
/** A lock whose holder has not touched it for this long is considered abandoned. */
const LOCK_STALE_MS = 3 * 60_000;
const LOCK_HEARTBEAT_MS = 30_000;
/** How long a second caller waits for someone else's install. */
const LOCK_WAIT_MS = 45 * 60_000;

/** The cache root: `$N8N_CACHE_DIR`, else `~/.cache/n8n-nodes-pipedrive-referrals`. */
export function n8nCacheRoot(): string {
	return path.resolve(
		process.env.N8N_CACHE_DIR || path.join(os.homedir(), '.cache', 'n8n-nodes-pipedrive-referrals'),
	);
}

/** Where the given version is (or will be) installed. */
export function n8nInstallDir(version = DEFAULT_N8N_VERSION): string {
	return path.join(n8nCacheRoot(), `n8n-${version}`);
}

/** The n8n CLI entry point inside an install folder. */
export function n8nBin(n8nDir: string): string {
	return path.join(n8nDir, 'node_modules', 'n8n', 'bin', 'n8n');
}

export function isInstallComplete(dir: string): boolean {
	return fs.existsSync(path.join(dir, MARKER)) && fs.existsSync(n8nBin(dir));
}

/**
 * Returns the folder of a complete n8n install of `version`, installing it first if needed.
 * Safe to call concurrently from several processes: one installs, the others wait.
 */
export async function ensureN8n(version = DEFAULT_N8N_VERSION): Promise<string> {
	const dir = n8nInstallDir(version);
	if (isInstallComplete(dir)) return dir;

	const root = path.dirname(dir);
	fs.mkdirSync(root, { recursive: true });
	const release = await acquireLock(`${dir}.lock`, `n8n@${version}`);
	try {
		if (isInstallComplete(dir)) return dir; // someone finished while we waited
		await install(version, root, dir);
		return dir;
	} finally {
		release();
	}
}

async function install(version: string, root: string, dir: string): Promise<void> {
	const started = Date.now();
	const node = nodeBinary();
	const nodeVersion = (await run(node, ['--version'])).stdout.trim();
	log(`installing n8n@${version} into ${dir}`);
	log(`first time only: about 5-6 min and 2.9 GB (Node ${nodeVersion}, npm registry only)`);
	warnIfLowDisk(root);

	// Leftovers of interrupted installs of this version (we hold the lock, so nobody uses them).
	for (const entry of fs.readdirSync(root)) {
		if (entry.startsWith(`.n8n-${version}.tmp-`)) fs.rmSync(path.join(root, entry), { recursive: true, force: true });
	}
	if (fs.existsSync(dir)) {
		log(`removing incomplete install ${dir}`);
		fs.rmSync(dir, { recursive: true, force: true });
	}

	const headers = await ensureNodeHeaders(root, nodeVersion);
	const tmp = path.join(root, `.n8n-${version}.tmp-${process.pid}-${Date.now()}`);
	fs.mkdirSync(tmp, { recursive: true });
	try {
		fs.writeFileSync(
			path.join(tmp, 'package.json'),
			JSON.stringify({ name: `n8n-runtime-${version}`, private: true, description: 'n8n install cache' }, null, 2),
		);
		const env = childEnv({ npm_config_nodedir: headers, npm_config_build_from_source: 'true' });

		let step = Date.now();
		log(`[1/2] npm install --ignore-scripts n8n@${version} ...`);
		await withHeartbeat(
			() =>
				run(npmCommand(), ['install', '--ignore-scripts', '--no-audit', '--no-fund', `n8n@${version}`], {
					cwd: tmp,
					env,
				}),
			(elapsed) => {
				const count = safeCount(path.join(tmp, 'node_modules'));
				return `[1/2] still installing (${formatDuration(elapsed)}, ${count} top-level packages so far)`;
			},
		);
		log(`[1/2] done in ${formatDuration(Date.now() - step)}`);

		step = Date.now();
		log('[2/2] npm rebuild sqlite3 (compiles SQLite) ...');
		await withHeartbeat(
			() => run(npmCommand(), ['rebuild', 'sqlite3'], { cwd: tmp, env }),
			(elapsed) => `[2/2] still compiling sqlite3 (${formatDuration(elapsed)})`,
		);
		const binding = findFile(path.join(tmp, 'node_modules', 'sqlite3', 'build'), 'node_sqlite3.node');
		if (!binding) throw new Error('npm rebuild sqlite3 finished but produced no node_sqlite3.node');
		log(`[2/2] done in ${formatDuration(Date.now() - step)}`);

		fs.writeFileSync(
			path.join(tmp, MARKER),
			JSON.stringify({ n8n: version, node: nodeVersion, installedAt: new Date().toISOString() }, null, 2) + '\n',
		);
		fs.renameSync(tmp, dir);
	} catch (error) {
		fs.rmSync(tmp, { recursive: true, force: true });
		throw error;
	}
	log(`n8n@${version} ready in ${formatDuration(Date.now() - started)}: ${dir}`);
}

/**
 * Node's C headers for node-gyp, from the npm registry package `node-<platform>-<arch>@<version>`
 * (the official release archive: `include/node/*.h`, `common.gypi`, `config.gypi`).
 */
async function ensureNodeHeaders(root: string, nodeVersion: string): Promise<string> {
	const target = path.join(root, `node-headers-${nodeVersion}`);
	if (fs.existsSync(path.join(target, 'include', 'node', 'node_api.h'))) return target;
	const arch = process.arch === 'x64' ? 'x64' : process.arch;
	const spec = `node-${process.platform}-${arch}@${nodeVersion.replace(/^v/, '')}`;
	log(`fetching Node headers for node-gyp (${spec}, include/ only) ...`);
	const tmp = fs.mkdtempSync(path.join(root, '.node-headers-'));
	try {
		const packed = await run(npmCommand(), ['pack', spec, '--pack-destination', tmp, '--silent'], {
			cwd: tmp,
			env: childEnv(),
		});
		const tarball = path.join(tmp, packed.stdout.trim().split('\n').pop()!.trim());
		const out = path.join(tmp, 'out');
		fs.mkdirSync(out);
		await run('tar', ['-xzf', tarball, '-C', out, '--strip-components=1', 'package/include']);
		if (!fs.existsSync(path.join(out, 'include', 'node', 'node_api.h'))) {
			throw new Error(`${spec} has no include/node/node_api.h`);
		}
		fs.rmSync(target, { recursive: true, force: true });
		fs.renameSync(out, target);
		return target;
	} finally {
		fs.rmSync(tmp, { recursive: true, force: true });
	}
}

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

// `tsx scripts/n8n/install.ts [version]` installs (or finds) n8n and prints its folder.
if (require.main === module) {
	ensureN8n(process.argv[2] || DEFAULT_N8N_VERSION).then(
		(dir) => console.log(dir),
		(error) => {
			console.error(error instanceof Error ? error.message : error);
			process.exit(1);
		},
	);
}
