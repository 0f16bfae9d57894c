import type { ServerResponse } from 'node:http';
import { ProblemError } from '../http/problem';

/** Fixed one-minute windows: a counter's document ids end in the window number. */
export const windowMs = 60_000;

/**
 * Requests a minute one shard of a counter takes at its limit: one write every two seconds,
 * half of the sustained write rate Firestore documents for one document ("about 1 write per
 * second", https://cloud.google.com/firestore/docs/best-practices), so unlucky shards of a
 * random spread stay under it.
 */
export const requestsPerShardMinute = 30;

/**
 * A counter at its limit takes `limit / 60` writes per second, so it is spread over
 * `ceil(limit / 30)` shards (1000/min: 34 shards; 300: 10; 100: 4; 10: 1), at most
 * `maxShards` (RATE_LIMIT_MAX_SHARDS). The cap bounds what reading a total costs: a sharded
 * total is one `sum(n)` aggregation, billed one read per 1,000 index entries
 * (https://cloud.google.com/firestore/pricing#aggregation_queries), with a latency that grows
 * with the entries it scans (https://cloud.google.com/firestore/docs/query-data/aggregation-queries).
 * A limit above `maxShards * 30` a minute runs its shards hotter than one write every two
 * seconds at the limit (bench/storm/model.ts says when that crosses Firestore's one write per
 * second). Once a window is known to be exhausted, an instance refuses its key without
 * writing (see RefusalCache), so floods do not multiply the writes.
 */
export function shardsFor(limit: number, maxShards: number): number {
  return Math.min(Math.max(1, maxShards), Math.max(1, Math.ceil(limit / requestsPerShardMinute)));
}

/** The state of one limit for one request, as the X-RateLimit-* headers report it. */
export interface LimitState {
  limit: number;
  remaining: number;
  /** Unix seconds: when the window ends (or, for concurrency, when to try again). */
  reset: number;
  exceeded: boolean;
}

/** The limit to report when several apply: a refusing one, else the one with the fewest requests left. */
export function mostConstraining(states: readonly LimitState[]): LimitState {
  const rank = (s: LimitState) => [s.exceeded ? 0 : 1, s.exceeded ? -s.reset : s.remaining, s.limit];
  return [...states].sort((a, b) => {
    const [ra, rb] = [rank(a), rank(b)];
    for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return (ra[i] as number) - (rb[i] as number);
    return 0;
  })[0] as LimitState;
}

export function setRateLimitHeaders(res: ServerResponse, state: LimitState): void {
  res.setHeader('X-RateLimit-Limit', String(state.limit));
  res.setHeader('X-RateLimit-Remaining', String(state.remaining));
  res.setHeader('X-RateLimit-Reset', String(state.reset));
}

/** 429 as the spec shows it, with `retry_after` and `Retry-After` in seconds. */
export function rateLimitExceeded(state: LimitState, nowMs: number): ProblemError {
  const retryAfter = Math.max(1, Math.ceil(state.reset - nowMs / 1000));
  return new ProblemError(
    'rate-limit-exceeded',
    `Rate limit exceeded. Try again in ${retryAfter} second${retryAfter === 1 ? '' : 's'}.`,
    { retry_after: retryAfter },
    {
      'Retry-After': String(retryAfter),
      'X-RateLimit-Limit': String(state.limit),
      'X-RateLimit-Remaining': '0',
      'X-RateLimit-Reset': String(state.reset),
    },
  );
}

export class RateLimitStoreTimeout extends Error {
  constructor(ms: number) {
    super(`the rate-limit store did not answer within ${ms} ms`);
    this.name = 'RateLimitStoreTimeout';
  }
}

/** `work`, or a RateLimitStoreTimeout after `ms`; the work itself goes on (and is not awaited). */
export async function withinTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RateLimitStoreTimeout(ms)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Keys this instance already saw over their limit in a window. The window's count only
 * grows, so it stays refused until the window ends: later attempts are refused here
 * without a write (they would not change the answer), which keeps a flood from turning
 * into a Firestore write storm.
 */
export class RefusalCache {
  private readonly until = new Map<string, number>();

  has(counterId: string, nowMs: number): boolean {
    const end = this.until.get(counterId);
    if (end === undefined) return false;
    if (end > nowMs) return true;
    this.until.delete(counterId);
    return false;
  }

  add(counterId: string, windowEndMs: number, nowMs: number): void {
    if (this.until.size > 10_000) for (const [id, end] of this.until) if (end <= nowMs) this.until.delete(id);
    this.until.set(counterId, windowEndMs);
  }

  clear(): void {
    this.until.clear();
  }
}
