/* eslint-disable @typescript-eslint/no-require-imports -- the SDK is loaded on use only (telemetry on), never at start-up */
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type * as MetricsModule from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type * as TraceModule from '@opentelemetry/sdk-trace-base';
import { createTelemetry, requireFromSdkNode } from './sdk';
import { noopTelemetry, type Telemetry } from './telemetry';

type Env = Record<string, string | undefined>;

/** The values OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER may list (shared/config.ts checks them). */
export const traceExporterNames = ['otlp', 'console', 'gcp', 'none'] as const;
export const metricExporterNames = ['otlp', 'console', 'gcp', 'none'] as const;

/** With `gcp`, an instrument `x.y` becomes the Cloud Monitoring metric type `custom.googleapis.com/x.y` (terraform/monitoring.tf reads these). */
export const cloudMonitoringMetricPrefix = 'custom.googleapis.com';

function list(value: string | undefined): string[] | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return [...new Set(value.split(',').map((v) => v.trim().toLowerCase()).filter(Boolean))];
}

const truthy = (v: string | undefined) => v !== undefined && ['true', '1', 'yes', 'on'].includes(v.trim().toLowerCase());

export interface ExporterChoice {
  traces: string[];
  metrics: string[];
}

/**
 * Which exporters the standard variables ask for. Unlike the SDK's own default (otlp),
 * nothing is exported unless asked: an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, or the
 * per-signal one) means `otlp` for that signal; OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER
 * name them explicitly (`none` for nothing); OTEL_SDK_DISABLED=true turns everything off.
 */
export function exportersFrom(env: Env): ExporterChoice {
  if (truthy(env.OTEL_SDK_DISABLED)) return { traces: [], metrics: [] };
  const endpoint = (signal: 'TRACES' | 'METRICS') => Boolean(env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`] || env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const traces = list(env.OTEL_TRACES_EXPORTER) ?? (endpoint('TRACES') ? ['otlp'] : []);
  const metrics = list(env.OTEL_METRICS_EXPORTER) ?? (endpoint('METRICS') ? ['otlp'] : []);
  return { traces: traces.includes('none') ? [] : traces, metrics: metrics.includes('none') ? [] : metrics };
}

function protocolOf(env: Env, signal: 'TRACES' | 'METRICS'): string {
  return (env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
}

/** Loaded on use: the OTLP exporters come with @opentelemetry/sdk-node. */
function spanExporter(name: string, env: Env): SpanExporter {
  switch (name) {
    case 'otlp': {
      const protocol = protocolOf(env, 'TRACES');
      const pkg = { 'http/protobuf': '@opentelemetry/exporter-trace-otlp-proto', 'http/json': '@opentelemetry/exporter-trace-otlp-http', grpc: '@opentelemetry/exporter-trace-otlp-grpc' }[protocol];
      if (!pkg) throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not http/protobuf, http/json or grpc`);
      const { OTLPTraceExporter } = requireFromSdkNode(pkg) as { OTLPTraceExporter: new () => SpanExporter };
      return new OTLPTraceExporter(); // endpoint, headers, timeout, compression: from OTEL_EXPORTER_OTLP_*
    }
    case 'console':
      return new (require('@opentelemetry/sdk-trace-base') as typeof TraceModule).ConsoleSpanExporter();
    case 'gcp': {
      const { TraceExporter } = require('@google-cloud/opentelemetry-cloud-trace-exporter') as typeof import('@google-cloud/opentelemetry-cloud-trace-exporter');
      return new TraceExporter(env.GOOGLE_CLOUD_PROJECT ? { projectId: env.GOOGLE_CLOUD_PROJECT } : {});
    }
    default:
      throw new Error(`OTEL_TRACES_EXPORTER: "${name}" is not one of ${traceExporterNames.join(', ')}`);
  }
}

function metricExporter(name: string, env: Env): PushMetricExporter {
  switch (name) {
    case 'otlp': {
      const protocol = protocolOf(env, 'METRICS');
      const pkg = { 'http/protobuf': '@opentelemetry/exporter-metrics-otlp-proto', 'http/json': '@opentelemetry/exporter-metrics-otlp-http', grpc: '@opentelemetry/exporter-metrics-otlp-grpc' }[protocol];
      if (!pkg) throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL: "${protocol}" is not http/protobuf, http/json or grpc`);
      const { OTLPMetricExporter } = requireFromSdkNode(pkg) as { OTLPMetricExporter: new () => PushMetricExporter };
      return new OTLPMetricExporter();
    }
    case 'console':
      return new (require('@opentelemetry/sdk-metrics') as typeof MetricsModule).ConsoleMetricExporter();
    case 'gcp': {
      const { MetricExporter } = require('@google-cloud/opentelemetry-cloud-monitoring-exporter') as typeof import('@google-cloud/opentelemetry-cloud-monitoring-exporter');
      // custom.googleapis.com/health_check_total, as the spec's queries name them.
      return new MetricExporter({ prefix: cloudMonitoringMetricPrefix, ...(env.GOOGLE_CLOUD_PROJECT ? { projectId: env.GOOGLE_CLOUD_PROJECT } : {}) });
    }
    default:
      throw new Error(`OTEL_METRICS_EXPORTER: "${name}" is not one of ${metricExporterNames.join(', ')}`);
  }
}

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value !== undefined && Number.isFinite(n) && n > 0 ? n : fallback;
}

/**
 * The process's Telemetry from the standard OTEL_* variables (exportersFrom). Spans go
 * through a BatchSpanProcessor (OTEL_BSP_SCHEDULE_DELAY and the other OTEL_BSP_* are read
 * by it), metrics through a periodic reader every OTEL_METRIC_EXPORT_INTERVAL ms (default
 * 60000). `prometheus`: also collect metrics for the local gateway's GET /metrics.
 * Nothing to export and no Prometheus: the no-op telemetry, and no SDK module is loaded.
 */
export function telemetryFromEnvironment(env: Env = process.env, { prometheus = false } = {}): Telemetry {
  const choice = exportersFrom(env);
  const disabled = truthy(env.OTEL_SDK_DISABLED);
  if (disabled || (choice.traces.length === 0 && choice.metrics.length === 0 && !prometheus)) return noopTelemetry();
  const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base') as typeof TraceModule;
  const { PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics') as typeof MetricsModule;
  const interval = positive(env.OTEL_METRIC_EXPORT_INTERVAL, 60_000);
  return createTelemetry({
    spanProcessors: choice.traces.map((name) => new BatchSpanProcessor(spanExporter(name, env))),
    metricReaders: choice.metrics.map(
      (name) => new PeriodicExportingMetricReader({ exporter: metricExporter(name, env), exportIntervalMillis: interval, exportTimeoutMillis: Math.min(positive(env.OTEL_METRIC_EXPORT_TIMEOUT, 30_000), interval) }),
    ),
    prometheus,
  });
}
