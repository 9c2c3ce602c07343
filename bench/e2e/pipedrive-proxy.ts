// n8n's built-in Pipedrive node always calls https://api.pipedrive.com. To run it against the
// sandbox, n8n gets this HTTPS proxy (HTTPS_PROXY), which terminates TLS for api.pipedrive.com with a
// certificate from a throw-away CA that n8n trusts (NODE_EXTRA_CA_CERTS), and passes each request
// on to the sandbox unchanged (same path, query and headers). Any other host is refused.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';

export const PIPEDRIVE_HOST = 'api.pipedrive.com';

export interface PipedriveProxy {
	/** http://127.0.0.1:<port>, for HTTPS_PROXY. */
	url: string;
	/** The CA certificate file, for NODE_EXTRA_CA_CERTS. */
	caFile: string;
	close(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
	execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A CA and a certificate for api.pipedrive.com signed by it, made with the openssl command. */
function makeCertificates(dir: string): { ca: string; key: string; cert: string } {
	openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=bench proxy CA', '-keyout', 'ca.key', '-out', 'ca.crt'], dir);
	openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${PIPEDRIVE_HOST}`, '-keyout', 'host.key', '-out', 'host.csr'], dir);
	fs.writeFileSync(path.join(dir, 'host.ext'), `subjectAltName=DNS:${PIPEDRIVE_HOST}\n`);
	openssl(['x509', '-req', '-in', 'host.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'host.ext', '-out', 'host.crt'], dir);
	const read = (file: string) => fs.readFileSync(path.join(dir, file), 'utf8');
	return { ca: path.join(dir, 'ca.crt'), key: read('host.key'), cert: read('host.crt') };
}

export async function startPipedriveProxy(sandboxUrl: string): Promise<PipedriveProxy> {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-pipedrive-proxy-'));
	const certificates = makeCertificates(dir);
	const target = new URL(sandboxUrl);
	const upstream = new http.Agent({ keepAlive: true, maxSockets: 64 });

	// Requests arriving inside the TLS tunnels, passed on to the sandbox.
	const inner = http.createServer((req, res) => {
		const forwarded = http.request(
			{ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host }, agent: upstream },
			(answer) => {
				res.writeHead(answer.statusCode ?? 502, answer.headers);
				answer.pipe(res);
			},
		);
		forwarded.on('error', (error) => {
			res.writeHead(502, { 'content-type': 'text/plain' });
			res.end(`bench proxy: ${error.message}`);
		});
		req.pipe(forwarded);
	});

	const outer = http.createServer((_req, res) => {
		res.writeHead(403, { 'content-type': 'text/plain' });
		res.end('bench proxy: only CONNECT to api.pipedrive.com:443');
	});
	outer.on('connect', (req: http.IncomingMessage, socket: Socket) => {
		if (req.url !== `${PIPEDRIVE_HOST}:443`) {
			socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
			return;
		}
		socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
		const secure = new tls.TLSSocket(socket, { isServer: true, key: certificates.key, cert: certificates.cert });
		secure.on('error', () => socket.destroy());
		inner.emit('connection', secure);
	});
	await new Promise<void>((resolve) => outer.listen(0, '127.0.0.1', resolve));
	const { port } = outer.address() as AddressInfo;
	return {
		url: `http://127.0.0.1:${port}`,
		caFile: certificates.ca,
		close: async () => {
			outer.closeAllConnections();
			inner.closeAllConnections();
			upstream.destroy();
			await new Promise<void>((resolve) => outer.close(() => resolve()));
			fs.rmSync(dir, { recursive: true, force: true });
		},
	};
}
