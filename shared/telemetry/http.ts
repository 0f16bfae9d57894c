import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, defaultTextMapGetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import type { Telemetry } from './telemetry';
import { redactSecret, redactUrl } from '../logging';

/** What the request wrapper knows of a request, read when the response is done (routing comes later in the chain). */
export interface TracedExchange {
  req: IncomingMessage & { path?: string; rawBody?: Buffer; query?: unknown };
  res: ServerResponse;
  /** The route template that matched (the route table's path), once routed. */
  route(): string | undefined;
  /** Path parameters, once routed. */
  params(): Record<string, string> | undefined;
  /** Called with the server span's ids once it exists (the request's log lines carry them). */
  onSpan(ids: { traceId: string; spanId: string; sampled: boolean }): void;
}

const knownMethods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT']);

/** Path parameters and query values that name things, as span attributes (never on metrics). */
function idAttributes(route: string | undefined, params: Record<string, string> | undefined, query: unknown): Attributes {
  const out: Attributes = {};
  for (const [name, value] of Object.entries(params ?? {})) {
    const key = name === 'id' ? (route?.startsWith('/api/v1/uploads') ? 'netboot.upload_id' : 'netboot.machine_id') : name === 'boot_profile_id' ? 'netboot.profile_id' : `netboot.${name}`;
    // A `{{metadata_url}}` key is a secret: its ids only.
    out[key] = (name === 'key' ? redactSecret(String(value)) : String(value)).slice(0, 128);
  }
  const q = (query ?? {}) as Record<string, unknown>;
  if (typeof q.mac === 'string') out['netboot.mac'] = q.mac.slice(0, 64);
  if (typeof q.v === 'string') out['netboot.blob_id'] = q.v.slice(0, 64);
  if (typeof q.part === 'string') out['netboot.part'] = q.part.slice(0, 8);
  return out;
}

function hostOf(req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  if (!host) return undefined;
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
}

/**
 * One SERVER span per request (HTTP semantic conventions), continuing the caller's trace,
 * active while the rest of the chain runs (Firestore and Storage spans are its children),
 * and the http.server.* metrics, recorded when the response is finished or abandoned.
 */
export async function traceRequest(telemetry: Telemetry, x: TracedExchange, next: () => Promise<void>): Promise<void> {
  const { req, res } = x;
  const started = process.hrtime.bigint();
  const method = knownMethods.has(req.method ?? '') ? (req.method as string) : '_OTHER';
  const parent = telemetry.tracing ? telemetry.propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter) : ROOT_CONTEXT;
  const path = redactUrl(req.path ?? (req.url ?? '/').split('?')[0] ?? '/');
  const userAgent = req.headers['user-agent'];
  const span = telemetry.tracer.startSpan(
    method,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': method,
        ...(method === '_OTHER' ? { 'http.request.method_original': String(req.method).slice(0, 32) } : {}),
        'url.path': path,
        'url.scheme': 'http',
        ...(hostOf(req) ? { 'server.address': hostOf(req) } : {}),
        ...(userAgent ? { 'user_agent.original': userAgent.slice(0, 512) } : {}),
        'network.protocol.version': req.httpVersion,
        ...(req.socket.remoteAddress ? { 'network.peer.address': req.socket.remoteAddress } : {}),
      },
    },
    parent,
  );
  if (telemetry.tracing) {
    const ids = span.spanContext();
    x.onSpan({ traceId: ids.traceId, spanId: ids.spanId, sampled: (ids.traceFlags & 1) === 1 });
  }

  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    const route = x.route();
    const status = res.statusCode;
    const aborted = !res.writableFinished;
    const attributes: Attributes = {
      'http.request.method': method,
      'http.response.status_code': status,
      ...(route ? { 'http.route': route } : {}),
      ...(status >= 500 ? { 'error.type': String(status) } : aborted ? { 'error.type': 'aborted' } : {}),
    };
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const requestBytes = req.rawBody?.length ?? (req.headers['content-length'] ? Number(req.headers['content-length']) : undefined);
    const declared = res.getHeader('content-length');
    const responseBytes = req.method === 'HEAD' || status === 304 || status === 204 ? 0 : declared !== undefined ? Number(declared) : undefined;
    telemetry.meters.httpServer(attributes, seconds, requestBytes, Number.isFinite(responseBytes) ? responseBytes : undefined);
    if (span.isRecording()) {
      if (route) span.updateName(`${method} ${route}`);
      span.setAttributes({ ...attributes, ...idAttributes(route, x.params(), req.query) });
      if (status >= 500 || aborted) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };
  res.once('finish', finish);
  res.once('close', finish);
  await context.with(trace.setSpan(parent, span), next);
}
