// Errors raised by the store layer. Messages never carry secrets (passwords, connection strings).

/** Base class of every error raised by the store layer itself (driver errors pass through). */
export class StoreError extends Error {
	constructor(message: string, options?: { cause?: unknown }) {
		super(message, options);
		this.name = new.target.name;
	}
}

/** The store could not be opened: bad configuration, unreachable server, failed migration. */
export class StoreOpenError extends StoreError {
	readonly reason: string;

	constructor(reason: string, options?: { cause?: unknown }) {
		super(`cannot open the store: ${reason}`, options);
		this.reason = reason;
	}
}

/** The store was closed; open it again with `openStore`. */
export class StoreClosedError extends StoreError {
	constructor() {
		super('the store is closed');
	}
}

/** A transaction object was used after its transaction had ended, or transactions were nested. */
export class TransactionStateError extends StoreError {}

/**
 * Removes every occurrence of `secret` from `text` (applied to driver messages before they are
 * wrapped). Drivers do not echo passwords; this is a second line of defence. Secrets shorter than
 * four characters are left alone, since masking them would garble ordinary words.
 */
export function redact(text: string, secret: string | undefined): string {
	if (!secret || secret.length < 4) return text;
	return text.split(secret).join('***');
}
