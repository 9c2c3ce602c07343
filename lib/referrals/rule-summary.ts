// Reward rules in a marketer's words, for the campaign's output: what the team reads to check that
// the fields say what they meant.

import type { RewardRules, RewardSpec } from './model';

function money(amount: number, currency: string): string {
	return `${Number.isInteger(amount) ? amount : amount.toFixed(2)} ${currency}`;
}

function reward(spec: RewardSpec): string {
	if (spec.kind === 'amount') return money(spec.amount ?? 0, spec.currency ?? '');
	if (spec.kind === 'coupon') return 'a coupon';
	return 'a custom reward';
}

function referrals(n: number): string {
	return n === 1 ? '1 qualified referral' : `${n} qualified referrals`;
}

function list(parts: string[]): string {
	return parts.length <= 1 ? parts.join('') : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

/** E.g. "Each referrer earns 25 EUR for every qualified referral, at most 10 rewards. Rewards are due at once." */
export function summarizeRewardRules(rules: RewardRules): string {
	const earns: string[] = [];
	if (rules.perReferral) {
		const { every } = rules.perReferral;
		earns.push(`${reward(rules.perReferral.reward)} for every ${every === 1 ? 'qualified referral' : referrals(every)}`);
	}
	if (rules.milestones.length > 0) {
		earns.push(list(rules.milestones.map((m) => `${reward(m.reward)} on reaching ${referrals(m.at)}`)));
	}
	if (rules.commission) {
		const { percent, cap, currency } = rules.commission;
		earns.push(`${percent} % of each referred sale${cap === null ? '' : ` (at most ${money(cap, currency)} a sale)`}`);
	}
	const sentences: string[] = [];
	if (earns.length > 0) {
		const limit = rules.maxPerReferrer === null ? '' : `, at most ${rules.maxPerReferrer} reward${rules.maxPerReferrer === 1 ? '' : 's'}`;
		sentences.push(`Each referrer earns ${earns.join('; plus ')}${limit}.`);
	}
	if (rules.referred) {
		const when = rules.referred.on === 'registration' ? 'when they sign up' : 'when their referral qualifies';
		sentences.push(`Referred friends get ${reward(rules.referred.reward)} ${when}.`);
	}
	if (sentences.length === 0) return 'No rewards are set up.';
	const hold = rules.holdDays === 0 ? '' : `wait ${rules.holdDays} day${rules.holdDays === 1 ? '' : 's'}`;
	if (hold && rules.approval) sentences.push(`Rewards ${hold}, then need approval.`);
	else if (hold) sentences.push(`Rewards ${hold}, then they are due.`);
	else if (rules.approval) sentences.push('Rewards need approval before they are due.');
	else sentences.push('Rewards are due at once.');
	return sentences.join(' ');
}
