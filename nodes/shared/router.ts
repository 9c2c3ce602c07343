import type { IExecuteFunctions } from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

/** The operation chosen by the node's `resource` and `operation` parameters. */
export function chosenOperation<T>(context: IExecuteFunctions, resources: Record<string, Record<string, T>>): T {
	// Resource and operation cannot be expressions, so item 0 speaks for every item.
	const resource = context.getNodeParameter('resource', 0) as string;
	const operation = context.getNodeParameter('operation', 0) as string;
	const chosen = resources[resource]?.[operation];
	if (!chosen) {
		throw new NodeOperationError(context.getNode(), `The operation "${operation}" of "${resource}" is not supported`);
	}
	return chosen;
}

/**
 * Reads up to `limit` rows page by page (keyset paging by id), for the Get Many operations.
 * `fetch` gets the last id seen and how many rows are still wanted.
 */
export async function collectUpTo<T extends { id: number }>(
	limit: number,
	fetch: (afterId: number | undefined, wanted: number) => Promise<T[]>,
	pageSize = 500,
): Promise<T[]> {
	const found: T[] = [];
	let afterId: number | undefined;
	while (found.length < limit) {
		const wanted = Math.min(pageSize, limit - found.length);
		const page = await fetch(afterId, wanted);
		found.push(...page);
		if (page.length < wanted) break;
		afterId = page[page.length - 1].id;
	}
	return found;
}
