/**
 * The hardening suite (`npm run test:hardening`): faults, bad input and security, proven in one
 * place. Its real-n8n parts share the end-to-end suites' setup (n8n installed once into a cache,
 * the package packed once).
 */
/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: 'node',
	roots: ['<rootDir>/test/hardening'],
	testMatch: ['**/*.test.ts'],
	transform: {
		'^.+\\.ts$': ['ts-jest', { diagnostics: false }],
	},
	globalSetup: '<rootDir>/test/e2e/global-setup.ts',
	globalTeardown: '<rootDir>/test/e2e/global-teardown.ts',
	testTimeout: 15 * 60_000,
	maxWorkers: 1,
};
