// Opening stores: one open store per distinct configuration, shared by every caller in the
// process (n8n runs many node executions at once; they must share one SQLite connection, one
// PostgreSQL pool). Migrations run when a configuration is first opened.

import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

import { StoreOpenError } from './errors';
import { openPostgresStore } from './postgres';
import { openSqliteStore } from './sqlite';
import type { ReferralStore, StoreConfig } from './types';

export type * from './types';
export { StoreClosedError, StoreError, StoreOpenError, TransactionStateError } from './errors';

const stores = new Map<string, Promise<ReferralStore>>();

/**
 * The cache key: every field of the configuration (the password too, so a changed password is a
 * different pool), hashed so the secret is never held in, or logged with, a readable key.
 */
function cacheKey(config: StoreConfig): string {
	const fields =
		config.backend === 'sqlite'
			? ['sqlite', resolve(config.path)]
			: [
					'postgres',
					config.host,
					config.port,
					config.database,
					config.user,
					config.password,
					config.ssl,
					config.schema,
				];
	return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

/**
 * Returns the open store for this configuration, opening it (and migrating its schema) on first
 * use. Concurrent callers with the same configuration share one opening; a failed opening is
 * forgotten so the next call tries again. Fails with StoreOpenError.
 */
export function openStore(config: StoreConfig): Promise<ReferralStore> {
	if (config === null || typeof config !== 'object') {
		return Promise.reject(new StoreOpenError('no store configuration given'));
	}
	if (config.backend !== 'sqlite' && config.backend !== 'postgres') {
		return Promise.reject(
			new StoreOpenError(`unknown backend ${JSON.stringify((config as { backend?: unknown }).backend)}`),
		);
	}
	const key = cacheKey(config);
	const cached = stores.get(key);
	if (cached) return cached;
	const forget = () => {
		if (stores.get(key) === opening) stores.delete(key);
	};
	const opening: Promise<ReferralStore> = (async () => {
		if (config.backend === 'sqlite') return openSqliteStore(config, { onClose: forget });
		return openPostgresStore(config, { onClose: forget });
	})();
	stores.set(key, opening);
	opening.catch(forget);
	return opening;
}

/** Closes every store opened through `openStore` (for shutdown and tests). */
export async function closeAllStores(): Promise<void> {
	const open = [...stores.values()];
	stores.clear();
	const results = await Promise.allSettled(
		open.map(async (opening) => {
			const store = await opening.catch(() => null);
			await store?.close();
		}),
	);
	const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
	if (failed) throw failed.reason;
}
