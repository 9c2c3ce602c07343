import { createTransport } from 'nodemailer';

import { startMailCatcher, type MailCatcher } from '../../scripts/mail-catcher';
import { withDemoMail, DEMO_MAIL_CREDENTIAL, bundledWorkflows } from '../../scripts/n8n/bundle';

describe('the demo mail catcher', () => {
	let catcher: MailCatcher;
	beforeAll(async () => {
		catcher = await startMailCatcher();
	});
	afterAll(async () => {
		await catcher.close();
	});

	it('keeps what is sent over SMTP (as n8n’s Send Email sends it) and lists it on its page with clickable links', async () => {
		const transport = createTransport({ host: '127.0.0.1', port: catcher.smtpPort, secure: false, ignoreTLS: true });
		await transport.sendMail({
			from: 'referrals@example.com',
			to: 'ann@example.com',
			subject: 'Your referral link is ready',
			text: 'Hi Ann,\n\nyour stats: http://localhost:5678/webhook/referrals/stats?t=1.abc&x=<b>\n',
		});
		expect(catcher.messages()).toEqual([
			expect.objectContaining({ id: 1, from: 'referrals@example.com', to: ['ann@example.com'], subject: 'Your referral link is ready' }),
		]);
		expect(catcher.messages()[0].text).toContain('http://localhost:5678/webhook/referrals/stats?t=1.abc');
		const page = await (await fetch(catcher.url)).text();
		expect(page).toContain('<h2>Your referral link is ready</h2>');
		expect(page).toContain('<a href="http://localhost:5678/webhook/referrals/stats?t=1.abc&amp;x=&lt;b&gt;">');
		expect(page).not.toContain('<b>');
		expect(await (await fetch(`${catcher.url}/messages.json`)).json()).toHaveLength(1);
	});

	it('the demo enables the bundled Send Email nodes and points them at it; the files keep them disabled', () => {
		for (const { file, workflow } of bundledWorkflows()) {
			const demo = withDemoMail(workflow);
			for (const node of demo.nodes.filter((n) => n.type === 'n8n-nodes-base.emailSend')) {
				expect({ file, node: node.name, disabled: node.disabled, credentials: node.credentials }).toEqual({ file, node: node.name, disabled: undefined, credentials: { smtp: DEMO_MAIL_CREDENTIAL } });
			}
			expect(workflow.nodes.filter((n) => n.type === 'n8n-nodes-base.emailSend').every((n) => n.disabled === true)).toBe(true);
		}
	});
});
