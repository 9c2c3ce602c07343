/**
 * The lock installCommunityPackage writes for the unpacked package: its runtime dependencies (pg)
 * and everything they need, cut out of the repository's package-lock.json. Fast and offline.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lockResolve } from '../../scripts/n8n/lock-tree';
import { communityPackageLock, PACKAGE_NAME, ROOT_LOCK } from '../../scripts/n8n/package';
import { REPO_ROOT } from '../../scripts/n8n/proc';

type Entry = { version?: string; integrity?: string; dev?: boolean; devOptional?: boolean; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }> };

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;
const rootPkg = readJson<{ name: string; version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> }>(
	path.join(REPO_ROOT, 'package.json'),
);
const rootLock = readJson<{ packages: Record<string, Entry> }>(ROOT_LOCK);
/** The package.json installCommunityPackage leaves in the unpacked package (runtime dependencies only). */
const installedPkg = { name: rootPkg.name, version: rootPkg.version, dependencies: rootPkg.dependencies };

describe('communityPackageLock: the runtime dependencies, from the root package-lock.json', () => {
	const lock = communityPackageLock(installedPkg, rootLock);
	const locations = Object.keys(lock.packages).filter((key) => key !== '');

	it('is a lockfileVersion 3 lock rooted at the package, with its dependencies', () => {
		expect(lock.lockfileVersion).toBe(3);
		expect(lock.name).toBe(PACKAGE_NAME);
		expect(lock.packages['']).toEqual({ name: PACKAGE_NAME, version: rootPkg.version, dependencies: rootPkg.dependencies });
		expect(Object.keys(rootPkg.dependencies)).toContain('pg');
	});

	it('locks pg and every package pg needs, as the root lock does, each with a sha512', () => {
		expect(lock.packages['node_modules/pg'].version).toBe(rootLock.packages['node_modules/pg'].version);
		// Every required or optional dependency of every locked package is locked, where Node finds it.
		for (const location of locations) {
			const entry = lock.packages[location] as Entry;
			expect(entry.integrity).toMatch(/^sha512-[A-Za-z0-9+/]+=*$/);
			expect(entry.version).toBe(rootLock.packages[location].version);
			expect(entry.dev).toBeUndefined();
			for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
				const found = lockResolve(lock.packages, location, name);
				expect(found).toBeDefined();
				expect(found).toBe(lockResolve(rootLock.packages, location, name));
			}
		}
		for (const name of ['pg-pool', 'pg-protocol', 'pg-types', 'pg-connection-string', 'pgpass', 'split2', 'postgres-array']) {
			expect(locations).toContain(`node_modules/${name}`);
		}
	});

	it('holds nothing else from the repository tree', () => {
		for (const dev of ['jest', 'typescript', 'eslint', 'n8n-workflow', 'n8n-core', '@types/pg', 'tsx']) {
			expect(locations.some((location) => location === `node_modules/${dev}` || location.endsWith(`/node_modules/${dev}`))).toBe(false);
		}
		// pg's tree is a few dozen packages at most; the root lock has hundreds.
		expect(locations.length).toBeLessThan(30);
		expect(Object.keys(rootLock.packages).length).toBeGreaterThan(10 * locations.length);
	});

	it('says to run npm install when the root lock lacks a runtime dependency or one it needs', () => {
		const { pg: _pg, ...otherDependencies } = rootLock.packages[''].dependencies ?? {};
		void _pg;
		const withoutPg = { packages: { ...rootLock.packages, '': { ...rootLock.packages[''], dependencies: otherDependencies } } };
		expect(() => communityPackageLock(installedPkg, withoutPg)).toThrow(/does not lock pg.*run `npm install` in the repository/);
		const { 'node_modules/pgpass': _pgpass, ...rest } = rootLock.packages;
		void _pgpass;
		expect(() => communityPackageLock(installedPkg, { packages: rest })).toThrow(
			/does not lock pgpass, which node_modules\/pg needs.*run `npm install` in the repository/,
		);
		const newerRange = { ...installedPkg, dependencies: { ...installedPkg.dependencies, pg: '^99.0.0' } };
		expect(() => communityPackageLock(newerRange, rootLock)).toThrow(/asks for pg@\^99\.0\.0.*run `npm install`/);
	});
});
