import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

import type { StoreConfig } from './types';

export const DEFAULT_SQLITE_FILE = 'referrals.sqlite';
export const DEFAULT_POSTGRES_SCHEMA = 'referrals';
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

/** n8n keeps its data in `<N8N_USER_FOLDER or home>/.n8n`; the embedded store sits beside it. */
export function n8nUserFolder(env: NodeJS.ProcessEnv = process.env): string {
	return join(env.N8N_USER_FOLDER || homedir(), '.n8n');
}

/** The `referralStoreApi` credential's fields, as n8n hands them to a node. */
export interface StoreCredentialData {
	backend?: unknown;
	sqlitePath?: unknown;
	host?: unknown;
	port?: unknown;
	database?: unknown;
	user?: unknown;
	password?: unknown;
	ssl?: unknown;
	schema?: unknown;
}

/** Turns credential fields into a store configuration; throws a plain message naming the field. */
export function storeConfigFromCredential(data: StoreCredentialData, userFolder = n8nUserFolder()): StoreConfig {
	const backend = data.backend ?? 'sqlite';
	if (backend === 'sqlite') {
		const given = typeof data.sqlitePath === 'string' ? data.sqlitePath.trim() : '';
		const path = given === '' ? DEFAULT_SQLITE_FILE : given;
		return { backend, path: isAbsolute(path) ? path : join(userFolder, path) };
	}
	if (backend !== 'postgres') throw new Error(`Unknown store backend "${String(backend)}": use sqlite or postgres`);
	const text = (value: unknown, field: string, fallback?: string): string => {
		const result = typeof value === 'string' && value.trim() !== '' ? value.trim() : fallback;
		if (result === undefined) throw new Error(`The store credential's ${field} is empty`);
		return result;
	};
	const port = Number(data.port ?? 5432);
	if (!Number.isInteger(port) || port < 1 || port > 65535) {
		throw new Error(`The store credential's port "${String(data.port)}" is not a port number`);
	}
	const schema = text(data.schema, 'schema', DEFAULT_POSTGRES_SCHEMA);
	if (!SCHEMA_PATTERN.test(schema)) {
		throw new Error(
			`The store credential's schema "${schema}" must be lower-case letters, digits and underscores, starting with a letter or underscore`,
		);
	}
	const ssl = data.ssl ?? 'disable';
	if (ssl !== 'disable' && ssl !== 'require' && ssl !== 'verify') {
		throw new Error(`The store credential's SSL mode "${String(ssl)}" is not disable, require or verify`);
	}
	return {
		backend,
		host: text(data.host, 'host'),
		port,
		database: text(data.database, 'database'),
		user: text(data.user, 'user'),
		password: typeof data.password === 'string' ? data.password : '',
		ssl,
		schema,
	};
}
