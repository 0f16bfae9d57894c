import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { definitions } from '../functions/definitions';
import { ProblemError, problemBody, sendProblem } from '../shared/http/problem';
import { openApiText } from '../shared/api/openapi';
import { isConsolePath, serveConsole } from './console-server';
import { registerFunctions } from '../shared/http/register';
import { requestIdFrom } from '../shared/http/request-id';
import { payloadTooLarge, unroutedProblem } from '../shared/http/route-problems';
import type { Root } from '../shared/root';
import { resolveRoute, routes } from '../shared/routes';
import { validHost } from '../shared/fleet/base-url';

/**
 * The local stand-in for API Gateway / the load balancer: one port, the production
 * routes from the route table, each request handed to its own function's
 * functions-framework server (body parsing and all), in this process.
 *
 * Like Google's front end, it answers what never reaches a function itself, and
 * always with problem+json: unknown routes and methods, bodies over MAX_REQUEST_BYTES
 * (declared or streamed), requests Node's HTTP parser refuses (oversized headers,
 * malformed request lines, bad framing), CONNECT, unknown `Expect` values.
 */
export interface GatewayOptions {
  /** Serve HTTPS with this certificate chain (leaf first) and key instead of plain HTTP. */
  tls?: { certPem: string; keyPem: string };
}

export function createGateway(root: () => Root, opts: GatewayOptions = {}): http.Server {
  registerFunctions(definitions, root);
  const functions = new Map<string, http.Server>(routes.map((route) => [route.fn, getTestServer(route.fn)]));
  const typeBase = () => root().config.PROBLEM_TYPE_BASE;
  const refuse = (req: http.IncomingMessage, res: http.ServerResponse, path: string, problem: ProblemError) => refuseWith(req, res, path, problem, typeBase());

  const dispatch = (req: http.IncomingMessage, res: http.ServerResponse, expectsContinue: boolean): void => {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (req.httpVersionMajor !== 1) {
      // Node parses HTTP/0.9 and "HTTP/2.0" request lines; neither is HTTP/1.x framing.
      refuse(req, res, path, new ProblemError('validation-error', `HTTP/${req.httpVersion} is not spoken here (HTTP/1.0 or HTTP/1.1)`, { invalid_fields: [{ field: '(request)', reason: 'unsupported HTTP version' }] }));
      return;
    }
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      // Node answers this itself with a bodiless 400 unless told not to (requireHostHeader below).
      refuse(req, res, path, new ProblemError('validation-error', 'An HTTP/1.1 request needs a Host header', { invalid_fields: [{ field: 'Host', reason: 'required header is missing' }] }));
      return;
    }
    if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      // Local only (not in the route table; deployed functions have no such path): this
      // process's metrics in Prometheus text format, from the telemetry's Prometheus reader.
      serveMetrics(root(), req, res, refuse, path);
      return;
    }
    if (path === '/openapi.json' && (req.method === 'GET' || req.method === 'HEAD')) {
      // Local only (not in the route table): the OpenAPI 3.1 contract (shared/api/openapi.ts).
      serveOpenApi(req, res);
      return;
    }
    // Other methods on the console's files go through the route table like any route (405 with Allow).
    if (isConsolePath(path) && (req.method === 'GET' || req.method === 'HEAD' || path === '/console/local-token' || path === '/console')) {
      // Local only: the console's files and its local sign-in (emulators/console-server.ts).
      serveConsole(req, res, path).catch((err: unknown) => res.destroy(err instanceof Error ? err : new Error(String(err))));
      return;
    }
    const match = resolveRoute(req.method ?? 'GET', path);
    if (match.kind !== 'found') {
      refuse(req, res, path, unroutedProblem(match, req.method ?? 'GET', path));
      return;
    }
    const max = root().config.MAX_REQUEST_BYTES;
    if (Number(req.headers['content-length'] ?? 0) > max) {
      // Cloud Functions refuses such bodies before the function runs; so does the local gateway.
      refuse(req, res, path, payloadTooLarge(max));
      return;
    }
    if (req.headers['content-length'] === undefined) capStreamedBody(req, () => refuse(req, res, path, payloadTooLarge(max)), max);
    // Like Google's front ends, the gateway reports the peer it saw; a client's own
    // X-Forwarded-For is kept but the last entry is always the real peer.
    const peer = req.socket.remoteAddress ?? '';
    const forwarded = req.headers['x-forwarded-for'];
    req.headers['x-forwarded-for'] = forwarded ? `${String(forwarded)}, ${peer}` : peer;
    // Only now, when the body will be read, is the client told to send it.
    if (expectsContinue) res.writeContinue();
    // And, like the platform, it refuses responses over its limits (capResponse).
    const { RESPONSE_MAX_BYTES, STREAMED_RESPONSE_MAX_BYTES } = root().config;
    capResponse(req, res, { declared: RESPONSE_MAX_BYTES, streamed: STREAMED_RESPONSE_MAX_BYTES }, typeBase());
    redirectToStorageAsSeen(req, res, root().config);
    functions.get(match.route.fn)?.emit('request', req, res);
  };

  // Node's own answers to these are bodiless; the gateway's are problem+json.
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => dispatch(req, res, false);
  const server: http.Server = opts.tls
    ? https.createServer({ requireHostHeader: false, cert: opts.tls.certPem, key: opts.tls.keyPem, ALPNProtocols: ['http/1.1'] }, handle)
    : http.createServer({ requireHostHeader: false }, handle);
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => dispatch(req, res, true));
  server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    refuse(req, res, path, new ProblemError('expectation-failed', `Expect: ${String(req.headers.expect).slice(0, 100)} cannot be met (only 100-continue is supported)`));
  });
  server.on('connect', (req: http.IncomingMessage, socket: Duplex) => {
    // Without a listener Node drops a CONNECT without a word. This is not a proxy.
    const path = (req.url ?? '/').split('?')[0] as string;
    const match = resolveRoute('CONNECT', path);
    // CONNECT is in no route, so this is always 404 or 405.
    const problem = match.kind === 'found' ? unroutedProblem({ kind: 'not-found' }, 'CONNECT', path) : unroutedProblem(match, 'CONNECT', path);
    answerOnSocket(socket, problem, (req.url ?? '/').slice(0, 2048), requestIdFrom(req.headers['x-request-id']), typeBase());
  });
  // Requests Node's parser refuses never reach a handler: oversized request line or header
  // fields (431), malformed framing (400). In production Google's front end answers these
  // itself, before any function; locally the gateway answers them as the functions would.
  server.on('clientError', (err: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex) => {
    // A parser error repeats while bytes keep arriving on a socket already answered.
    if (answered.has(socket)) return;
    answered.add(socket);
    const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse | null })._httpMessage;
    // As Node itself does: answer only if nothing of a response went out on this socket yet.
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    answerOnSocket(socket, problemForParserError(err), instanceOf(err.rawPacket, inFlight), requestIdFrom(undefined), typeBase());
  });
  return server;
}

