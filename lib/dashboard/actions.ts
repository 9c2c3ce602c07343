import { ReferralError } from '../referrals/errors';
import type { ReferralProgram } from '../referrals/program';

/**
 * What the dashboard's buttons do: one table from action name to handler. Each action is applied
 * at most once (a second click, or a click on a stale page, changes nothing and says so), writes in
 * one store transaction and logs its event through the program. A new kind of button is one entry
 * here plus a form in its section (see sections.ts `actionButton`).
 */
export interface ActionContext {
	program: ReferralProgram;
	campaignId: number;
	subjectId: number;
}

export interface ActionOutcome {
	/** False when nothing was written (already done, or not possible any more). */
	changed: boolean;
	tone: 'done' | 'info' | 'error';
	message: string;
}

export interface DashboardAction {
	/** What the subject id names; part of the CSRF token's claims. */
	subject: 'reward' | 'referral';
	run(ctx: ActionContext): Promise<ActionOutcome>;
}

async function rewardOfCampaign(ctx: ActionContext) {
	const view = await ctx.program.rewards.get(ctx.subjectId);
	// A reward of another campaign is "not found" here: the token was signed for this campaign anyway.
	if (view.reward.campaignId !== ctx.campaignId) throw new ReferralError('not_found', `There is no reward with id ${ctx.subjectId}`, 'subject');
	return view;
}

const said = (status: string) => status.replace('_', ' ');

export const DASHBOARD_ACTIONS: Record<string, DashboardAction> = {
	'reward.approve': {
		subject: 'reward',
		async run(ctx) {
			const { reward } = await rewardOfCampaign(ctx);
			if (reward.status === 'pending_approval') {
				try {
					const { reward: approved } = await ctx.program.rewards.approve(reward.id);
					const when = approved.status === 'pending_hold' ? `held until ${approved.dueAt.slice(0, 10)}` : 'now due';
					return { changed: true, tone: 'done', message: `Reward #${reward.id} approved: ${when}.` };
				} catch (error) {
					// Approved (or cancelled) by someone else between the read and the write: say what it is now.
					if (!(error instanceof ReferralError && error.kind === 'conflict')) throw error;
				}
			}
			const now = (await rewardOfCampaign(ctx)).reward.status;
			return now === 'cancelled'
				? { changed: false, tone: 'error', message: `Reward #${reward.id} is cancelled: it cannot be approved. Nothing changed.` }
				: { changed: false, tone: 'info', message: `Reward #${reward.id} was already approved (it is ${said(now)}). Nothing changed.` };
		},
	},
	'reward.cancel': {
		subject: 'reward',
		async run(ctx) {
			const { reward } = await rewardOfCampaign(ctx);
			try {
				const { changed } = await ctx.program.rewards.cancel(reward.id);
				return changed
					? { changed, tone: 'done', message: `Reward #${reward.id} cancelled.` }
					: { changed, tone: 'info', message: `Reward #${reward.id} was already cancelled. Nothing changed.` };
			} catch (error) {
				if (!(error instanceof ReferralError && error.kind === 'conflict')) throw error;
				const now = (await rewardOfCampaign(ctx)).reward.status;
				return { changed: false, tone: 'error', message: `Reward #${reward.id} is ${said(now)}: it can no longer be cancelled. Nothing changed.` };
			}
		},
	},
	'referral.approve': {
		subject: 'referral',
		run: (ctx) => decideReferral(ctx, 'approved'),
	},
	'referral.reject': {
		subject: 'referral',
		run: (ctx) => decideReferral(ctx, 'rejected'),
	},
};

/**
 * Approve or reject a referral a fraud rule held. The program takes each decision once (the row is
 * locked and re-read); the opposite decision taken by someone else first is a conflict, said here.
 * Approving logs referral.approved, which the bundled referred-signup workflow sends to Pipedrive.
 */
async function decideReferral(ctx: ActionContext, decision: 'approved' | 'rejected'): Promise<ActionOutcome> {
	const ref = { id: ctx.subjectId };
	try {
		const { changed } =
			decision === 'approved'
				? await ctx.program.approveReferral(ctx.campaignId, ref)
				: await ctx.program.rejectReferral(ctx.campaignId, ref, 'Rejected on the dashboard');
		return changed
			? { changed, tone: 'done', message: `Referral #${ctx.subjectId} ${decision}.` }
			: { changed, tone: 'info', message: `Referral #${ctx.subjectId} was already ${decision}. Nothing changed.` };
	} catch (error) {
		if (!(error instanceof ReferralError && error.kind === 'conflict')) throw error;
		return { changed: false, tone: 'error', message: `${error.message}. Nothing changed.` };
	}
}
