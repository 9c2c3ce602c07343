/**
 * Real-n8n end-to-end suites (`npm run test:e2e`): a real n8n 2.41 (installed once into a cache
 * folder, see scripts/n8n/install.ts) with this package installed as a community package.
 * Slow: the first run installs n8n from its lock (~5 min), each suite starts n8n; one suite at a time.
 */
/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: 'node',
	roots: ['<rootDir>/test/e2e'],
	testMatch: ['**/*.test.ts'],
	transform: {
		'^.+\\.ts$': ['ts-jest', { diagnostics: false }],
	},
	// Installs n8n if needed and packs the package once for all suites.
	globalSetup: '<rootDir>/test/e2e/global-setup.ts',
	globalTeardown: '<rootDir>/test/e2e/global-teardown.ts',
	testTimeout: 15 * 60_000,
	maxWorkers: 1,
};