/**
 * Redirect mode on the local stack: a signed URL names the Storage emulator by the address the
 * stack itself uses (127.0.0.1), which a QEMU guest (10.0.2.2) or a machine on a boot network
 * cannot reach. Unless STORAGE_PUBLIC_URL says otherwise, a redirect into the emulator goes to
 * the host the client asked this gateway by, on the emulator's port (and scheme): each client
 * reaches Storage the way it reached the gateway. The emulator checks signatures, and takes one
 * made for a loopback name as made for whatever name it is reached by
 * (emulators/storage/signed-url-check.ts). Local only: in production signed URLs name
 * storage.googleapis.com.
 */
function redirectToStorageAsSeen(req: http.IncomingMessage, res: http.ServerResponse, config: Root['config']): void {
  const emulator = config.STORAGE_EMULATOR_HOST;
  if (config.STORAGE_PUBLIC_URL || !emulator) return;
  const seen = validHost(req.headers.host);
  if (!seen) return;
  const origin = new URL(emulator.includes('://') ? emulator : `http://${emulator}`).origin;
  const setHeader = res.setHeader.bind(res);
  res.setHeader = ((name: string, value: number | string | readonly string[]) => {
    if (name.toLowerCase() === 'location' && typeof value === 'string' && value.startsWith(`${origin}/`)) {
      const url = new URL(value);
      url.hostname = new URL(`http://${seen}`).hostname;
      return setHeader(name, url.toString());
    }
    return setHeader(name, value);
  }) as typeof res.setHeader;
}

/** GET /openapi.json: the OpenAPI 3.1 document of the whole API, as `npm run generate` writes it to terraform/openapi-v3.json. */
function serveOpenApi(req: http.IncomingMessage, res: http.ServerResponse): void {
  const body = openApiText();
  res.statusCode = 200;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('X-Request-Id', requestIdFrom(req.headers['x-request-id']));
  res.end(req.method === 'HEAD' ? undefined : body);
}

const answered = new WeakSet<Duplex>();

function serveMetrics(root: Root, req: http.IncomingMessage, res: http.ServerResponse, refuse: (req: http.IncomingMessage, res: http.ServerResponse, path: string, problem: ProblemError) => void, path: string): void {
  const serve = root.telemetry.servePrometheus;
  if (!serve) {
    refuse(req, res, path, new ProblemError('not-found', 'No metrics are collected by this stack (OTEL_SDK_DISABLED, or a telemetry without a Prometheus reader)'));
    return;
  }
  serve(req, res);
}

