import winston from 'winston';
import type { Config } from './config';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogMeta = Record<string, unknown>;

/**
 * What the code logs through: the part of winston's logger the code uses (tests hand in
 * winston loggers of their own to capture lines).
 */
export interface Logger {
  error(message: string, meta?: LogMeta): void;
  warn(message: string, meta?: LogMeta): void;
  info(message: string, meta?: LogMeta): void;
  debug(message: string, meta?: LogMeta): void;
  log(level: LogLevel, message: string, meta?: LogMeta): void;
  /** A logger whose lines all carry `meta` too. */
  child(meta: LogMeta): Logger;
}

/** The fields Cloud Logging lifts out of a structured stdout line (the rest becomes jsonPayload). */
export const LOGGING_TRACE_KEY = 'logging.googleapis.com/trace';
export const LOGGING_SPAN_KEY = 'logging.googleapis.com/spanId';
const LOGGING_SAMPLED_KEY = 'logging.googleapis.com/trace_sampled';
const LOGGING_LABELS_KEY = 'logging.googleapis.com/labels';

const rank: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const severity: Record<string, string> = { error: 'ERROR', warn: 'WARNING', info: 'INFO', debug: 'DEBUG' };

/** Errors as their stack (JSON.stringify would give `{}`), bigints as strings. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return value.stack ?? `${value.name}: ${value.message}`;
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/**
 * A winston entry as the line Cloud Logging parses on Cloud Run and Functions: `severity`,
 * `message`, `time`, the trace keys, `httpRequest` and `logging.googleapis.com/labels` at the
 * top; everything else under `metadata` (where @google-cloud/logging-winston put it, so
 * queries on `jsonPayload.metadata.*` keep working).
 */
export function cloudLoggingLine(info: winston.Logform.TransformableInfo): string {
  const { level, message, ...meta } = info;
  const entry: Record<string, unknown> = { severity: severity[level] ?? 'DEFAULT', message, time: new Date().toISOString() };
  const rest: LogMeta = {};
  for (const [key, value] of Object.entries(meta)) {
    if (value === undefined) continue;
    if (key === 'httpRequest' || key.startsWith('logging.googleapis.com/')) entry[key] = value;
    else if (key === 'labels') entry[LOGGING_LABELS_KEY] = value;
    else rest[key] = value;
  }
  entry.metadata = rest;
  try {
    return JSON.stringify(entry, replacer);
  } catch (err) {
    // A cycle or a throwing toJSON: the line still goes out, without its metadata.
    return JSON.stringify({ ...entry, metadata: { unserializable: String(err) } }, replacer);
  }
}

/**
 * Levels below the threshold are dropped here, before winston is asked; winston itself is
 * made on the first line written (a boot function at LOG_LEVEL=warn may never load it).
 */
class DeferredWinston implements Logger {
  constructor(
    private readonly threshold: number,
    private readonly meta: LogMeta,
    private readonly winstonLogger: () => winston.Logger,
  ) {}

  log(level: LogLevel, message: string, meta?: LogMeta): void {
    if (rank[level] > this.threshold) return;
    this.winstonLogger().log(level, message, meta ? { ...this.meta, ...meta } : this.meta);
  }

  error(message: string, meta?: LogMeta): void {
    this.log('error', message, meta);
  }

  warn(message: string, meta?: LogMeta): void {
    this.log('warn', message, meta);
  }

  info(message: string, meta?: LogMeta): void {
    this.log('info', message, meta);
  }

  debug(message: string, meta?: LogMeta): void {
    this.log('debug', message, meta);
  }

  child(meta: LogMeta): Logger {
    return new DeferredWinston(this.threshold, { ...this.meta, ...meta }, this.winstonLogger);
  }
}

/**
 * One JSON line per entry on stdout (winston, Console transport), in the form Cloud Logging
 * parses on Cloud Run and Functions; no API calls from the request path. Not through
 * @google-cloud/logging-winston: with `redirectToStdout` it writes these same lines, but it
 * loads @google-cloud/logging, google-gax and gRPC to do so (0.4-0.6 s of every cold start,
 * measured, BENCHMARKS.md "Cold start per function").
 */
export function createLogger(config: Pick<Config, 'LOG_LEVEL'>): Logger {
  let made: winston.Logger | undefined;
  const winstonLogger = () =>
    (made ??= winston.createLogger({
      level: config.LOG_LEVEL,
      format: winston.format.printf(cloudLoggingLine),
      transports: [new winston.transports.Console()],
    }));
  return new DeferredWinston(rank[config.LOG_LEVEL], {}, winstonLogger);
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
  return log.child({ [LOGGING_TRACE_KEY]: `projects/${projectId}/traces/${span.traceId}`, [LOGGING_SPAN_KEY]: span.spanId, [LOGGING_SAMPLED_KEY]: span.sampled });
}

/**
 * A request target (or any URL) as it may be written to a log or a span: the secret part of a
 * boot token (`token=`), of a `{{metadata_url}}` key (`/nocloud/{key}/`) and a signed URL's
 * signature are replaced; the machine and boot ids stay, to correlate.
 */
export function redactUrl(target: string): string {
  return target
    .replace(/(\/nocloud\/)([^/?#]*)/g, (_, prefix: string, key: string) => prefix + redactSecret(key))
    .replace(/([?&]token=)([^&#]*)/gi, (_, prefix: string, token: string) => prefix + redactSecret(token))
    .replace(/([?&]X-Goog-Signature=)[^&#]*/gi, '$1REDACTED');
}

/** `{machine id}.{boot id}.{secret}` with its secret replaced; anything else entirely. */
export function redactSecret(key: string): string {
  const ids = /^([0-9a-f-]{36}\.[0-9a-f-]{36})\./i.exec(key);
  return ids ? `${ids[1]}.REDACTED` : 'REDACTED';
}
