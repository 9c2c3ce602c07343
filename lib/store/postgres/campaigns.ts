// Campaigns: created once per slug, read by id or slug, listed and patched.

import type { Campaign, CampaignStatus } from '../../referrals/model';
import type { CampaignInsert, CampaignPatch, Page } from '../types';
import { assignments, CAMPAIGN_COLUMNS, CAMPAIGN_PATCH_COLUMNS, rowToCampaign, toIso, toLimit, type Param, type Query } from './rows';

export async function insertCampaign(q: Query, row: CampaignInsert, now: string): Promise<Campaign | null> {
	const ts = toIso(now);
	const rows = await q(
		'INSERT INTO campaigns (slug, name, status, link_template, code_settings, fraud_settings, reward_rules, created_at, updated_at) ' +
			'VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8, $8) ON CONFLICT (slug) DO NOTHING ' +
			`RETURNING ${CAMPAIGN_COLUMNS}`,
		[
			row.slug,
			row.name,
			row.status,
			row.linkTemplate,
			JSON.stringify(row.codeSettings),
			JSON.stringify(row.fraudSettings),
			JSON.stringify(row.rewardRules),
			ts,
		],
	);
	return rows.length === 0 ? null : rowToCampaign(rows[0]);
}

export async function getCampaign(q: Query, ref: { id: number } | { slug: string }): Promise<Campaign | null> {
	const rows =
		'id' in ref
			? await q(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1`, [ref.id])
			: await q(`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns WHERE slug = $1`, [ref.slug]);
	return rows.length === 0 ? null : rowToCampaign(rows[0]);
}

export async function listCampaigns(q: Query, filter: { status?: CampaignStatus[]; search?: string }, page: Page): Promise<Campaign[]> {
	const where: string[] = [];
	const params: Param[] = [];
	if (filter.status?.length) {
		params.push(filter.status);
		where.push(`status = ANY($${params.length}::text[])`);
	}
	if (filter.search) {
		params.push(filter.search.toLowerCase());
		where.push(`(strpos(lower(name), $${params.length}) > 0 OR strpos(lower(slug), $${params.length}) > 0)`);
	}
	if (page.afterId !== undefined) {
		params.push(page.afterId);
		where.push(`id > $${params.length}`);
	}
	params.push(toLimit(page.limit));
	const rows = await q(
		`SELECT ${CAMPAIGN_COLUMNS} FROM campaigns${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
			`ORDER BY id LIMIT $${params.length}`,
		params,
	);
	return rows.map(rowToCampaign);
}

export async function updateCampaign(q: Query, id: number, patch: CampaignPatch, now: string): Promise<Campaign | null> {
	const params: Param[] = [id, toIso(now)];
	const sets = [...assignments(CAMPAIGN_PATCH_COLUMNS, patch, params), 'updated_at = $2'];
	const rows = await q(
		`UPDATE campaigns SET ${sets.join(', ')} WHERE id = $1 RETURNING ${CAMPAIGN_COLUMNS}`,
		params,
	);
	return rows.length === 0 ? null : rowToCampaign(rows[0]);
}
