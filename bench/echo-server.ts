// Bench child: bare node:http, the yardstick for the product's numbers on this machine.
//   GET /          a fixed 200 (what the load generator, loopback and the machine manage)
//   GET /pipe?u=U  U fetched with node:http and piped to the client (what any proxy process manages)
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { serveAsChild } from './proc';

const body = Buffer.from('#!ipxe\n\nkernel /asset/x/kernel initrd=initrd\ninitrd --name initrd /asset/x/initrd\nboot\n');
const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/pipe') {
    const target = url.searchParams.get('u') ?? '';
    http
      .get(target, (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, { 'content-type': 'application/octet-stream', 'content-length': upstream.headers['content-length'] ?? '0' });
        pipeline(upstream, res).catch(() => res.destroy());
      })
      .on('error', () => res.writeHead(502).end());
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length });
  res.end(body);
});
serveAsChild(server);
