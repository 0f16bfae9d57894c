import { LOGGING_SPAN_KEY, LOGGING_TRACE_KEY, LoggingWinston } from '@google-cloud/logging-winston';
import winston from 'winston';
import type { Config } from './config';

export type Logger = winston.Logger;

/**
 * One JSON line per entry on stdout, in the form Cloud Logging parses on Cloud Run
 * and Functions (severity, trace correlation); no API calls from the request path.
 */
export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'GOOGLE_CLOUD_PROJECT'>): Logger {
  return winston.createLogger({
    level: config.LOG_LEVEL,
    transports: [new LoggingWinston({ redirectToStdout: true, useMessageField: false, projectId: config.GOOGLE_CLOUD_PROJECT })],
  });
}

export interface TraceContext {
  traceId: string;
  spanId?: string;
}

/** Reads W3C `traceparent`, falling back to Google's `X-Cloud-Trace-Context`. */
export function parseTraceHeaders(traceparent: string | undefined, cloudTrace: string | undefined): TraceContext | undefined {
  const w3c = traceparent?.match(/^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}$/);
  if (w3c && !/^0+$/.test(w3c[1] as string)) return { traceId: w3c[1] as string, spanId: w3c[2] as string };
  const google = cloudTrace?.match(/^([\da-f]{32})(?:\/(\d{1,20}))?/);
  if (google) return { traceId: google[1] as string, ...(google[2] ? { spanId: google[2] } : {}) };
  return undefined;
}

/** A child of `root` whose lines carry the request id and the trace Cloud Logging correlates them with. */
export function requestLogger(root: Logger, projectId: string, requestId: string, trace: TraceContext | undefined): Logger {
  const meta: Record<string, string> = { request_id: requestId };
  if (trace) {
    meta[LOGGING_TRACE_KEY] = `projects/${projectId}/traces/${trace.traceId}`;
    if (trace.spanId) meta[LOGGING_SPAN_KEY] = trace.spanId;
  }
  return root.child(meta);
}

/**
 * `log` with the ids of the request's server span (telemetry on): its lines and the span
 * share trace and span id, so Cloud Logging shows them under that span.
 */
export function withSpan(log: Logger, projectId: string, span: { traceId: string; spanId: string; sampled: boolean }): Logger {
  return log.child({ [LOGGING_TRACE_KEY]: `projects/${projectId}/traces/${span.traceId}`, [LOGGING_SPAN_KEY]: span.spanId, 'logging.googleapis.com/trace_sampled': span.sampled });
}
