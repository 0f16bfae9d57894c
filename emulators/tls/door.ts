/**
 * An HTTPS door in front of a plain-HTTP server of the local stack (the Storage emulator): what
 * Google's front end is to Cloud Storage. It terminates TLS and hands each request on unchanged
 * (same method, path, headers, Host), adding `X-Forwarded-Proto: https` so that the server can
 * write URLs that come back through the door (the emulator's resumable session URIs).
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface TlsDoor {
  /** https://HOST:PORT of the door. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface TlsDoorOptions {
  /** The plain-HTTP server behind, e.g. http://127.0.0.1:9199. */
  target: string;
  /** Certificate chain (leaf first) and its key. */
  certPem: string;
  keyPem: string;
  host?: string;
  port?: number;
}

/** Response headers a proxy must not pass on as they are (RFC 9110, 7.6.1). */
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export async function openTlsDoor(opts: TlsDoorOptions): Promise<TlsDoor> {
  const target = new URL(opts.target);
  // Connections to the server behind are kept and reused, as a front end's are.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const sockets = new Set<Socket>();
  const server = https.createServer({ cert: opts.certPem, key: opts.keyPem, ALPNProtocols: ['http/1.1'] }, (req, res) => {
    const headers = { ...req.headers, 'x-forwarded-proto': 'https' };
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent },
      (answer) => {
        const passed: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !hopByHop.has(name)) passed[name] = value;
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, passed);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (err) => {
      if (res.headersSent) res.destroy();
      else res.writeHead(502, { 'content-type': 'text/plain' }).end(`storage TLS door: ${err.message}\n`);
    });
    // A client that goes away takes its request to the server behind with it.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  });
  // As the emulator behind: idle connections kept for minutes, no limit on a long upload.
  server.keepAliveTimeout = 620_000;
  server.headersTimeout = 630_000;
  server.requestTimeout = 0;
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `https://${urlHost(host)}:${port}`,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
        agent.destroy();
      })),
  };
}

/** A listen address as it goes in a URL: wildcards become loopback, IPv6 in brackets. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
