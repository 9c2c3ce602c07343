/**
 * A cross-process lock file, so that concurrent callers (several suites, `npm start` beside them)
 * install n8n once: one holds the lock and installs, the others wait. The holder touches the file
 * while it works; a lock whose holder is gone, or has not touched it for a while, is abandoned.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { formatDuration, log, sleep } from './proc';

/** A lock whose holder has not touched it for this long is considered abandoned. */
const LOCK_STALE_MS = 3 * 60_000;
const LOCK_HEARTBEAT_MS = 30_000;
/** How long a second caller waits for someone else's install (an install retries for ~10 min at most). */
const LOCK_WAIT_MS = 45 * 60_000;

interface LockInfo {
	pid: number;
	host: string;
	what: string;
	since: string;
}

/** An exclusive lock file; returns its release function. Waits (with progress lines) while held. */
export async function acquireLock(lockPath: string, what: string): Promise<() => void> {
	const waitStarted = Date.now();
	let lastNotice = 0;
	for (;;) {
		try {
			const fd = fs.openSync(lockPath, 'wx');
			const info: LockInfo = { pid: process.pid, host: os.hostname(), what, since: new Date().toISOString() };
			fs.writeSync(fd, JSON.stringify(info));
			fs.closeSync(fd);
			const heartbeat = setInterval(() => {
				const now = new Date();
				try {
					fs.utimesSync(lockPath, now, now);
				} catch {
					/* ignore */
				}
			}, LOCK_HEARTBEAT_MS);
			heartbeat.unref();
			let released = false;
			const release = () => {
				if (released) return;
				released = true;
				clearInterval(heartbeat);
				process.removeListener('exit', release);
				try {
					fs.unlinkSync(lockPath);
				} catch {
					/* ignore */
				}
			};
			process.once('exit', release);
			return release;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
		}
		const holder = readLock(lockPath);
		if (holder === 'gone') continue;
		if (isStale(lockPath, holder)) {
			log(`removing abandoned lock ${lockPath}${holder ? ` (pid ${holder.pid} on ${holder.host})` : ''}`);
			try {
				fs.unlinkSync(lockPath);
			} catch {
				/* someone else removed it */
			}
			continue;
		}
		const waited = Date.now() - waitStarted;
		if (waited > LOCK_WAIT_MS) throw new Error(`gave up waiting for ${lockPath} after ${formatDuration(waited)}`);
		if (Date.now() - lastNotice > 30_000) {
			lastNotice = Date.now();
			log(
				`another process${holder ? ` (pid ${holder.pid})` : ''} is installing ${what}; waiting (${formatDuration(waited)}) ...`,
			);
		}
		await sleep(2000);
	}
}

function readLock(lockPath: string): LockInfo | null | 'gone' {
	try {
		return JSON.parse(fs.readFileSync(lockPath, 'utf8')) as LockInfo;
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
		return null; // being written, or garbage
	}
}

/** Whether a process of this host exists (running, or not ours to signal). */
export function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code !== 'ESRCH';
	}
}

function isStale(lockPath: string, holder: LockInfo | null): boolean {
	if (holder && holder.host === os.hostname() && !isAlive(holder.pid)) return true;
	try {
		return Date.now() - fs.statSync(lockPath).mtimeMs > LOCK_STALE_MS;
	} catch {
		return false;
	}
}
