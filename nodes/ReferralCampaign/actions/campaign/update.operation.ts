import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { changedSettings } from '../../../../lib/referrals/campaign-sync';
import { invalidInput } from '../../../../lib/referrals/errors';
import type { Campaign } from '../../../../lib/referrals/model';
import type { CampaignUpdate, ReferralProgram } from '../../../../lib/referrals/program';
import { parseQualificationRule } from '../../../../lib/referrals/qualification-rule';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { forEachItem } from '../../../shared/items';
import { campaignBasicFields, campaignJson, campaignOutput, campaignSettingFieldsV1, FROM_V2, V1_ONLY } from '../common';
import { applyQualificationRule, qualificationFields, qualificationProperty } from './qualification';
import { fraudSettingsProperty, readCouponCodes, readFraudSettings, readRewardRules, requireCoupons, rewardRuleProperties } from './rules';

const nameField: INodeProperties = { displayName: 'Name', name: 'name', type: 'string', default: '' };
const byName = (a: INodeProperties, b: INodeProperties) => a.displayName.localeCompare(b.displayName);

const properties: INodeProperties[] = [
	campaignLocator(),
	{
		displayName: 'Update Fields',
		name: 'updateFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		options: [nameField, ...campaignSettingFieldsV1].sort(byName),
		displayOptions: { show: V1_ONLY },
	},
	{
		displayName: 'Update Fields',
		name: 'updateFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		options: [nameField, ...campaignBasicFields].sort(byName),
		displayOptions: { show: FROM_V2 },
	},
	{
		displayName: 'Change Reward Rules',
		name: 'changeRewardRules',
		type: 'boolean',
		default: false,
		description:
			'Whether to replace the campaign’s reward rules with the ones below. They apply to referrals that qualify from now on; Evaluate Rewards back-fills earlier ones.',
		displayOptions: { show: FROM_V2 },
	},
	...updateDisplayOptions(
		{ show: { ...FROM_V2, changeRewardRules: [true] } },
		rewardRuleProperties.filter((property) => property.name !== 'couponCodes'),
	),
	...updateDisplayOptions({ show: FROM_V2 }, [
		fraudSettingsProperty,
		rewardRuleProperties.find((property) => property.name === 'couponCodes')!,
		{ ...qualificationProperty, description: `${qualificationProperty.description} Only the fields added here change.` },
	]),
];

export const description = updateDisplayOptions(
	{ show: { resource: ['campaign'], operation: ['update'] } },
	properties,
);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const cache = new Map<string, Campaign>();
	const v2 = this.getNode().typeVersion >= 2;
	return await forEachItem(this, async (itemIndex) => {
		const campaign = await campaignOf(this, program, itemIndex, cache);
		const fields = this.getNodeParameter('updateFields', itemIndex, {}) as IDataObject;
		if (!v2) {
			if (Object.keys(fields).length === 0) {
				throw invalidInput('updateFields', 'Nothing to update: add at least one field under Update Fields');
			}
			const updated = await program.updateCampaign(campaign.id, fields);
			cache.clear();
			return campaignJson(updated);
		}
		const update: CampaignUpdate = { ...fields, ...readFraudSettings(this, itemIndex) };
		if (this.getNodeParameter('changeRewardRules', itemIndex, false)) {
			update.rewardRules = readRewardRules(this, itemIndex);
		}
		const codes = readCouponCodes(this, itemIndex);
		const qualification = qualificationFields(this, itemIndex);
		const rule = Object.keys(qualification).length > 0 ? parseQualificationRule({ ...(await program.getQualificationRule(campaign.id)), ...qualification }) : null;
		if (Object.keys(update).length === 0 && codes.length === 0 && !rule) {
			throw invalidInput(
				'updateFields',
				'Nothing to update: add a field under Update Fields, Fraud Protection or Qualification, turn on Change Reward Rules, or add Coupon Codes',
			);
		}
		if (update.rewardRules) {
			const { total } = await program.rewards.couponPool(campaign.id);
			requireCoupons(update.rewardRules as Campaign['rewardRules'], total, codes, this.getNodeParameter('rewardRulesMode', itemIndex, 'fields') === 'json');
		}
		const updated = Object.keys(update).length > 0 ? await program.updateCampaign(campaign.id, update) : campaign;
		cache.clear();
		const result: IDataObject = { ...campaignOutput(this, updated), changed: changedSettings(campaign, updated) };
		if (codes.length > 0) result.couponPool = await program.rewards.addCoupons(campaign.id, codes);
		if (rule) {
			const applied = await applyQualificationRule(program, campaign.id, rule);
			Object.assign(result, applied);
			if (applied.qualificationChanged) (result.changed as string[]).push('qualification');
		}
		return result;
	});
}
