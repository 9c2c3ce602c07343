import { escapeHtml } from '../portal/html';
import { formatMoney } from '../portal/stats';
import type { Campaign, FlagReason, Participant, Reward } from '../referrals/model';
import type { HeldReferral, ReferralProgram } from '../referrals/program';
import { funnelChart, lineChart } from './charts';
import type { DashboardFigures, Money } from './figures';

/**
 * The dashboard page is these sections, in order. Each may load its own data (in the same request,
 * after the figures) and renders one card. A new section (e.g. the review queue of flagged
 * referrals) is one more entry in DASHBOARD_SECTIONS; its buttons post actions from actions.ts.
 */
export interface SectionContext {
	program: ReferralProgram;
	campaign: Campaign;
	figures: DashboardFigures;
	/** https://<domain>.pipedrive.com, or empty when unknown. */
	pipedriveUrl: string;
	/** A form with one button posting `action` on `subjectId`, CSRF token included. */
	actionButton(action: string, subjectId: number, label: string, style?: 'primary' | 'secondary'): string;
}

export interface DashboardSection<T = unknown> {
	id: string;
	/** Half width on wide screens, beside the next half-width section. */
	half?: boolean;
	load?(ctx: SectionContext): Promise<T>;
	render(ctx: SectionContext, data: T): string;
}

const LIST_LIMIT = 50;
const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
const number = (n: number) => n.toLocaleString('en');

export function moneyText(list: Money[]): string {
	if (list.length === 0) return '0';
	return list.map((m) => (m.currency ? formatMoney(m.amount, m.currency) : `${number(m.count)} other`)).join(' + ');
}

function kpi(id: string, label: string, value: string, note = ''): string {
	return `<div class="kpi" id="kpi-${id}"><span class="muted">${escapeHtml(label)}</span><strong data-value>${escapeHtml(value)}</strong>${note ? `<span class="muted note">${escapeHtml(note)}</span>` : ''}</div>`;
}

const countOf = (list: Money[]) => list.reduce((n, m) => n + m.count, 0);
const rewardsText = (n: number) => `${number(n)} reward${n === 1 ? '' : 's'}`;

const kpis: DashboardSection = {
	id: 'kpis',
	render({ figures: f }) {
		return (
			`<section class="card" id="kpis"><h2>Key figures</h2><div class="kpis">` +
			kpi('referrers', 'Referrers joined', number(f.referrers)) +
			kpi('referred', 'Referred sign-ups', number(f.referredSignups)) +
			kpi('qualified', 'Qualified', number(f.qualified), 'of these sign-ups') +
			kpi('conversion', 'Conversion rate', percent(f.conversionRate)) +
			kpi('per-referrer', 'Qualified per referrer', f.qualifiedPerReferrer.toFixed(2)) +
			kpi('rewards-due', 'Rewards due', moneyText(f.rewards.due), `${rewardsText(countOf(f.rewards.due))}; ${number(countOf(f.rewards.awaiting))} awaiting approval or hold`) +
			kpi('rewards-issued', 'Rewards issued', moneyText(f.rewards.issued), rewardsText(countOf(f.rewards.issued))) +
			kpi('rewards-cancelled', 'Rewards cancelled', moneyText(f.rewards.cancelled), rewardsText(countOf(f.rewards.cancelled))) +
			kpi('coupons', 'Coupons left in the pool', number(f.couponsLeft)) +
			'</div><p class="muted">Rewards count by the day they were created, in their current state.</p></section>'
		);
	},
};

const funnel: DashboardSection = {
	id: 'funnel',
	half: true,
	render({ figures: f }) {
		return (
			'<section class="card" id="funnel">' +
			funnelChart('funnel-chart', 'Referred sign-ups of the period, and how far they got', [
				{ label: 'Referred sign-ups', value: f.funnel.referred },
				{ label: 'Sent to Pipedrive', value: f.funnel.sent },
				{ label: 'Qualified', value: f.funnel.qualified },
				{ label: 'Rewarded', value: f.funnel.rewarded },
			]) +
			'</section>'
		);
	},
};

