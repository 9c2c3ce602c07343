import type { IExecuteFunctions, INode, INodeExecutionData, JsonObject } from 'n8n-workflow';
import { NodeApiError, NodeOperationError } from 'n8n-workflow';

import { isPipedriveApiError } from '../../lib/pipedrive/errors';
import { ItemFailedError, ReferralError } from '../../lib/referrals/errors';

/**
 * The node error for a failure at `itemIndex` (none for a failure of the node's settings): the
 * message says what is wrong, the description names the item and the field and what to do about it.
 */
export function toNodeError(node: INode, error: unknown, itemIndex?: number): NodeOperationError | NodeApiError {
	if (error instanceof NodeOperationError || error instanceof NodeApiError) return error;
	if (isPipedriveApiError(error)) {
		// Pipedrive's own message and the HTTP status; the request never carried the token in its URL.
		const response: JsonObject = { message: error.message, status: error.status ?? null, kind: error.kind };
		return new NodeApiError(node, response, {
			itemIndex,
			message: error.message,
			httpCode: error.status ? String(error.status) : undefined,
			description: [itemIndex === undefined ? '' : `Item ${itemIndex}:`, error.method, error.path].filter(Boolean).join(' '),
		});
	}
	if (error instanceof ItemFailedError) return toNodeError(node, error.cause, error.itemIndex);
	if (error instanceof ReferralError) {
		const item = itemIndex === undefined ? '' : `Item ${itemIndex}`;
		const where = error.field && item ? `${item}, field "${error.field}"` : item;
		return new NodeOperationError(node, error.message, {
			itemIndex,
			description: [where, error.hint].filter(Boolean).join('. ') || undefined,
		});
	}
	return new NodeOperationError(node, error as Error, { itemIndex });
}

/**
 * Runs a node's work, turning a failure outside the per-item loop (its settings, the store, the
 * Pipedrive setup) into a node error, or with "Continue On Fail" into one error item per input.
 */
export async function guardSetup(
	context: IExecuteFunctions,
	work: () => Promise<INodeExecutionData[]>,
): Promise<INodeExecutionData[]> {
	try {
		return await work();
	} catch (error) {
		if (!context.continueOnFail()) throw toNodeError(context.getNode(), error);
		return context.getInputData().map((_, itemIndex) => errorItem(error, itemIndex));
	}
}

/**
 * The error item n8n's "Continue On Fail" expects in place of a failed item. Only `error`,
 * `message` and `details` keys: with any other key, n8n 2.x routes the item to the success output
 * instead of the error output ("Continue (using error output)").
 */
export function errorItem(error: unknown, itemIndex: number) {
	const details: { kind?: string; field?: string; httpCode?: number } = {};
	const cause = error instanceof ItemFailedError ? error.cause : error;
	if (cause instanceof ReferralError) {
		details.kind = cause.kind;
		if (cause.field) details.field = cause.field;
	}
	if (isPipedriveApiError(cause)) {
		details.kind = cause.kind;
		if (cause.status) details.httpCode = cause.status;
	}
	return { json: { error: (error as Error).message, details }, pairedItem: { item: itemIndex } };
}
