import type { Participant } from './model';
import type { ReferralStore, StoreTransaction } from '../store/types';
import { invalidInput } from './errors';

export const CODE_PLACEHOLDER = '{{code}}';
/**
 * This n8n's public URL, filled in when a link is read, never stored: a link made on one process
 * (a queue-mode worker, say) reads the same on every process that knows the public URL.
 */
export const N8N_URL_PLACEHOLDER = '{{n8nUrl}}';
/** The referred-signup form of the bundled workflows, relative to the n8n instance. */
export const REFERRED_FORM_PATH = '/form/refer';
/** The link template of a campaign created without one: this n8n's referred-signup form. */
export const DEFAULT_LINK_TEMPLATE = `${N8N_URL_PLACEHOLDER}${REFERRED_FORM_PATH}?ref=${CODE_PLACEHOLDER}`;

/** Renders a participant's link; `{{n8nUrl}}` stays as it is until the link is read (resolveLink). */
export function renderLink(template: string, code: string): string {
	return template.split(CODE_PLACEHOLDER).join(encodeURIComponent(code));
}

/** A stored link with `{{n8nUrl}}` replaced by this process's public URL (asked only when needed). */
export function resolveLink(link: string, publicUrl: () => string): string {
	if (!link.startsWith(N8N_URL_PLACEHOLDER)) return link;
	return `${publicUrl().replace(/\/+$/, '')}${link.slice(N8N_URL_PLACEHOLDER.length)}`;
}

/**
 * A template must hold the code placeholder and render to an absolute http(s) URL; it may start
 * with `{{n8nUrl}}` for this n8n's public URL.
 */
export function parseLinkTemplate(value: unknown, field = 'linkTemplate'): string {
	if (typeof value !== 'string') throw invalidInput(field, 'The link template must be text');
	const template = value.trim();
	if (!template.includes(CODE_PLACEHOLDER)) {
		throw invalidInput(
			field,
			`The link template must contain ${CODE_PLACEHOLDER} where the referral code goes`,
			`For example https://example.com/join?ref=${CODE_PLACEHOLDER}`,
		);
	}
	if (template.length > 2000) throw invalidInput(field, 'The link template is longer than 2,000 characters');
	if (template.indexOf(N8N_URL_PLACEHOLDER) > 0) {
		throw invalidInput(field, `${N8N_URL_PLACEHOLDER} can only stand at the start of the link template`);
	}
	let url: URL;
	try {
		url = new URL(resolveLink(renderLink(template, 'CODE'), () => 'https://n8n.example.com'));
	} catch {
		throw invalidInput(field, `The link template "${template}" does not make a valid URL`);
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:') {
		throw invalidInput(field, 'The link template must start with http:// or https://');
	}
	return template;
}

// The transaction methods that hand out participants.
const PARTICIPANT_READERS = new Set<keyof StoreTransaction>([
	'insertParticipants',
	'getParticipant',
	'getParticipants',
	'findParticipantsByEmail',
	'findParticipantsByCode',
	'listParticipants',
	'updateParticipant',
	'findParticipantsByPipedrive',
	'eraseParticipant',
]);

/**
 * The store as the program sees it: every participant read from it carries its link resolved
 * (resolveLink), so nodes, Pipedrive writes and events all see the same public link.
 */
export function withResolvedLinks(store: ReferralStore, publicUrl: () => string): ReferralStore {
	const resolveOne = (participant: Participant | null): Participant | null => {
		if (!participant || !participant.link.startsWith(N8N_URL_PLACEHOLDER)) return participant;
		// Resolved when first read: code that never looks at the link (a trigger matching codes on a
		// queue-mode main without WEBHOOK_URL) never needs the public URL.
		const stored = participant.link;
		let resolved: string | undefined;
		const copy = { ...participant };
		Object.defineProperty(copy, 'link', {
			enumerable: true,
			configurable: true,
			get: () => (resolved ??= resolveLink(stored, publicUrl)),
			set: (value: string) => {
				resolved = value;
			},
		});
		return copy;
	};
	const resolveAll = (value: unknown): unknown =>
		Array.isArray(value) ? value.map((p) => resolveOne(p as Participant)) : resolveOne(value as Participant | null);
	const wrap = (tx: StoreTransaction): StoreTransaction =>
		new Proxy(tx, {
			get(target, property, receiver) {
				const member = Reflect.get(target, property, receiver) as unknown;
				if (typeof member !== 'function') return member;
				if (!PARTICIPANT_READERS.has(property as keyof StoreTransaction)) return member.bind(target);
				return async (...args: unknown[]) => resolveAll(await (member as (...a: unknown[]) => Promise<unknown>).apply(target, args));
			},
		});
	return {
		backend: store.backend,
		transaction: (fn) => store.transaction((tx) => fn(wrap(tx))),
		read: (fn) => store.read((tx) => fn(wrap(tx))),
		scrub: () => store.scrub(),
		close: () => store.close(),
	};
}