const trends: DashboardSection = {
	id: 'trends',
	half: true,
	render({ figures: f }) {
		return (
			'<section class="card" id="trends">' +
			lineChart('trends-chart', `Per day (${f.timeZone})`, f.daily.map((d) => d.date), [
				{ label: 'Sign-ups', color: '--series-1', values: f.daily.map((d) => d.signups) },
				{ label: 'Referrals', color: '--series-2', values: f.daily.map((d) => d.referrals) },
				{ label: 'Qualifications', color: '--series-3', values: f.daily.map((d) => d.qualifications) },
			]) +
			'</section>'
		);
	},
};

function personName(p: Participant | null): string {
	if (!p) return 'Unknown';
	if (p.erasedAt) return 'Erased participant';
	return [p.firstName, p.lastName].filter(Boolean).join(' ') || p.email || `Participant ${p.id}`;
}

function rewardWhat(r: Reward): string {
	if (r.kind === 'amount' && r.amount !== null) return formatMoney(r.amount, r.currency);
	return r.kind === 'coupon' ? (r.couponCode ? `Coupon ${r.couponCode}` : 'Coupon') : 'Custom reward';
}

interface Attention {
	pendingApproval: Array<{ reward: Reward; beneficiary: Participant | null; referral: Participant | null }>;
	failed: Array<{ reward: Reward; beneficiary: Participant | null; referral: Participant | null }>;
	reversalNeeded: Array<{ reward: Reward; beneficiary: Participant | null; referral: Participant | null }>;
}

const attention: DashboardSection<Attention> = {
	id: 'attention',
	async load({ program, campaign }) {
		const list = (status: Reward['status']) => program.rewards.list({ campaignId: campaign.id, status: [status] }, { limit: LIST_LIMIT });
		const reversals = await program.listEvents({ campaignId: campaign.id, types: ['reward.reversal_needed'] }, LIST_LIMIT, 'desc');
		const reversalIds = [...new Set(reversals.map((e) => Number(e.payload.rewardId)).filter(Number.isSafeInteger))];
		const reversalNeeded = [];
		for (const id of reversalIds) {
			const view = await program.rewards.get(id).catch(() => null);
			// Still issued: nobody has taken it back yet.
			if (view && view.reward.status === 'issued') reversalNeeded.push(view);
		}
		return { pendingApproval: await list('pending_approval'), failed: await list('failed'), reversalNeeded };
	},
	render(ctx, data) {
		const rows = (views: Attention['pendingApproval'], buttons: (r: Reward) => string, extra: (r: Reward) => string) =>
			views
				.map(
					({ reward, beneficiary, referral }) =>
						`<tr data-reward="${reward.id}"><td>#${reward.id}</td><td>${escapeHtml(personName(beneficiary))}<span class="muted"> (${reward.beneficiaryRole})</span></td>` +
						`<td>${escapeHtml(rewardWhat(reward))}</td><td>${escapeHtml(referral ? personName(referral) : '–')}</td><td>${extra(reward)}</td><td class="actions">${buttons(reward)}</td></tr>`,
				)
				.join('');
		const list = (id: string, title: string, views: Attention['pendingApproval'], empty: string, buttons: (r: Reward) => string, extra: (r: Reward) => string, extraHead: string) =>
			`<h3>${escapeHtml(title)} <span class="count">${views.length}${views.length === LIST_LIMIT ? '+' : ''}</span></h3>` +
			(views.length
				? `<div class="scroll"><table id="${id}"><thead><tr><th>Reward</th><th>For</th><th>What</th><th>Referral</th><th>${escapeHtml(extraHead)}</th><th></th></tr></thead><tbody>${rows(views, buttons, extra)}</tbody></table></div>`
				: `<p class="muted" id="${id}-empty">${escapeHtml(empty)}</p>`);
		return (
			'<section class="card" id="attention"><h2>Rewards needing a person</h2>' +
			list(
				'pending-approval',
				'Pending approval',
				data.pendingApproval,
				'Nothing waits for approval.',
				(r) => ctx.actionButton('reward.approve', r.id, 'Approve') + ctx.actionButton('reward.cancel', r.id, 'Cancel', 'secondary'),
				(r) => escapeHtml(r.createdAt.slice(0, 10)),
				'Created',
			) +
			list('failed', 'Failed', data.failed, 'No reward failed to issue.', (r) => ctx.actionButton('reward.cancel', r.id, 'Cancel', 'secondary'), (r) => escapeHtml(r.failureReason ?? ''), 'Why') +
			list(
				'reversal-needed',
				'Reversal needed (issued, then the referral was un-qualified)',
				data.reversalNeeded,
				'No issued reward needs taking back.',
				() => '',
				(r) => escapeHtml(r.externalRef ?? ''),
				'Issued as',
			) +
			'</section>'
		);
	},
};

