/** @type {import('jest').Config} */
module.exports = {
	testEnvironment: 'node',
	roots: ['<rootDir>/test'],
	testMatch: ['**/*.test.ts'],
	transform: {
		'^.+\\.ts$': ["ts-jest", { diagnostics: false }],
	},
	testTimeout: 60000,
	// Store suites create their own databases; a few workers keep the 2-core machines responsive.
	maxWorkers: 2,
};
