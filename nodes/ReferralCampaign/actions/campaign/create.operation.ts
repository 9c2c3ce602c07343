import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { changesToMatch, slugOf } from '../../../../lib/referrals/campaign-sync';
import type { CampaignInput, ReferralProgram } from '../../../../lib/referrals/program';
import { forEachItem } from '../../../shared/items';
import { campaignBasicFields, campaignJson, campaignOutput, campaignSettingFieldsV1, FROM_V2, V1_ONLY } from '../common';
import { applyQualificationRule, qualificationProperty, readQualificationRule } from './qualification';
import { fraudSettingsProperty, readCouponCodes, readFraudSettings, readRewardRules, requireCoupons, rewardRuleProperties } from './rules';

const fail = { name: 'Fail', value: 'error', description: 'A campaign with the same slug is an error' };
const useIt = {
	name: 'Use It',
	value: 'useExisting',
	description:
		'Output the campaign with the same slug, unchanged (created: false). The fields here apply only when it is new; change an existing campaign with Update.',
};
const ifExistsDescription = 'What happens when a campaign with this slug (made from the name when no slug is set) exists';

const slugField: INodeProperties = {
	displayName: 'Slug',
	name: 'slug',
	type: 'string',
	default: '',
	placeholder: 'spring-2026',
	description: 'A short unique name to pick the campaign by; made from the name when empty',
};

const byName = (a: INodeProperties, b: INodeProperties) => a.displayName.localeCompare(b.displayName);

const properties: INodeProperties[] = [
	{
		displayName: 'Name',
		name: 'name',
		type: 'string',
		default: '',
		required: true,
		placeholder: 'Spring referral program',
	},
	{
		displayName: 'If It Already Exists',
		name: 'ifExists',
		type: 'options',
		default: 'error',
		options: [fail, useIt],
		description: ifExistsDescription,
		displayOptions: { show: V1_ONLY },
	},
	{
		displayName: 'If It Already Exists',
		name: 'ifExists',
		type: 'options',
		default: 'error',
		options: [
			{ name: 'Fail', value: 'error', description: 'A campaign with the same slug is an error' },
			{
				name: 'Update It to These Settings',
				value: 'update',
				description:
					'Change the existing campaign to what this node says (only what differs; the output lists it under "changed"). Best for a workflow that sets up its own campaign: edit the node, save, and the next run uses the new settings.',
			},
			{ name: useIt.name, value: 'useExisting', description: useIt.description },
		],
		description: ifExistsDescription,
		displayOptions: { show: FROM_V2 },
	},
	...updateDisplayOptions({ show: FROM_V2 }, [...rewardRuleProperties, fraudSettingsProperty, qualificationProperty]),
	{
		displayName: 'Additional Fields',
		name: 'additionalFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		options: [...campaignSettingFieldsV1, slugField].sort(byName),
		displayOptions: { show: V1_ONLY },
	},
	{
		displayName: 'Additional Fields',
		name: 'additionalFields',
		type: 'collection',
		placeholder: 'Add Field',
		default: {},
		options: [...campaignBasicFields, slugField].sort(byName),
		displayOptions: { show: FROM_V2 },
	},
];

export const description = updateDisplayOptions(
	{ show: { resource: ['campaign'], operation: ['create'] } },
	properties,
);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const v2 = this.getNode().typeVersion >= 2;
	return await forEachItem(this, async (itemIndex) => {
		const name = this.getNodeParameter('name', itemIndex);
		const fields = this.getNodeParameter('additionalFields', itemIndex, {}) as IDataObject;
		const ifExists = this.getNodeParameter('ifExists', itemIndex, 'error') as string;
		if (!v2) {
			if (ifExists === 'useExisting') {
				const { campaign, created } = await program.ensureCampaign({ name, ...fields });
				return { ...campaignJson(campaign), created };
			}
			return { ...campaignJson(await program.createCampaign({ name, ...fields })), created: true };
		}
		return await createV2(this, program, itemIndex, { name, ...fields }, ifExists);
	});
}

/** Every setting is read and checked before anything is written: bad input writes nothing. */
async function createV2(
	context: IExecuteFunctions,
	program: ReferralProgram,
	itemIndex: number,
	basics: CampaignInput,
	ifExists: string,
): Promise<IDataObject> {
	const rewardRules = readRewardRules(context, itemIndex);
	const input: CampaignInput = { ...basics, ...readFraudSettings(context, itemIndex), rewardRules };
	const codes = readCouponCodes(context, itemIndex);
	const rule = readQualificationRule(context, itemIndex);
	const existing = await program.findCampaign({ slug: slugOf(input) });
	const inPool = existing ? (await program.rewards.couponPool(existing.id)).total : 0;
	if (!existing || ifExists !== 'useExisting') {
		requireCoupons(rewardRules, inPool, codes, context.getNodeParameter('rewardRulesMode', itemIndex, 'fields') === 'json');
	}
	let { campaign, created } =
		ifExists === 'error' ? { campaign: await program.createCampaign(input), created: true } : await program.ensureCampaign(input);
	let changed: string[] = [];
	if (!created && ifExists === 'update') {
		const match = changesToMatch(campaign, input);
		changed = match.changed;
		if (changed.length > 0) campaign = await program.updateCampaign(campaign.id, match.update);
	}
	const result: IDataObject = { ...campaignOutput(context, campaign), created };
	if (ifExists === 'update') result.changed = changed;
	if (codes.length > 0 && (created || ifExists === 'update')) result.couponPool = await program.rewards.addCoupons(campaign.id, codes);
	if (created || ifExists === 'update') {
		const qualification = await applyQualificationRule(program, campaign.id, rule);
		Object.assign(result, qualification);
		if (!created && qualification.qualificationChanged) changed.push('qualification');
	}
	return result;
}
