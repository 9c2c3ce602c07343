import { startSandbox } from '../../sandbox';
import { BUNDLED_PATHS } from '../../scripts/n8n/bundle';
import { openForm, prepareBundledN8n, submitForm } from './helpers/bundled';
it('scratch', async () => {
	const sandbox = await startSandbox({});
	const n8n = await prepareBundledN8n(sandbox, { qualifyKey: 'k-123456789012345' });
	try {
		await new Promise((r) => setTimeout(r, 5000));
		const f = await openForm(n8n.instance, BUNDLED_PATHS.referredForm);
		console.log(f.status, f.html.slice(0, 300));
		const g = await openForm(n8n.instance, BUNDLED_PATHS.referrerForm);
		console.log(g.status, g.html.slice(0, 300));
		if (g.status === 200) console.log(JSON.stringify(await submitForm(n8n.instance, BUNDLED_PATHS.referrerForm, ['Ann', 'Lee', 'ann@example.com'])));
		console.log(n8n.cliOutput.slice(-3000), n8n.instance.logs().slice(-4000));
	} finally {
		await n8n.dispose();
		await sandbox.close();
	}
}, 300_000);
