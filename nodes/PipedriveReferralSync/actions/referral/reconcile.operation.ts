import type { IDataObject, IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import type { PipedriveClient } from '../../../../lib/pipedrive/client';
import { ReferralError } from '../../../../lib/referrals/errors';
import type { Campaign } from '../../../../lib/referrals/model';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { reconcile } from '../../../../lib/sync/reconcile';
import { campaignLocator, campaignOf } from '../../../shared/campaign';
import { toNodeError } from '../../../shared/errors';
import { participantJson, referrerJson } from '../../../shared/json';
import { fieldPicker, runSettings } from '../fields';

const properties: INodeProperties[] = [
	{
		displayName:
			'Reads the deals and leads changed in Pipedrive since the last complete run and applies what the campaign’s qualification rule (set on the Referral Campaign node, Qualification) makes of them, exactly as the Pipedrive Referral Trigger would have: webhooks that never arrived are caught up, ones that arrive late change nothing. Runs once per execution, whatever the input.',
		name: 'reconcileNotice',
		type: 'notice',
		default: '',
	},
	campaignLocator(),
	fieldPicker('Referral Code Field Name or ID', 'codeField', 'getDealFields', 'The deal field (leads use deal fields) holding the referral code', true),
	{
		displayName: 'Output',
		name: 'output',
		type: 'options',
		noDataExpression: true,
		options: [
			{
				name: 'Changed Referrals',
				value: 'changes',
				description: 'One item per referral whose status this run changed (like Qualify With Code), for the next nodes; none when nothing changed',
			},
			{ name: 'Summary', value: 'summary', description: 'One item with the counts of the run' },
		],
		default: 'changes',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		options: [
			{
				displayName: 'Max Records per Run',
				name: 'maxRecords',
				type: 'number',
				typeOptions: { minValue: 1 },
				default: 10000,
				description: 'Deals (and leads) beyond this wait for the next run, which continues where this one stopped',
			},
			{
				displayName: 'Restore Trigger Webhooks',
				name: 'replaceBannedWebhooks',
				type: 'boolean',
				default: true,
				description:
					'Whether to register again the Pipedrive Referral Trigger webhooks Pipedrive banned (10 failed deliveries in a row) or deleted (3 days without a successful delivery; for triggers of this campaign), logging a pipedrive.webhook_restored event; costs one read of the webhook list per run',
			},
			{
				displayName: 'Skip Until the Campaign Exists',
				name: 'skipMissingCampaign',
				type: 'boolean',
				default: false,
				description: 'Whether to end without an error while the campaign does not exist yet (the bundled referrer signup creates it)',
			},
		],
	},
];

export const description = updateDisplayOptions({ show: { resource: ['referral'], operation: ['reconcile'] } }, properties);

export async function execute(this: IExecuteFunctions, program: ReferralProgram, client: PipedriveClient): Promise<INodeExecutionData[]> {
	const options = this.getNodeParameter('options', 0, {}) as IDataObject;
	let campaign: Campaign;
	try {
		campaign = await campaignOf(this, program, 0, new Map<string, Campaign>());
	} catch (error) {
		if (!(options.skipMissingCampaign && error instanceof ReferralError && error.kind === 'not_found')) throw toNodeError(this.getNode(), error);
		return [{ json: { skipped: true, reason: `${error.message}; nothing was reconciled` }, pairedItem: { item: 0 } }];
	}
	const summary = await reconcile(program, client, {
		campaignId: campaign.id,
		codeField: String(runSettings(this, ['codeField']).codeField ?? ''),
		maxRecords: options.maxRecords === undefined ? undefined : Number(options.maxRecords),
		restoreWebhooks: options.replaceBannedWebhooks !== false,
	});
	if (this.getNodeParameter('output', 0) === 'summary') {
		return [{ json: JSON.parse(JSON.stringify({ ...summary, changes: summary.changes.length })) as IDataObject, pairedItem: { item: 0 } }];
	}
	const output: INodeExecutionData[] = [];
	for (const change of summary.changes.filter((c) => c.changed)) {
		const referral = await program.getParticipant(campaign.id, { id: change.participantId });
		const referrer = referral.referredBy === null ? null : await program.findParticipant(campaign.id, { id: referral.referredBy });
		output.push({
			json: {
				isReferral: true,
				changed: true,
				action: change.action,
				reason: change.reason,
				entity: change.entity,
				entityId: change.entityId,
				status: referral.referralStatus,
				referral: participantJson(referral),
				referrer: referrerJson(referrer),
			},
			pairedItem: { item: 0 },
		});
	}
	return output;
}
