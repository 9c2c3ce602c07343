// The store contract: opening a store, running its migrations, closing it.

import { openStore, StoreClosedError, StoreOpenError, type StoreConfig } from '../../../lib/store';
import { campaignRow, NOW, type ContractContext } from './shared';

/** Opening, migrations and closing: one store per configuration, migrations applied once. */
export function openingTests(ctx: ContractContext): void {
	it('shares one store per configuration, including concurrent first opens', async () => {
		const config = ctx.factory.freshConfig();
		const [a, b] = await Promise.all([openStore(config), openStore({ ...config })]);
		expect(a).toBe(b);
		expect(await openStore(config)).toBe(a);
		expect(a.backend).toBe(ctx.factory.backend);
		await a.close();
		const c = await openStore(config);
		expect(c).not.toBe(a);
		await expect(a.read(async () => 1)).rejects.toBeInstanceOf(StoreClosedError);
		await c.close();
	});

	it('runs migrations once: data survives reopening, and a new version is applied exactly once', async () => {
		const config = ctx.factory.freshConfig();
		const first = await openStore(config);
		const c = (await first.transaction((t) => t.insertCampaign(campaignRow(), NOW)))!;
		await first.close();
		const second = await openStore(config);
		expect(await second.read((t) => t.getCampaign({ id: c.id }))).toEqual(c);
		await second.close();

		// A version far above the shipped ones, so the probe keeps working as migrations are added.
		const probe = [{ version: 1000, name: 'test table', statements: ['CREATE TABLE contract_v2_probe (id integer PRIMARY KEY)'] }];
		const withProbe = await ctx.factory.openWithMigrations(config, probe);
		await withProbe.close();
		// re-running the probe version would fail with "table already exists"
		const again = await ctx.factory.openWithMigrations(config, probe);
		expect(await again.read((t) => t.getCampaign({ id: c.id }))).toEqual(c);
		await again.close();
		expect(await ctx.factory.tableNames(config)).toEqual(
			expect.arrayContaining(['campaigns', 'participants', 'events', 'schema_migrations', 'contract_v2_probe']),
		);
	});

	it('fails with StoreOpenError for an unknown backend', async () => {
		await expect(openStore({ backend: 'mysql' } as unknown as StoreConfig)).rejects.toBeInstanceOf(StoreOpenError);
	});
}
