/**
 * What a failed n8n install reports: the failure behind the error (npm's code and key line), the
 * tail of a compile's output, and the one paragraph that becomes the thrown Error's message.
 */
import * as path from 'node:path';
import { classifyNpmFailure, failureText, formatDuration, log, StepFailedError, type NpmFailure } from './proc';

export function describeFailure(error: unknown): NpmFailure {
	if (error instanceof StepFailedError) return error.failure;
	const attached = (error as { failure?: NpmFailure } | undefined)?.failure;
	if (attached) return attached;
	if ((error as { result?: unknown } | undefined)?.result) {
		// A command that is not retried (the compile): its output says what went wrong.
		const { code, keyLine } = classifyNpmFailure(failureText(error));
		return { kind: 'permanent', code, keyLine };
	}
	const message = error instanceof Error ? error.message : String(error);
	return { kind: 'permanent', keyLine: message.split('\n')[0] };
}

/** The last lines of a failed command's output, for failures with no npm error code (a compile error). */
export function echoTail(error: unknown): void {
	const cause = error instanceof StepFailedError ? error.lastError : error;
	const result = (cause as { result?: { stdout: string; stderr: string } } | undefined)?.result;
	if (!result) return;
	const lines = `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => line.trim());
	for (const line of lines.slice(-25)) log(`  | ${line}`);
}

/** The command the user ran, to run again: `npm start`, `npm run test:e2e`, … */
export function rerunCommand(env: NodeJS.ProcessEnv = process.env): string {
	const event = env.npm_lifecycle_event;
	if (!event || event === 'npx' || event === 'exec') return 'npx tsx scripts/n8n/install.ts';
	return ['start', 'test', 'stop', 'restart'].includes(event) ? `npm ${event}` : `npm run ${event}`;
}

export interface InstallFailure {
	version: string;
	step: string;
	failure: NpmFailure;
	attempts: number;
	elapsedMs: number;
	dir: string;
	rerun: string;
}

/** The one paragraph a failed install reports (it is the thrown Error's message). */
export function installFailureParagraph(f: InstallFailure): string {
	const tried =
		f.attempts > 1
			? ` after ${f.attempts} attempts over ${formatDuration(f.elapsedMs)} (a transient registry or network error, retried with backoff, that did not go away)`
			: f.failure.kind === 'transient'
				? ''
				: ' (not retried: waiting would not fix it)';
	let advice: string;
	switch (f.failure.code) {
		case 'ETARGET':
		case 'E404':
			advice =
				'A locked package is missing from the registry npm uses: if you use a mirror, check that it carries it; if the lock was just regenerated, the registry may still be publishing, so try again in a few minutes.';
			break;
		case 'EUSAGE':
		case 'ELOCKMISMATCH':
			advice = 'scripts/n8n/runtime/package-lock.json does not match its package.json: regenerate it with `npm run n8n:lock` and commit both files.';
			break;
		case 'EPINMISMATCH':
			advice = 'Do not use that file; check where npm downloads from (`npm config get registry`) before re-pinning with `npm run n8n:lock -- --node <version>`.';
			break;
		case 'ENOSPC':
			advice = 'The disk is full: the install needs about 3 GB; free space or point N8N_CACHE_DIR at a larger disk.';
			break;
		case 'EACCES':
		case 'EPERM':
		case 'EROFS':
			advice = 'The cache folder is not writable: fix its permissions or point N8N_CACHE_DIR elsewhere.';
			break;
		default:
			advice =
				f.failure.kind === 'transient'
					? 'Check that the npm registry answers (`npm ping`), or wait a few minutes.'
					: 'The output above shows the details.';
	}
	const alone = f.rerun.includes('scripts/n8n/install.ts') ? '' : ` (or install n8n alone with \`npx tsx scripts/n8n/install.ts\`)`;
	return (
		`Installing n8n ${f.version} failed at step "${f.step}"${tried}: ${f.failure.keyLine}. ` +
		`Nothing was left half-installed: the work folder was removed and ${f.dir} was not created, ` +
		`so the next run starts from a clean state (other installs in ${path.dirname(f.dir)} are untouched). ` +
		`${advice} Then run \`${f.rerun}\` again${alone}.`
	);
}