/**
 * A body without Content-Length (chunked) is counted as it arrives, before any parser
 * sees it: past `max` bytes the client gets 413 and the connection is closed; the
 * bytes already handed on are at most `max`, and nothing after them is kept.
 */
function capStreamedBody(req: http.IncomingMessage, refuseBody: () => void, max: number): void {
  const push = req.push.bind(req);
  let received = 0;
  let refused = false;
  req.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
    if (refused) return true; // read and dropped until the socket closes
    if (chunk !== null && chunk !== undefined) {
      received += (chunk as Buffer).length;
      if (received > max) {
        refused = true;
        // The function's body parser never sees the end of this body; the socket closes
        // once the answer is out (Connection: close), which aborts its read.
        refuseBody();
        return true;
      }
    }
    return push(chunk, encoding);
  };
}

/**
 * The platform's response limits, as the function's answer goes out (README, "Large
 * assets"; the settings RESPONSE_MAX_BYTES and STREAMED_RESPONSE_MAX_BYTES):
 * - a response that declares a Content-Length over `declared` never reaches the client:
 *   Cloud Run (and API Gateway) answer 500 in its place. Here the client gets a 500
 *   problem+json `internal-error` with Connection: close, and the function sees its client
 *   go away (its writes go nowhere, then the connection closes). HEAD counts too: the
 *   strictest reading cannot be ruled out;
 * - a streamed response (no Content-Length: chunked) is cut - the connection is closed
 *   without the final chunk, which every client reads as a failed transfer - once its body
 *   passes `streamed` bytes (the Cloud Functions gen2 quotas page: "10MB for streaming
 *   responses"; Cloud Run's page says no limit - the strictest reading wins).
 * 1xx, 204 and 304 answers carry no body and pass.
 */
export function capResponse(req: http.IncomingMessage, res: http.ServerResponse, limits: { declared: number; streamed: number }, typeBase: string): void {
  const original = { writeHead: res.writeHead, write: res.write, end: res.end };
  let state: 'undecided' | 'pass' | 'count' | 'refused' = 'undecided';
  let streamed = 0;

  const decide = (status: number, headers: unknown, endChunk?: unknown): void => {
    if (state !== 'undecided') return;
    if (status < 200 || status === 204 || status === 304) {
      state = 'pass';
      return;
    }
    const declared = headerIn(headers, 'content-length') ?? res.getHeader('content-length');
    // res.end(body) without a Content-Length: Node declares the body's length itself.
    const length = declared !== undefined ? Number(declared) : endChunk !== undefined && !res.headersSent && res.getHeader('transfer-encoding') === undefined ? byteLength(endChunk) : undefined;
    if (length === undefined) {
      state = 'count';
      return;
    }
    if (length <= limits.declared) {
      state = 'pass';
      return;
    }
    state = 'refused';
    const problem = new ProblemError('internal-error', `The response (Content-Length ${length}) is larger than the platform lets through (${limits.declared} bytes, RESPONSE_MAX_BYTES): Cloud Run answers 500 in its place`);
    // Nothing of the function's answer went out: the client gets the platform's instead.
    answerOnSocket(res.socket as Duplex, problem, (req.url ?? '/').slice(0, 2048), requestIdFrom(req.headers['x-request-id']), typeBase);
  };
  const countOrCut = (chunk: unknown): boolean => {
    if (state !== 'count') return true;
    streamed += byteLength(chunk);
    if (streamed <= limits.streamed) return true;
    state = 'refused';
    // Headers (and earlier chunks) are out: all the platform can do is cut the connection.
    res.destroy(new Error(`streamed response over ${limits.streamed} bytes (STREAMED_RESPONSE_MAX_BYTES): connection cut`));
    return false;
  };

  res.writeHead = function (this: http.ServerResponse, status: number, ...rest: unknown[]) {
    decide(status, rest.find((r) => typeof r === 'object' && r !== null));
    if (state === 'refused') return this;
    return (original.writeHead as (...args: unknown[]) => http.ServerResponse).call(this, status, ...rest);
  } as typeof res.writeHead;
  res.write = function (this: http.ServerResponse, chunk: unknown, ...rest: unknown[]) {
    decide(this.statusCode, undefined);
    if (state === 'refused' || !countOrCut(chunk)) {
      // Gone nowhere; the write never drains, and the connection closes under the function.
      return false;
    }
    return (original.write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof res.write;
  res.end = function (this: http.ServerResponse, ...args: unknown[]) {
    const chunk = typeof args[0] === 'function' ? undefined : args[0];
    decide(this.statusCode, undefined, chunk ?? undefined);
    if (state === 'refused' || (chunk !== undefined && chunk !== null && !countOrCut(chunk))) return this;
    return (original.end as (...a: unknown[]) => http.ServerResponse).apply(this, args);
  } as typeof res.end;
}

function headerIn(headers: unknown, name: string): string | number | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  if (Array.isArray(headers)) {
    // writeHead's flat [name, value, name, value, ...] form.
    for (let i = 0; i + 1 < headers.length; i += 2) if (String(headers[i]).toLowerCase() === name) return headers[i + 1] as string;
    return undefined;
  }
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value as string | number;
  return undefined;
}

function byteLength(chunk: unknown): number {
  if (chunk === undefined || chunk === null) return 0;
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  return (chunk as Uint8Array).byteLength ?? 0;
}

function problemForParserError(err: Error & { code?: string }): ProblemError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new ProblemError('request-header-fields-too-large', 'The request line and header fields together are larger than this service accepts');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new ProblemError('payload-too-large', 'The chunk extensions of the request body are too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new ProblemError('request-timeout', 'The request was not received in time');
    default:
      return new ProblemError('validation-error', 'The request is not valid HTTP/1.1', { invalid_fields: [{ field: '(request)', reason: parserReason(err.code) }] });
  }
}

