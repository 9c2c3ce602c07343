/**
 * What the SQLite store leaves in its files, read as bytes (not through SQL): after an erasure no
 * byte of `referrals.sqlite`, `-wal` or `-shm` holds the person's email, names, metadata or sign-up device, also
 * for a file written by an older version; after the store is closed the main file alone is a
 * complete copy. An n8n process closes its stores on exit (test/e2e checks that with a real n8n).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { deviceFingerprint } from '../../lib/referrals/device';
import type { Participant } from '../../lib/referrals/model';
import { ReferralProgram } from '../../lib/referrals/program';
import { closeAllStores, openStore } from '../../lib/store';
import { openSqliteStore } from '../../lib/store/sqlite';
import { SQLITE_MIGRATIONS } from '../../lib/store/sqlite/migrations';
import { DatabaseSync } from 'node:sqlite';

const TEMPLATE = 'https://n8n.example.com/form/refer?ref={{code}}';
const DEE_DEVICE = { clientIp: '198.51.100.23', userAgent: 'DeeBrowser/2.0' };
const DEE_FINGERPRINT = deviceFingerprint(DEE_DEVICE.clientIp, DEE_DEVICE.userAgent)!;
const SECRETS = ['dee.secret@example.org', 'Deirdre', 'Quillfeather', 'Deirdra', 'plan-xyz-4471', 'Dublin-7', DEE_FINGERPRINT];
const FILES = ['referrals.sqlite', 'referrals.sqlite-wal', 'referrals.sqlite-shm'];

let folder: string;
beforeEach(() => {
	folder = mkdtempSync(join(tmpdir(), 'sqlite-files-'));
});
afterEach(async () => {
	await closeAllStores();
	rmSync(folder, { recursive: true, force: true });
});

/** For each store file: the secrets its bytes contain (as UTF-8 or UTF-16 text). */
function secretsIn(dir: string, secrets = SECRETS): Record<string, string[]> {
	const found: Record<string, string[]> = {};
	for (const name of FILES) {
		const path = join(dir, name);
		if (!existsSync(path)) continue;
		const bytes = readFileSync(path);
		const hits = secrets.filter((secret) => bytes.includes(Buffer.from(secret, 'utf8')) || bytes.includes(Buffer.from(secret, 'utf16le')));
		if (hits.length) found[name] = hits;
	}
	return found;
}

/** A referred person with a history: names filled in and changed, metadata merged, Pipedrive ids, qualified. */
async function personWithHistory(program: ReferralProgram): Promise<{ referrer: Participant; dee: Participant }> {
	const campaign = await program.createCampaign({ name: 'Files', slug: 'files' }, TEMPLATE);
	const [ann] = await program.enrol(campaign.id, [{ email: 'ann.keeps@example.org', firstName: 'Annabel' }], { stopOnError: true });
	if (!ann.ok) throw ann.error;
	const [dee] = await program.registerReferred(
		campaign.id,
		[{ code: ann.value.participant.code, email: 'dee.secret@example.org', firstName: 'Deirdra', metadata: { city: 'Dublin-7' }, ...DEE_DEVICE }],
		{ stopOnError: true },
	);
	if (!dee.ok) throw dee.error;
	const id = dee.value.participant.id;
	await program.updateParticipant(campaign.id, { id }, { firstName: 'Deirdre', lastName: 'Quillfeather', metadata: { plan: 'plan-xyz-4471' } });
	await program.linkPipedrive(id, { personId: 77, dealId: 88 });
	await program.qualify({ id }, { action: 'qualify' });
	// Enough other traffic that pages are rewritten and the log holds many frames.
	await program.enrol(campaign.id, Array.from({ length: 300 }, (_, i) => ({ email: `bulk${i}@example.org` })), { stopOnError: true });
	return { referrer: ann.value.participant, dee: await program.getParticipant(campaign.id, { id }) };
}

