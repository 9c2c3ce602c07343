// A referrer of a given size for the benchmarks (bench:store, bench:e2e): their qualified referrals
// and the per-referral rewards those earned, seeded through the store in batches of 1,000 (not
// through qualifications), plus pending referrals to qualify during the measurement.
import { generateCode } from '../lib/referrals/codes';
import type { ReferralProgram } from '../lib/referrals/program';
import type { ReferralStore } from '../lib/store/types';

const SEED_BATCH = 1_000;

/** Seeds the referrer and returns the ids and codes of their pending referrals; one more is qualified to settle them. */
export async function seedReferrerOfSize(
	program: ReferralProgram,
	store: ReferralStore,
	campaignId: number,
	options: { name: string; qualified: number; pending: number; linkTemplate: string },
): Promise<Array<{ id: number; code: string }>> {
	const { name, qualified, pending, linkTemplate } = options;
	const [enrolled] = await program.enrol(campaignId, [{ email: `${name}@bench.example` }], { stopOnError: true });
	if (!enrolled.ok) throw enrolled.error;
	const referrer = enrolled.value.participant;
	const now = new Date().toISOString();
	for (let start = 0; start < qualified; start += SEED_BATCH) {
		const count = Math.min(SEED_BATCH, qualified - start);
		await store.transaction(async (tx) => {
			const rows = Array.from({ length: count }, (_, i) => {
				const code = generateCode({ length: 10, prefix: '' });
				const email = `${name}-seed${start + i}@bench.example`;
				return {
					campaignId, email, emailIdentity: email, firstName: null, lastName: null, source: 'referred' as const, code,
					link: linkTemplate.replace('{{code}}', code), referredBy: referrer.id, referralStatus: 'qualified' as const, metadata: {},
				};
			});
			const seeded = (await tx.insertParticipants(rows, now)).sort((a, b) => a.id - b.id);
			await tx.insertRewards(
				seeded.map((referral, i) => ({
					campaignId, beneficiaryId: referrer.id, beneficiaryRole: 'referrer' as const, rule: 'per_referral' as const,
					ordinal: start + i + 1, referralId: referral.id, kind: 'amount' as const, amount: 10, currency: 'EUR', payload: {},
					status: 'issued' as const, dueAt: now,
				})),
				now,
			);
		});
	}
	const registered = await program.registerReferred(
		campaignId,
		Array.from({ length: pending + 1 }, (_, i) => ({ code: referrer.code, email: `${name}-new${i}@bench.example` })),
		{ stopOnError: true },
	);
	const referrals = registered.map((outcome) => {
		if (!outcome.ok) throw outcome.error;
		return { id: outcome.value.participant.id, code: outcome.value.participant.code };
	});
	// One qualification settles the referrer, as a store upgraded from before tallies does once.
	await program.qualify({ id: referrals[0].id }, { action: 'qualify', saleValue: 120 });
	return referrals.slice(1);
}
