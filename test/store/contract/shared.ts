// What every part of the store contract shares: the backend hooks a suite passes in, the store
// the tests share, and the rows they build.

import { LEGACY_FRAUD_DEFAULTS } from '../../../lib/referrals/model';
import type { Campaign, Participant } from '../../../lib/referrals/model';
import { emailIdentity } from '../../../lib/referrals/email';
import {
	closeAllStores,
	openStore,
	type CampaignInsert,
	type ParticipantInsert,
	type ReferralStore,
	type RewardInsert,
	type StoreConfig,
	type StoreTransaction,
} from '../../../lib/store';
import { NO_REWARD_RULES } from '../fixtures';

export interface ContractFactory {
	backend: 'sqlite' | 'postgres';
	/** The configuration of a new, empty store (a new file, a new schema). */
	freshConfig(): StoreConfig;
	/**
	 * Opens the store behind `config` directly with the backend's own migrations plus `extra`
	 * (which must use versions above the shipped ones), bypassing the openStore cache.
	 */
	openWithMigrations(config: StoreConfig, extra: Array<{ version: number; name: string; statements: string[] }>): Promise<ReferralStore>;
	/** Names of the tables that exist in the store behind `config`. */
	tableNames(config: StoreConfig): Promise<string[]>;
	/** Opens the store behind `config` with the shipped migrations up to `version` only (no cache). */
	openAtVersion(config: StoreConfig, version: number): Promise<ReferralStore>;
	/** Runs `sql` directly on the database behind `config` (unqualified names reach its tables). */
	execute(config: StoreConfig, sql: string): Promise<void>;
}

/**
 * The suite's backend and shared store (both set in its beforeAll, so read them inside tests),
 * with shorthands over that store. The functions can be destructured.
 */
export interface ContractContext {
	readonly factory: ContractFactory;
	readonly store: ReferralStore;
	tx: <T>(fn: (t: StoreTransaction) => Promise<T>) => Promise<T>;
	read: <T>(fn: (t: StoreTransaction) => Promise<T>) => Promise<T>;
	newCampaign: (overrides?: Partial<CampaignInsert>) => Promise<Campaign>;
	insert: (rows: ParticipantInsert[], now?: string) => Promise<Participant[]>;
	/** A store of its own, for tests that look at store-wide data (campaign lists, the event log). */
	isolated: () => Promise<ReferralStore>;
	/** A campaign with a referrer and the person they referred (in the shared store unless `s` is given). */
	rewardSetup: (s?: ReferralStore) => Promise<{ c: Campaign; referrer: Participant; referred: Participant }>;
}

export const NOW = '2024-05-01T10:00:00.000Z';
export const LATER = '2024-05-02T11:30:00.000Z';

let seq = 0;
export const uid = () => `${Date.now().toString(36)}${(++seq).toString(36)}`;

export function campaignRow(overrides: Partial<CampaignInsert> = {}): CampaignInsert {
	return {
		slug: `camp-${uid()}`,
		name: 'Spring referrals',
		status: 'active',
		linkTemplate: 'https://n8n.example.com/form/join?ref={{code}}',
		codeSettings: { length: 8, prefix: 'ACME-' },
		fraudSettings: { blockedEmailDomains: ['spam.test'], maxReferralsPerReferrerPerDay: 5, ...LEGACY_FRAUD_DEFAULTS },
		rewardRules: NO_REWARD_RULES,
		...overrides,
	};
}

export function rewardRow(campaignId: number, beneficiaryId: number, overrides: Partial<RewardInsert> = {}): RewardInsert {
	return {
		campaignId,
		beneficiaryId,
		beneficiaryRole: 'referrer',
		rule: 'per_referral',
		ordinal: 1,
		referralId: null,
		kind: 'amount',
		amount: 25,
		currency: 'EUR',
		payload: {},
		status: 'due',
		dueAt: NOW,
		...overrides,
	};
}

/** A campaign row as written before migration 4 (no reward_rules column yet). */
export const LEGACY_CAMPAIGN_SQL = `INSERT INTO campaigns (slug, name, status, link_template, code_settings, fraud_settings, created_at, updated_at)
VALUES ('legacy', 'Legacy', 'active', 'https://x.test/?ref={{code}}', '{"length":8,"prefix":""}',
	'{"blockedEmailDomains":[],"maxReferralsPerReferrerPerDay":0}', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z')`;

/** `2024-05-01T<hour>:00:00.000Z` */
export const at = (hour: number) => `2024-05-01T${String(hour).padStart(2, '0')}:00:00.000Z`;

export function personRow(campaignId: number, email: string, overrides: Partial<ParticipantInsert> = {}): ParticipantInsert {
	const code = overrides.code ?? `C${uid().toUpperCase()}`;
	return {
		campaignId,
		email,
		emailIdentity: emailIdentity(email),
		firstName: 'Ada',
		lastName: 'Lovelace',
		source: 'direct',
		code,
		link: `https://n8n.example.com/form/join?ref=${code}`,
		referredBy: null,
		referralStatus: 'none',
		metadata: { utm: 'newsletter' },
		...overrides,
	};
}

/** Registers the hooks that open the shared store before the suite and close every store after it. */
export function contractContext(getFactory: () => ContractFactory): ContractContext {
	let factory: ContractFactory;
	let store: ReferralStore;
	const tx = <T>(fn: (t: StoreTransaction) => Promise<T>) => store.transaction(fn);
	const read = <T>(fn: (t: StoreTransaction) => Promise<T>) => store.read(fn);

	async function newCampaign(overrides: Partial<CampaignInsert> = {}) {
		const c = await tx((t) => t.insertCampaign(campaignRow(overrides), NOW));
		if (!c) throw new Error('campaign not inserted');
		return c;
	}

	async function insert(rows: ParticipantInsert[], now = NOW): Promise<Participant[]> {
		return tx((t) => t.insertParticipants(rows, now));
	}

	async function isolated(): Promise<ReferralStore> {
		return openStore(factory.freshConfig());
	}

	async function rewardSetup(s: ReferralStore = store) {
		return s.transaction(async (t) => {
			const c = (await t.insertCampaign(campaignRow(), NOW))!;
			const [referrer] = await t.insertParticipants([personRow(c.id, `rw-ref-${uid()}@example.com`)], NOW);
			const [referred] = await t.insertParticipants(
				[personRow(c.id, `rw-new-${uid()}@example.com`, { source: 'referred', referredBy: referrer.id, referralStatus: 'qualified' })],
				NOW,
			);
			return { c, referrer, referred };
		});
	}

	beforeAll(async () => {
		factory = getFactory();
		store = await openStore(factory.freshConfig());
	});

	afterAll(async () => {
		await closeAllStores();
	});

	return {
		get factory() {
			return factory;
		},
		get store() {
			return store;
		},
		tx,
		read,
		newCampaign,
		insert,
		isolated,
		rewardSetup,
	};
}
