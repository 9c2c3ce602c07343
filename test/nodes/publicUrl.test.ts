import { publicUrlOf } from '../../nodes/shared/publicUrl';

describe('the public URL of links to this n8n', () => {
	const saved = { ...process.env };
	afterEach(() => {
		for (const key of ['WEBHOOK_URL', 'N8N_EDITOR_BASE_URL', 'EXECUTIONS_MODE']) {
			if (saved[key] === undefined) delete process.env[key];
			else process.env[key] = saved[key];
		}
	});
	const context = { getInstanceBaseUrl: () => 'http://localhost:5678' };

	it('is WEBHOOK_URL when set (forms live under it), else the instance URL n8n gives the node', () => {
		delete process.env.EXECUTIONS_MODE;
		delete process.env.WEBHOOK_URL;
		expect(publicUrlOf(context)()).toBe('http://localhost:5678');
		process.env.WEBHOOK_URL = '"https://hooks.acme.com/"';
		expect(publicUrlOf(context)()).toBe('https://hooks.acme.com/');
	});

	it('is an error naming what to set on a queue-mode process without a public URL', () => {
		process.env.EXECUTIONS_MODE = 'queue';
		delete process.env.WEBHOOK_URL;
		delete process.env.N8N_EDITOR_BASE_URL;
		expect(() => publicUrlOf(context)()).toThrow(/queue mode without a public URL/);
		try {
			publicUrlOf(context)();
		} catch (error) {
			expect(error).toMatchObject({ kind: 'n8n_setup', hint: expect.stringContaining('Set WEBHOOK_URL') });
		}
		process.env.N8N_EDITOR_BASE_URL = 'https://n8n.acme.com';
		expect(publicUrlOf({ getInstanceBaseUrl: () => 'https://n8n.acme.com' })()).toBe('https://n8n.acme.com');
	});
});
