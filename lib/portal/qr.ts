import qrcode from 'qrcode-generator';

/**
 * A QR code as an inline SVG, drawn on the server: no third-party service, no CDN, works offline.
 * One path of dark modules on a white tile with the standard 4-module quiet zone; the tile stays
 * white in dark mode, since phone scanners expect dark modules on a light ground.
 */
export interface QrSvgOptions {
	/** Accessible name of the image. */
	label: string;
	/** Rendered width and height in CSS pixels. */
	size?: number;
}

const QUIET_ZONE = 4;

/** The module matrix of `text` (error correction M), row by row; true is dark. */
export function qrMatrix(text: string): boolean[][] {
	// The library writes each character's low byte: anything beyond ASCII is percent-encoded first.
	const ascii = /^[\x20-\x7e]*$/.test(text) ? text : encodeURI(text);
	const code = qrcode(0, 'M');
	code.addData(ascii, 'Byte');
	code.make();
	const count = code.getModuleCount();
	return Array.from({ length: count }, (_, row) => Array.from({ length: count }, (__, col) => code.isDark(row, col)));
}

export function qrSvg(text: string, options: QrSvgOptions): string {
	const matrix = qrMatrix(text);
	const side = matrix.length + 2 * QUIET_ZONE;
	const runs: string[] = [];
	matrix.forEach((row, y) => {
		// Horizontal runs of dark modules: a few hundred path commands instead of a rect per module.
		for (let x = 0; x < row.length; x++) {
			if (!row[x]) continue;
			let end = x;
			while (end + 1 < row.length && row[end + 1]) end++;
			runs.push(`M${x + QUIET_ZONE} ${y + QUIET_ZONE}h${end - x + 1}v1h-${end - x + 1}z`);
			x = end;
		}
	});
	const size = options.size ?? 220;
	return (
		`<svg xmlns="http://www.w3.org/2000/svg" class="qr" role="img" aria-label="${escapeAttribute(options.label)}" ` +
		`width="${size}" height="${size}" viewBox="0 0 ${side} ${side}" shape-rendering="crispEdges">` +
		`<rect width="${side}" height="${side}" fill="#ffffff"/><path fill="#000000" d="${runs.join('')}"/></svg>`
	);
}

function escapeAttribute(text: string): string {
	return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
