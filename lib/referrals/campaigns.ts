import type { CampaignPatch, Page, StoreTransaction } from '../store/types';
import { CHUNK } from './batch';
import { parseCodeSettings } from './codes';
import type { ProgramContext } from './context';
import { ReferralError } from './errors';
import { DEFAULT_LINK_TEMPLATE, parseLinkTemplate, renderLink, resolveLink } from './links';
import { isBlank, requireCampaign } from './lookups';
import type { Campaign, CampaignStats, CampaignStatus, FraudSettings } from './model';
import { parseRewardRules } from './rewards';
import { parseCampaignName, parseCampaignStatus, parseFraudSettings, parseSlug, slugify, type FraudSettingsInput } from './validation';

export interface CampaignInput {
	name: unknown;
	slug?: unknown;
	status?: unknown;
	linkTemplate?: unknown;
	codeLength?: unknown;
	codePrefix?: unknown;
	blockedEmailDomains?: unknown;
	maxReferralsPerReferrerPerDay?: unknown;
	maxReferralsPerReferrerPerHour?: unknown;
	velocityAction?: unknown;
	disposableEmailAction?: unknown;
	sameDeviceAction?: unknown;
	/** Reward rules, as JSON text or an object (see RewardRules). */
	rewardRules?: unknown;
}

export type CampaignUpdate = Partial<CampaignInput>;

const FRAUD_KEYS = [
	'blockedEmailDomains',
	'maxReferralsPerReferrerPerDay',
	'maxReferralsPerReferrerPerHour',
	'velocityAction',
	'disposableEmailAction',
	'sameDeviceAction',
] as const satisfies ReadonlyArray<keyof FraudSettings>;

/** The fraud settings a campaign input names (absent ones undefined: defaults or current values apply). */
export function fraudInput(input: CampaignUpdate): FraudSettingsInput {
	const out: FraudSettingsInput = {};
	for (const key of FRAUD_KEYS) out[key] = input[key];
	return out;
}

/** A campaign update setting every fraud setting to `settings`. */
export function fraudUpdate(settings: FraudSettings): CampaignUpdate {
	const update: CampaignUpdate = {};
	for (const key of FRAUD_KEYS) update[key] = settings[key];
	return update;
}

/** Without a link template, links point at this n8n's referred-signup form (`{{n8nUrl}}/form/refer`). */
export async function createCampaign(
	ctx: ProgramContext,
	input: CampaignInput,
	defaultLinkTemplate = DEFAULT_LINK_TEMPLATE,
): Promise<Campaign> {
	const name = parseCampaignName(input.name);
	const slug = isBlank(input.slug) ? slugify(name) : parseSlug(input.slug);
	const row = {
		slug,
		name,
		status: input.status === undefined ? 'active' : parseCampaignStatus(input.status),
		linkTemplate: parseLinkTemplate(isBlank(input.linkTemplate) ? defaultLinkTemplate : input.linkTemplate),
		codeSettings: parseCodeSettings({ length: input.codeLength, prefix: input.codePrefix }),
		fraudSettings: parseFraudSettings(fraudInput(input)),
		rewardRules: parseRewardRules(input.rewardRules),
	};
	const campaign = await ctx.store.transaction((tx) => tx.insertCampaign(row, ctx.now()));
	if (!campaign) {
		throw new ReferralError(
			'conflict',
			`A campaign with the slug "${slug}" already exists`,
			'slug',
			'Choose another slug, or use Update to change the existing campaign',
		);
	}
	return campaign;
}

/**
 * Creates the campaign, or returns the one that already has its slug, unchanged (`created`
 * false): the settings given apply only when it is new. Lets a workflow set up its campaign on
 * first use; concurrent first uses create it once.
 */