/** llhttp's codes, in words a client can act on; never the raw bytes. */
function parserReason(code: string | undefined): string {
  if (!code) return 'malformed request';
  if (/METHOD/.test(code)) return 'invalid or unsupported method';
  if (/URL|VERSION|CONSTANT/.test(code)) return 'malformed request line';
  if (/HEADER_TOKEN|INVALID_HEADER|LF_EXPECTED|CR_EXPECTED/.test(code)) return 'malformed header field';
  if (/CONTENT_LENGTH|TRANSFER_ENCODING/.test(code)) return 'invalid or conflicting Content-Length / Transfer-Encoding';
  if (/CHUNK/.test(code)) return 'malformed chunked body';
  if (/EOF/.test(code)) return 'the request ended before its body did';
  return 'malformed request';
}

/** The problem `instance` for a request the parser refused: its target when the request line got that far. */
function instanceOf(rawPacket: Buffer | undefined, inFlight: http.ServerResponse | null | undefined): string {
  const url = inFlight?.req?.url;
  if (url) return url.slice(0, 2048);
  const line = /^[A-Za-z-]{1,32} (\/[\x21-\x7e]{0,2047})/.exec(rawPacket?.subarray(0, 2100).toString('latin1') ?? '');
  return line?.[1] ?? '/';
}

/** A whole HTTP/1.1 answer written on the bare socket, which is then closed. */
function answerOnSocket(socket: Duplex, problem: ProblemError, instance: string, requestId: string, typeBase: string): void {
  const body = JSON.stringify(problemBody(problem, instance, requestId, typeBase));
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/problem+json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Request-Id': requestId,
    ...(instance.startsWith('/api/') ? { 'X-API-Version': 'v1' } : {}),
    ...problem.headers,
    Connection: 'close',
  };
  const head = [`HTTP/1.1 ${problem.status} ${http.STATUS_CODES[problem.status] ?? ''}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  // Leave the client a moment to read the answer before unread bytes reset the connection.
  const linger = setTimeout(() => socket.destroy(), 1000);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
}

function refuseWith(req: http.IncomingMessage, res: http.ServerResponse, path: string, problem: ProblemError, typeBase: string): void {
  const requestId = requestIdFrom(req.headers['x-request-id']);
  res.setHeader('X-Request-Id', requestId);
  if (path.startsWith('/api/')) res.setHeader('X-API-Version', 'v1');
  // The body is not read: say so, and do not keep a connection with unread bytes on it.
  res.setHeader('Connection', 'close');
  lingerBeforeClosing(req.socket);
  sendProblem(res, problem, (req.url ?? '/').slice(0, 2048), requestId, typeBase);
}

/** How long a refused client may go on sending after the answer before its connection is dropped. */
const lingerMs = 2000;

/**
 * A lingering close (nginx's `lingering_close`): once the answer is out, Node destroys the
 * socket; with the client's body still arriving, that is a TCP reset, and a reset can discard
 * the answer before the client has read it (seen: "connection closed without an answer").
 * Instead the gateway half-closes (FIN after the answer), goes on reading and dropping what
 * the client sends, and drops the connection when the client closes its side or after lingerMs.
 */
function lingerBeforeClosing(socket: Socket): void {
  const lingering = socket as Socket & { destroySoon?: () => void };
  lingering.destroySoon = () => {
    if (socket.writable) socket.end();
    const timer = setTimeout(() => socket.destroy(), lingerMs);
    timer.unref();
    socket.once('end', () => socket.destroy());
    socket.once('close', () => clearTimeout(timer));
    socket.resume();
  };
}

export async function listen(server: http.Server, port: number, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
