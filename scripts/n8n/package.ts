/**
 * This repository as the npm package users get, and its installation into an n8n user folder the
 * way n8n's "Community nodes" settings page does it (packages live in
 * `<N8N_USER_FOLDER>/.n8n/nodes/node_modules`, listed in `<N8N_USER_FOLDER>/.n8n/nodes/package.json`),
 * except that its runtime dependencies come from this repository's package-lock.json.
 * n8n then loads it at start and names its node types `n8n-nodes-pipedrive-referrals.<nodeName>`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lockClosure, lockResolve, type LockPackage } from './lock-tree';
import { childEnv, formatDuration, log, npmCommand, REPO_ROOT, run } from './proc';

export const PACKAGE_NAME: string = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).name;

export interface PackOptions {
	/** Run `npm run build` first (default true). */
	build?: boolean;
	/** Where the tarball goes (default: a new temp folder). */
	destination?: string;
}

/** `npm run build` then `npm pack` of this repository; returns the tarball's absolute path. */
export async function packPackage(options: PackOptions = {}): Promise<string> {
	const { build = true } = options;
	const destination = options.destination ?? fs.mkdtempSync(path.join(os.tmpdir(), `${PACKAGE_NAME}-pack-`));
	fs.mkdirSync(destination, { recursive: true });
	const env = childEnv();
	if (build) {
		const started = Date.now();
		log('npm run build ...');
		await run(npmCommand(), ['run', 'build'], { cwd: REPO_ROOT, env });
		log(`built in ${formatDuration(Date.now() - started)}`);
	}
	const packed = await run(npmCommand(), ['pack', '--json', '--pack-destination', destination], {
		cwd: REPO_ROOT,
		env,
	});
	const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string }>;
	const tarball = path.join(destination, info.filename);
	if (!fs.existsSync(tarball)) throw new Error(`npm pack reported ${info.filename} but ${tarball} does not exist`);
	log(`packed ${tarball}`);
	return tarball;
}

/** `<userFolder>/.n8n/nodes`, n8n's community-packages folder for that user folder. */
export function communityNodesDir(userFolder: string): string {
	return path.join(userFolder, '.n8n', 'nodes');
}

/** The repository's lock: where the packed package's runtime dependencies are pinned. */
export const ROOT_LOCK = path.join(REPO_ROOT, 'package-lock.json');

interface PackageJson {
	name: string;
	version: string;
	dependencies?: Record<string, string>;
}

export interface PackageLock {
	name: string;
	version: string;
	lockfileVersion: 3;
	requires: true;
	packages: Record<string, LockPackage>;
}

/**
 * A lock for the unpacked package `pkg` (its package.json as installed, runtime dependencies only):
 * the entries of `rootLock` that its `dependencies` need, transitively, at the places the root lock
 * puts them, re-rooted at the package. So its `npm ci` installs the versions and tarballs (checked
 * by `integrity`) that the repository was tested with. An entry without `resolved` (npm's
 * omit-lockfile-registry-resolved) is fetched by name and version from the configured registry,
 * still checked against its `integrity`. Flags that only mean something in the
 * repository's tree are dropped: `dev` (none of these is a dev package here), and `devOptional`
 * becomes `optional` (without the dev tree, optional is all it is). Throws, saying to run
 * `npm install`, when the root lock does not lock a dependency as package.json asks for it.
 */
export function communityPackageLock(
	pkg: PackageJson,
	rootLock: { packages: Record<string, LockPackage> } = readLockFile(ROOT_LOCK),
): PackageLock {
	const dependencies = pkg.dependencies ?? {};
	const packages = rootLock.packages;
	const stale = (why: string) =>
		new Error(
			`${why}, so ${pkg.name}'s runtime dependencies cannot be installed from it: run \`npm install\` in the repository (${REPO_ROOT}) ` +
				`to update package-lock.json, then try again.`,
		);
	const starts: string[] = [];
	for (const [name, range] of Object.entries(dependencies)) {
		const locked = packages['']?.dependencies?.[name];
		if (locked !== range) {
			throw stale(
				locked === undefined
					? `${ROOT_LOCK} does not lock ${name}, a runtime dependency of ${pkg.name} (${name}@${range})`
					: `${ROOT_LOCK} locks ${name}@${locked}, but ${pkg.name}'s package.json asks for ${name}@${range}`,
			);
		}
		const location = lockResolve(packages, '', name);
		if (!location) throw stale(`${ROOT_LOCK} lists ${name} but has no entry for it (node_modules/${name})`);
		starts.push(location);
	}
	// Optional peer dependencies are installed only when something else needs them: in the
	// repository's tree that may be a dev package, which the community package does not have.
	const closure = lockClosure(packages, starts, { skipOptionalPeers: true });
	if (!closure.ok) {
		throw stale(
			'missing' in closure
				? `${ROOT_LOCK} does not lock ${closure.missing.name}, which ${closure.missing.from} needs`
				: `${ROOT_LOCK} links ${closure.link} to a folder instead of locking a published version`,
		);
	}
	const locked: Record<string, LockPackage> = { '': { name: pkg.name, version: pkg.version, dependencies } };
	for (const location of closure.locations) {
		const { dev, devOptional, ...entry } = packages[location];
		void dev;
		locked[location] = devOptional ? { ...entry, optional: true } : entry;
	}
	return { name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages: locked };
}

