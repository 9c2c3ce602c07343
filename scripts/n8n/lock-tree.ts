/**
 * Walking a lockfileVersion 3 lock's `packages`: where Node would find a dependency, and which
 * entries a package needs. Used to cut a lock of part of a tree out of a bigger one (sqlite3's
 * build out of the n8n runtime lock, this package's runtime dependencies out of the root lock).
 */

export type LockPackage = {
	name?: string;
	version?: string;
	resolved?: string;
	integrity?: string;
	link?: boolean;
	dev?: boolean;
	devOptional?: boolean;
	optional?: boolean;
	dependencies?: Record<string, string>;
	optionalDependencies?: Record<string, string>;
	peerDependencies?: Record<string, string>;
	peerDependenciesMeta?: Record<string, { optional?: boolean }>;
	[field: string]: unknown;
};

/** Where Node would find `name` from the package at `from`, in the lock's layout. */
export function lockResolve(packages: Record<string, LockPackage>, from: string, name: string): string | undefined {
	for (let dir = from; ; ) {
		const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
		if (packages[candidate]) return candidate;
		if (!dir) return undefined;
		const cut = dir.lastIndexOf('/node_modules/');
		dir = cut === -1 ? '' : dir.slice(0, cut);
	}
}

export type LockClosure =
	| { ok: true; locations: string[] }
	/** A required dependency the lock does not have. */
	| { ok: false; missing: { from: string; name: string } }
	/** A linked entry (a workspace or `file:` package): there is no tarball to install it from. */
	| { ok: false; link: string };

/**
 * The entries the packages at `starts` need, themselves included, sorted: their dependencies and
 * the optional and peer dependencies the lock has, resolved the way Node would, transitively. An
 * optional or peer dependency the lock leaves out is skipped. `skipOptionalPeers` also skips the
 * optional peer dependencies the lock does have (npm installs those only because something else
 * requires them, which in a bigger tree may be a dev dependency).
 */
export function lockClosure(
	packages: Record<string, LockPackage>,
	starts: string[],
	options: { skipOptionalPeers?: boolean } = {},
): LockClosure {
	const closure = new Set<string>();
	const queue = [...starts];
	while (queue.length > 0) {
		const at = queue.shift()!;
		if (closure.has(at)) continue;
		closure.add(at);
		const entry = packages[at];
		if (entry.link) return { ok: false, link: at };
		for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies })) {
			const optionalPeer = !entry.dependencies?.[name] && !entry.optionalDependencies?.[name] && entry.peerDependenciesMeta?.[name]?.optional;
			if (options.skipOptionalPeers && optionalPeer) continue;
			const found = lockResolve(packages, at, name);
			if (!found) {
				if (entry.dependencies?.[name]) return { ok: false, missing: { from: at, name } };
				continue; // an optional or peer dependency this lock leaves out
			}
			queue.push(found);
		}
	}
	return { ok: true, locations: [...closure].sort() };
}
