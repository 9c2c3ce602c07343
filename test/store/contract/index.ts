// The ReferralStore contract: one suite, run against every backend (sqlite.test.ts,
// postgres.test.ts). Every method of StoreTransaction is exercised here; each part lives in
// the file of its use case, and this file keeps the order and names of the describe blocks.

import { campaignStatsTests, campaignTests } from './campaigns';
import { couponTests } from './coupons';
import { eventTests } from './events';
import { legacyRowTests } from './legacy-rows';
import { openingTests } from './opening';
import { participantTests } from './participants';
import { pipedriveSyncTests } from './pipedrive-sync';
import { referrerTallyTests } from './referrer-tallies';
import { rewardTests } from './rewards';
import { contractContext, type ContractFactory } from './shared';
import { transactionTests } from './transactions';

export { runChildInserters, runChildScripts } from './child-processes';
export type { ContractFactory } from './shared';

export function describeStoreContract(getFactory: () => ContractFactory): void {
	const ctx = contractContext(getFactory);

	describe('campaigns', () => campaignTests(ctx));
	describe('people and links written before schema version 6', () => legacyRowTests(ctx));
	describe('participants', () => participantTests(ctx));
	describe('Pipedrive links and sync state', () => pipedriveSyncTests(ctx));
	describe('campaignStats', () => campaignStatsTests(ctx));
	describe('events', () => eventTests(ctx));
	describe('rewards and coupons', () => {
		rewardTests(ctx);
		couponTests(ctx);
	});
	describe('referrer tallies', () => referrerTallyTests(ctx));
	describe('transactions', () => transactionTests(ctx));
	describe('opening, migrations and closing', () => openingTests(ctx));
}
