// Errors the program raises for a person to act on. The nodes turn them into NodeOperationErrors
// naming the item and the field; nothing here knows about n8n.

export type ReferralErrorKind =
	| 'invalid_input'
	| 'not_found'
	| 'campaign_inactive'
	| 'self_referral'
	| 'fraud_blocked'
	| 'conflict'
	| 'pipedrive_setup'
	| 'n8n_setup'
	| 'not_a_referral';

export class ReferralError extends Error {
	constructor(
		readonly kind: ReferralErrorKind,
		message: string,
		/** The input field at fault (node parameter or JSON key), when there is one. */
		readonly field?: string,
		/** What the user can do about it. */
		readonly hint?: string,
	) {
		super(message);
		this.name = 'ReferralError';
	}
}

export function invalidInput(field: string, message: string, hint?: string): ReferralError {
	return new ReferralError('invalid_input', message, field, hint);
}

/** Raised by batch operations told to stop at the first failing item: nothing was written. */
export class ItemFailedError extends Error {
	constructor(
		readonly itemIndex: number,
		readonly cause: ReferralError,
	) {
		super(cause.message);
		this.name = 'ItemFailedError';
	}
}
