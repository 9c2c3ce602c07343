// Throwaway email services, from the maintained `disposable-email-domains` package (npm update
// brings the newest list). Loaded on first use: the list is large and most runs never need it.
let domains: Set<string> | undefined;

/** True for a disposable email domain or a subdomain of one. */
export function isDisposableDomain(domain: string): boolean {
	domains ??= new Set(require('disposable-email-domains') as string[]);
	const labels = domain.split('.');
	for (let i = 0; i < labels.length - 1; i++) {
		if (domains.has(labels.slice(i).join('.'))) return true;
	}
	return false;
}
