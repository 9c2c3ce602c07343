import type { IExecuteFunctions, INodeExecutionData, INodeProperties } from 'n8n-workflow';
import { updateDisplayOptions } from 'n8n-workflow';

import { stampKey } from '../../../../lib/referrals/form-stamp';
import { invalidInput } from '../../../../lib/referrals/errors';
import type { ReferralProgram } from '../../../../lib/referrals/program';
import { forEachItem } from '../../../shared/items';

// Check for Bots: the public forms' gate before anything is recorded (lib/referrals/form-stamp.ts).
// The item goes on unchanged with `formCheck` added; an If on `formCheck.bot` sends bots to the
// same friendly page as people, with nothing recorded.

export const description: INodeProperties[] = updateDisplayOptions({ show: { resource: ['form'], operation: ['check'] } }, [
	{
		displayName: 'Stamp',
		name: 'stamp',
		type: 'string',
		default: '={{ $json.stamp }}',
		description:
			'The hidden field n8n fills with a signed render time each time it shows the form: copy the bundled forms’ field <b>stamp</b> (its value names this node). Missing, forged, too quick or used before: a bot.',
	},
	{
		displayName: 'Bot Trap Value',
		name: 'trap',
		type: 'string',
		default: "={{ $json['Leave this field empty'] }}",
		description: 'A field people never see (the form’s Custom CSS moves it off-screen): filled means a bot',
	},
	{
		displayName: 'Stamp Secret',
		name: 'stampSecret',
		type: 'string',
		typeOptions: { password: true },
		default: '',
		description:
			'Signs the stamps, with the workflow’s ID. Set a long random value when the workflow was imported with its ID (n8n’s CLI): the ID is then public. The form’s expression reads it from this node.',
	},
	{
		displayName: 'Options',
		name: 'options',
		type: 'collection',
		placeholder: 'Add option',
		default: {},
		options: [
			{
				displayName: 'Minimum Seconds on Page',
				name: 'minSeconds',
				type: 'number',
				typeOptions: { minValue: 0, maxValue: 60, numberPrecision: 1 },
				default: 2,
				description: 'A submission sooner than this after the page was rendered is a bot: people take longer to fill in a form',
			},
			{
				displayName: 'Maximum Stamp Age (Hours)',
				name: 'maxAgeHours',
				type: 'number',
				typeOptions: { minValue: 1, maxValue: 168 },
				default: 24,
				description: 'A page left open longer than this counts as a bot’s: stamps are remembered (to refuse them twice) this long',
			},
		],
	},
]);

export async function execute(this: IExecuteFunctions, program: ReferralProgram): Promise<INodeExecutionData[]> {
	const workflowId = String(this.getWorkflow().id ?? '');
	const items = this.getInputData();
	return await forEachItem(this, async (itemIndex) => {
		const secret = String(this.getNodeParameter('stampSecret', itemIndex, '') ?? '');
		if (workflowId === '' && secret === '') {
			throw invalidInput('stampSecret', 'Set a Stamp Secret: this workflow has no ID to sign the stamps with');
		}
		const options = this.getNodeParameter('options', itemIndex, {}) as { minSeconds?: number; maxAgeHours?: number };
		const formCheck = await program.checkFormSubmission(
			{ stamp: this.getNodeParameter('stamp', itemIndex, ''), trap: this.getNodeParameter('trap', itemIndex, '') },
			stampKey(workflowId, secret),
			{ minSeconds: options.minSeconds ?? 2, maxAgeHours: options.maxAgeHours ?? 24 },
		);
		return { ...items[itemIndex].json, formCheck: { ...formCheck } };
	});
}
