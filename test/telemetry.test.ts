import { Writable } from 'node:stream';
import { Firestore } from '@google-cloud/firestore';
import { Storage } from '@google-cloud/storage';
import { SpanKind } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader, type DataPoint, type Histogram, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import winston from 'winston';
import type { Clients } from '../shared/clients';
import { createTelemetry } from '../shared/telemetry/sdk';
import type { Telemetry } from '../shared/telemetry';
import { aMac, aMachine } from './helpers/fixtures';
import { postProfile, profileForm, randomFile, type ProfileBody } from './helpers/profiles';
import { request, setEnv, useLocalStack } from './helpers/stack';

// The root's telemetry part, with in-memory exporters: every span as it ends, metrics on demand.
const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
let telemetry: Telemetry | undefined;
const testTelemetry = () => (telemetry ??= createTelemetry({ spanProcessors: [new SimpleSpanProcessor(spans)], metricReaders: [reader], prometheus: true }));

// Log lines, as JSON objects (the request logger's metadata included).
const lines: Record<string, unknown>[] = [];
const logger = winston.createLogger({
  level: 'info',
  format: winston.format.json(),
  transports: [new winston.transports.Stream({ stream: new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) }) })],
});

// Clients that can be switched to unreachable ones (a closed port) for the startup probe.
let unreachable: Pick<Clients, 'firestore' | 'bucket'> | undefined;
let down = false;
function switchable(real: Clients): Clients {
  return {
    get firestore() {
      return down && unreachable ? unreachable.firestore : real.firestore;
    },
    get bucket() {
      return down && unreachable ? unreachable.bucket : real.bucket;
    },
    rateLimitFirestore: real.rateLimitFirestore,
    signingBucket: real.signingBucket,
    get media() {
      return real.media;
    },
    close: () => real.close(),
  };
}

const stack = useLocalStack({ ASSET_DELIVERY: 'proxy', LOG_LEVEL: 'info', RATE_LIMIT_BOOT_PER_MAC: '3' }, { decorate: (parts) => ({ ...parts, telemetry: testTelemetry(), logger, clients: switchable(parts.clients) }) });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

const mac = aMac();
let machineId = '';
let profile: ProfileBody;

beforeAll(async () => {
  const created = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
  machineId = created.body.id;
  const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(300_000), initrd: randomFile(500_000) }));
  expect(res.status).toBe(201);
  profile = res.body;
  spans.reset();
});

afterEach(() => {
  spans.reset();
  lines.length = 0;
  setEnv({ ASSET_DELIVERY: 'proxy', BOOT_ALLOWED_CIDRS: undefined });
});

const byTrace = (all: ReadableSpan[]) => {
  const traces = new Map<string, ReadableSpan[]>();
  for (const s of all) traces.set(s.spanContext().traceId, [...(traces.get(s.spanContext().traceId) ?? []), s]);
  return traces;
};
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
/** Spans end asynchronously (the response's finish event): wait until `n` server spans are in. */
async function serverSpans(n: number): Promise<ReadableSpan[]> {
  for (let i = 0; i < 100; i++) {
    const found = spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
    if (found.length >= n) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`expected ${n} server spans, got ${spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER).length}`);
}
/** Every descendant of `root` among `all`. */
function descendants(root: ReadableSpan, all: ReadableSpan[]): ReadableSpan[] {
  const out: ReadableSpan[] = [];
  const ids = new Set([root.spanContext().spanId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const s of all) {
      if (!ids.has(s.spanContext().spanId) && ids.has(parentOf(s) ?? '')) {
        ids.add(s.spanContext().spanId);
        out.push(s);
        grew = true;
      }
    }
  }
  return out;
}

async function collect(): Promise<ResourceMetrics> {
  metricExporter.reset();
  await reader.forceFlush();
  const all = metricExporter.getMetrics();
  return all[all.length - 1] as ResourceMetrics;
}
function points(rm: ResourceMetrics, name: string): DataPoint<unknown>[] {
  return rm.scopeMetrics.flatMap((s) => s.metrics).filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as DataPoint<unknown>[]);
}
function sum(rm: ResourceMetrics, name: string, attrs: Record<string, unknown>): number {
  return points(rm, name)
    .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
    .reduce((n, p) => n + (typeof p.value === 'number' ? p.value : (p.value as Histogram).count), 0);
}

