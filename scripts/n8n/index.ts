/**
 * Real-n8n runtime tooling: install n8n into a cache (install.ts), pack this package and install it
 * as a community package (package.ts), run `n8n start` / `n8n worker` / CLI commands (instance.ts).
 * Used by `npm start` (scripts/start.ts) and the end-to-end suites (test/e2e).
 */
export * from './install';
export * from './instance';
export * from './package';
export { childEnv, nodeBinary, REPO_ROOT, run, type RunResult } from './proc';
