// Campaigns: created once per slug, read by id or slug, listed and patched.

import type { Campaign, CampaignStatus } from '../../referrals/model';
import type { CampaignInsert, CampaignPatch, Page } from '../types';
import { assignments, CAMPAIGN_PATCH_COLUMNS, rowToCampaign, toIso, toLimit, type Prepare } from './rows';

export function insertCampaign(prepare: Prepare, row: CampaignInsert, now: string): Campaign | null {
	const ts = toIso(now);
	const r = prepare(
		'INSERT INTO campaigns (slug, name, status, link_template, code_settings, fraud_settings, reward_rules, created_at, updated_at) ' +
			'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (slug) DO NOTHING RETURNING *',
	).get(
		row.slug,
		row.name,
		row.status,
		row.linkTemplate,
		JSON.stringify(row.codeSettings),
		JSON.stringify(row.fraudSettings),
		JSON.stringify(row.rewardRules),
		ts,
		ts,
	);
	return r === undefined ? null : rowToCampaign(r);
}

export function getCampaign(prepare: Prepare, ref: { id: number } | { slug: string }): Campaign | null {
	const r =
		'id' in ref
			? prepare('SELECT * FROM campaigns WHERE id = ?').get(ref.id)
			: prepare('SELECT * FROM campaigns WHERE slug = ?').get(ref.slug);
	return r === undefined ? null : rowToCampaign(r);
}

export function listCampaigns(prepare: Prepare, filter: { status?: CampaignStatus[]; search?: string }, page: Page): Campaign[] {
	const where: string[] = [];
	const params: Array<string | number> = [];
	if (filter.status?.length) {
		where.push('status IN (SELECT value FROM json_each(?))');
		params.push(JSON.stringify(filter.status));
	}
	if (filter.search) {
		// instr, not LIKE: the search text may contain % or _; lower-casing is JavaScript's, so
		// it folds non-ASCII letters the way PostgreSQL's lower() does.
		where.push('(instr(referrals_lower(name), ?) > 0 OR instr(referrals_lower(slug), ?) > 0)');
		const needle = filter.search.toLowerCase();
		params.push(needle, needle);
	}
	if (page.afterId !== undefined) {
		where.push('id > ?');
		params.push(page.afterId);
	}
	params.push(toLimit(page.limit));
	const sql = `SELECT * FROM campaigns${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`;
	return prepare(sql).all(...params).map(rowToCampaign);
}

export function updateCampaign(prepare: Prepare, id: number, patch: CampaignPatch, now: string): Campaign | null {
	const params: Array<string | number | null> = [];
	const sets = [...assignments(CAMPAIGN_PATCH_COLUMNS, patch, params), 'updated_at = ?'];
	params.push(toIso(now), id);
	const r = prepare(`UPDATE campaigns SET ${sets.join(', ')} WHERE id = ? RETURNING *`).get(...params);
	return r === undefined ? null : rowToCampaign(r);
}
