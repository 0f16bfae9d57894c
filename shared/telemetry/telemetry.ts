import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics, propagation, trace, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import { Meters } from './meters';

/**
 * What the service records, one per process, held by the composition root. The services
 * that count get `meters`; the request wrapper and the Storage decorators get `tracer`.
 *
 * With no exporter configured it is `noopTelemetry()`: the OpenTelemetry API's no-op
 * tracer and meter, no SDK module loaded, and the request wrapper skips its step.
 */
export interface Telemetry {
  /** Spans are recorded and exported (a tracer provider is registered). */
  readonly tracing: boolean;
  /** Metrics are collected (some reader is attached). */
  readonly metering: boolean;
  readonly tracer: Tracer;
  readonly meters: Meters;
  /** Extracts the caller's trace context: `traceparent`, else `X-Cloud-Trace-Context`. */
  readonly propagator: TextMapPropagator;
  /** Local stack only: answers this process's metrics in Prometheus text format (GET /metrics). */
  readonly servePrometheus?: (req: IncomingMessage, res: ServerResponse) => void;
  /** Exports what is buffered now (spans, then a metric collection). */
  forceFlush(): Promise<void>;
  /** Flushes and stops exporting; call once, before the process ends (SIGTERM). */
  shutdown(): Promise<void>;
}

/** Nothing recorded, nothing loaded: the API's no-op implementations. */
export function noopTelemetry(): Telemetry {
  return {
    tracing: false,
    metering: false,
    tracer: trace.getTracer('netboot'),
    meters: new Meters(metrics.getMeter('netboot'), false),
    propagator: propagation,
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}