describe('SQLite store files', () => {
	it('hold none of an erased person’s data, in the main file, the log or the shared memory', async () => {
		const path = join(folder, 'referrals.sqlite');
		const store = await openStore({ backend: 'sqlite', path });
		const program = new ReferralProgram(store);
		const { dee } = await personWithHistory(program);
		expect(Object.keys(secretsIn(folder))).not.toEqual([]); // the check can fail: the data is there before
		expect(Object.values(secretsIn(folder, [DEE_FINGERPRINT])).flat()).toContain(DEE_FINGERPRINT);

		await program.eraseParticipant(dee.campaignId, { id: dee.id });
		expect(secretsIn(folder)).toEqual({});
		expect(statSync(join(folder, 'referrals.sqlite-wal')).size).toBe(0);
		// The others are still there, and the erased person still counts.
		expect(secretsIn(folder, ['ann.keeps@example.org', 'Annabel'])).toEqual({ 'referrals.sqlite': ['ann.keeps@example.org', 'Annabel'] });
		const stats = await program.getCampaignStats(dee.campaignId);
		expect(stats.referrals).toMatchObject({ total: 1, qualified: 1 });

		await store.close();
		expect(secretsIn(folder)).toEqual({});
	});

	it('an older file (written without secure_delete) is rewritten once when upgraded, then erases cleanly', async () => {
		const path = join(folder, 'referrals.sqlite');
		await openSqliteStore({ backend: 'sqlite', path }, { migrations: SQLITE_MIGRATIONS.filter((m) => m.version <= 5) }).close();
		// Rows as version 5 wrote them (no identity column), then changed, with freed space left as
		// it was (secure_delete off, as before this version): the old bytes stay in the page.
		const raw = new DatabaseSync(path);
		raw.exec('PRAGMA secure_delete = OFF');
		const at = "'2024-01-01T00:00:00.000Z'";
		raw.exec(`INSERT INTO campaigns (slug, name, status, link_template, code_settings, fraud_settings, created_at, updated_at)
			VALUES ('old', 'Old', 'active', '${TEMPLATE}', '{"length":9,"prefix":""}', '{"blockedEmailDomains":[],"maxReferralsPerReferrerPerDay":0}', ${at}, ${at})`);
		raw.exec(`INSERT INTO participants (campaign_id, email, source, code, link, referral_status, metadata, created_at, updated_at)
			VALUES (1, 'ann.keeps@example.org', 'direct', 'ANNCODE77', 'x', 'none', '{}', ${at}, ${at})`);
		raw.exec(`INSERT INTO participants (campaign_id, email, first_name, source, code, link, referred_by, referral_status, metadata, created_at, updated_at)
			VALUES (1, 'dee.secret@example.org', 'Deirdra', 'referred', 'OLDCODE77', 'x', 1, 'pending', '{"city":"Dublin-7"}', ${at}, ${at})`);
		raw.exec(`UPDATE participants SET first_name = 'Deirdre', last_name = 'Quillfeather', metadata = '{"plan":"plan-xyz-4471"}' WHERE code = 'OLDCODE77'`);
		// A row deleted then leaves its bytes in free space, on pages the erasure does not touch.
		raw.exec(`INSERT INTO participants (campaign_id, email, first_name, source, code, link, referral_status, metadata, created_at, updated_at)
			VALUES (1, 'dee.secret+old@example.org', 'Deirdra', 'direct', 'GONECODE7', 'x', 'none', '{}', ${at}, ${at})`);
		for (let i = 0; i < 400; i++) {
			raw.exec(`INSERT INTO participants (campaign_id, email, source, code, link, referral_status, metadata, created_at, updated_at)
				VALUES (1, 'filler${i}@example.org', 'direct', 'FILL${i}', 'https://n8n.example.com/form/refer?ref=FILL${i}', 'none', '{}', ${at}, ${at})`);
		}
		raw.exec(`DELETE FROM participants WHERE code = 'GONECODE7'`);
		raw.close();
		expect(secretsIn(folder)['referrals.sqlite']).toEqual(expect.arrayContaining(['Deirdra', 'Deirdre']));
		const campaign = { id: 1 };

		const store = await openStore({ backend: 'sqlite', path });
		const program = new ReferralProgram(store);
		const dee = await program.getParticipant(campaign.id, { code: 'OLDCODE77' });
		await program.eraseParticipant(campaign.id, { id: dee.id });
		expect(secretsIn(folder)).toEqual({});
		await store.close();
		expect(secretsIn(folder)).toEqual({});
	});

	it('after the store is closed, the main file alone holds everything', async () => {
		const path = join(folder, 'referrals.sqlite');
		const store = await openStore({ backend: 'sqlite', path });
		const program = new ReferralProgram(store);
		const { dee } = await personWithHistory(program);
		expect(statSync(join(folder, 'referrals.sqlite-wal')).size).toBeGreaterThan(0); // data waits in the log while open
		await store.close();
		expect(existsSync(join(folder, 'referrals.sqlite-wal'))).toBe(false);

		const copy = join(folder, 'copy');
		mkdirSync(copy);
		copyFileSync(path, join(copy, 'referrals.sqlite'));
		const restored = await openStore({ backend: 'sqlite', path: join(copy, 'referrals.sqlite') });
		const reread = new ReferralProgram(restored);
		expect((await reread.getCampaignStats(dee.campaignId)).participants).toBe(302);
		expect(await reread.getParticipant(dee.campaignId, { id: dee.id })).toEqual(dee);
	});
});
