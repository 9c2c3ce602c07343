/**
 * Custom-field values in v2 webhooks, each typed object turned into the API v2 shape of the same
 * field. The webhook shapes are quoted from Pipedrive's webhooks v2 migration guide ("Custom fields
 * format in webhooks v2"), the API v2 shapes from the API v2 migration guide, as the payload-shapes
 * report (§1c C1–C10, §1f A2–A4, §2 P1) lists them.
 */
import { type FieldV2, fieldFromV2, readCustomFieldValue } from '../../lib/pipedrive';

const KEY = 'c0de000000000000000000000000000000000001';
const read = (value: unknown, options: { labels?: boolean } = {}) => readCustomFieldValue({ custom_fields: { [KEY]: value } }, KEY, options);

describe('v2 webhook custom fields -> API v2 values', () => {
	it.each<[string, unknown, unknown]>([
		// C1 Text / Long text / Autocomplete
		['varchar', { type: 'varchar', value: 'Some text' }, 'Some text'],
		['text', { type: 'text', value: 'Long\ntext' }, 'Long\ntext'],
		['varchar_auto', { type: 'varchar_auto', value: 'Auto' }, 'Auto'],
		// C2 Numeric
		['double', { type: 'double', value: 123 }, 123],
		// C7 Phone, Date
		['phone', { type: 'phone', value: '1234-5678' }, '1234-5678'],
		['date', { type: 'date', value: '2023-06-27' }, '2023-06-27'],
		// C3 Monetary -> [A2] `{"value": 2300, "currency": "EUR"}`
		['monetary', { currency: 'EUR', type: 'monetary', value: 200 }, { value: 200, currency: 'EUR' }],
		// C4 Single option, C6 Person / Org / User -> the id
		['enum', { id: 17, type: 'enum' }, 17],
		['people', { id: 17818, type: 'people' }, 17818],
		['org', { id: 1, type: 'org' }, 1],
		['user', { id: 13075973, type: 'user' }, 13075973],
		// C5 Multiple options -> [A2] "option IDs are now in an array as numeric values"
		['set', { values: [{ id: 13 }, { id: 14 }], type: 'set' }, [13, 14]],
		['set (bare value array)', { value: [13, 14], type: 'set' }, [13, 14]],
		// C8 Date range -> [A2] `{value, until}`
		['daterange', { from: '2023-06-06', until: '2023-06-14', type: 'daterange' }, { value: '2023-06-06', until: '2023-06-14' }],
		// C9 Time -> `{value, timezone_id}`; Time range -> `{value, until, timezone_id}`
		['time', { timezone_id: 310, type: 'time', value: '00:45:00' }, { value: '00:45:00', timezone_id: 310 }],
		[
			'timerange',
			{ timezone_id: 310, from: '10:00:00', until: '11:30:00', type: 'timerange' },
			{ value: '10:00:00', until: '11:30:00', timezone_id: 310 },
		],
		// C10 Address -> the object (API v2 returns the object), without `type`
		[
			'address',
			{ value: 'Mustamäe tee 3a, Tallinn, Estonia', locality: 'Tallinn', country: 'Estonia', route: 'Mustamäe tee', street_number: '3a', type: 'address' },
			{ value: 'Mustamäe tee 3a, Tallinn, Estonia', locality: 'Tallinn', country: 'Estonia', route: 'Mustamäe tee', street_number: '3a' },
		],
		// A type the map does not know: its value, else its id
		['unknown type with value', { type: 'brand_new', value: 'x' }, 'x'],
		['unknown type with id', { type: 'brand_new_ref', id: 5 }, 5],
	])('%s', (_type, webhook, api) => {
		expect(read(webhook)).toEqual(api);
	});

	it.each<[string, unknown]>([
		['varchar', { type: 'varchar', value: null }],
		['monetary', { type: 'monetary', value: null, currency: 'EUR' }],
		['enum', { type: 'enum', id: null }],
		['daterange', { type: 'daterange', from: null, until: null }],
		['address', { type: 'address', value: null }],
		['plain null', null],
	])('%s without a value is null', (_type, webhook) => {
		expect(read(webhook)).toBeNull();
	});

	it.each<[string, unknown]>([
		['a plain value', 'ANN-7Q2X'],
		['a number', 42],
		['monetary', { value: 2300, currency: 'EUR' }],
		['multiple options', [123, 456]],
		['date range', { value: '2023-06-06', until: '2023-06-14' }],
		['time', { value: '00:45:00', timezone_id: 310, timezone_name: 'Europe/Tallinn' }],
		['address', { value: 'Mustamäe tee 3a', route: 'Mustamäe tee', locality: 'Tallinn' }],
	])('API v2 values (no `type`) pass through: %s', (_name, api) => {
		expect(read(api)).toEqual(api);
	});

	it('absent is undefined (the caller decides what that means), present-and-null is null', () => {
		expect(readCustomFieldValue({ custom_fields: {} }, KEY)).toBeUndefined();
		expect(readCustomFieldValue({ custom_fields: { [KEY]: null } }, KEY)).toBeNull();
		expect(readCustomFieldValue({ [KEY]: 'TOP-LEVEL' }, KEY)).toBe('TOP-LEVEL');
	});

	it('labels: option ids of enum and set fields become their labels', () => {
		const tags: FieldV2 = {
			field_name: 'Tags',
			field_code: KEY,
			field_type: 'set',
			is_custom_field: true,
			options: [
				{ id: 13, label: 'Partner' },
				{ id: 14, label: 'Friend' },
			],
		};
		const field = fieldFromV2('deal', tags);
		const set = { custom_fields: { [KEY]: { values: [{ id: 13 }, { id: 14 }], type: 'set' } } };
		expect(readCustomFieldValue(set, field, { labels: true })).toEqual(['Partner', 'Friend']);
		const single = fieldFromV2('deal', { ...tags, field_type: 'enum' });
		expect(readCustomFieldValue({ custom_fields: { [KEY]: { id: 14, type: 'enum' } } }, single, { labels: true })).toBe('Friend');
	});
});
