/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: 'node',
	roots: ['<rootDir>/test'],
	testMatch: ['**/*.test.ts'],
	// Real-n8n end-to-end suites run with `npm run test:e2e` (jest.e2e.config.js), the hardening suite
	// with `npm run test:hardening` (jest.hardening.config.js).
	testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/e2e/', '<rootDir>/test/hardening/'],
	transform: {
		'^.+\\.ts$': ["ts-jest", { diagnostics: false }],
	},
	testTimeout: 60000,
	// Store suites create their own databases; a few workers keep the 2-core machines responsive.
	maxWorkers: 2,
};
