import { escapeHtml } from '../portal/html';

/**
 * Charts drawn on the server as inline SVG: no script, no CDN, works offline. Colours come from
 * CSS variables, so light and dark mode both read well; each chart has a title and its numbers as
 * a table right behind it (a <details>), for screen readers and for anyone who wants the figures.
 */

export interface Series {
	label: string;
	/** A CSS variable name holding its colour, e.g. --series-1. */
	color: string;
	values: number[];
}

function niceMax(max: number): number {
	if (max <= 4) return Math.max(1, max);
	const step = 10 ** Math.floor(Math.log10(max));
	return Math.ceil(max / step) * step;
}

function table(caption: string, head: string[], rows: Array<Array<string | number>>): string {
	return (
		`<details class="numbers"><summary>${escapeHtml(caption)} as a table</summary><table>` +
		`<thead><tr>${head.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('')}</tr></thead>` +
		`<tbody>${rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<th scope="row">${escapeHtml(c)}</th>` : `<td>${escapeHtml(c)}</td>`)).join('')}</tr>`).join('')}</tbody>` +
		'</table></details>'
	);
}

/** Lines over days (x: one point per label), with a legend. */
export function lineChart(id: string, title: string, labels: string[], series: Series[]): string {
	const width = 640;
	const height = 220;
	const pad = { left: 36, right: 8, top: 10, bottom: 24 };
	const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
	const x = (i: number) => pad.left + (labels.length <= 1 ? 0 : (i * (width - pad.left - pad.right)) / (labels.length - 1));
	const y = (v: number) => height - pad.bottom - (v / max) * (height - pad.top - pad.bottom);
	const grid = [0, max / 2, max]
		.map((v) => `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(v)}" y2="${y(v)}" class="grid"/><text x="${pad.left - 4}" y="${y(v) + 4}" text-anchor="end" class="axis">${escapeHtml(formatAxis(v))}</text>`)
		.join('');
	const ticks = labels.length ? [0, Math.floor((labels.length - 1) / 2), labels.length - 1] : [];
	const xLabels = [...new Set(ticks)]
		.map((i) => `<text x="${x(i)}" y="${height - 6}" text-anchor="${i === 0 ? 'start' : i === labels.length - 1 ? 'end' : 'middle'}" class="axis">${escapeHtml(labels[i])}</text>`)
		.join('');
	const lines = series
		.map((s) => {
			const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
			const dots = s.values.length <= 31 ? s.values.map((v, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="var(${s.color})"/>`).join('') : '';
			return `<polyline points="${points}" fill="none" stroke="var(${s.color})" stroke-width="2"/>${dots}`;
		})
		.join('');
	const legend = series.map((s) => `<span><i style="background:var(${s.color})"></i>${escapeHtml(s.label)}</span>`).join('');
	return (
		`<figure class="chart" id="${escapeHtml(id)}"><figcaption>${escapeHtml(title)}</figcaption>` +
		`<svg viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${escapeHtml(id)}-title" preserveAspectRatio="none"><title id="${escapeHtml(id)}-title">${escapeHtml(title)}</title>${grid}${lines}${xLabels}</svg>` +
		`<div class="legend">${legend}</div>` +
		table(title, ['Day', ...series.map((s) => s.label)], labels.map((label, i) => [label, ...series.map((s) => s.values[i])])) +
		'</figure>'
	);
}

/** Horizontal bars, each a share of the first (a funnel). */
export function funnelChart(id: string, title: string, steps: Array<{ label: string; value: number }>): string {
	const width = 640;
	const row = 44;
	const labelWidth = 200;
	const max = Math.max(1, steps[0]?.value ?? 0);
	const bars = steps
		.map((s, i) => {
			const w = ((width - labelWidth - 90) * s.value) / max;
			const share = i === 0 || max === 0 ? '' : ` (${Math.round((s.value / max) * 100)}%)`;
			return (
				`<text x="0" y="${i * row + 24}" class="label">${escapeHtml(s.label)}</text>` +
				`<rect x="${labelWidth}" y="${i * row + 8}" width="${Math.max(w, s.value > 0 ? 2 : 0).toFixed(1)}" height="24" rx="4" fill="var(--series-${i + 1})"/>` +
				`<text x="${(labelWidth + w + 6).toFixed(1)}" y="${i * row + 25}" class="value">${s.value}${share}</text>`
			);
		})
		.join('');
	return (
		`<figure class="chart" id="${escapeHtml(id)}"><figcaption>${escapeHtml(title)}</figcaption>` +
		`<svg viewBox="0 0 ${width} ${steps.length * row + 8}" role="img" aria-labelledby="${escapeHtml(id)}-title"><title id="${escapeHtml(id)}-title">${escapeHtml(title)}</title>${bars}</svg>` +
		table(title, ['Step', 'People', 'Of sign-ups'], steps.map((s) => [s.label, s.value, max === 0 ? '–' : `${Math.round((s.value / max) * 100)}%`])) +
		'</figure>'
	);
}

function formatAxis(v: number): string {
	return v >= 10_000 ? `${Math.round(v / 1000)}k` : String(Math.round(v * 10) / 10);
}
