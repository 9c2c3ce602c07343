import { invalidInput } from '../referrals/errors';

/**
 * The frame of the referrer's pages: plain server-rendered HTML, mobile first, readable in light and
 * dark mode, branded like the forms (title, accent colour, logo, custom CSS). No CDN, no framework,
 * no script but the copy button's.
 */
export interface Branding {
	/** The program's name, shown at the top of every page. */
	title: string;
	/** Buttons, links and progress bars; a CSS hex colour. */
	accentColor: string;
	/** An http(s) image URL, or empty for none. */
	logoUrl: string;
	/** Appended last, so it overrides everything (the same idea as the forms' Custom CSS). */
	customCss: string;
}

export const DEFAULT_BRANDING: Branding = { title: 'Refer a friend', accentColor: '#017737', logoUrl: '', customCss: '' };

export function escapeHtml(text: unknown): string {
	return String(text ?? '')
		.replace(/&/g, '&amp;')
		.replace(/</g, '&lt;')
		.replace(/>/g, '&gt;')
		.replace(/"/g, '&quot;')
		.replace(/'/g, '&#39;');
}

/** Checks branding given in a node; each problem names its field. */
export function parseBranding(input: Partial<Record<keyof Branding, unknown>>): Branding {
	const text = (value: unknown, fallback: string) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : fallback);
	const title = text(input.title, DEFAULT_BRANDING.title);
	if (title.length > 200) throw invalidInput('pageTitle', 'The page title is longer than 200 characters');
	const accentColor = text(input.accentColor, DEFAULT_BRANDING.accentColor);
	if (!/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(accentColor)) {
		throw invalidInput('accentColor', `"${accentColor}" is not a colour like #017737`);
	}
	const logoUrl = text(input.logoUrl, '');
	if (logoUrl !== '') {
		let url: URL | undefined;
		try {
			url = new URL(logoUrl);
		} catch {
			url = undefined;
		}
		if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
			throw invalidInput('logoUrl', `"${logoUrl}" is not an http(s) URL`);
		}
	}
	const customCss = typeof input.customCss === 'string' ? input.customCss : '';
	if (customCss.length > 20_000) throw invalidInput('customCss', 'The custom CSS is longer than 20,000 characters');
	return { title, accentColor, logoUrl, customCss };
}

const BASE_CSS = `
:root{--accent:#017737;--bg:#f5f7fb;--card:#ffffff;--text:#1f2937;--muted:#5b6472;--line:#e3e7ee;--radius:12px;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0f141b;--card:#18202b;--text:#eef2f7;--muted:#a8b3c2;--line:#2b3644}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:560px;margin:0 auto;padding:16px}
header{display:flex;align-items:center;gap:12px;margin:8px 0 16px}
header img{max-height:40px;max-width:160px}
h1{font-size:1.4rem;margin:0}
h2{font-size:1.1rem;margin:0 0 12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:var(--radius);padding:16px;margin:0 0 16px}
.muted{color:var(--muted);font-size:.9rem}
.link{display:flex;gap:8px;flex-wrap:wrap}
.link input{flex:1 1 220px;min-width:0;font:inherit;padding:10px 12px;border:1px solid var(--line);border-radius:8px;background:var(--bg);color:var(--text)}
button,.button{font:inherit;font-weight:600;padding:10px 16px;border-radius:8px;border:0;background:var(--accent);color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
.share{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:8px;margin:0;padding:0;list-style:none}
.share a{display:block;text-align:center;padding:10px;border:1px solid var(--line);border-radius:8px;color:var(--text);text-decoration:none;font-weight:600}
.share a:hover,.share a:focus{border-color:var(--accent);outline:none}
.qr-tile{display:flex;justify-content:center}
.qr{max-width:100%;height:auto;border-radius:8px}
a{color:var(--accent)}
@media (prefers-color-scheme:dark){a{color:color-mix(in srgb,var(--accent) 55%,#fff)}}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:8px 4px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.85rem;color:var(--muted);font-weight:600}
.figures{display:grid;grid-template-columns:repeat(3,1fr);gap:8px;text-align:center}
.figures strong{display:block;font-size:1.5rem}
.status{font-weight:600}
.status-converted{color:var(--accent)}
@media (prefers-color-scheme:dark){.status-converted{color:color-mix(in srgb,var(--accent) 55%,#fff)}}
progress{width:100%;height:12px;accent-color:var(--accent)}
@media (min-width:720px){main{padding:32px 16px}h1{font-size:1.7rem}}
`;

/** A complete page. `body` is trusted HTML made by the renderers; everything else is escaped here. */
export function page(branding: Branding, options: { heading: string; body: string; script?: string; noindex?: boolean }): string {
	const logo = branding.logoUrl ? `<img src="${escapeHtml(branding.logoUrl)}" alt="">` : '';
	// `</style` inside custom CSS would end the style element early.
	const custom = branding.customCss.replace(/<\/(style)/gi, '<\\/$1');
	return [
		'<!doctype html>',
		'<html lang="en">',
		'<head>',
		'<meta charset="utf-8">',
		'<meta name="viewport" content="width=device-width, initial-scale=1">',
		'<meta name="referrer" content="no-referrer">',
		options.noindex === false ? '' : '<meta name="robots" content="noindex, nofollow">',
		`<title>${escapeHtml(options.heading)} · ${escapeHtml(branding.title)}</title>`,
		`<style>${BASE_CSS}:root{--accent:${branding.accentColor}}\n${custom}</style>`,
		'</head>',
		'<body>',
		'<main>',
		`<header>${logo}<h1>${escapeHtml(branding.title)}</h1></header>`,
		options.body,
		'</main>',
		options.script ? `<script>${options.script}</script>` : '',
		'</body>',
		'</html>',
	]
		.filter(Boolean)
		.join('\n');
}

/** The one answer to every link that does not lead to a page: the same bytes, whatever the reason. */
export function notFoundPage(branding: Branding): string {
	return page(branding, {
		heading: 'Page not found',
		body:
			'<section class="card"><h2>This link does not work</h2>' +
			'<p>It may have expired, or been copied incompletely. Use the latest link from our emails, or sign up again to get yours.</p></section>',
	});
}
