/**
 * This repository as the npm package users get, and its installation into an n8n user folder the
 * way n8n's "Community nodes" settings page does it (packages live in
 * `<N8N_USER_FOLDER>/.n8n/nodes/node_modules`, listed in `<N8N_USER_FOLDER>/.n8n/nodes/package.json`).
 * n8n then loads it at start and names its node types `n8n-nodes-pipedrive-referrals.<nodeName>`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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

/**
 * Installs a packed package as a community package of the n8n whose N8N_USER_FOLDER is
 * `userFolder`, exactly as n8n 2.41's CommunityPackagesService does for a UI install (its
 * `downloadPackage`): the tarball is unpacked into `<nodes>/node_modules/<name>`, its
 * dev/peer/optional dependencies are dropped from its package.json, `npm install --audit=false
 * --fund=false --bin-links=false --install-strategy=shallow --ignore-scripts=true
 * --package-lock=false` runs inside it (runtime dependencies such as `pg` come from the npm
 * registry), and `<nodes>/package.json` lists `<name>: <version>`. n8n scans
 * `<nodes>/node_modules` at start. (A UI install also records the package in n8n's database for
 * the settings page; n8n loads it without that record.) Re-installing replaces the previous copy.
 * Returns the installed package's folder.
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
	) as Record<string, unknown> & { name: string; version: string };
	void devDependencies, void peerDependencies, void optionalDependencies;
	if (packageJson.name !== PACKAGE_NAME) throw new Error(`${tarball} holds ${packageJson.name}, not ${PACKAGE_NAME}`);
	fs.writeFileSync(packageJsonPath, JSON.stringify(packageJson, null, 2));

	await run(
		npmCommand(),
		[
			'install',
			'--audit=false',
			'--fund=false',
			'--bin-links=false',
			'--install-strategy=shallow',
			'--ignore-scripts=true',
			'--package-lock=false',
		],
		{ cwd: packageDir, env: childEnv() },
	);

	const manifestPath = path.join(nodesDir, 'package.json');
	const manifest: { dependencies?: Record<string, string> } = fs.existsSync(manifestPath)
		? JSON.parse(fs.readFileSync(manifestPath, 'utf8'))
		: { name: 'installed-nodes', private: true };
	manifest.dependencies = { ...(manifest.dependencies ?? {}), [PACKAGE_NAME]: packageJson.version };
	fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));

	log(`installed ${PACKAGE_NAME}@${packageJson.version} into ${packageDir} (${formatDuration(Date.now() - started)})`);
	return packageDir;
}
