// A bot flood at the two public forms of the bundled workflows, in a real n8n on SQLite (loopback
// only): `posts` form POSTs, `concurrency` at a time, mostly under one referrer's code with made-up
// addresses (a tenth with no code), none loading anything after its POST. Five kinds of bot, in
// turn: one fills the bot trap; one posts the fields without opening the page (no stamp); two open
// the page, wait out the 2 s a person needs and post with its stamp (they pass the checks, and the
// campaign's velocity limit holds their referrals); one replays a stamp one of those used. Beside
// them `realSignups` people sign up on the referrer form as a browser does (open the page, take a
// few seconds, post). GET /healthz is timed every 100 ms throughout. Used by `npm run bench:flood`
// (5,000 POSTs) and, smaller, by the hardening suite.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ReferralProgram } from '../../lib/referrals/program';
import { openStore } from '../../lib/store';
import { startSandbox } from '../../sandbox';
import { BUNDLED_PATHS, bundledWorkflows } from '../../scripts/n8n/bundle';
import { sleep } from '../../scripts/n8n/proc';
import { hiddenValue, openForm, prepareBundledN8n, sqliteStorePath, submitForm, waitFor, waitUntilIdle } from '../../test/e2e/helpers/bundled';
import { setUpOwner } from '../../test/e2e/helpers/real-n8n';

export interface FloodOptions {
	posts: number;
	concurrency: number;
	realSignups: number;
}

export interface FloodResult {
	bot_posts: number;
	bot_post_errors: number;
	bot_posts_per_s: number;
	waiting_executions: number;
	healthz_p99_ms: number;
	healthz_max_ms: number;
	healthz_failures: number;
	real_signups_ok: number;
	real_signups: number;
	bot_referrals_recorded: number;
	bot_referrals_flagged: number;
	bot_referrals_pending: number;
	bot_referrals_in_pipedrive: number;
	flagged_in_pipedrive: number;
	trap_submissions_recorded: number;
	/** Posts without the page's stamp (scripts) and replays of a used one: recorded (0 expected). */
	stampless_recorded: number;
	replays_recorded: number;
	/** Bots that opened the page and waited: their referrals meet the velocity limit. */
	patient_bot_posts: number;
	n8n_db_growth_mb: number;
	/** Execution rows left in n8n's database, and its free (reusable) space, after the flood. */
	n8n_execution_rows: number;
	/** Of those, marked deleted (successful runs not saved): n8n's pruning removes them an hour later. */
	n8n_execution_rows_soft_deleted: number;
	n8n_db_free_mb: number;
	velocity_limit_per_hour: number;
	/** One held referral approved (twice): it reached Pipedrive, as one person. */
	approved_referral_sent: boolean;
	approved_referral_persons: number;
}

type BotKind = 'trap' | 'script' | 'patient' | 'replay';
const BOT_KINDS: BotKind[] = ['trap', 'script', 'patient', 'replay', 'patient'];
/** The referred form's stamp: its sixth field. */
const STAMP_FIELD = 5;
/** How long a patient bot keeps the page open: past the 2 s a person needs. */
const PATIENT_MS = 2_300;

function percentile(values: number[], p: number): number {
	if (values.length === 0) return 0;
	const sorted = [...values].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * What n8n's database holds after the flood: execution rows (n8n deletes successful runs that are
 * not saved; it soft-deletes first), and the free pages SQLite reuses before it grows the file again.
 */
async function n8nDatabaseContents(userFolder: string): Promise<{ executionRows: number; softDeletedRows: number; freeMb: number }> {
	const { DatabaseSync } = await import('node:sqlite');
	const db = new DatabaseSync(path.join(userFolder, '.n8n', 'database.sqlite'), { readOnly: true });
	try {
		const rows = Number((db.prepare('SELECT count(*) AS n FROM execution_entity').get() as { n: number }).n);
		const softDeleted = Number((db.prepare('SELECT count(*) AS n FROM execution_entity WHERE "deletedAt" IS NOT NULL').get() as { n: number }).n);
		const pageSize = Number((db.prepare('PRAGMA page_size').get() as { page_size: number }).page_size);
		const free = Number((db.prepare('PRAGMA freelist_count').get() as { freelist_count: number }).freelist_count);
		return { executionRows: rows, softDeletedRows: softDeleted, freeMb: Math.round(((free * pageSize) / 1024 / 1024) * 100) / 100 };
	} finally {
		db.close();
	}
}

