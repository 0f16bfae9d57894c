/**
 * terraform/monitoring.tf and terraform/dashboards/fleet.json name only metrics that exist:
 * custom.googleapis.com/* ones are instruments the code creates (read from shared/telemetry's
 * Meters, not from a list kept here), with labels the code records; run.googleapis.com/* ones
 * are Cloud Run's documented metrics. Every alert links a runbook heading of docs/operating.md.
 * (The schema check, test/infra/terraform-schema.test.ts, covers monitoring.tf's arguments.)
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { ValueType, type Attributes, type Meter, type MetricOptions } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { parseHcl, type Token } from '../../scripts/terraform-schema/hcl';
import { cloudMonitoringMetricPrefix } from '../../shared/telemetry/environment';
import { Meters } from '../../shared/telemetry/meters';
import { parseTfFile, repoRoot, terraformDir } from './terraform-files';

/** Every instrument Meters creates, with the attribute keys each call below records. */
function exportedInstruments(): Map<string, Set<string>> {
  return exercised().keys;
}

/** Each instrument's Cloud Monitoring value type and recorded attribute keys. */
function exercised(): { keys: Map<string, Set<string>>; kinds: Map<string, string> } {
  const instruments = new Map<string, Set<string>>();
  const kinds = new Map<string, string>();
  const instrument = (create: string) => (name: string, options?: MetricOptions) => {
    const keys = new Set<string>();
    instruments.set(name, keys);
    // As the Cloud Monitoring exporter types it: histograms DISTRIBUTION, sums INT64 or DOUBLE (the API's default).
    kinds.set(name, create === 'createHistogram' ? 'DISTRIBUTION' : options?.valueType === ValueType.INT ? 'INT64' : 'DOUBLE');
    const record = (_value: number, attributes: Attributes = {}) => Object.keys(attributes).forEach((k) => keys.add(k));
    return { add: record, record };
  };
  const meter = new Proxy({} as Meter, { get: (_t, method: string) => (method.startsWith('create') ? instrument(method) : () => undefined) });
  const called = new Set<string>();
  const real = new Meters(meter);
  const meters = new Proxy(real, {
    get: (target, prop: string) => {
      const value = (target as unknown as Record<string, unknown>)[prop];
      if (typeof value !== 'function') return value;
      called.add(prop);
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
  // Each recording method once, so the attribute keys it writes are seen.
  const finished = { statusCode: 200, once: (_event: string, fn: () => void) => fn() } as unknown as ServerResponse;
  meters.bootScript('served');
  meters.bootScriptAnswered(finished);
  meters.bootReportAnswered(finished, 'booting');
  meters.assetSent('kernel', 'proxy', 1);
  meters.redirect('kernel');
  meters.rateLimited('boot-mac');
  meters.uploadSession('mismatch');
  meters.healthCheck('startup', true, 1);
  meters.swept(1);
  // Its attributes come from shared/telemetry/http.ts (the semantic conventions' names).
  // The keys shared/telemetry/http.ts records (error.type on 5xx and aborted requests).
  meters.httpServer({ 'http.route': '/boot.ipxe', 'http.request.method': 'GET', 'http.response.status_code': 500, 'error.type': '500' }, 0.01, 0, 10);
  // A recording method added to Meters must be called above, so its labels are known here.
  const methods = Object.getOwnPropertyNames(Meters.prototype).filter((m) => m !== 'constructor');
  const missed = methods.filter((m) => !called.has(m));
  if (missed.length) throw new Error(`test/infra/monitoring.test.ts: call Meters.${missed.join(', Meters.')} in exportedInstruments()`);
  return { keys: instruments, kinds };
}

/** As the Cloud Monitoring exporter writes a label key (normalizeLabelKey: non-letters and non-digits become _). */
const labelKey = (key: string) => key.replace(/[^\p{Letter}\p{Decimal_Number}_]/gu, '_');

/** Cloud Run metrics the alerts and the dashboard may name (cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-run). */
const cloudRunMetrics: Record<string, string[]> = {
  'run.googleapis.com/container/instance_count': ['state'],
};

/** Every Cloud Monitoring filter in monitoring.tf (string tokens, interpolations kept as written) and in the dashboard. */
function filters(): { where: string; filter: string }[] {
  const out: { where: string; filter: string }[] = [];
  const source = readFileSync(path.join(terraformDir, 'monitoring.tf'), 'utf8');
  const body = parseHcl('monitoring.tf', source);
  const locals = body.blocks.find((b) => b.type === 'locals')?.body.attributes ?? [];
  // local.x (a plain string) and local.monitoring_metrics.x stand for their values.
  const values = new Map<string, string>();
  for (const local of locals) {
    const [only] = local.value;
    if (local.value.length === 1 && only?.literal !== undefined) values.set(`local.${local.name}`, only.literal);
  }
  let key = '';
  for (const t of locals.find((a) => a.name === 'monitoring_metrics')?.value ?? []) {
    if (t.kind === 'ident') key = t.text;
    if (t.kind === 'string' && t.literal) values.set(`local.monitoring_metrics.${key}`, t.literal);
  }
  const visit = (b: { body: { attributes: { name: string; line: number; value: Token[] }[]; blocks: { body: unknown }[] } }) => {
    for (const a of b.body.attributes) {
      if (a.name !== 'filter' && a.name !== 'denominator_filter') continue;
      // The template's text between its quotes, unescaped, with the locals put in.
      const text = a.value.map((t) => t.text).join('').slice(1, -1).replace(/\\"/g, '"');
      out.push({ where: `monitoring.tf:${a.line}`, filter: text.replace(/\$\{(local\.[\w.]+)\}/g, (m, k: string) => values.get(k) ?? m) });
    }
    for (const child of b.body.blocks) visit(child as Parameters<typeof visit>[0]);
  };
  body.blocks.forEach(visit);
  const dashboard = readFileSync(path.join(terraformDir, 'dashboards', 'fleet.json'), 'utf8');
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'filter' && typeof x === 'string') out.push({ where: 'dashboards/fleet.json', filter: x });
        else walk(x);
      }
    }
  };
  walk(JSON.parse(dashboard));
  return out;
}