export async function ensureCampaign(
	ctx: ProgramContext,
	input: CampaignInput,
	defaultLinkTemplate = DEFAULT_LINK_TEMPLATE,
): Promise<{ campaign: Campaign; created: boolean }> {
	try {
		return { campaign: await createCampaign(ctx, input, defaultLinkTemplate), created: true };
	} catch (error) {
		if (!(error instanceof ReferralError && error.kind === 'conflict' && error.field === 'slug')) throw error;
		const slug = isBlank(input.slug) ? slugify(parseCampaignName(input.name)) : parseSlug(input.slug);
		return { campaign: await getCampaign(ctx, { slug }), created: false };
	}
}

export async function findCampaign(ctx: ProgramContext, ref: { id: number } | { slug: string }): Promise<Campaign | null> {
	return await ctx.store.read((tx) => tx.getCampaign(ref));
}

export async function getCampaign(ctx: ProgramContext, ref: { id: number } | { slug: string }): Promise<Campaign> {
	return requireCampaign(await findCampaign(ctx, ref), ref);
}

export async function listCampaigns(
	ctx: ProgramContext,
	filter: { status?: CampaignStatus[]; search?: string },
	page: Page,
): Promise<Campaign[]> {
	return await ctx.store.read((tx) => tx.listCampaigns(filter, page));
}

/** A new link template re-renders every participant's link in the same transaction. */
export async function updateCampaign(ctx: ProgramContext, id: number, update: CampaignUpdate): Promise<Campaign> {
	return await ctx.store.transaction(async (tx) => {
		const current = requireCampaign(await tx.getCampaign({ id }), { id });
		const patch: CampaignPatch = {};
		if (update.name !== undefined) patch.name = parseCampaignName(update.name);
		if (update.status !== undefined) patch.status = parseCampaignStatus(update.status);
		if (update.linkTemplate !== undefined) patch.linkTemplate = parseLinkTemplate(update.linkTemplate);
		if (update.codeLength !== undefined || update.codePrefix !== undefined) {
			patch.codeSettings = parseCodeSettings({
				length: update.codeLength ?? current.codeSettings.length,
				prefix: update.codePrefix ?? current.codeSettings.prefix,
			});
		}
		const fraudUpdate = fraudInput(update);
		if (FRAUD_KEYS.some((key) => fraudUpdate[key] !== undefined)) {
			const merged: FraudSettingsInput = { ...current.fraudSettings };
			for (const key of FRAUD_KEYS) if (fraudUpdate[key] !== undefined) merged[key] = fraudUpdate[key];
			patch.fraudSettings = parseFraudSettings(merged);
		}
		if (update.rewardRules !== undefined) patch.rewardRules = parseRewardRules(update.rewardRules);
		const now = ctx.now();
		const updated = requireCampaign(await tx.updateCampaign(id, patch, now), { id });
		if (patch.linkTemplate !== undefined && patch.linkTemplate !== current.linkTemplate) {
			await rerenderLinks(ctx, tx, updated, now);
		}
		return updated;
	});
}

export async function getCampaignStats(ctx: ProgramContext, id: number, topReferrers = 10): Promise<CampaignStats> {
	return await ctx.store.read(async (tx) => {
		requireCampaign(await tx.getCampaign({ id }), { id });
		return await tx.campaignStats(id, topReferrers);
	});
}

async function rerenderLinks(ctx: ProgramContext, tx: StoreTransaction, campaign: Campaign, now: string): Promise<void> {
	let afterId = 0;
	for (;;) {
		const page = await tx.listParticipants(campaign.id, { includeErased: true }, { limit: CHUNK, afterId });
		for (const participant of page) {
			// Participants come with their links resolved; the stored link keeps {{n8nUrl}}.
			const link = renderLink(campaign.linkTemplate, participant.code);
			if (resolveLink(link, ctx.publicUrl) !== participant.link) await tx.updateParticipant(participant.id, { link }, now);
		}
		if (page.length < CHUNK) return;
		afterId = page[page.length - 1].id;
	}
}