describe('traces', () => {
  it('a boot (script, kernel, initrd) is one trace per request: a server span with Firestore and Storage children', async () => {
    const script = await api('GET', `/boot.ipxe?mac=${encodeURIComponent(mac)}`);
    expect(script.status).toBe(200);
    const kernel = await api('GET', `/asset/${profile.id}/kernel?v=${profile.kernel.id}`);
    const initrd = await api('GET', `/asset/${profile.id}/initrd?v=${profile.initrd.id}`);
    expect([kernel.status, initrd.status]).toEqual([200, 200]);

    const servers = await serverSpans(3);
    const all = spans.getFinishedSpans();
    expect(byTrace(servers).size).toBe(3);
    const [s, k, i] = ['/boot.ipxe', '/asset/{boot_profile_id}/kernel', '/asset/{boot_profile_id}/initrd'].map((route) => servers.find((x) => x.attributes['http.route'] === route) as ReadableSpan);
    expect(s?.name).toBe('GET /boot.ipxe');
    expect(s?.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.response.status_code': 200, 'url.path': '/boot.ipxe', 'server.address': '127.0.0.1', 'netboot.mac': mac });
    expect(typeof s?.attributes['user_agent.original']).toBe('string');
    expect(k?.attributes).toMatchObject({ 'http.route': '/asset/{boot_profile_id}/kernel', 'url.path': `/asset/${profile.id}/kernel`, 'netboot.profile_id': profile.id, 'netboot.blob_id': profile.kernel.id });
    expect(i?.attributes['netboot.profile_id']).toBe(profile.id);
    // Root spans of their traces (no traceparent sent).
    for (const server of [s, k, i]) expect(parentOf(server as ReadableSpan)).toBeUndefined();

    // Firestore's own spans (the client library's) under the script's and the assets' server spans.
    const firestoreUnder = (server: ReadableSpan) => descendants(server, all).filter((x) => x.instrumentationScope.name === '@google-cloud/firestore');
    expect(firestoreUnder(s as ReadableSpan).length).toBeGreaterThan(0);
    expect(firestoreUnder(k as ReadableSpan).length).toBeGreaterThan(0);
    // Storage reads (ours) with the blob id.
    const reads = (server: ReadableSpan) => descendants(server, all).filter((x) => x.name === 'storage.read');
    expect(reads(k as ReadableSpan).map((x) => x.attributes['netboot.blob_id'])).toEqual([profile.kernel.id]);
    expect(reads(i as ReadableSpan).map((x) => x.attributes['netboot.blob_id'])).toEqual([profile.initrd.id]);
    expect(reads(k as ReadableSpan)[0]?.kind).toBe(SpanKind.CLIENT);
  });

  it('redirect mode: the signing call is a storage.sign span', async () => {
    setEnv({ ASSET_DELIVERY: 'redirect' });
    const res = await api('GET', `/asset/${profile.id}/kernel?v=${profile.kernel.id}`);
    expect(res.status).toBe(302);
    const [server] = await serverSpans(1);
    // The signed URL may be cached from an earlier request of this file: the span exists on a miss only.
    const sign = descendants(server as ReadableSpan, spans.getFinishedSpans()).filter((x) => x.name === 'storage.sign');
    for (const x of sign) expect(x.attributes['netboot.blob_id']).toBe(profile.kernel.id);
  });

  it('a request with traceparent continues that trace, and its log lines carry the trace and span ids', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await api('GET', `/boot.ipxe?mac=${encodeURIComponent(mac)}`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    expect(res.status).toBe(200);
    const [server] = await serverSpans(1);
    expect(server?.spanContext().traceId).toBe(traceId);
    expect(parentOf(server as ReadableSpan)).toBe('00f067aa0ba902b7');
    const mine = lines.filter((l) => l.request_id === res.headers.get('x-request-id'));
    expect(mine.length).toBeGreaterThan(0);
    for (const l of mine) {
      expect(l['logging.googleapis.com/trace']).toBe(`projects/${process.env.GOOGLE_CLOUD_PROJECT}/traces/${traceId}`);
      expect(l['logging.googleapis.com/spanId']).toBe(server?.spanContext().spanId);
    }
  });

  it('continues a trace from X-Cloud-Trace-Context', async () => {
    const traceId = '105445aa7843bc8bf206b12000100000';
    const res = await api('GET', '/health/liveness', { headers: { 'X-Cloud-Trace-Context': `${traceId}/1;o=1` } });
    expect(res.status).toBe(200);
    const [server] = await serverSpans(1);
    expect(server?.spanContext().traceId).toBe(traceId);
    expect(parentOf(server as ReadableSpan)).toBe('0000000000000001');
  });
});

describe('metrics', () => {
  it('count a scripted set of requests, with bounded attributes only', async () => {
    const before = await collect();
    const unknownMac = aMac();
    const limitedMac = aMac();
    const answers = [
      (await api('GET', `/boot.ipxe?mac=${encodeURIComponent(mac)}`)).status,
      (await api('GET', `/boot.ipxe?mac=${encodeURIComponent(unknownMac)}`)).status,
      (await api('GET', '/boot.ipxe?mac=nonsense')).status,
    ];
    setEnv({ BOOT_ALLOWED_CIDRS: '10.0.0.0/8' });
    answers.push((await api('GET', `/boot.ipxe?mac=${encodeURIComponent(mac)}`)).status);
    setEnv({ BOOT_ALLOWED_CIDRS: undefined });
    for (let n = 0; n < 4; n++) answers.push((await api('GET', `/boot.ipxe?mac=${encodeURIComponent(limitedMac)}`)).status);
    expect(answers).toEqual([200, 404, 400, 403, 404, 404, 404, 429]);
    const kernel = await api('GET', `/asset/${profile.id}/kernel?v=${profile.kernel.id}`);
    expect(kernel.status).toBe(200);
    setEnv({ ASSET_DELIVERY: 'redirect' });
    expect((await api('GET', `/asset/${profile.id}/initrd?v=${profile.initrd.id}`)).status).toBe(302);
    await serverSpans(10);
    const after = await collect();

    const delta = (name: string, attrs: Record<string, unknown>) => sum(after, name, attrs) - sum(before, name, attrs);
    expect(delta('netboot.boot_script.requests', { outcome: 'served' })).toBe(1);
    expect(delta('netboot.boot_script.requests', { outcome: 'not_configured' })).toBe(4);
    expect(delta('netboot.boot_script.requests', { outcome: 'invalid_mac' })).toBe(1);
    expect(delta('netboot.boot_script.requests', { outcome: 'refused_network' })).toBe(1);
    expect(delta('netboot.boot_script.requests', { outcome: 'refused_rate_limit' })).toBe(1);
    expect(delta('netboot.rate_limit.refusals', { scope: 'boot-mac' })).toBe(1);
    expect(delta('netboot.asset.sent', { kind: 'kernel', delivery: 'proxy' })).toBe(300_000);
    expect(delta('netboot.asset.redirects', { kind: 'initrd' })).toBe(1);
    expect(delta('http.server.request.duration', { 'http.route': '/boot.ipxe', 'http.request.method': 'GET' })).toBe(8);
    expect(delta('http.server.request.duration', { 'http.route': '/boot.ipxe', 'http.response.status_code': 404 })).toBe(4);
    expect(delta('http.server.response.body.size', { 'http.route': '/asset/{boot_profile_id}/kernel' })).toBe(1);
    const bodySizes = points(after, 'http.server.response.body.size').filter((p) => p.attributes['http.route'] === '/asset/{boot_profile_id}/kernel');
    expect(bodySizes.reduce((n, p) => n + ((p.value as Histogram).sum ?? 0), 0)).toBeGreaterThanOrEqual(300_000);

    // No MAC, id or concrete path in any metric attribute.
    const values = after.scopeMetrics.flatMap((s) => s.metrics).flatMap((m) => (m.dataPoints as DataPoint<unknown>[]).flatMap((p) => Object.values(p.attributes).map(String)));
    for (const v of values) {
      expect(v).not.toMatch(/[\da-f]{2}:[\da-f]{2}:[\da-f]{2}/i);
      expect(v).not.toContain(profile.id);
    }
  });

  it('upload sessions and the sweeper are counted', async () => {
    const before = await collect();
    const file = { size: 10, sha256: 'a'.repeat(64) };
    const other = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() });
    const session = await api<{ id: string }>('POST', '/api/v1/uploads', { json: { machine_id: other.body.id, mode: 'create', kernel: file, initrd: { size: 11, sha256: 'b'.repeat(64) } } });
    expect(session.status).toBe(201);
    expect((await api('DELETE', `/api/v1/uploads/${session.body.id}`)).status).toBe(204);
    expect((await api('POST', '/internal/blobs/sweep')).status).toBe(200);
    const after = await collect();
    expect(sum(after, 'netboot.upload_sessions', { outcome: 'created' }) - sum(before, 'netboot.upload_sessions', { outcome: 'created' })).toBe(1);
    expect(sum(after, 'netboot.upload_sessions', { outcome: 'cancelled' }) - sum(before, 'netboot.upload_sessions', { outcome: 'cancelled' })).toBe(1);
  });

  it('GET /metrics (local gateway) answers Prometheus text with the request duration histogram', async () => {
    await api('GET', '/health/liveness');
    const res = await fetch(`${stack.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE http_server_request_duration histogram$/m);
    expect(text).toMatch(/^# UNIT http_server_request_duration s$/m);
    expect(text).toMatch(/^http_server_request_duration_bucket\{.*http_route="\/health\/liveness".*le="0\.005"\} \d+$/m);
    expect(text).toMatch(/^http_server_request_duration_count\{.*http_route="\/health\/liveness".*\} \d+$/m);
    expect(text).toMatch(/^health_check_total\{.*probe="liveness",status="ok".*\} \d+/m);
  });
});

describe('health checks', () => {
  it('log "Health check completed" and count both probes', async () => {
    const before = await collect();
    expect((await api('GET', '/health/startup')).status).toBe(200);
    expect((await api('GET', '/health/liveness')).status).toBe(200);
    const completed = lines.filter((l) => l.message === 'Health check completed');
    expect(completed).toEqual([
      expect.objectContaining({ probe: 'startup', status: 'ok', duration_ms: expect.any(Number), level: 'info' }),
      expect.objectContaining({ probe: 'liveness', status: 'ok', duration_ms: expect.any(Number) }),
    ]);
    const after = await collect();
    expect(sum(after, 'health_check_total', { probe: 'startup', status: 'ok' }) - sum(before, 'health_check_total', { probe: 'startup', status: 'ok' })).toBe(1);
    expect(sum(after, 'health_check_total', { probe: 'liveness', status: 'ok' }) - sum(before, 'health_check_total', { probe: 'liveness', status: 'ok' })).toBe(1);
    expect(sum(after, 'health_check_duration_ms', { probe: 'startup' }) - sum(before, 'health_check_duration_ms', { probe: 'startup' })).toBe(1);
  });

  it('startup answers 503 when Firestore and the bucket are unreachable (a closed port); liveness stays 200', async () => {
    // The Google clients read the emulator hosts from the environment when they are made.
    const saved = { f: process.env.FIRESTORE_EMULATOR_HOST, s: process.env.STORAGE_EMULATOR_HOST };
    process.env.FIRESTORE_EMULATOR_HOST = '127.0.0.1:9';
    process.env.STORAGE_EMULATOR_HOST = 'http://127.0.0.1:9';
    try {
      unreachable = { firestore: new Firestore({ projectId: 'demo-unreachable' }), bucket: new Storage({ projectId: 'demo-unreachable', retryOptions: { autoRetry: false } }).bucket('unreachable') };
    } finally {
      process.env.FIRESTORE_EMULATOR_HOST = saved.f;
      process.env.STORAGE_EMULATOR_HOST = saved.s;
    }
    const before = await collect();
    down = true;
    try {
      const res = await api('GET', '/health/startup');
      expect(res.status).toBe(503);
      expect(res.headers.get('cache-control')).toBe('no-cache, no-store, must-revalidate');
      expect((await api('GET', '/health/liveness')).status).toBe(200);
    } finally {
      down = false;
      await unreachable.firestore.terminate();
    }
    expect(lines.find((l) => l.message === 'Health check completed' && l.probe === 'startup')).toMatchObject({ status: 'error', level: 'warn' });
    const after = await collect();
    expect(sum(after, 'health_check_total', { probe: 'startup', status: 'error' }) - sum(before, 'health_check_total', { probe: 'startup', status: 'error' })).toBe(1);
    expect((await api('GET', '/health/startup')).status).toBe(200);
  }, 30_000);
});
