// "Update It to These Settings": a campaign node in a workflow is the campaign's definition, so
// each run brings the stored campaign in line with it. Only what differs is written, and the
// caller reports which settings changed. The slug is the identity and never changes here; the
// status only when the node sets one (a campaign paused elsewhere stays paused).

import { fraudInput, fraudUpdate } from './campaigns';
import { parseCodeSettings } from './codes';
import { DEFAULT_LINK_TEMPLATE, parseLinkTemplate } from './links';
import type { Campaign } from './model';
import type { CampaignInput, CampaignUpdate } from './program';
import { parseRewardRules } from './rewards';
import { parseCampaignName, parseCampaignStatus, parseFraudSettings, parseSlug, slugify } from './validation';

const SETTINGS = ['name', 'status', 'linkTemplate', 'codeSettings', 'fraudSettings', 'rewardRules'] as const;
export type CampaignSetting = (typeof SETTINGS)[number];

const isBlank = (value: unknown) => value === undefined || value === null || (typeof value === 'string' && value.trim() === '');

/** JSON with sorted keys, so settings read back from either store compare equal to freshly parsed ones. */
function canonical(value: unknown): string {
	return JSON.stringify(value, (_key, v: unknown) =>
		v && typeof v === 'object' && !Array.isArray(v)
			? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
			: v,
	);
}

/**
 * The update that makes `current` what `input` (a full campaign definition, as for create)
 * describes, and the settings it changes; an empty list means the campaign already matches.
 * Throws on bad input before anything is written, like create.
 */
export function changesToMatch(
	current: Campaign,
	input: CampaignInput,
	defaultLinkTemplate = DEFAULT_LINK_TEMPLATE,
): { update: CampaignUpdate; changed: CampaignSetting[] } {
	const desired = {
		name: parseCampaignName(input.name),
		status: input.status === undefined ? current.status : parseCampaignStatus(input.status),
		linkTemplate: parseLinkTemplate(isBlank(input.linkTemplate) ? defaultLinkTemplate : input.linkTemplate),
		codeSettings: parseCodeSettings({ length: input.codeLength, prefix: input.codePrefix }),
		fraudSettings: parseFraudSettings(fraudInput(input)),
		rewardRules: parseRewardRules(input.rewardRules),
	};
	const update: CampaignUpdate = {};
	const changed: CampaignSetting[] = [];
	const differs = (setting: CampaignSetting) => canonical(desired[setting]) !== canonical(current[setting]);
	if (differs('name')) update.name = desired.name;
	if (differs('status')) update.status = desired.status;
	if (differs('linkTemplate')) update.linkTemplate = desired.linkTemplate;
	if (differs('codeSettings')) {
		update.codeLength = desired.codeSettings.length;
		update.codePrefix = desired.codeSettings.prefix;
	}
	if (differs('fraudSettings')) Object.assign(update, fraudUpdate(desired.fraudSettings));
	if (differs('rewardRules')) update.rewardRules = desired.rewardRules;
	for (const setting of SETTINGS) if (differs(setting)) changed.push(setting);
	return { update, changed };
}

/** The settings that differ between two versions of a campaign. */
export function changedSettings(before: Campaign, after: Campaign): CampaignSetting[] {
	return SETTINGS.filter((setting) => canonical(before[setting]) !== canonical(after[setting]));
}

/** The slug a campaign input names: its own, or the one made from its name (as create does). */
export function slugOf(input: CampaignInput): string {
	return isBlank(input.slug) ? slugify(parseCampaignName(input.name)) : parseSlug(input.slug);
}
