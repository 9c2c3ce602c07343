import type { INode } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { ItemFailedError, ReferralError } from '../../lib/referrals/errors';

/**
 * The node error for a failure at `itemIndex`: the message says what is wrong, the description
 * names the item and the field and what to do about it.
 */
export function toNodeError(node: INode, error: unknown, itemIndex: number): NodeOperationError {
	if (error instanceof NodeOperationError) return error;
	if (error instanceof ItemFailedError) return toNodeError(node, error.cause, error.itemIndex);
	if (error instanceof ReferralError) {
		const where = error.field ? `Item ${itemIndex}, field "${error.field}"` : `Item ${itemIndex}`;
		return new NodeOperationError(node, error.message, {
			itemIndex,
			description: error.hint ? `${where}. ${error.hint}` : where,
		});
	}
	return new NodeOperationError(node, error as Error, { itemIndex });
}

/** The error item n8n's "Continue On Fail" expects in place of a failed item. */
export function errorItem(error: unknown, itemIndex: number) {
	const json: { error: string; field?: string; kind?: string } = { error: (error as Error).message };
	const cause = error instanceof ItemFailedError ? error.cause : error;
	if (cause instanceof ReferralError) {
		json.kind = cause.kind;
		if (cause.field) json.field = cause.field;
	}
	return { json, pairedItem: { item: itemIndex } };
}
