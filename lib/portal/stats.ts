import type { Campaign, Participant, Reward, RewardSpec } from '../referrals/model';
import type { ReferralProgram } from '../referrals/program';
import { escapeHtml, page, type Branding } from './html';
import { COPY_SCRIPT, shareSection, type ShareSettings } from './share';

/** What a referrer's personal stats page shows; never anyone's email. */
export interface StatsView {
	firstName: string | null;
	link: string;
	/** Everyone referred, and how many of them converted. */
	counts: { signedUp: number; converted: number };
	friends: FriendView[];
	/** Friends beyond the ones listed (the page lists the latest MAX_FRIENDS). */
	moreFriends: number;
	rewards: RewardLine[];
	totals: { earned: string[]; due: string[]; issued: string[] };
	milestone: { qualified: number; next: number; reward: string } | null;
}

export interface FriendView {
	/** First name and last initial only ("Bo F."), or "A friend" once erased. */
	name: string;
	status: 'Signed up' | 'Converted' | 'Did not convert';
	signedUpAt: string;
}

export interface RewardLine {
	what: string;
	status: string;
	/** For amounts: the amount, counted in the totals. */
	amount: number | null;
	currency: string | null;
	state: 'due' | 'issued';
}

export const MAX_FRIENDS = 200;
const MAX_REWARDS = 500;
const PAGE = 500;

/** "Bo Friend" → "Bo F."; the page never shows a whole surname or an email. */
export function friendName(person: Pick<Participant, 'firstName' | 'lastName' | 'erasedAt'>): string {
	if (person.erasedAt) return 'A friend';
	const first = (person.firstName ?? '').trim();
	const initial = (person.lastName ?? '').trim().charAt(0).toUpperCase();
	if (!first) return initial ? `${initial}.` : 'A friend';
	return initial ? `${first} ${initial}.` : first;
}

export function formatMoney(amount: number, currency: string | null): string {
	if (currency && /^[A-Z]{3}$/.test(currency)) {
		try {
			return new Intl.NumberFormat('en', { style: 'currency', currency }).format(amount);
		} catch {
			/* an unknown currency: plain below */
		}
	}
	return `${amount}${currency ? ` ${currency}` : ''}`;
}

export function describeReward(spec: Pick<RewardSpec, 'kind' | 'amount' | 'currency' | 'payload'>): string {
	if (spec.kind === 'amount' && spec.amount !== undefined && spec.amount !== null) return formatMoney(spec.amount, spec.currency ?? null);
	if (spec.kind === 'coupon') return 'a coupon';
	const label = spec.payload && typeof spec.payload.description === 'string' ? spec.payload.description : null;
	return label ?? 'a gift';
}

function rewardLine(reward: Reward): RewardLine | null {
	if (reward.status === 'cancelled') return null;
	const issued = reward.status === 'issued';
	let what = describeReward({ kind: reward.kind, amount: reward.amount ?? undefined, currency: reward.currency ?? undefined, payload: reward.payload });
	if (reward.kind === 'coupon' && issued && reward.couponCode) what = `Coupon ${reward.couponCode}`;
	const status =
		reward.status === 'issued'
			? `Issued ${reward.issuedAt?.slice(0, 10) ?? ''}`.trim()
			: reward.status === 'pending_approval'
				? 'Being approved'
				: reward.status === 'pending_hold'
					? `Due on ${reward.dueAt.slice(0, 10)}`
					: 'On its way';
	return { what, status, amount: reward.kind === 'amount' ? reward.amount : null, currency: reward.currency, state: issued ? 'issued' : 'due' };
}

function sums(lines: RewardLine[]): string[] {
	const byCurrency = new Map<string, number>();
	for (const line of lines) {
		if (line.amount === null) continue;
		const key = line.currency ?? '';
		byCurrency.set(key, Math.round(((byCurrency.get(key) ?? 0) + line.amount) * 100) / 100);
	}
	return [...byCurrency].map(([currency, amount]) => formatMoney(amount, currency || null));
}

/**
 * The stats of participant `participantId` of `campaign`, read through the program's public
 * methods; null when there is no such participant in the campaign or they were erased.
 */
