import type { FunctionsBase } from 'n8n-workflow';

import { ReferralError } from '../../lib/referrals/errors';

/**
 * This n8n's public URL, the base of the links to its forms (`{{n8nUrl}}` in link templates).
 *
 * Forms live under n8n's webhook URL, so `WEBHOOK_URL` comes first, then the instance URL n8n
 * gives nodes (the editor URL, or one made from N8N_PROTOCOL, N8N_HOST and N8N_PORT). In queue
 * mode a worker started without WEBHOOK_URL or N8N_EDITOR_BASE_URL only knows
 * http://localhost:5678, and links it made would point there for good; so there it is an error
 * that says what to set. n8n gives a node no other way to tell a worker or a configured URL from
 * its default, hence the environment read (the package's second documented lint exception).
 */
export function publicUrlOf(context: Pick<FunctionsBase, 'getInstanceBaseUrl'>): () => string {
	return () => {
		const webhookUrl = unquote(process.env.WEBHOOK_URL);
		if (webhookUrl) return webhookUrl;
		if (process.env.EXECUTIONS_MODE === 'queue' && !unquote(process.env.N8N_EDITOR_BASE_URL)) {
			throw new ReferralError(
				'n8n_setup',
				'This n8n process runs in queue mode without a public URL, so referral links made here would point at localhost',
				'linkTemplate',
				'Set WEBHOOK_URL (the URL people reach this n8n at, e.g. https://n8n.example.com/) on the main instance and on every worker, then restart them',
			);
		}
		return context.getInstanceBaseUrl();
	};
}

function unquote(value: string | undefined): string {
	return (value ?? '').trim().replace(/^(['"])(.*)\1$/, '$2').trim();
}
