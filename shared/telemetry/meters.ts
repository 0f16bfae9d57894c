import type { ServerResponse } from 'node:http';
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';

/** What a boot script request came to (bounded: one of these, never a MAC). */
export type BootScriptOutcome = 'served' | 'not_configured' | 'refused_network' | 'refused_rate_limit' | 'invalid_mac' | 'error';
export type UploadSessionOutcome = 'created' | 'finalized' | 'mismatch' | 'expired' | 'cancelled';
export type HealthProbe = 'startup' | 'liveness';
/** What a boot report came to: accepted (2xx), refused (4xx: unknown token, too late, twice), error (5xx). */
export type BootReportOutcome = 'accepted' | 'refused' | 'error';

/** The boot script's outcome from its answer's status (the handler throws its refusals as problems). */
export function bootScriptOutcome(status: number): BootScriptOutcome {
  if (status >= 200 && status < 300) return 'served';
  if (status === 404) return 'not_configured';
  if (status === 403) return 'refused_network';
  if (status === 429) return 'refused_rate_limit';
  if (status === 400) return 'invalid_mac';
  return 'error';
}

/**
 * Every instrument the service records, made once from one Meter. Attribute values are
 * bounded (route templates, enums): ids and MACs go on spans only. With telemetry off the
 * Meter is the API's no-op one and every call here does nothing.
 */
export class Meters {
  private readonly requestDuration: Histogram;
  private readonly requestBodySize: Histogram;
  private readonly responseBodySize: Histogram;
  private readonly healthChecks: Counter;
  private readonly healthDuration: Histogram;
  private readonly bootScripts: Counter;
  private readonly bootReports: Counter;
  private readonly assetBytes: Counter;
  private readonly redirects: Counter;
  private readonly rateLimitRefusals: Counter;
  private readonly uploadSessions: Counter;
  private readonly sweptBlobs: Counter;

  /** `recording`: false with the no-op meter (then nothing below even listens). */
  constructor(meter: Meter, private readonly recording = true) {
    // The HTTP semantic conventions' server instruments (stable names, units and buckets).
    this.requestDuration = meter.createHistogram('http.server.request.duration', {
      unit: 's',
      description: 'Duration of HTTP server requests.',
      advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] },
    });
    this.requestBodySize = meter.createHistogram('http.server.request.body.size', { unit: 'By', description: 'Size of HTTP server request bodies.' });
    this.responseBodySize = meter.createHistogram('http.server.response.body.size', { unit: 'By', description: 'Size of HTTP server response bodies.' });
    // The spec's names, as written (Cloud Monitoring: custom.googleapis.com/health_check_total).
    this.healthChecks = meter.createCounter('health_check_total', { description: 'Health checks by probe and result.' });
    this.healthDuration = meter.createHistogram('health_check_duration_ms', { unit: 'ms', description: 'Health check duration.' });
    this.bootScripts = meter.createCounter('netboot.boot_script.requests', { description: 'Boot script requests by outcome.' });
    // With boot_script.requests{outcome=served}: the share of served scripts that got as far as booting.
    this.bootReports = meter.createCounter('netboot.boot.reports', { description: 'Boot reports (a served script saying it is about to boot), by phase and outcome.' });
    this.assetBytes = meter.createCounter('netboot.asset.sent', { unit: 'By', description: 'Kernel and initrd bytes streamed through the function, by kind and delivery.' });
    this.redirects = meter.createCounter('netboot.asset.redirects', { description: 'Asset requests answered with a redirect to a signed Storage URL.' });
    this.rateLimitRefusals = meter.createCounter('netboot.rate_limit.refusals', { description: 'Requests refused by a rate limit, by scope.' });
    this.uploadSessions = meter.createCounter('netboot.upload_sessions', { description: 'Upload sessions by outcome.' });
    this.sweptBlobs = meter.createCounter('netboot.sweeper.deleted_blobs', { description: 'Orphaned blobs the sweeper deleted.' });
  }

  httpServer(attributes: Attributes, seconds: number, requestBytes: number | undefined, responseBytes: number | undefined): void {
    this.requestDuration.record(seconds, attributes);
    if (requestBytes !== undefined) this.requestBodySize.record(requestBytes, attributes);
    if (responseBytes !== undefined) this.responseBodySize.record(responseBytes, attributes);
  }

  healthCheck(probe: HealthProbe, ok: boolean, durationMs: number): void {
    this.healthChecks.add(1, { probe, status: ok ? 'ok' : 'error' });
    this.healthDuration.record(durationMs, { probe });
  }

  bootScript(outcome: BootScriptOutcome): void {
    this.bootScripts.add(1, { outcome });
  }

  /** Counts a boot script request by its outcome once its answer has gone out (whatever step answered it). */
  bootScriptAnswered(res: ServerResponse): void {
    if (this.recording) res.once('finish', () => this.bootScript(bootScriptOutcome(res.statusCode)));
  }

  /** Counts a boot report by its outcome once its answer has gone out. */
  bootReportAnswered(res: ServerResponse, phase: 'booting'): void {
    if (!this.recording) return;
    res.once('finish', () => {
      const status = res.statusCode;
      const outcome: BootReportOutcome = status < 300 ? 'accepted' : status < 500 ? 'refused' : 'error';
      this.bootReports.add(1, { phase, outcome });
    });
  }

  /** `delivery`: `proxy` (the whole asset or a range of it) or `part` (one part of a large initrd). */
  assetSent(kind: 'kernel' | 'initrd', delivery: 'proxy' | 'part', bytes: number): void {
    this.assetBytes.add(bytes, { kind, delivery });
  }

  redirect(kind: 'kernel' | 'initrd'): void {
    this.redirects.add(1, { kind });
  }

  rateLimited(scope: string): void {
    this.rateLimitRefusals.add(1, { scope });
  }

  uploadSession(outcome: UploadSessionOutcome): void {
    this.uploadSessions.add(1, { outcome });
  }

  swept(count: number): void {
    if (count > 0) this.sweptBlobs.add(count);
  }
}
