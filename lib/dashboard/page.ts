import { escapeHtml, page, parseBranding, type Branding } from '../portal/html';
import { ReferralError } from '../referrals/errors';
import type { Campaign } from '../referrals/model';
import type { ReferralProgram } from '../referrals/program';
import { DASHBOARD_ACTIONS, type ActionOutcome } from './actions';
import { signCsrfToken, verifyCsrfToken } from './csrf';
import { DASHBOARD_SECTIONS, type SectionContext } from './sections';
import { parsePeriod, parseTimeZone, PERIODS, type DashboardPeriod } from './time';

/**
 * The team's program dashboard: one server-rendered page (campaign and period pickers, then the
 * sections of sections.ts), and the buttons' POSTs, each checked against its CSRF token, applied
 * once through actions.ts, then answered with the page and what happened.
 */
export interface DashboardSettings {
	title: string;
	accentColor: string;
	/** The Pipedrive company domain (acme for acme.pipedrive.com) for links to people; empty: no links. */
	pipedriveDomain: string;
	topReferrers: number;
	/** Default time zone of the days (IANA); the query may not change it. */
	timeZone: string;
}

export interface DashboardRequest {
	/** Campaign slug or id from the picker; empty: the first active campaign. */
	campaign: unknown;
	period: unknown;
	/** A button's POST: the action, its subject and the token its form carried. */
	action?: { name: unknown; subject: unknown; token: unknown };
}

export interface DashboardAnswer {
	statusCode: number;
	html: string;
	/** What a POSTed action did; absent for a plain view. */
	outcome?: ActionOutcome & { action: string; subjectId: number };
}

const PERIOD_LABELS: Record<DashboardPeriod, string> = { '7': 'Last 7 days', '30': 'Last 30 days', '90': 'Last 90 days', all: 'All time' };

const DASHBOARD_CSS = `
:root{--series-1:#2563eb;--series-2:#017737;--series-3:#d97706;--series-4:#7c3aed}
@media (prefers-color-scheme:dark){:root{--series-1:#7aa7ff;--series-2:#4cc38a;--series-3:#f5b452;--series-4:#b794f6}}
main{max-width:1180px}
.bar{display:flex;flex-wrap:wrap;gap:8px;align-items:end}
.bar label{display:flex;flex-direction:column;font-size:.85rem;color:var(--muted);gap:4px}
select{font:inherit;padding:8px 10px;border:1px solid var(--line);border-radius:8px;background:var(--card);color:var(--text)}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:10px}
.kpi{border:1px solid var(--line);border-radius:10px;padding:12px;display:flex;flex-direction:column;gap:2px}
.kpi strong{font-size:1.35rem;overflow-wrap:anywhere}
.note{font-size:.8rem}
.grid2{display:grid;grid-template-columns:1fr;gap:16px}
@media (min-width:900px){.grid2{grid-template-columns:1fr 1fr}.grid2>.card{margin:0}}
.chart{margin:0}
.chart figcaption{font-weight:600;margin:0 0 8px}
.chart svg{width:100%;height:auto;display:block}
.chart .grid{stroke:var(--line)}
.chart text{fill:var(--muted);font-size:12px}
.chart .label,.chart .value{fill:var(--text);font-size:14px}
@media (max-width:600px){.chart text{font-size:20px}.chart .label,.chart .value{font-size:22px}.kpi strong{font-size:1.15rem}}
.legend{display:flex;gap:16px;flex-wrap:wrap;font-size:.85rem;color:var(--muted);margin:6px 0}
.legend i{display:inline-block;width:12px;height:12px;border-radius:3px;margin-right:6px;vertical-align:-1px}
details.numbers{margin-top:8px;font-size:.9rem}
details.numbers summary{cursor:pointer;color:var(--muted)}
h3{font-size:1rem;margin:16px 0 8px}
.count{display:inline-block;min-width:1.6em;text-align:center;border-radius:999px;background:var(--line);font-size:.8rem;padding:0 6px}
.scroll{overflow-x:auto}
.actions{white-space:nowrap}
.actions form{display:inline}
button.secondary{background:transparent;color:var(--text);border:1px solid var(--line)}
.actions button{padding:6px 12px;margin:2px}
.notice{border-radius:10px;padding:12px 16px;margin:0 0 16px;border:1px solid var(--line);background:var(--card)}
.notice.done{border-color:var(--series-2)}
.notice.error{border-color:#dc2626}
`;

function findCampaign(campaigns: Campaign[], wanted: unknown): Campaign | null {
	const text = typeof wanted === 'string' || typeof wanted === 'number' ? String(wanted).trim() : '';
	if (text === '') return campaigns.find((c) => c.status === 'active') ?? campaigns[0] ?? null;
	return campaigns.find((c) => c.slug === text || String(c.id) === text) ?? null;
}