const FLAG_REASON_TEXT: Record<FlagReason, string> = {
	hourly_limit: "past the referrer's hourly limit",
	daily_limit: "past the referrer's daily limit",
	disposable_email: 'disposable email address',
	same_device: "same IP address and browser as the referrer's sign-up",
};

/** Referrals a fraud rule held: neither sent to Pipedrive nor rewarded until someone decides. */
const review: DashboardSection<{ held: HeldReferral[]; referrers: Map<number, Participant> }> = {
	id: 'review',
	async load({ program, campaign }) {
		const held = await program.listHeldReferrals(campaign.id, { limit: LIST_LIMIT });
		const referrers = new Map<number, Participant>();
		for (const id of new Set(held.map(({ participant }) => participant.referredBy).filter((id): id is number => id !== null))) {
			referrers.set(id, await program.getParticipant(campaign.id, { id }));
		}
		return { held, referrers };
	},
	render(ctx, { held, referrers }) {
		const rows = held
			.map(({ participant: p, review: r }) => {
				const referrer = p.referredBy === null ? null : (referrers.get(p.referredBy) ?? null);
				const why = r.reasons.map((reason) => FLAG_REASON_TEXT[reason] ?? reason).join(', ');
				return (
					`<tr data-referral="${p.id}"><td>${escapeHtml(personName(p))}${p.email && personName(p) !== p.email ? `<br><span class="muted">${escapeHtml(p.email)}</span>` : ''}</td>` +
					`<td>${escapeHtml(personName(referrer))}</td><td>${escapeHtml(why)}</td><td>${escapeHtml(r.flaggedAt.slice(0, 10))}</td>` +
					`<td class="actions">${ctx.actionButton('referral.approve', p.id, 'Approve')}${ctx.actionButton('referral.reject', p.id, 'Reject', 'secondary')}</td></tr>`
				);
			})
			.join('');
		return (
			`<section class="card" id="review"><h2>Referrals held for review <span class="count">${held.length}${held.length === LIST_LIMIT ? '+' : ''}</span></h2>` +
			(rows
				? `<div class="scroll"><table id="review-table"><thead><tr><th>Referred person</th><th>Referred by</th><th>Why held</th><th>Held on</th><th></th></tr></thead><tbody>${rows}</tbody></table></div>`
				: '<p class="muted" id="review-empty">No referral waits for review.</p>') +
			'</section>'
		);
	},
};

const leaderboard: DashboardSection = {
	id: 'leaderboard',
	render({ figures: f, pipedriveUrl }) {
		const rows = f.topReferrers
			.map((t, i) => {
				const name = escapeHtml(t.name);
				const link = pipedriveUrl && t.pipedrivePersonId !== null ? `<a href="${escapeHtml(`${pipedriveUrl}/person/${t.pipedrivePersonId}`)}" rel="noopener" target="_blank">${name}</a>` : name;
				return `<tr><td>${i + 1}</td><td>${link}</td><td>${number(t.referrals)}</td><td>${number(t.qualified)}</td><td>${number(t.rewards)}</td></tr>`;
			})
			.join('');
		return (
			'<section class="card" id="leaderboard"><h2>Top referrers <span class="muted">(all time)</span></h2>' +
			(rows
				? `<div class="scroll"><table id="leaderboard-table"><thead><tr><th>#</th><th>Referrer</th><th>Referrals</th><th>Qualified</th><th>Rewards</th></tr></thead><tbody>${rows}</tbody></table></div>`
				: '<p class="muted">Nobody has referred anyone yet.</p>') +
			'</section>'
		);
	},
};

export const DASHBOARD_SECTIONS: DashboardSection[] = [kpis, funnel, trends, attention as DashboardSection, review as DashboardSection, leaderboard];
