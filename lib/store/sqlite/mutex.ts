/**
 * A first-come, first-served async mutex. `node:sqlite`'s `DatabaseSync` is one connection; when
 * several async callers share it, their transactions must not interleave, so every transaction
 * and read holds this lock from `BEGIN` to `COMMIT`/`ROLLBACK`.
 */
export class AsyncMutex {
	private tail: Promise<void> = Promise.resolve();

	/** Resolves with a release function once every earlier holder has released. */
	acquire(): Promise<() => void> {
		let release!: () => void;
		const held = new Promise<void>((resolve) => {
			release = resolve;
		});
		const previous = this.tail;
		this.tail = previous.then(() => held);
		let released = false;
		return previous.then(() => () => {
			if (released) return;
			released = true;
			release();
		});
	}

	async run<T>(fn: () => Promise<T>): Promise<T> {
		const release = await this.acquire();
		try {
			return await fn();
		} finally {
			release();
		}
	}
}
