/**
 * Debian's headless Chromium driven over the DevTools protocol (Node's own WebSocket), for the
 * screenshots and the browser end-to-end tests. Needs `apt-get install chromium`; CHROMIUM
 * overrides /usr/bin/chromium. Each browser gets a fresh profile, removed by close().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './n8n/instance';
import { sleep } from './n8n/proc';

/** A minimal DevTools-protocol session. */
export class Devtools {
	private nextId = 1;
	private pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
	private constructor(private readonly socket: WebSocket) {
		socket.addEventListener('message', (event) => {
			const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
			const waiter = message.id === undefined ? undefined : this.pending.get(message.id);
			if (!waiter) return;
			this.pending.delete(message.id!);
			if (message.error) waiter.reject(new Error(message.error.message));
			else waiter.resolve(message.result);
		});
	}

	static async connect(url: string): Promise<Devtools> {
		const socket = new WebSocket(url);
		await new Promise<void>((resolve, reject) => {
			socket.addEventListener('open', () => resolve(), { once: true });
			socket.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)), { once: true });
		});
		return new Devtools(socket);
	}

	send(method: string, params: Record<string, unknown> = {}): Promise<any> {
		const id = this.nextId++;
		this.socket.send(JSON.stringify({ id, method, params }));
		return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
	}

	/** Evaluates an expression in the page (promises awaited) and returns its value. */
	async evaluate<T>(expression: string): Promise<T> {
		const answer = (await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true, userGesture: true })) as {
			result: { value: T };
			exceptionDetails?: { text: string; exception?: { description?: string } };
		};
		if (answer.exceptionDetails) throw new Error(`${answer.exceptionDetails.text} ${answer.exceptionDetails.exception?.description ?? ''}`);
		return answer.result.value;
	}

	/** Opens a URL and waits until the page has loaded. */
	async open(url: string, timeoutMs = 30_000): Promise<void> {
		// A mark on the page being left: the new page is the one without it.
		await this.evaluate('window.__leaving = true').catch(() => undefined);
		await this.send('Page.navigate', { url });
		for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(100)) {
			try {
				if (await this.evaluate<boolean>(`!window.__leaving && document.readyState === 'complete'`)) return;
			} catch {
				/* navigating */
			}
		}
		throw new Error(`${url} did not load in ${timeoutMs / 1000} s`);
	}

	/** Clicks the middle of the element `selector` as a person does (trusted mouse events). */
	async click(selector: string): Promise<void> {
		const box = await this.evaluate<{ x: number; y: number } | null>(
			`(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null; e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); return { x: r.x + r.width / 2, y: r.y + r.height / 2 }; })()`,
		);
		if (!box) throw new Error(`no element ${selector} to click`);
		for (const type of ['mousePressed', 'mouseReleased']) {
			await this.send('Input.dispatchMouseEvent', { type, x: box.x, y: box.y, button: 'left', clickCount: 1 });
		}
	}

	/** A PNG of the element `selector` (or the whole page when null). */
	async screenshot(selector: string | null, fullPage = false): Promise<Buffer> {
		let clip: Record<string, number> | undefined;
		if (selector) {
			const box = await this.evaluate<{ x: number; y: number; width: number; height: number } | null>(
				`(() => { const e = document.querySelector(${JSON.stringify(selector)}); if (!e) return null; e.scrollIntoView({ block: 'center' }); const r = e.getBoundingClientRect(); return { x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height }; })()`,
			);
			if (!box) throw new Error(`no element ${selector} to capture`);
			clip = { ...box, scale: 1 };
		}
		const shot = (await this.send('Page.captureScreenshot', {
			format: 'png',
			...(clip ? { clip } : {}),
			...(fullPage ? { captureBeyondViewport: true } : {}),
		})) as { data: string };
		return Buffer.from(shot.data, 'base64');
	}

	close(): void {
		this.socket.close();
	}
}

export interface Browser {
	devtools: Devtools;
	port: number;
	close(): Promise<void>;
}

async function pageTarget(port: number): Promise<string> {
	for (let attempt = 0; attempt < 150; attempt++) {
		try {
			const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{ type: string; webSocketDebuggerUrl: string }>;
			const page = targets.find((target) => target.type === 'page');
			if (page) return page.webSocketDebuggerUrl;
		} catch {
			/* not up yet */
		}
		await sleep(200);
	}
	throw new Error('Chromium did not open its DevTools port');
}

/** Starts headless Chromium with a fresh profile and connects to its first page. */
export async function launchChromium(options: { width: number; height: number }): Promise<Browser> {
	const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
	if (!fs.existsSync(chromium)) throw new Error(`${chromium} not found: apt-get install chromium (or set CHROMIUM)`);
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-'));
	const port = await freePort();
	const child: ChildProcess = spawn(
		chromium,
		[
			'--headless=new',
			'--no-sandbox',
			'--disable-gpu',
			'--no-first-run',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
			'--hide-scrollbars',
			`--remote-debugging-port=${port}`,
			`--user-data-dir=${profile}`,
			`--window-size=${options.width},${options.height}`,
			'about:blank',
		],
		{ stdio: 'ignore' },
	);
	const close = async () => {
		child.kill('SIGKILL');
		await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
		fs.rmSync(profile, { recursive: true, force: true });
	};
	try {
		const devtools = await Devtools.connect(await pageTarget(port));
		await devtools.send('Page.enable');
		await devtools.send('Network.enable');
		return {
			devtools,
			port,
			close: async () => {
				devtools.close();
				await close();
			},
		};
	} catch (error) {
		await close();
		throw error;
	}
}
