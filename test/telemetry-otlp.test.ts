import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetryFromEnvironment } from '../shared/telemetry';
import { request, useLocalStack } from './helpers/stack';

/** A tiny OTLP/HTTP receiver: keeps every POST to /v1/traces and /v1/metrics. */
const received: { path: string; contentType: string; body: Buffer }[] = [];
const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received.push({ path: req.url ?? '', contentType: String(req.headers['content-type']), body: Buffer.concat(chunks) });
    const json = /json/.test(String(req.headers['content-type']));
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
    res.end(json ? '{}' : '');
  });
});
// Filled in before the stack starts (useLocalStack reads it in its beforeAll, registered after this one).
const env: Record<string, string> = {};
beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  Object.assign(env, {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_METRIC_EXPORT_INTERVAL: '500',
  });
});
afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

const stack = useLocalStack(env);

async function until<T>(find: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const found = find();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never received ${what}`);
}

interface OtlpSpan {
  name: string;
  traceId: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
}

describe('OTLP/HTTP export configured by OTEL_* alone', () => {
  it('http/json: the stack sends its server spans (and Firestore children) and its metrics to OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const res = await request(stack.url, 'GET', '/health/startup', { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
    expect(res.status).toBe(200);
    const spans = await until(() => {
      const all = received
        .filter((r) => r.path === '/v1/traces')
        .flatMap((r) => (JSON.parse(r.body.toString()) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((s) => s.spans)));
      const mine = all.filter((s) => s.traceId === traceId);
      return mine.some((s) => s.name === 'GET /health/startup') && mine.some((s) => s.name !== 'GET /health/startup') ? mine : undefined;
    }, 'the request’s spans');
    expect(received.find((r) => r.path === '/v1/traces')?.contentType).toBe('application/json');
    const server = spans.find((s) => s.name === 'GET /health/startup') as OtlpSpan;
    expect(server.kind).toBe(2); // SPAN_KIND_SERVER
    expect(server.attributes).toContainEqual({ key: 'http.route', value: { stringValue: '/health/startup' } });
    // The probe's Firestore read and bucket listing ride in the same trace.
    expect(spans.length).toBeGreaterThan(1);
    const metricNames = await until(() => {
      const names = received
        .filter((r) => r.path === '/v1/metrics')
        .flatMap((r) => (JSON.parse(r.body.toString()) as { resourceMetrics: { scopeMetrics: { metrics: { name: string }[] }[] }[] }).resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.name))));
      return names.includes('health_check_total') ? names : undefined;
    }, 'metrics');
    expect(metricNames).toEqual(expect.arrayContaining(['http.server.request.duration', 'health_check_total', 'health_check_duration_ms']));
  });

  it('http/protobuf: the exporter posts a protobuf body to /v1/traces', async () => {
    const before = received.length;
    const saved = process.env.OTEL_EXPORTER_OTLP_PROTOCOL;
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf';
    try {
      const telemetry = telemetryFromEnvironment({ ...process.env, OTEL_METRICS_EXPORTER: 'none' });
      telemetry.tracer.startSpan('protobuf-probe').end();
      await telemetry.shutdown();
    } finally {
      process.env.OTEL_EXPORTER_OTLP_PROTOCOL = saved;
    }
    const posted = await until(() => received.slice(before).find((r) => r.path === '/v1/traces'), 'a protobuf trace export');
    expect(posted.contentType).toBe('application/x-protobuf');
    expect(posted.body.includes(Buffer.from('protobuf-probe'))).toBe(true);
  });
});
