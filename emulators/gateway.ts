import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import '../functions';
import { getConfig } from '../shared/config';
import { ProblemError, sendProblem } from '../shared/http/problem';
import { requestIdFrom } from '../shared/http/request-id';
import { resolveRoute, routes } from '../shared/routes';

/**
 * The local stand-in for API Gateway / the load balancer: one port, the production
 * routes from the route table, each request handed to its own function's
 * functions-framework server (body parsing and all), in this process.
 */
export function createGateway(): http.Server {
  const functions = new Map<string, http.Server>(routes.map((route) => [route.fn, getTestServer(route.fn)]));
  return http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const match = resolveRoute(req.method ?? 'GET', path);
    const declaredLength = Number(req.headers['content-length'] ?? 0);
    if (match.kind === 'found' && declaredLength > getConfig().MAX_REQUEST_BYTES) {
      // Cloud Functions refuses such bodies before the function runs; so does the local gateway.
      refuse(req, res, path, new ProblemError('payload-too-large', `The request body is larger than ${getConfig().MAX_REQUEST_BYTES} bytes`, { max_size: getConfig().MAX_REQUEST_BYTES }));
      return;
    }
    if (match.kind === 'found') {
      // Like Google's front ends, the gateway reports the peer it saw; a client's own
      // X-Forwarded-For is kept but the last entry is always the real peer.
      const peer = req.socket.remoteAddress ?? '';
      const forwarded = req.headers['x-forwarded-for'];
      req.headers['x-forwarded-for'] = forwarded ? `${String(forwarded)}, ${peer}` : peer;
      functions.get(match.route.fn)?.emit('request', req, res);
      return;
    }
    refuse(
      req,
      res,
      path,
      match.kind === 'wrong-method'
        ? new ProblemError('method-not-allowed', `${req.method} is not allowed on ${path}`, {}, { Allow: match.allow.join(', ') })
        : new ProblemError('not-found', `No route for ${req.method} ${path}`),
    );
  });
}

function refuse(req: http.IncomingMessage, res: http.ServerResponse, path: string, problem: ProblemError): void {
  const requestId = requestIdFrom(req.headers['x-request-id']);
  res.setHeader('X-Request-Id', requestId);
  if (path.startsWith('/api/')) res.setHeader('X-API-Version', 'v1');
  // The body is not read: say so, and do not keep a connection with unread bytes on it.
  res.setHeader('Connection', 'close');
  sendProblem(res, problem, (req.url ?? '/').slice(0, 2048), requestId);
}

export async function listen(server: http.Server, port: number, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
