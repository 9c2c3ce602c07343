import type { ReferralStore } from '../store/types';
import { ReferralError } from './errors';

/** What every use case of the program works with. */
export interface ProgramContext {
	/** The store, with participants' links resolved against `publicUrl`. */
	readonly store: ReferralStore;
	/**
	 * This n8n's public URL, for links made from `{{n8nUrl}}` templates; asked only when such a link
	 * is read.
	 */
	readonly publicUrl: () => string;
	/** The current time as ISO text, from the program's clock. */
	now(): string;
}

export function noPublicUrl(): never {
	throw new ReferralError(
		'n8n_setup',
		"This link points at this n8n (its template starts with {{n8nUrl}}), but n8n's public URL is not known here",
		'linkTemplate',
	);
}
