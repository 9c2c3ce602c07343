// What counts as qualified in Pipedrive: the one home that both the webhook path (the Pipedrive
// Referral Trigger's "Campaign's Qualification Rule" event) and the reconciliation pass read. It
// is kept per campaign (set on the Referral Campaign node, version 2, "Qualification"); a campaign
// without one has the default, which is what the bundled workflows did before: a won deal
// qualifies, a lost deal un-qualifies.

import type { ProgramContext } from './context';
import { invalidInput } from './errors';

export interface QualificationRule {
	/** A deal marked won qualifies its referral. */
	dealWon: boolean;
	/** A deal in one of these stages qualifies its referral (none: stages do not qualify). */
	dealStageIds: number[];
	/** A lead with one of these labels qualifies its referral (none: labels do not qualify). */
	leadLabelIds: string[];
	/** A lead converted to a deal qualifies its referral. */
	leadConverted: boolean;
	/** A deal marked lost (also after it was won) un-qualifies its referral. */
	dealLostUnqualifies: boolean;
}

export const DEFAULT_QUALIFICATION_RULE: QualificationRule = {
	dealWon: true,
	dealStageIds: [],
	leadLabelIds: [],
	leadConverted: false,
	dealLostUnqualifies: true,
};

const STATE_KEY = 'qualification-rule';

export function parseQualificationRule(input: Partial<Record<keyof QualificationRule, unknown>>): QualificationRule {
	const flag = (name: keyof QualificationRule) => {
		const value = input[name];
		if (value === undefined) return DEFAULT_QUALIFICATION_RULE[name] as boolean;
		if (typeof value !== 'boolean') throw invalidInput(name, `${name} must be true or false`);
		return value;
	};
	const list = (name: 'dealStageIds' | 'leadLabelIds') => {
		const value = input[name] ?? [];
		const items = Array.isArray(value) ? value : String(value).split(',');
		return items.map((item) => String(item).trim()).filter((item) => item !== '');
	};
	const dealStageIds = list('dealStageIds').map((id) => {
		const n = Number(id);
		if (!Number.isInteger(n) || n <= 0) throw invalidInput('dealStageIds', `"${id}" is not a Pipedrive stage ID`);
		return n;
	});
	const leadLabelIds = list('leadLabelIds');
	for (const id of leadLabelIds) {
		if (!/^[0-9a-f-]{36}$/i.test(id)) throw invalidInput('leadLabelIds', `"${id}" is not a Pipedrive lead label ID`);
	}
	return {
		dealWon: flag('dealWon'),
		dealStageIds: [...new Set(dealStageIds)].sort((a, b) => a - b),
		leadLabelIds: [...new Set(leadLabelIds.map((id) => id.toLowerCase()))].sort(),
		leadConverted: flag('leadConverted'),
		dealLostUnqualifies: flag('dealLostUnqualifies'),
	};
}

export async function getQualificationRule(ctx: ProgramContext, campaignId: number): Promise<QualificationRule> {
	const stored = await ctx.store.read((tx) => tx.getSyncState(campaignId, STATE_KEY));
	return stored ? parseQualificationRule(stored) : DEFAULT_QUALIFICATION_RULE;
}

/** Stores the rule; false (and no write) when the campaign already has exactly this rule. */
export async function setQualificationRule(ctx: ProgramContext, campaignId: number, rule: QualificationRule): Promise<boolean> {
	const current = await getQualificationRule(ctx, campaignId);
	if (JSON.stringify(current) === JSON.stringify(rule)) return false;
	await ctx.store.transaction((tx) => tx.setSyncState(campaignId, STATE_KEY, { ...rule }, ctx.now()));
	return true;
}

// ---------------------------------------------------------------- transitions

/** One change the rule gives a Pipedrive record: what to apply, its idempotency key and when it happened. */
export interface Transition {
	action: 'qualify' | 'unqualify';
	/** The same whichever path (webhook or reconciliation) sees the change first. */
	key: string;
	occurredAt: string;
	/** won, lost, stage, label or converted. */
	reason: string;
}

export interface DealFacts {
	id: number;
	status: string | null;
	stageId: number | null;
	wonTime: string | null;
	lostTime: string | null;
	updateTime: string;
	/** The lead it was converted from, if any. */
	sourceLeadId: string | null;
}

const iso = (time: string) => new Date(Date.parse(time)).toISOString();

/** The idempotency keys of the changes, shared by every path that sees them (webhook items carry them as `transitionKey`). */
export const transitionKeys = {
	dealWon: (dealId: number, wonTime: string) => `pipedrive:deal:${dealId}:won:${iso(wonTime)}`,
	dealLost: (dealId: number, lostTime: string) => `pipedrive:deal:${dealId}:lost:${iso(lostTime)}`,
	dealStage: (dealId: number, stageId: number) => `pipedrive:deal:${dealId}:stage:${stageId}`,
	leadLabel: (leadId: string, labelId: string) => `pipedrive:lead:${leadId.toLowerCase()}:label:${labelId.toLowerCase()}`,
	leadConverted: (leadId: string) => `pipedrive:lead:${leadId.toLowerCase()}:converted`,
};

/**
 * What the rule makes of a deal as it is now, oldest first. A deal lost after it was won shows no
 * won time any more: its "lost" is the only change, and a late "won" delivery is stale against it.
 */
export function dealTransitions(rule: QualificationRule, deal: DealFacts): Transition[] {
	const out: Transition[] = [];
	if (deal.sourceLeadId && rule.leadConverted) {
		out.push({ action: 'qualify', key: transitionKeys.leadConverted(deal.sourceLeadId), occurredAt: iso(deal.updateTime), reason: 'converted' });
	}
	if (deal.stageId !== null && rule.dealStageIds.includes(deal.stageId) && deal.status !== 'lost') {
		out.push({ action: 'qualify', key: transitionKeys.dealStage(deal.id, deal.stageId), occurredAt: iso(deal.updateTime), reason: 'stage' });
	}
	if (deal.status === 'won' && deal.wonTime && rule.dealWon) {
		out.push({ action: 'qualify', key: transitionKeys.dealWon(deal.id, deal.wonTime), occurredAt: iso(deal.wonTime), reason: 'won' });
	}
	if (deal.status === 'lost' && deal.lostTime && rule.dealLostUnqualifies) {
		out.push({ action: 'unqualify', key: transitionKeys.dealLost(deal.id, deal.lostTime), occurredAt: iso(deal.lostTime), reason: 'lost' });
	}
	return out.sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
}

export function leadTransitions(rule: QualificationRule, lead: { id: string; labelIds: string[]; updateTime: string }): Transition[] {
	const label = lead.labelIds.map((id) => id.toLowerCase()).find((id) => rule.leadLabelIds.includes(id));
	if (!label) return [];
	return [{ action: 'qualify', key: transitionKeys.leadLabel(lead.id, label), occurredAt: iso(lead.updateTime), reason: 'label' }];
}
