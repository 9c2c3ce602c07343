/**
 * The demo's mail catcher: an SMTP server (smtp-server, from Nodemailer's authors) that keeps every
 * message in memory, and a page listing them. `npm start` points the bundled email workflows at it,
 * so the referrer emails can be read without a real mailbox; the end-to-end tests read it too.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface CaughtMail {
	id: number;
	from: string;
	to: string[];
	subject: string;
	text: string;
	receivedAt: string;
}

export interface MailCatcher {
	smtpPort: number;
	/** The page listing the messages (JSON at `/messages.json`). */
	url: string;
	messages(): CaughtMail[];
	close(): Promise<void>;
}

/** Messages beyond this are dropped oldest first: the demo may run for days. */
const KEEP = 500;
const MAX_SIZE = 1024 * 1024;

export async function startMailCatcher(options: { smtpPort?: number; httpPort?: number; host?: string } = {}): Promise<MailCatcher> {
	const host = options.host ?? '127.0.0.1';
	const messages: CaughtMail[] = [];
	let nextId = 1;
	const smtp = new SMTPServer({
		// Local only: no TLS to negotiate, no login to check.
		disabledCommands: ['STARTTLS', 'AUTH'],
		authOptional: true,
		size: MAX_SIZE,
		banner: 'n8n-nodes-pipedrive-referrals demo mail catcher',
		onData(stream, session, callback) {
			simpleParser(stream)
				.then((mail) => {
					const to = session.envelope.rcptTo.map((rcpt) => rcpt.address);
					messages.push({
						id: nextId++,
						from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
						to,
						subject: mail.subject ?? '',
						text: (mail.text ?? '').trimEnd(),
						receivedAt: new Date().toISOString(),
					});
					if (messages.length > KEEP) messages.splice(0, messages.length - KEEP);
					callback();
				})
				.catch((error: Error) => callback(error));
		},
	});
	smtp.on('error', (error) => process.stderr.write(`[mail catcher] ${error.message}\n`));
	await new Promise<void>((resolve, reject) => {
		smtp.server.once('error', reject);
		smtp.listen(options.smtpPort ?? 0, host, () => resolve());
	});
	const smtpPort = (smtp.server.address() as AddressInfo).port;

	const web = http.createServer((request, response) => {
		const path = (request.url ?? '/').split('?')[0];
		if (path === '/messages.json') {
			response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(messages));
			return;
		}
		if (path !== '/') {
			response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
			return;
		}
		response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(renderInbox(messages));
	});
	await new Promise<void>((resolve, reject) => {
		web.once('error', reject);
		web.listen(options.httpPort ?? 0, host, () => resolve());
	});
	const url = `http://${host === '127.0.0.1' ? 'localhost' : host}:${(web.address() as AddressInfo).port}`;

	return {
		smtpPort,
		url,
		messages: () => messages.slice(),
		close: async () => {
			await new Promise<void>((resolve) => smtp.close(() => resolve()));
			await new Promise<void>((resolve) => web.close(() => resolve()));
		},
	};
}

function escape(text: string): string {
	return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Escaped text with its http(s) links clickable. */
function linkify(text: string): string {
	return escape(text).replace(/https?:\/\/[^\s<]+/g, (url) => `<a href="${url}">${url}</a>`);
}

export function renderInbox(messages: CaughtMail[]): string {
	const items = [...messages]
		.reverse()
		.map(
			(mail) =>
				`<article><h2>${escape(mail.subject || '(no subject)')}</h2><p class="meta">To ${escape(mail.to.join(', '))} · from ${escape(mail.from)} · ${escape(mail.receivedAt.replace('T', ' ').slice(0, 19))} UTC</p><pre>${linkify(mail.text)}</pre></article>`,
		)
		.join('\n');
	return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="refresh" content="10">
<title>Demo mail catcher (${messages.length})</title>
<style>:root{color-scheme:light dark}body{font:15px/1.5 system-ui,sans-serif;max-width:760px;margin:0 auto;padding:16px}article{border:1px solid #8884;border-radius:10px;padding:12px 16px;margin:12px 0}h2{font-size:1.05rem;margin:0}.meta{color:#888;margin:4px 0 8px;font-size:.85rem}pre{white-space:pre-wrap;word-break:break-word;font:inherit;margin:0}</style></head>
<body><h1>Demo mail catcher</h1><p class="meta">${messages.length} message(s), newest first. Everything the demo's email workflows send lands here; nothing leaves this machine. The page refreshes every 10 s.</p>
${items || '<p>No messages yet. Sign up as a referrer to get the welcome email.</p>'}</body></html>`;
}
