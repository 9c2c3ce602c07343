/**
 * Express-like request/response doubles for running a node's `webhook()` through n8n-core's
 * WebhookContext (see ./n8n.ts). n8n hands the node the raw express objects
 * (`this.getRequestObject()` / `this.getResponseObject()`), and `getBodyData()`,
 * `getHeaderData()`, `getQueryData()`, `getParamsData()` read straight from the request, so
 * the doubles carry what n8n's webhook server has set by then: the parsed body, lower-cased
 * headers, `query`, `params` and `rawBody` (a Buffer of the payload, used for signatures).
 *
 * The response records what the node writes (status, headers, body) instead of sending it.
 * express is not installed here, so these are typed locally and cast where n8n-core's
 * interface (which names express types) takes them.
 */
import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import type { IDataObject } from 'n8n-workflow';

export interface WebhookRequestInput {
	method?: string;
	/** Path below the webhook URL, informational only (n8n has already routed the request). */
	path?: string;
	headers?: Record<string, string>;
	/** Parsed body, as n8n's body parser leaves it. */
	body?: unknown;
	/** Raw payload; defaults to the JSON of `body` (or `body` itself when it is a string). */
	rawBody?: string | Buffer;
	query?: IDataObject;
	params?: IDataObject;
}

export class FakeRequest extends EventEmitter {
	readonly method: string;
	readonly url: string;
	readonly path: string;
	readonly headers: IncomingHttpHeaders;
	readonly body: unknown;
	readonly rawBody: Buffer;
	readonly query: IDataObject;
	readonly params: IDataObject;

	constructor(input: WebhookRequestInput) {
		super();
		this.method = (input.method ?? 'POST').toUpperCase();
		this.path = input.path ?? '/';
		this.query = input.query ?? {};
		this.params = input.params ?? {};
		this.body = input.body ?? {};
		const raw =
			input.rawBody ?? (typeof input.body === 'string' ? input.body : JSON.stringify(input.body ?? {}));
		this.rawBody = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
		// Node lower-cases incoming header names; nodes rely on that.
		const headers: IncomingHttpHeaders = {};
		for (const [name, value] of Object.entries(input.headers ?? {})) headers[name.toLowerCase()] = value;
		if (input.body !== undefined && headers['content-type'] === undefined && typeof input.body !== 'string') {
			headers['content-type'] = 'application/json';
		}
		this.headers = headers;
		const search = new URLSearchParams(
			Object.entries(this.query).map(([key, value]): [string, string] => [key, String(value)]),
		).toString();
		this.url = search ? `${this.path}?${search}` : this.path;
	}

	/** express `req.get()` / `req.header()`. */
	get(name: string): string | string[] | undefined {
		return this.headers[name.toLowerCase()];
	}

	header(name: string): string | string[] | undefined {
		return this.get(name);
	}
}

export class FakeResponse extends EventEmitter {
	statusCode = 200;
	headersSent = false;
	writableEnded = false;
	readonly headers: Record<string, string | number | readonly string[]> = {};
	readonly locals: IDataObject = {};
	private readonly chunks: Buffer[] = [];

	/** What was written, as text. */
	get bodyText(): string {
		return Buffer.concat(this.chunks).toString('utf8');
	}

	/** What was written, parsed as JSON when it is JSON. */
	get body(): unknown {
		const text = this.bodyText;
		if (text === '') return undefined;
		try {
			return JSON.parse(text) as unknown;
		} catch {
			return text;
		}
	}

	status(code: number): this {
		this.statusCode = code;
		return this;
	}

	sendStatus(code: number): this {
		return this.status(code).send(String(code));
	}

	setHeader(name: string, value: string | number | readonly string[]): this {
		this.headers[name.toLowerCase()] = value;
		return this;
	}

	set(field: string | Record<string, string>, value?: string): this {
		if (typeof field === 'string') return this.setHeader(field, value ?? '');
		for (const [name, headerValue] of Object.entries(field)) this.setHeader(name, headerValue);
		return this;
	}

	header(field: string | Record<string, string>, value?: string): this {
		return this.set(field, value);
	}

	getHeader(name: string): string | number | readonly string[] | undefined {
		return this.headers[name.toLowerCase()];
	}

	getHeaders(): Record<string, string | number | readonly string[]> {
		return { ...this.headers };
	}

	removeHeader(name: string): void {
		delete this.headers[name.toLowerCase()];
	}

	type(contentType: string): this {
		return this.setHeader('content-type', contentType);
	}

	contentType(contentType: string): this {
		return this.type(contentType);
	}

	writeHead(code: number, headers?: Record<string, string>): this {
		this.statusCode = code;
		for (const [name, value] of Object.entries(headers ?? {})) this.setHeader(name, value);
		this.headersSent = true;
		return this;
	}

	write(chunk: string | Buffer): boolean {
		this.headersSent = true;
		this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
		return true;
	}

	end(chunk?: string | Buffer): this {
		if (chunk !== undefined) this.write(chunk);
		this.headersSent = true;
		this.writableEnded = true;
		this.emit('finish');
		return this;
	}

	send(body?: unknown): this {
		if (body === undefined || body === null) return this.end();
		if (Buffer.isBuffer(body) || typeof body === 'string') {
			if (this.getHeader('content-type') === undefined) {
				this.type(typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/octet-stream');
			}
			return this.end(body);
		}
		return this.json(body);
	}

	json(body: unknown): this {
		if (this.getHeader('content-type') === undefined) this.type('application/json; charset=utf-8');
		return this.end(JSON.stringify(body));
	}

	redirect(statusOrUrl: number | string, url?: string): this {
		const [code, location] = typeof statusOrUrl === 'number' ? [statusOrUrl, url ?? ''] : [302, statusOrUrl];
		return this.status(code).setHeader('location', location).end();
	}

	flushHeaders(): void {
		this.headersSent = true;
	}
}
