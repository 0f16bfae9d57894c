import type { Clients } from './clients';
import type { Logger } from './logging';
import type { HealthProbe, Meters } from './telemetry/meters';

const checkTimeoutMs = 5000;

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${checkTimeoutMs} ms`)), checkTimeoutMs);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Whether Firestore and the blob bucket answer; failures are logged, never returned to the caller. */
export async function dependenciesReachable({ firestore, bucket }: Pick<Clients, 'firestore' | 'bucket'>, log: Logger): Promise<boolean> {
  const checks = await Promise.allSettled([
    withTimeout(firestore.collection('_health').doc('probe').get(), 'Firestore'),
    // Listing one object proves both reachability and the read permission the functions need.
    withTimeout(bucket.getFiles({ maxResults: 1, prefix: 'blobs/' }), 'Cloud Storage'),
  ]);
  const failures = checks.flatMap((c) => (c.status === 'rejected' ? [String(c.reason)] : []));
  if (failures.length > 0) log.error('dependency check failed', { failures });
  return failures.length === 0;
}

/**
 * Runs one probe's check and reports it as the spec asks: the "Health check completed" line
 * (probe, status, duration_ms; INFO, or WARNING when it failed) and health_check_total /
 * health_check_duration_ms. Answers whether the check passed.
 */
export async function completeHealthCheck(probe: HealthProbe, check: () => Promise<boolean>, log: Logger, meters: Meters): Promise<boolean> {
  const started = process.hrtime.bigint();
  let ok = false;
  try {
    ok = await check();
  } finally {
    const durationMs = Math.round(Number(process.hrtime.bigint() - started) / 1e5) / 10;
    meters.healthCheck(probe, ok, durationMs);
    log.log(ok ? 'info' : 'warn', 'Health check completed', { probe, status: ok ? 'ok' : 'error', duration_ms: durationMs });
  }
  return ok;
}
