// Decodes an SVG made by lib/portal/qr.ts with jsQR, from pixels drawn from the SVG's own path: what
// a phone's camera sees, without trusting the matrix the SVG was made from.
import jsQR from 'jsqr';

export function decodeQrSvg(svg: string, scale = 4): string | null {
	const viewBox = /viewBox="0 0 (\d+) (\d+)"/.exec(svg);
	const path = /<path fill="#000000" d="([^"]*)"/.exec(svg);
	if (!viewBox || !path) return null;
	const side = Number(viewBox[1]);
	const size = side * scale;
	const pixels = new Uint8ClampedArray(size * size * 4).fill(255);
	for (const run of path[1].matchAll(/M(\d+) (\d+)h(\d+)v1h-\d+z/g)) {
		const [x, y, width] = [Number(run[1]), Number(run[2]), Number(run[3])];
		for (let py = y * scale; py < (y + 1) * scale; py++) {
			for (let px = x * scale; px < (x + width) * scale; px++) {
				const at = (py * size + px) * 4;
				pixels[at] = pixels[at + 1] = pixels[at + 2] = 0;
			}
		}
	}
	return jsQR(pixels, size, size)?.data ?? null;
}
