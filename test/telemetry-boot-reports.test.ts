/**
 * netboot.boot.reports: the metric behind the "boots that stop before booting" alert
 * (terraform/monitoring.tf), counted through the real boot path on the local stack.
 */
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader, type DataPoint, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Telemetry } from '../shared/telemetry';
import { createTelemetry } from '../shared/telemetry/sdk';
import { aMac, aMachine } from './helpers/fixtures';
import { postProfile, profileForm, randomFile } from './helpers/profiles';
import { request, useLocalStack } from './helpers/stack';

const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
let telemetry: Telemetry | undefined;
const testTelemetry = () => (telemetry ??= createTelemetry({ metricReaders: [reader] }));

const stack = useLocalStack({ ASSET_DELIVERY: 'proxy' }, { decorate: (parts) => ({ ...parts, telemetry: testTelemetry() }) });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

async function collect(): Promise<ResourceMetrics> {
  metricExporter.reset();
  await reader.forceFlush();
  return metricExporter.getMetrics().at(-1) as ResourceMetrics;
}
function sum(rm: ResourceMetrics, name: string, attrs: Record<string, unknown>): number {
  return rm.scopeMetrics
    .flatMap((s) => s.metrics)
    .filter((m) => m.descriptor.name === name)
    .flatMap((m) => m.dataPoints as DataPoint<number>[])
    .filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v))
    .reduce((n, p) => n + p.value, 0);
}

const mac = aMac();
beforeAll(async () => {
  const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
  expect((await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel: randomFile(1000), initrd: randomFile(1000) }))).status).toBe(201);
});

describe('the resource metrics are written against', () => {
  it('is a generic_task per process in Cloud Monitoring (job = the service, task_id = the instance), so instances never share a series', async () => {
    const { mapOtelResourceToMonitoredResource } = (await import(require.resolve('@google-cloud/opentelemetry-resource-util', { paths: [require.resolve('@google-cloud/opentelemetry-cloud-monitoring-exporter')] }))) as typeof import('@google-cloud/opentelemetry-resource-util');
    const rm = await collect();
    const resource = mapOtelResourceToMonitoredResource(rm.resource);
    expect(resource.type).toBe('generic_task');
    expect(resource.labels.task_id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('netboot.boot.reports', () => {
  it('counts a served script that reports booting as accepted, a report with a wrong token as refused', async () => {
    const before = await collect();
    const script = await api('GET', `/boot.ipxe?mac=${encodeURIComponent(mac)}`);
    expect(script.status).toBe(200);
    const report = /imgfetch --name report (\/boot\/report\?\S+)/.exec(String(script.text))?.[1];
    expect(report, 'the served script reports booting').toBeDefined();
    expect((await api('GET', report as string)).status).toBe(200);
    expect((await api('GET', '/boot/report?token=not-a-token&phase=booting')).status).toBeGreaterThanOrEqual(400);
    // Counted on the response's finish event: wait for it to land.
    let after = await collect();
    for (let i = 0; i < 50 && sum(after, 'netboot.boot.reports', {}) - sum(before, 'netboot.boot.reports', {}) < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = await collect();
    }
    const delta = (attrs: Record<string, unknown>) => sum(after, 'netboot.boot.reports', attrs) - sum(before, 'netboot.boot.reports', attrs);
    expect(delta({ phase: 'booting', outcome: 'accepted' })).toBe(1);
    expect(delta({ phase: 'booting', outcome: 'refused' })).toBe(1);
    expect(sum(after, 'netboot.boot_script.requests', { outcome: 'served' }) - sum(before, 'netboot.boot_script.requests', { outcome: 'served' })).toBe(1);
  });
});