/** n8n's own SQLite database with its write-ahead log, in bytes. */
function n8nDatabaseBytes(userFolder: string): number {
	const base = path.join(userFolder, '.n8n', 'database.sqlite');
	return ['', '-wal', '-shm'].reduce((sum, suffix) => sum + (fs.existsSync(base + suffix) ? fs.statSync(base + suffix).size : 0), 0);
}

/** Executions n8n keeps waiting (for a page to be loaded), over every page of its list. */
async function countWaitingExecutions(url: string, cookie: string): Promise<number> {
	let waiting = 0;
	for (let cursor = ''; ; ) {
		const response = await fetch(`${url}/rest/executions?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { headers: { cookie } });
		if (!response.ok) throw new Error(`GET /rest/executions: ${response.status} ${await response.text()}`);
		const { data } = (await response.json()) as { data: { results: Array<{ status: string }>; nextCursor?: string | null } };
		waiting += data.results.filter((execution) => execution.status === 'waiting').length;
		if (!data.nextCursor || data.results.length === 0) return waiting;
		cursor = data.nextCursor;
	}
}

export async function runFlood(options: FloodOptions, log: (line: string) => void = () => {}): Promise<FloodResult> {
	const sandbox = await startSandbox({ rateLimit: 0 });
	const workflows = bundledWorkflows()
		.filter(({ file }) => file === 'referrer-signup.json' || file === 'referred-signup.json')
		.map(({ workflow }) => workflow);
	const n8n = await prepareBundledN8n(sandbox, { qualifyKey: 'flood-qualify-key-4d1e8a', workflows });
	try {
		const { url } = n8n.instance;
		await waitFor(async () => (await openForm(n8n.instance, BUNDLED_PATHS.referredForm)).status === 200, 60_000, 'the forms');
		const owner = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Flo', 'Od', 'flooded.referrer@example.com']);
		const code = /ref=(\S+)/.exec(owner.text)![1];
		const cookie = await setUpOwner(n8n.instance);
		await waitUntilIdle(n8n.instance, cookie);
		const dbBefore = n8nDatabaseBytes(n8n.userFolder);

		let flooding = true;
		const healthz: number[] = [];
		let healthzFailures = 0;
		const sampler = (async () => {
			while (flooding) {
				const started = performance.now();
				try {
					const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
					await response.text();
					if (!response.ok) healthzFailures++;
				} catch {
					healthzFailures++;
				}
				healthz.push(performance.now() - started);
				await new Promise((resolve) => setTimeout(resolve, 100));
			}
		})();

		// The bots: multipart POSTs as the form page sends them, never loading anything after.
		let next = 0;
		let botErrors = 0;
		let patientPosts = 0;
		const usedStamps: string[] = [];
		const botStarted = performance.now();
		const post = async (ref: string, fields: string[]) => {
			const body = new FormData();
			fields.forEach((value, index) => body.append(`field-${index}`, value));
			try {
				const response = await fetch(`${url}/form/${BUNDLED_PATHS.referredForm}${ref ? `?ref=${ref}` : ''}`, {
					method: 'POST',
					body,
					signal: AbortSignal.timeout(120_000),
				});
				await response.text();
				if (response.status !== 200) botErrors++;
			} catch {
				botErrors++;
			}
		};
		const bot = async () => {
			for (let i = next++; i < options.posts; i = next++) {
				const kind = BOT_KINDS[i % BOT_KINDS.length];
				const ref = i % 10 === 9 ? '' : code;
				const fields = [`Bot${i}`, '', `user${i}.${Math.random().toString(36).slice(2, 8)}@example.com`, ref, kind === 'trap' ? 'https://cheap.example' : ''];
				if (kind === 'patient') {
					const opened = Date.now();
					const page = await openForm(n8n.instance, BUNDLED_PATHS.referredForm, ref ? `ref=${ref}` : '').catch(() => null);
					const stamp = page ? hiddenValue(page.html, STAMP_FIELD) : null;
					await sleep(Math.max(0, opened + PATIENT_MS - Date.now()));
					patientPosts++;
					await post(ref, [...fields, stamp ?? '']);
					// Replayed only once used: the first to arrive with a stamp is the one it lets through.
					if (stamp) usedStamps.push(stamp);
				} else if (kind === 'replay') {
					await post(ref, [...fields, usedStamps[i % Math.max(1, usedStamps.length)] ?? '']);
				} else {
					await post(ref, fields);
				}
			}
		};
		// Real people, spread over the flood: open the page, take a few seconds, post.
		const real = async (index: number) => {
			await sleep(index * 500);
			const email = `real.person${index}@example.org`;
			const answer = await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, [`Real${index}`, 'Person', email], '', 120_000, false, { secondsOnPage: 4 });
			return answer.status === 200 && answer.heading === "You're in!" ? email : null;
		};
		const [, realEmails] = await Promise.all([
			Promise.all(Array.from({ length: options.concurrency }, bot)),
			Promise.all(Array.from({ length: options.realSignups }, (_, index) => real(index))),
		]);
		const botSeconds = (performance.now() - botStarted) / 1000;
		await waitUntilIdle(n8n.instance, cookie, 600_000);
		flooding = false;
		await sampler;
		log(`flood: ${options.posts} POSTs in ${botSeconds.toFixed(1)} s`);

		const waiting = await countWaitingExecutions(url, cookie);
		const n8nContents = await n8nDatabaseContents(n8n.userFolder);
		const store = await openStore({ backend: 'sqlite', path: sqliteStorePath(n8n.userFolder) });
		try {
			const program = new ReferralProgram(store);
			const campaign = await program.getCampaign({ slug: 'referral-program' });
			const referrer = await program.getParticipant(campaign.id, { code });
			const referrals = await program.listParticipants(campaign.id, { referredBy: referrer.id }, { limit: 100_000 });
			const everyone = await program.listParticipants(campaign.id, {}, { limit: 100_000 });
			const botsOfKind = (kind: BotKind) =>
				everyone.filter((participant) => /^Bot\d+$/.test(participant.firstName ?? '') && BOT_KINDS[Number(participant.firstName!.slice(3)) % BOT_KINDS.length] === kind);
			const inPipedrive = (email: string | null) => Boolean(email && sandbox.state.emailIndex.get(email)?.size);
			const recordedReal = new Set(everyone.map((participant) => participant.email));
			const figures = {
				bot_posts: options.posts,
				bot_post_errors: botErrors,
				bot_posts_per_s: Math.round(options.posts / botSeconds),
				waiting_executions: waiting,
				healthz_p99_ms: Math.round(percentile(healthz, 99)),
				healthz_max_ms: Math.round(Math.max(0, ...healthz)),
				healthz_failures: healthzFailures,
				real_signups_ok: realEmails.filter((email) => email !== null && recordedReal.has(email)).length,
				real_signups: options.realSignups,
				bot_referrals_recorded: referrals.length,
				bot_referrals_flagged: referrals.filter((participant) => participant.referralStatus === 'flagged').length,
				bot_referrals_pending: referrals.filter((participant) => participant.referralStatus === 'pending').length,
				bot_referrals_in_pipedrive: referrals.filter((participant) => inPipedrive(participant.email)).length,
				flagged_in_pipedrive: referrals.filter((participant) => participant.referralStatus === 'flagged' && inPipedrive(participant.email)).length,
				trap_submissions_recorded: botsOfKind('trap').length,
				stampless_recorded: botsOfKind('script').length,
				replays_recorded: botsOfKind('replay').length,
				patient_bot_posts: patientPosts,
				n8n_db_growth_mb: Math.round(((n8nDatabaseBytes(n8n.userFolder) - dbBefore) / 1024 / 1024) * 100) / 100,
				n8n_execution_rows: n8nContents.executionRows,
				n8n_execution_rows_soft_deleted: n8nContents.softDeletedRows,
				n8n_db_free_mb: n8nContents.freeMb,
				velocity_limit_per_hour: campaign.fraudSettings.maxReferralsPerReferrerPerHour,
			};
			// A reviewer approves one held referral: the Referral Approved trigger (polled every minute) sends it.
			const held = referrals.find((participant) => participant.referralStatus === 'flagged');
			let approvedSent = false;
			if (held) {
				await program.approveReferral(campaign.id, { id: held.id });
				await program.approveReferral(campaign.id, { id: held.id });
				approvedSent = await waitFor(() => inPipedrive(held.email), 150_000, 'the approved referral in Pipedrive').then(
					() => true,
					() => false,
				);
			}
			return {
				...figures,
				approved_referral_sent: approvedSent,
				approved_referral_persons: held?.email ? (sandbox.state.emailIndex.get(held.email)?.size ?? 0) : 0,
			};
		} finally {
			await store.close();
		}
	} finally {
		await n8n.dispose();
		await sandbox.close();
	}
}
