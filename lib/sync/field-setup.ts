// "Set up Pipedrive for me": the referral custom fields, created under the names the nodes and the
// bundled workflows look for, so nobody has to create them by hand. Fields that exist under those
// names are reused (whatever their key), so running it again creates nothing.

import type { PipedriveClient } from '../pipedrive/client';
import { findField } from '../pipedrive/fields';

export interface ReferralField {
	entity: 'person' | 'deal';
	/** The suggested name: what the bundled workflows and the README's table use. */
	name: string;
	fieldType: 'varchar' | 'double';
}

export const REFERRAL_FIELDS: readonly ReferralField[] = [
	{ entity: 'deal', name: 'Referral code', fieldType: 'varchar' },
	{ entity: 'deal', name: 'Referrer name', fieldType: 'varchar' },
	{ entity: 'deal', name: 'Referrer email', fieldType: 'varchar' },
	{ entity: 'deal', name: 'Referral campaign', fieldType: 'varchar' },
	{ entity: 'deal', name: 'Referral link', fieldType: 'varchar' },
	{ entity: 'person', name: 'Referral link', fieldType: 'varchar' },
	{ entity: 'person', name: 'Referral code', fieldType: 'varchar' },
	{ entity: 'person', name: 'Referrals', fieldType: 'double' },
	{ entity: 'person', name: 'Qualified referrals', fieldType: 'double' },
];

export interface FieldSetupResult extends ReferralField {
	/** created: made now; existing: a field of that name was there and is used. */
	status: 'created' | 'existing';
	/** The field's key in Pipedrive (40-character hash). */
	key: string;
	/** Set when an existing field has another type than suggested (it is used anyway). */
	note?: string;
}

/**
 * Creates the fields that are missing and reports every one. Fresh lists are read first (a field
 * added in Pipedrive a minute ago counts), and the account's cached lists are forgotten after a
 * create, so the next node sees the new fields.
 */
export async function setUpReferralFields(
	client: PipedriveClient,
	wanted: readonly ReferralField[] = REFERRAL_FIELDS,
): Promise<FieldSetupResult[]> {
	client.fieldsCache.clear();
	const results: FieldSetupResult[] = [];
	for (const field of wanted) {
		const existing = findField(await client.fieldsCache.fieldsFor(field.entity), field.name);
		if (existing) {
			const note =
				existing.fieldType === field.fieldType
					? undefined
					: `It is a ${existing.fieldType} field, not ${field.fieldType}; it is used as it is`;
			results.push({ ...field, status: 'existing', key: existing.key, ...(note ? { note } : {}) });
			continue;
		}
		const created = await client.createCustomField(field.entity, { field_name: field.name, field_type: field.fieldType });
		results.push({ ...field, status: 'created', key: created.key });
	}
	return results;
}
