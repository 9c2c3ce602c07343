import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { inspectSubmission, signStamp, stampKey } from '../../lib/referrals/form-stamp';
import { ReferralProgram } from '../../lib/referrals/program';
import { openStore } from '../../lib/store';
import type { ReferralStore, StoreConfig } from '../../lib/store/types';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';

const KEY = stampKey('wf123', 'secret-1');
const POLICY = { minSeconds: 2, maxAgeHours: 24 };
const T0 = Date.parse('2026-12-06T10:00:00.000Z');

describe('form stamps: what needs no store', () => {
	it('signs as the form’s expression does: sha256 hex of "<ms>.<workflow id>.<secret>"', () => {
		const expected = createHash('sha256').update(`${T0}.wf123.secret-1`).digest('hex');
		expect(signStamp(T0, KEY)).toBe(`${T0}.${expected}`);
	});

	it('passes a person who took a few seconds, with when the page was rendered', () => {
		expect(inspectSubmission({ trap: '', stamp: signStamp(T0, KEY) }, KEY, T0 + 7_300, POLICY)).toMatchObject({
			bot: false,
			reasons: [],
			renderedAt: '2026-12-06T10:00:00.000Z',
			secondsOnPage: 7.3,
		});
	});

	it.each([
		['a filled trap', { trap: 'buy now', stamp: signStamp(T0, KEY) }, T0 + 5_000, ['bot_trap_filled']],
		['a trap of spaces only is empty', { trap: '   ', stamp: signStamp(T0, KEY) }, T0 + 5_000, []],
		['no stamp', { trap: '', stamp: undefined }, T0, ['stamp_missing']],
		['an empty stamp and a filled trap', { trap: 'x', stamp: '' }, T0, ['bot_trap_filled', 'stamp_missing']],
		['a malformed stamp', { trap: '', stamp: `${T0}.zz` }, T0 + 5_000, ['stamp_malformed']],
		['a stamp with trailing text', { trap: '', stamp: `${signStamp(T0, KEY)}x` }, T0 + 5_000, ['stamp_malformed']],
		['another key (the public id, no secret)', { trap: '', stamp: signStamp(T0, stampKey('wf123', '')) }, T0 + 5_000, ['stamp_forged']],
		['a real signature on a moved time', { trap: '', stamp: `${T0 - 60_000}.${signStamp(T0, KEY).split('.')[1]}` }, T0 + 5_000, ['stamp_forged']],
		['1.9 s on the page', { trap: '', stamp: signStamp(T0, KEY) }, T0 + 1_900, ['too_fast']],
		['24 hours and a second', { trap: '', stamp: signStamp(T0, KEY) }, T0 + 24 * 3_600_000 + 1_000, ['stamp_expired']],
	] as const)('%s', (_name, input, now, reasons) => {
		const check = inspectSubmission(input, KEY, now, POLICY);
		expect(check.reasons).toEqual(reasons);
		expect(check.bot).toBe(reasons.length > 0);
	});

	it('a minimum of 0 s lets an instant submission through', () => {
		expect(inspectSubmission({ trap: '', stamp: signStamp(T0, KEY) }, KEY, T0, { minSeconds: 0, maxAgeHours: 1 }).bot).toBe(false);
	});
});

function stampSuite(config: () => StoreConfig) {
	let store: ReferralStore;
	let program: ReferralProgram;
	let clock: Date;

	beforeEach(async () => {
		store = await openStore(config());
		clock = new Date(T0 + 5_000);
		program = new ReferralProgram(store, () => clock);
	});

	afterEach(async () => {
		await store.close();
	});

	const check = (stamp: string, trap = '') => program.checkFormSubmission({ stamp, trap }, KEY, POLICY);

	it('takes a stamp once: the second use is a replay, also when both arrive at once', async () => {
		const stamp = signStamp(T0, KEY);
		const results = await Promise.all([check(stamp), check(stamp), check(stamp)]);
		expect(results.filter((r) => !r.bot)).toHaveLength(1);
		expect(results.filter((r) => r.bot).map((r) => r.reasons)).toEqual([['stamp_replayed'], ['stamp_replayed']]);
		expect(await check(signStamp(T0 + 1, KEY))).toMatchObject({ bot: false });
	});

	it('a bot’s failed try does not use up the page’s stamp', async () => {
		const stamp = signStamp(T0, KEY);
		expect((await check(stamp, 'filled')).reasons).toEqual(['bot_trap_filled']);
		clock = new Date(T0 + 1_000);
		expect((await check(stamp)).reasons).toEqual(['too_fast']);
		clock = new Date(T0 + 3_000);
		expect(await check(stamp)).toMatchObject({ bot: false });
	});

	it('forgets expired stamps (a stamp is refused by age before its claim could be reused)', async () => {
		for (let i = 0; i < 3; i++) expect((await check(signStamp(T0 + i, KEY))).bot).toBe(false);
		clock = new Date(T0 + 25 * 3_600_000);
		// Each check removes what ran out: the next one finds none of the three left.
		expect((await check(signStamp(T0 + 24 * 3_600_000, KEY))).bot).toBe(false);
		expect(await store.transaction((tx) => tx.deleteExpiredLeases('form-stamp:', clock.toISOString(), 100))).toBe(0);
		expect((await check(signStamp(T0, KEY))).reasons).toEqual(['stamp_expired']);
	});
}

describe('form stamps (SQLite)', () => {
	let folder: string;
	beforeAll(() => {
		folder = mkdtempSync(join(tmpdir(), 'form-stamp-'));
	});
	afterAll(() => rmSync(folder, { recursive: true, force: true }));
	let n = 0;
	stampSuite(() => ({ backend: 'sqlite', path: join(folder, `s${++n}.sqlite`) }));
});

describePostgres('form stamps (PostgreSQL)', () => {
	let database: TestDatabase;
	beforeAll(async () => {
		database = await createTestDatabase('form_stamp');
	});
	afterAll(async () => {
		await database?.drop();
	});
	stampSuite(() => database.config(database.freshSchema()));
});
