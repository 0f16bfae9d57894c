import { getRateLimitFirestore } from '../clients';
import { getConfig } from '../config';
import { ProblemError } from '../http/problem';
import type { Logger } from '../logging';
import { FirestoreRateLimitStore } from './firestore-store';
import { RefusalCache, withinTimeout } from './policy';
import type { RateLimitStore } from './store';

/** How long a download slot's lease runs without renewal, and how often a running download renews it. */
export interface LeaseTiming {
  leaseMs: number;
  renewMs: number;
}

const defaults = {
  clock: () => Date.now(),
  lease: { leaseMs: 60_000, renewMs: 20_000 } satisfies LeaseTiming,
};

interface Runtime {
  store?: RateLimitStore;
  clock: () => number;
  lease: LeaseTiming;
}

const runtime: Runtime = { clock: defaults.clock, lease: defaults.lease };

export const refusals = new RefusalCache();

export function rateLimitStore(): RateLimitStore {
  // The client is looked up on each call, so a reset of the clients (tests, the local stack) is picked up.
  runtime.store ??= new FirestoreRateLimitStore(getRateLimitFirestore);
  return runtime.store;
}

/** Milliseconds since the epoch, as the limits see it: windows and lease expiries follow it. */
export function now(): number {
  return runtime.clock();
}

export function leaseTiming(): LeaseTiming {
  return runtime.lease;
}

/**
 * Tests replace the store (fault injection), the clock (a new window without waiting a
 * minute, expired leases) and the lease timing; `undefined` restores the default.
 */
export function overrideRateLimits(next: { store?: RateLimitStore; clock?: () => number; lease?: LeaseTiming }): void {
  if ('store' in next) runtime.store = next.store;
  if ('clock' in next) runtime.clock = next.clock ?? defaults.clock;
  if ('lease' in next) runtime.lease = next.lease ?? defaults.lease;
}

/**
 * The first call of a process also loads the gRPC client, opens its channel and fetches
 * credentials (hundreds of milliseconds, more on a loaded cold instance): until a first
 * call has settled (answered, failed or timed out), calls may take up to this long, so a
 * cold start is not taken for an outage.
 */
const coldStartTimeoutMs = 5000;
let warm = false;

/** A store call bounded by RATE_LIMIT_TIMEOUT_MS (RateLimitStoreTimeout past it). */
export function callStore<T>(work: Promise<T>): Promise<T> {
  const configured = getConfig().RATE_LIMIT_TIMEOUT_MS;
  const bounded = withinTimeout(work, warm ? configured : Math.max(configured, coldStartTimeoutMs));
  if (!warm) {
    const settled = () => {
      warm = true;
    };
    bounded.then(settled, settled);
  }
  return bounded;
}

/** Back to the defaults, with no refusals remembered. */
export function resetRateLimits(): void {
  warm = false;
  runtime.store = undefined;
  runtime.clock = defaults.clock;
  runtime.lease = defaults.lease;
  refusals.clear();
}

/**
 * The store failed or did not answer in RATE_LIMIT_TIMEOUT_MS. `open` (the default): the
 * request goes on unlimited, logged; `closed`: 503.
 */
export function storeFailed(err: unknown, what: string, log: Logger): void {
  const { RATE_LIMIT_FAIL_MODE: mode } = getConfig();
  log.warn(`rate limits not enforced: ${what} failed (fail ${mode})`, { err: err instanceof Error ? err.message : String(err) });
  if (mode === 'closed') {
    throw new ProblemError('service-unavailable', 'Rate limits cannot be checked right now; try again shortly', { retry_after: 5 }, { 'Retry-After': '5' });
  }
}
