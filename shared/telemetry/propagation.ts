/* eslint-disable @typescript-eslint/no-require-imports -- the SDK is loaded on use only (telemetry on), never at start-up */
import { trace, TraceFlags, type Context, type TextMapGetter, type TextMapPropagator, type TextMapSetter } from '@opentelemetry/api';
import type * as Core from '@opentelemetry/core';

const header = 'x-cloud-trace-context';

/**
 * Google's `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS` (span id in decimal), what
 * Google's front ends add to requests that carry no `traceparent`. A few lines in place of
 * @google-cloud/opentelemetry-cloud-trace-propagator (not a dependency).
 */
export class CloudTraceContextPropagator implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const span = trace.getSpanContext(context);
    if (!span || !trace.isSpanContextValid(span)) return;
    const sampled = (span.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? 1 : 0;
    setter.set(carrier, header, `${span.traceId}/${BigInt(`0x${span.spanId}`).toString(10)};o=${sampled}`);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const raw = getter.get(carrier, header);
    const value = Array.isArray(raw) ? raw[0] : raw;
    const m = value?.match(/^([\da-f]{32})\/(\d{1,20})(?:;o=([0-3]))?/i);
    if (!m) return context;
    const traceId = (m[1] as string).toLowerCase();
    const id = BigInt(m[2] as string);
    if (id === 0n || id >= 1n << 64n || /^0+$/.test(traceId)) return context;
    const spanId = id.toString(16).padStart(16, '0');
    const traceFlags = m[3] !== undefined && (Number(m[3]) & 1) === 1 ? TraceFlags.SAMPLED : TraceFlags.NONE;
    return trace.setSpanContext(context, { traceId, spanId, traceFlags, isRemote: true });
  }

  fields(): string[] {
    return [header];
  }
}

/** `traceparent` wins over `X-Cloud-Trace-Context` when a request has both (the last extractor overrides). */
export function requestPropagator(): TextMapPropagator {
  // Loaded on use, with the rest of the SDK (telemetry on only).
  const { CompositePropagator, W3CTraceContextPropagator } = require('@opentelemetry/core') as typeof Core;
  return new CompositePropagator({ propagators: [new CloudTraceContextPropagator(), new W3CTraceContextPropagator()] });
}