export async function answerDashboardRequest(
	program: ReferralProgram,
	secret: string,
	settings: DashboardSettings,
	request: DashboardRequest,
	now: Date,
): Promise<DashboardAnswer> {
	const branding: Branding = parseBranding({ title: settings.title, accentColor: settings.accentColor, customCss: DASHBOARD_CSS });
	const timeZone = parseTimeZone(settings.timeZone);
	const period = parsePeriod(request.period === '' || request.period === undefined ? '30' : request.period);
	const campaigns = await program.listCampaigns({}, { limit: 200 });
	const campaign = findCampaign(campaigns, request.campaign);
	if (!campaign) {
		const body = campaigns.length
			? `<section class="card"><h2>No such campaign</h2><p><a href="?">Show the first campaign</a></p></section>`
			: '<section class="card"><h2>No campaign yet</h2><p>The dashboard fills in once the first person signs up.</p></section>';
		return { statusCode: campaigns.length ? 404 : 200, html: page(branding, { heading: 'Program dashboard', body }) };
	}
	const nowSeconds = Math.floor(now.getTime() / 1000);
	let outcome: DashboardAnswer['outcome'];
	let statusCode = 200;
	if (request.action) {
		const name = String(request.action.name ?? '');
		const subjectId = Number(request.action.subject);
		const action = Object.hasOwn(DASHBOARD_ACTIONS, name) ? DASHBOARD_ACTIONS[name] : undefined;
		if (!action || !Number.isSafeInteger(subjectId) || subjectId <= 0) {
			statusCode = 400;
			outcome = { action: name.slice(0, 40), subjectId: 0, changed: false, tone: 'error', message: 'That is not a button of this dashboard. Nothing changed.' };
		} else if (!verifyCsrfToken(secret, { action: name, subjectId, campaignId: campaign.id }, request.action.token, nowSeconds)) {
			statusCode = 403;
			outcome = { action: name, subjectId, changed: false, tone: 'error', message: 'That button is out of date or did not come from this dashboard. Nothing changed: try again on this page.' };
		} else {
			try {
				outcome = { action: name, subjectId, ...(await action.run({ program, campaignId: campaign.id, subjectId })) };
			} catch (error) {
				if (!(error instanceof ReferralError && error.kind === 'not_found')) throw error;
				statusCode = 404;
				outcome = { action: name, subjectId, changed: false, tone: 'error', message: `${error.message}. Nothing changed.` };
			}
		}
	}
	const figures = await program.getDashboardFigures(campaign.id, { period, timeZone, topReferrers: settings.topReferrers });
	const query = `?campaign=${encodeURIComponent(campaign.slug)}&period=${period}`;
	const ctx: SectionContext = {
		program,
		campaign,
		figures,
		pipedriveUrl: settings.pipedriveDomain ? `https://${settings.pipedriveDomain}.pipedrive.com` : '',
		actionButton: (action, subjectId, label, style = 'primary') =>
			`<form method="post" action="${escapeHtml(query)}"><input type="hidden" name="action" value="${escapeHtml(action)}">` +
			`<input type="hidden" name="subject" value="${subjectId}">` +
			`<input type="hidden" name="token" value="${escapeHtml(signCsrfToken(secret, { action, subjectId, campaignId: campaign.id }, nowSeconds))}">` +
			`<button type="submit" class="${style}" data-action="${escapeHtml(action)}">${escapeHtml(label)}</button></form>`,
	};
	const sections: string[] = [];
	let halves: string[] = [];
	for (const section of DASHBOARD_SECTIONS) {
		const html = section.render(ctx, section.load ? await section.load(ctx) : undefined);
		if (section.half) halves.push(html);
		if (halves.length && (!section.half || halves.length === 2)) {
			sections.push(`<div class="grid2">${halves.join('')}</div>`);
			halves = [];
		}
		if (!section.half) sections.push(html);
	}
	if (halves.length) sections.push(`<div class="grid2">${halves.join('')}</div>`);
	const picker =
		'<section class="card"><form method="get" action="" class="bar" id="picker">' +
		`<label>Campaign<select name="campaign">${campaigns.map((c) => `<option value="${escapeHtml(c.slug)}"${c.id === campaign.id ? ' selected' : ''}>${escapeHtml(c.name)}${c.status === 'active' ? '' : ` (${c.status})`}</option>`).join('')}</select></label>` +
		`<label>Period<select name="period">${PERIODS.map((p) => `<option value="${p}"${p === period ? ' selected' : ''}>${PERIOD_LABELS[p]}</option>`).join('')}</select></label>` +
		'<button type="submit">Show</button>' +
		`<span class="muted" id="period-text">${escapeHtml(figures.firstDay)} to ${escapeHtml(figures.lastDay)}, days in ${escapeHtml(timeZone)}</span></form></section>`;
	const notice = outcome ? `<div class="notice ${outcome.tone}" id="notice" role="status">${escapeHtml(outcome.message)}</div>` : '';
	const body = [notice, picker, ...sections].join('\n');
	return { statusCode, html: page(branding, { heading: `${campaign.name} dashboard`, body }), outcome };
}