export async function loadStatsView(program: ReferralProgram, campaign: Campaign, participantId: number): Promise<StatsView | null> {
	const found = (await program.participantsById([participantId])).get(participantId);
	if (!found || found.campaignId !== campaign.id || found.erasedAt) return null;
	const referred: Participant[] = [];
	let total = 0;
	let afterId: number | undefined;
	let qualified = 0;
	for (;;) {
		const batch = await program.listParticipants(campaign.id, { referredBy: found.id, includeErased: true }, { limit: PAGE, afterId });
		total += batch.length;
		qualified += batch.filter((p) => p.referralStatus === 'qualified').length;
		referred.push(...batch);
		// The newest are the ones a referrer looks for: keep the last MAX_FRIENDS.
		if (referred.length > MAX_FRIENDS) referred.splice(0, referred.length - MAX_FRIENDS);
		if (batch.length < PAGE) break;
		afterId = batch[batch.length - 1].id;
	}
	const friends = referred.reverse().map((person) => ({
		name: friendName(person),
		status: person.referralStatus === 'qualified' ? 'Converted' : person.referralStatus === 'unqualified' ? 'Did not convert' : 'Signed up',
		signedUpAt: person.createdAt,
	})) as FriendView[];
	const rewards = (await program.rewards.list({ campaignId: campaign.id, beneficiaryId: found.id }, { limit: MAX_REWARDS }))
		.map((view) => rewardLine(view.reward))
		.filter((line): line is RewardLine => line !== null);
	const next = [...campaign.rewardRules.milestones].sort((a, b) => a.at - b.at).find((m) => m.at > qualified);
	return {
		firstName: found.firstName,
		link: found.link,
		counts: { signedUp: total, converted: qualified },
		friends,
		moreFriends: total - friends.length,
		rewards,
		totals: { earned: sums(rewards), due: sums(rewards.filter((r) => r.state === 'due')), issued: sums(rewards.filter((r) => r.state === 'issued')) },
		milestone: next ? { qualified, next: next.at, reward: describeReward(next.reward) } : null,
	};
}

function figure(label: string, values: string[]): string {
	return `<div><strong>${escapeHtml(values.length ? values.join(' + ') : '0')}</strong><span class="muted">${escapeHtml(label)}</span></div>`;
}

export function renderStatsPage(branding: Branding, settings: ShareSettings, view: StatsView): string {
	const friendRows = view.friends
		.map(
			(f) =>
				`<tr><td>${escapeHtml(f.name)}</td><td class="status status-${f.status === 'Converted' ? 'converted' : 'signed-up'}">${escapeHtml(f.status)}</td><td class="muted">${escapeHtml(f.signedUpAt.slice(0, 10))}</td></tr>`,
		)
		.join('');
	const friends = view.friends.length
		? `<table id="friends"><thead><tr><th>Friend</th><th>Status</th><th>Joined</th></tr></thead><tbody>${friendRows}</tbody></table>` +
			(view.moreFriends > 0 ? `<p class="muted">and ${view.moreFriends} more</p>` : '')
		: '<p class="muted">No one has signed up with your link yet. Share it below!</p>';
	const rewardRows = view.rewards
		.map((r) => `<tr><td>${escapeHtml(r.what)}</td><td class="status">${escapeHtml(r.status)}</td></tr>`)
		.join('');
	const milestone = view.milestone
		? `<section class="card" id="milestone"><h2>Next milestone</h2><p>${view.milestone.qualified} of ${view.milestone.next} friends converted: at ${view.milestone.next} you earn ${escapeHtml(view.milestone.reward)}.</p>` +
			`<progress max="${view.milestone.next}" value="${view.milestone.qualified}">${view.milestone.qualified} of ${view.milestone.next}</progress></section>`
		: '';
	return page(branding, {
		heading: 'Your referrals',
		body: [
			`<section class="card"><h2>${view.firstName ? `Hi ${escapeHtml(view.firstName)}, h` : 'H'}ere is how your referrals are doing</h2>`,
			`<div class="figures"><div><strong>${view.counts.signedUp}</strong><span class="muted">signed up</span></div>` +
				`<div><strong>${view.counts.converted}</strong><span class="muted">converted</span></div>` +
				`${figure('earned', view.totals.earned)}</div></section>`,
			milestone,
			`<section class="card" id="referrals"><h2>Friends you referred</h2>${friends}</section>`,
			`<section class="card" id="rewards"><h2>Your rewards</h2>` +
				(view.rewards.length
					? `<div class="figures">${figure('earned', view.totals.earned)}${figure('on its way', view.totals.due)}${figure('issued', view.totals.issued)}</div>` +
						`<table><thead><tr><th>Reward</th><th>Status</th></tr></thead><tbody>${rewardRows}</tbody></table>`
					: '<p class="muted">No rewards yet: they come when friends you referred convert.</p>') +
				'</section>',
			shareSection(settings, view.link),
		]
			.filter(Boolean)
			.join('\n'),
		script: COPY_SCRIPT,
	});
}
