// Closed-loop HTTP load: N clients on keep-alive connections, each sending its next request
// when the previous answer has been read completely.
import http from 'node:http';
import https from 'node:https';
import { CpuMeter } from './proc';

export interface LoadOptions {
  /** Requested in turn (warm-up included), e.g. one boot script URL per machine. */
  urls: readonly string[];
  /** Headers of each URL's requests, by index in `urls` (e.g. each machine's X-Forwarded-For). */
  headers?: readonly Record<string, string>[];
  concurrency: number;
  /** Requests before measuring (connections opened, caches and JIT warm). */
  warmupRequests: number;
  /** Measuring stops at whichever comes first. */
  maxRequests: number;
  maxMs: number;
  expectStatus: number;
  /** Processes whose CPU use to report, by name (the client is always reported). */
  watch: Record<string, number>;
}

export interface LoadResult {
  requests: number;
  errors: number;
  durationMs: number;
  throughputRps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Percent of one core over the measured stretch. */
  cpuPercent: Record<string, number>;
  firstError?: string;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

function once(agent: http.Agent, { url, headers }: Target): Promise<{ status: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = (url.protocol === 'https:' ? https : http).get(url, { agent, ...(headers ? { headers } : {}) }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - start }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

interface Target {
  url: URL;
  headers?: Record<string, string>;
}

async function drive(agent: http.Agent, next: () => Target, opts: LoadOptions, count: number, deadline: number, latencies: number[] | null): Promise<{ errors: number; firstError?: string }> {
  let issued = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (issued < count && performance.now() < deadline) {
      issued++;
      try {
        const { status, ms } = await once(agent, next());
        if (status !== opts.expectStatus) {
          errors++;
          firstError ??= `status ${status}`;
        } else latencies?.push(ms);
      } catch (err) {
        errors++;
        firstError ??= String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  return { errors, ...(firstError ? { firstError } : {}) };
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const urls: Target[] = opts.urls.map((u, i) => ({ url: new URL(u), headers: opts.headers?.[i] }));
  if (urls.length === 0) throw new Error('no URLs to load');
  let turn = 0;
  const next = () => urls[turn++ % urls.length] as Target;
  // https URLs: TLS sessions on the same keep-alive terms (the CA comes from the process's default trust).
  const agent = new (urls[0]?.url.protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: opts.concurrency });
  try {
    const warm = await drive(agent, next, opts, opts.warmupRequests, performance.now() + 15_000, null);
    if (warm.errors > 0) throw new Error(`warm-up of ${opts.urls[0]}${urls.length > 1 ? ` (and ${urls.length - 1} more URLs)` : ''} failed: ${warm.errors} errors, first: ${warm.firstError}`);
    const latencies: number[] = [];
    const meter = new CpuMeter(opts.watch);
    const started = performance.now();
    const { errors, firstError } = await drive(agent, next, opts, opts.maxRequests, started + opts.maxMs, latencies);
    const durationMs = performance.now() - started;
    const cpuPercent = meter.read();
    latencies.sort((a, b) => a - b);
    return {
      requests: latencies.length + errors,
      errors,
      durationMs,
      throughputRps: ((latencies.length + errors) / durationMs) * 1000,
      p50Ms: percentile(latencies, 50),
      p90Ms: percentile(latencies, 90),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1) ?? NaN,
      meanMs: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
      cpuPercent,
      ...(firstError ? { firstError } : {}),
    };
  } finally {
    agent.destroy();
  }
}