describe('alerts and the dashboard', () => {
  const instruments = exportedInstruments();
  const all = filters();

  it('read filters from both files', () => {
    expect(all.filter((f) => f.where.startsWith('monitoring.tf')).length).toBeGreaterThanOrEqual(6);
    expect(all.filter((f) => f.where.startsWith('dashboards')).length).toBeGreaterThanOrEqual(8);
  });

  it.each(all.map((f) => [f.where, f.filter] as const))('%s: %s names exported metrics and labels', (_where, filter) => {
    const type = /metric\.type="([^"]+)"/.exec(filter)?.[1];
    expect(type, 'a filter names its metric type').toBeDefined();
    const labels = [...filter.matchAll(/metric\.label\.(\w+)/g)].map((m) => m[1] as string);
    if (type?.startsWith(`${cloudMonitoringMetricPrefix}/`)) {
      const name = type.slice(cloudMonitoringMetricPrefix.length + 1);
      expect([...instruments.keys()], `${name} is an instrument of shared/telemetry/meters.ts`).toContain(name);
      expect(filter, 'custom metrics are written per instance as generic_task').toContain('resource.type="generic_task"');
      const keys = [...(instruments.get(name) ?? [])].map(labelKey);
      for (const label of labels) expect(keys, `${name} records ${label}`).toContain(label);
    } else {
      expect(Object.keys(cloudRunMetrics), `${type} is a documented Cloud Run metric`).toContain(type);
      for (const label of labels) expect(cloudRunMetrics[type as string]).toContain(label);
    }
  });

  it('declares a descriptor for every custom metric named, with the kind, value type and labels the exporter writes', async () => {
    const { keys, kinds } = exercised();
    const locals = (await parseTfFile('monitoring.tf')).json.locals as { custom_metric_descriptors?: Record<string, { value_type: string; labels: string[] }> }[];
    const descriptors = locals.find((l) => l.custom_metric_descriptors)?.custom_metric_descriptors ?? {};
    const named = new Set(all.map((f) => /metric\.type="([^"]+)"/.exec(f.filter)?.[1] ?? '').filter((t) => t.startsWith(`${cloudMonitoringMetricPrefix}/`)).map((t) => t.slice(cloudMonitoringMetricPrefix.length + 1)));
    expect(Object.keys(descriptors).sort()).toEqual([...named].sort());
    for (const [name, d] of Object.entries(descriptors)) {
      expect(d.value_type, name).toBe(kinds.get(name));
      expect([...d.labels].sort(), name).toEqual([...(keys.get(name) ?? [])].map(labelKey).sort());
    }
  });

  it('the dashboard is Cloud Monitoring JSON whose only deployment placeholder is ${name_prefix}', () => {
    const dashboard = readFileSync(path.join(terraformDir, 'dashboards', 'fleet.json'), 'utf8');
    const parsed = JSON.parse(dashboard) as { displayName: string; mosaicLayout: { columns: number; tiles: { xPos: number; width: number; widget: { title: string } }[] } };
    expect(parsed.displayName).toContain('${name_prefix}');
    for (const tile of parsed.mosaicLayout.tiles) expect(tile.xPos + tile.width).toBeLessThanOrEqual(parsed.mosaicLayout.columns);
    const placeholders = [...dashboard.matchAll(/\$\{([^}]+)\}/g)].map((m) => m[1] as string);
    expect(placeholders.filter((p) => p !== 'name_prefix' && !/^(metric|resource)\.labels\.\w+$/.test(p))).toEqual([]);
    const titles = parsed.mosaicLayout.tiles.map((t) => t.widget.title).join('\n');
    for (const chart of [/boots per minute by outcome/i, /bytes .* by delivery/i, /latency/i, /refusals/i]) expect(titles).toMatch(chart);
  });

  it('every alert policy links a runbook heading that docs/operating.md has', () => {
    const source = readFileSync(path.join(terraformDir, 'monitoring.tf'), 'utf8');
    const operating = readFileSync(path.join(repoRoot, 'docs', 'operating.md'), 'utf8');
    // GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
    const anchors = new Set([...operating.matchAll(/^#+\s+(.+)$/gm)].map((m) => (m[1] as string).toLowerCase().replace(/[^\p{Letter}\p{Decimal_Number} -]/gu, '').replace(/ /g, '-')));
    const policies = [...source.matchAll(/^resource "google_monitoring_alert_policy" "(\w+)"/gm)].map((m) => m[1]);
    const linked = [...source.matchAll(/#([a-z0-9-]+)"/g)].map((m) => m[1] as string);
    expect(policies.length).toBe(6);
    expect(linked.length).toBeGreaterThanOrEqual(policies.length);
    for (const anchor of linked) expect([...anchors], anchor).toContain(anchor);
  });
});
