// Runs store work in several processes at once (the child scripts beside this folder), for the
// tests that race real connections or files.

import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

import type { StoreConfig } from '../../../lib/store';

const REPO_ROOT = resolve(__dirname, '../../..');
const CHILD_SCRIPT = resolve(__dirname, '../concurrent-insert.script.ts');
export const REWARDS_SCRIPT = resolve(__dirname, '../concurrent-rewards.script.ts');

/**
 * Starts `children` processes that open the store behind `config` at the same moment (each
 * loads, says "ready", and waits for "go") and each insert the same `emails` emails (random
 * codes) in transactions. Resolves with each child's inserted count; rejects with a child's
 * stderr when one fails.
 */
export async function runChildInserters(config: StoreConfig, children = 8, emails = 500): Promise<number[]> {
	const results = await runChildScripts<{ inserted: number }>(CHILD_SCRIPT, () => [JSON.stringify(config), String(emails)], children);
	return results.map((r) => r.inserted);
}

/**
 * Starts `children` processes of `script` (run with tsx) with the arguments `args(child)`; each
 * loads, says "ready" and waits for "go", which all get once every one is ready. Resolves with the
 * JSON each printed on its last line; rejects with a child's stderr when one fails.
 */
export async function runChildScripts<T>(script: string, args: (child: number) => string[], children: number): Promise<T[]> {
	const node = resolve(REPO_ROOT, 'node_modules/.bin/node');
	let ready = 0;
	const procs: ChildProcess[] = [];
	const goWhenAllReady = () => {
		if (++ready === children) for (const p of procs) p.stdin!.end('go\n');
	};
	return Promise.all(
		Array.from(
			{ length: children },
			(_, i) =>
				new Promise<T>((done, fail) => {
					const child = spawn(node, ['--import', 'tsx', script, ...args(i)], {
						cwd: REPO_ROOT,
						stdio: ['pipe', 'pipe', 'pipe'],
					});
					procs.push(child);
					child.stdin!.on('error', () => undefined); // a child that already died
					let out = '';
					let err = '';
					let saidReady = false;
					child.stdout!.on('data', (chunk) => {
						out += chunk;
						if (!saidReady && out.includes('ready\n')) {
							saidReady = true;
							goWhenAllReady();
						}
					});
					child.stderr!.on('data', (chunk) => (err += chunk));
					child.on('error', fail);
					child.on('close', (code) => {
						if (!saidReady) goWhenAllReady(); // let the others go; this one failed
						const last = out.trim().split('\n').pop() ?? '';
						if (code === 0) done(JSON.parse(last) as T);
						else fail(new Error(`child exited with ${code}: ${err}`));
					});
				}),
		),
	);
}
