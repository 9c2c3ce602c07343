import { findField, type FieldEntity, type PipedriveField } from '../pipedrive/fields';
import type { PipedriveClient } from '../pipedrive/client';
import { ReferralError } from '../referrals/errors';

/** Where Pipedrive's UI keeps each entity's custom fields, for "create it there" hints. */
const FIELD_SETTINGS: Record<FieldEntity, string> = {
	person: 'Company settings → Data fields → Person',
	deal: 'Company settings → Data fields → Deal',
	lead: 'Company settings → Data fields → Deal (leads use the deal fields)',
};

/** A node setting naming a Pipedrive field (by key or name) for one role, e.g. the referral code. */
export interface FieldChoice<R extends string> {
	role: R;
	/** How the setting is labelled for the user, e.g. "Referral Code Field". */
	label: string;
	/** Field key (40-character hash) or name. */
	field: string;
}

/**
 * Checks that every chosen field exists before anything is sent, and returns them by role. A
 * missing field is an error naming the setting, the field and where to create it.
 */
export function checkFieldChoices<R extends string>(
	entity: FieldEntity,
	available: readonly PipedriveField[],
	choices: Array<FieldChoice<R>>,
): Map<R, PipedriveField> {
	const resolved = new Map<R, PipedriveField>();
	for (const choice of choices) {
		const field = findField(available, choice.field);
		if (!field) {
			throw new ReferralError(
				'pipedrive_setup',
				`The ${entity} field "${choice.field}" chosen as ${choice.label} does not exist in Pipedrive`,
				choice.role,
				`Create it in Pipedrive (${FIELD_SETTINGS[entity]}) or pick another field; nothing was sent`,
			);
		}
		resolved.set(choice.role, field);
	}
	return resolved;
}

/** The fields of an entity, fetched once per client (the client caches them). */
export async function fieldsOf(client: PipedriveClient, entity: FieldEntity): Promise<PipedriveField[]> {
	if (entity === 'person') return await client.listPersonFields();
	if (entity === 'deal') return await client.listDealFields();
	return await client.listLeadFields();
}

/** Values by field key, only for the roles that have a field. */
export function valuesByKey<R extends string>(
	fields: Map<R, PipedriveField>,
	values: Partial<Record<R, unknown>>,
): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const [role, field] of fields) {
		const value = values[role];
		if (value !== undefined) out[field.key] = value;
	}
	return out;
}
