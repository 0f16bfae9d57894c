/**
 * The OpenTelemetry SDK, loaded only when something is exported: nothing in this file is
 * imported at run time by a process with telemetry off (type imports only; `require` on use).
 */
/* eslint-disable @typescript-eslint/no-require-imports -- the SDK is loaded on use only (telemetry on), never at start-up */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { context, metrics, propagation, trace, type Attributes } from '@opentelemetry/api';
import type * as ResourcesModule from '@opentelemetry/resources';
import type * as MetricsModule from '@opentelemetry/sdk-metrics';
import type { MetricReader } from '@opentelemetry/sdk-metrics';
import type * as TraceModule from '@opentelemetry/sdk-trace-base';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { Meters } from './meters';
import { requestPropagator } from './propagation';
import type { Telemetry } from './telemetry';

/**
 * Packages @opentelemetry/sdk-node brings along (its OTLP exporters, the async-hooks context
 * manager), resolved from sdk-node's own location so they are found whatever the hoisting.
 */
export function requireFromSdkNode(id: string): unknown {
  return createRequire(require.resolve('@opentelemetry/sdk-node'))(id);
}

export interface TelemetryParts {
  /** Where spans go (tests: a SimpleSpanProcessor on an InMemorySpanExporter). None: no tracing. */
  spanProcessors?: SpanProcessor[];
  /** Where metrics go (tests: a reader on an InMemoryMetricExporter). */
  metricReaders?: MetricReader[];
  /** Also collect for GET /metrics (the local gateway). */
  prometheus?: boolean;
  /** Resource attributes besides service.name and OTEL_RESOURCE_ATTRIBUTES. */
  resource?: Attributes;
}

/**
 * A Telemetry on the SDK. With span processors it registers itself as the process's global
 * tracer provider, context manager (AsyncLocalStorage) and propagator: the Firestore client
 * creates its spans through the global API, as children of the active (server) span.
 */
export function createTelemetry(parts: TelemetryParts): Telemetry {
  const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base') as typeof TraceModule;
  const { MeterProvider } = require('@opentelemetry/sdk-metrics') as typeof MetricsModule;
  const { resourceFromAttributes, defaultResource, detectResources, envDetector } = require('@opentelemetry/resources') as typeof ResourcesModule;

  const resource = defaultResource()
    .merge(
      resourceFromAttributes({
        'service.name': process.env.OTEL_SERVICE_NAME ?? process.env.K_SERVICE ?? 'netboot',
        // One per process: Cloud Monitoring's exporter then writes each instance to its own
        // generic_task series (job = service.name, task_id = this). Without it every instance
        // shares one generic_node series and their cumulative counts overwrite each other.
        'service.instance.id': randomUUID(),
        ...(process.env.FUNCTION_TARGET ? { 'faas.name': process.env.FUNCTION_TARGET } : {}),
        ...(process.env.K_REVISION ? { 'faas.version': process.env.K_REVISION } : {}),
        ...parts.resource,
      }),
    )
    .merge(detectResources({ detectors: [envDetector] }));

  const propagator = requestPropagator();
  const spanProcessors = parts.spanProcessors ?? [];
  const tracing = spanProcessors.length > 0;
  let registered = false;
  const tracerProvider = tracing ? new BasicTracerProvider({ resource, spanProcessors }) : undefined;
  if (tracerProvider) {
    const { AsyncLocalStorageContextManager } = requireFromSdkNode('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks');
    // One per process: a second telemetry (a test's) keeps its own tracer but registers nothing.
    registered = trace.setGlobalTracerProvider(tracerProvider);
    if (registered) {
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      propagation.setGlobalPropagator(propagator);
    }
  }

  let prometheus: PrometheusExporter | undefined;
  const readers: MetricReader[] = [...(parts.metricReaders ?? [])];
  if (parts.prometheus) {
    const { PrometheusExporter: Exporter } = require('@opentelemetry/exporter-prometheus') as typeof import('@opentelemetry/exporter-prometheus');
    prometheus = new Exporter({ preventServerStart: true });
    readers.push(prometheus);
  }
  const meterProvider = readers.length > 0 ? new MeterProvider({ resource, readers }) : undefined;

  const noopTracer = trace.getTracer('netboot');
  return {
    tracing,
    metering: meterProvider !== undefined,
    tracer: tracerProvider?.getTracer('netboot') ?? noopTracer,
    meters: meterProvider ? new Meters(meterProvider.getMeter('netboot')) : new Meters(metrics.getMeter('netboot'), false),
    propagator,
    ...(prometheus ? { servePrometheus: prometheus.getMetricsRequestHandler.bind(prometheus) } : {}),
    async forceFlush() {
      await Promise.all([tracerProvider?.forceFlush(), meterProvider?.forceFlush()]);
    },
    async shutdown() {
      await Promise.allSettled([tracerProvider?.shutdown(), meterProvider?.shutdown()]);
      if (registered) {
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
}