function readLockFile(file: string): { packages: Record<string, LockPackage> } {
	if (!fs.existsSync(file)) throw new Error(`${file} does not exist: run \`npm install\` in the repository (${REPO_ROOT}) to create it.`);
	return JSON.parse(fs.readFileSync(file, 'utf8')) as { packages: Record<string, LockPackage> };
}

/**
 * Installs a packed package as a community package of the n8n whose N8N_USER_FOLDER is
 * `userFolder`, the way n8n 2.41's CommunityPackagesService does for a UI install (its
 * `downloadPackage`): the tarball is unpacked into `<nodes>/node_modules/<name>`, its
 * dev/peer/optional dependencies are dropped from its package.json, its runtime dependencies (such
 * as `pg`) are installed inside it with install scripts off, and `<nodes>/package.json` lists
 * `<name>: <version>`. n8n scans `<nodes>/node_modules` at start. (A UI install also records the
 * package in n8n's database for the settings page; n8n loads it without that record.)
 *
 * One difference: n8n runs `npm install ... --install-strategy=shallow --package-lock=false`, which
 * resolves the dependencies against the registry at install time, so each install may get other
 * versions. Here a lock is written first (communityPackageLock: the repository's own
 * package-lock.json entries for those dependencies) and `npm ci --ignore-scripts --audit=false
 * --fund=false --bin-links=false` installs exactly it: the same tree every time, the one the
 * repository's tests ran with, each tarball checked against its sha512. (The layout is the root
 * lock's, hoisted, rather than shallow's nesting; Node resolves both the same way.)
 * Re-installing replaces the previous copy. Returns the installed package's folder.
 */
export async function installCommunityPackage(userFolder: string, tarball: string): Promise<string> {
	const started = Date.now();
	const nodesDir = communityNodesDir(userFolder);
	const packageDir = path.join(nodesDir, 'node_modules', PACKAGE_NAME);
	fs.rmSync(packageDir, { recursive: true, force: true });
	fs.mkdirSync(packageDir, { recursive: true });
	await run('tar', ['-xzf', path.resolve(tarball), '-C', packageDir, '--strip-components=1']);

	const packageJsonPath = path.join(packageDir, 'package.json');
	const { devDependencies, peerDependencies, optionalDependencies, ...packageJson } = JSON.parse(
		fs.readFileSync(packageJsonPath, 'utf8'),
	) as Record<string, unknown> & PackageJson;
	void devDependencies, void peerDependencies, void optionalDependencies;
	if (packageJson.name !== PACKAGE_NAME) throw new Error(`${tarball} holds ${packageJson.name}, not ${PACKAGE_NAME}`);
	fs.writeFileSync(packageJsonPath, JSON.stringify(packageJson, null, 2));
	const lock = communityPackageLock(packageJson);
	fs.writeFileSync(path.join(packageDir, 'package-lock.json'), JSON.stringify(lock, null, 2) + '\n');

	await run(npmCommand(), ['ci', '--ignore-scripts', '--audit=false', '--fund=false', '--bin-links=false'], {
		cwd: packageDir,
		env: childEnv(),
	});

	const manifestPath = path.join(nodesDir, 'package.json');
	const manifest: { dependencies?: Record<string, string> } = fs.existsSync(manifestPath)
		? JSON.parse(fs.readFileSync(manifestPath, 'utf8'))
		: { name: 'installed-nodes', private: true };
	manifest.dependencies = { ...(manifest.dependencies ?? {}), [PACKAGE_NAME]: packageJson.version };
	fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));

	log(`installed ${PACKAGE_NAME}@${packageJson.version} into ${packageDir} (${formatDuration(Date.now() - started)})`);
	return packageDir;
}
