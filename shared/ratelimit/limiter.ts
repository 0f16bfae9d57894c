import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { Config } from '../config';
import { ProblemError } from '../http/problem';
import type { Logger } from '../logging';
import { addressKey, digest } from './keys';
import { mostConstraining, rateLimitExceeded, RefusalCache, setRateLimitHeaders, shardsFor, windowMs, withinTimeout, type LimitState } from './policy';
import type { Meters } from '../telemetry/meters';
import type { RateLimitStore, SlotAcquisition, SlotLease } from './store';

export type Scope = 'boot-mac' | 'boot-ip' | 'boot-global' | 'discovery-global' | 'admin-principal' | 'admin-ip' | 'admin-global';

/** One limit on one request: `key` is a validated value (canonical MAC, verified email, parsed address). */
export interface Limit {
  scope: Scope;
  key: string;
  /** Requests per minute; 0: not limited. */
  limit: number;
}

/** How long a download slot's lease runs without renewal, and how often a running download renews it. */
export interface LeaseTiming {
  leaseMs: number;
  renewMs: number;
}

export const defaultLeaseTiming: LeaseTiming = { leaseMs: 60_000, renewMs: 20_000 };

/** Held while a download streams; `release()` is idempotent and never throws. */
export interface DownloadSlot {
  release(): Promise<void>;
}

/** A refused download is told to come back after this long: slots free up as soon as any download ends. */
export const slotRetrySeconds = 5;

/**
 * The slots a download takes: per profile AND client address (the spec's "per MAC"; an asset
 * URL names no MAC), so another host's downloads never take this machine's slots. Digested:
 * an IPv6 key holds a `/`.
 */
export function downloadPool(profileId: string, clientAddress: string): string {
  return `download:${profileId}:${digest(addressKey(clientAddress))}`;
}

const unlimited: DownloadSlot = { release: () => Promise.resolve() };

/**
 * The first call of a process also loads the gRPC client, opens its channel and fetches
 * credentials (hundreds of milliseconds, more on a loaded cold instance): until a first
 * call has settled (answered, failed or timed out), calls may take up to this long, so a
 * cold start is not taken for an outage.
 */
const coldStartTimeoutMs = 5000;

export type RateLimitConfig = Pick<
  Config,
  | 'RATE_LIMIT_BOOT_PER_MAC'
  | 'RATE_LIMIT_BOOT_PER_ADDRESS'
  | 'RATE_LIMIT_BOOT_GLOBAL'
  | 'RATE_LIMIT_ADMIN_PER_PRINCIPAL'
  | 'RATE_LIMIT_ADMIN_PER_IP'
  | 'RATE_LIMIT_ADMIN_GLOBAL'
  | 'RATE_LIMIT_DOWNLOADS_PER_PROFILE'
  | 'RATE_LIMIT_FAIL_MODE'
  | 'RATE_LIMIT_TIMEOUT_MS'
  | 'RATE_LIMIT_MAX_SHARDS'
>;

export interface RateLimiterDeps {
  store: RateLimitStore;
  config: RateLimitConfig;
  /** Milliseconds since the epoch, as the limits see it: windows and lease expiries follow it. */
  clock: () => number;
  leaseTiming: () => LeaseTiming;
  /** Counts refusals by scope (telemetry). */
  meters?: Meters;
}

/**
 * Rate limits shared by every instance, kept in the store: fixed one-minute windows for
 * request rates (INCR-then-compare: the count includes refused attempts, so it never
 * undercounts), leased slots for concurrent downloads. A store that fails or does not
 * answer in RATE_LIMIT_TIMEOUT_MS lets the request through (`open`, logged) or refuses
 * it with 503 (`closed`).
 */
export class RateLimiter {
  private readonly refusals = new RefusalCache();
  private warm = false;

  constructor(private readonly deps: RateLimiterDeps) {}

  /** Counts the request against each limit, sets X-RateLimit-* for the most constraining one, and throws 429 when any is exceeded. */
  async enforce(res: ServerResponse, limits: readonly Limit[], log: Logger): Promise<void> {
    const active = limits.filter((l) => l.limit > 0);
    if (active.length === 0) return;
    const nowMs = this.deps.clock();
    const window = Math.floor(nowMs / windowMs);
    const windowEndMs = (window + 1) * windowMs;
    const reset = windowEndMs / 1000;
    const counters = active.map((l) => ({ limit: l.limit, id: `${l.scope}:${digest(l.key)}:${window}`, shards: shardsFor(l.limit, this.deps.config.RATE_LIMIT_MAX_SHARDS) }));

    let states: LimitState[];
    const known = counters.find((c) => this.refusals.has(c.id, nowMs));
    if (known) {
      states = [{ limit: known.limit, remaining: 0, reset, exceeded: true }];
    } else {
      let totals: number[];
      try {
        const expireAt = new Date(windowEndMs + windowMs);
        totals = await this.callStore(this.deps.store.increment(counters.map((c) => ({ id: c.id, shards: c.shards, expireAt }))));
      } catch (err) {
        this.storeFailed(err, 'counting the request', log);
        return;
      }
      states = counters.map((c, i) => {
        const total = totals[i] ?? 0;
        if (total > c.limit) this.refusals.add(c.id, windowEndMs, nowMs);
        return { limit: c.limit, remaining: Math.max(0, c.limit - total), reset, exceeded: total > c.limit };
      });
    }
    const state = mostConstraining(states);
    setRateLimitHeaders(res, state);
    if (state.exceeded) {
      this.deps.meters?.rateLimited(known ? (active[counters.indexOf(known)]?.scope ?? 'unknown') : (active[states.findIndex((s) => s.exceeded)]?.scope ?? 'unknown'));
      throw rateLimitExceeded(state, nowMs);
    }
  }

  /**
   * One hit of a shared per-minute budget that answers no request (discovery writes, all
   * instances together): true while the window's count is within `limit`. A store that fails
   * lets it through (logged): the caller's own per-instance bound still holds.
   */
  async withinBudget(scope: Scope, key: string, limit: number, log: Logger): Promise<boolean> {
    if (limit <= 0) return false;
    const nowMs = this.deps.clock();
    const window = Math.floor(nowMs / windowMs);
    const windowEndMs = (window + 1) * windowMs;
    const id = `${scope}:${digest(key)}:${window}`;
    if (this.refusals.has(id, nowMs)) return false;
    try {
      const [total = 0] = await this.callStore(this.deps.store.increment([{ id, shards: shardsFor(limit, this.deps.config.RATE_LIMIT_MAX_SHARDS), expireAt: new Date(windowEndMs + windowMs) }]));
      if (total <= limit) return true;
      this.refusals.add(id, windowEndMs, nowMs);
      return false;
    } catch (err) {
      log.warn(`shared budget not enforced: ${scope} failed`, { err: err instanceof Error ? err.message : String(err) });
      return true;
    }
  }

  /** Admin API: per administrator, per client address (as the trusted front end saw it), and in total. */
  enforceAdmin(res: ServerResponse, principalEmail: string, clientAddress: string, log: Logger): Promise<void> {
    const { config } = this.deps;
    return this.enforce(
      res,
      [
        { scope: 'admin-principal', key: principalEmail.toLowerCase(), limit: config.RATE_LIMIT_ADMIN_PER_PRINCIPAL },
        { scope: 'admin-ip', key: addressKey(clientAddress), limit: config.RATE_LIMIT_ADMIN_PER_IP },
        { scope: 'admin-global', key: 'all', limit: config.RATE_LIMIT_ADMIN_GLOBAL },
      ],
      log,
    );
  }

  /**
   * Boot script and NoCloud metadata: per MAC (canonical form, whether or not a machine has it)
   * AND client address, so a host asking for another machine's MAC spends only its own
   * budget; plus the per-address and global limits of every boot route.
   */
  enforceBootScript(res: ServerResponse, mac: string, clientAddress: string, log: Logger): Promise<void> {
    return this.enforce(res, [{ scope: 'boot-mac', key: `${mac} ${addressKey(clientAddress)}`, limit: this.deps.config.RATE_LIMIT_BOOT_PER_MAC }, ...this.bootSourceLimits(clientAddress)], log);
  }

  /** Every other boot route (assets, reports): per client address and in total. */
  enforceBootSource(res: ServerResponse, clientAddress: string, log: Logger): Promise<void> {
    return this.enforce(res, this.bootSourceLimits(clientAddress), log);
  }

  private bootSourceLimits(clientAddress: string): Limit[] {
    const { config } = this.deps;
    return [
      { scope: 'boot-ip', key: addressKey(clientAddress), limit: config.RATE_LIMIT_BOOT_PER_ADDRESS },
      { scope: 'boot-global', key: 'all', limit: config.RATE_LIMIT_BOOT_GLOBAL },
    ];
  }

  /**
   * One of RATE_LIMIT_DOWNLOADS_PER_PROFILE concurrent download slots of a boot profile, or
   * 429. The slot is a lease that this instance renews every `renewMs` while the download
   * runs; if the instance dies holding it, it expires after `leaseMs` and the next download
   * takes it over.
   */
  async acquireDownloadSlot(res: ServerResponse, profileId: string, clientAddress: string, log: Logger): Promise<DownloadSlot> {
    const size = this.deps.config.RATE_LIMIT_DOWNLOADS_PER_PROFILE;
    if (size === 0) return unlimited;
    const { leaseMs, renewMs } = this.deps.leaseTiming();
    const { store } = this.deps;
    const nowMs = this.deps.clock();

    const pending = store.acquireSlot(downloadPool(profileId, clientAddress), size, randomUUID(), new Date(nowMs), new Date(nowMs + leaseMs));
    let got: SlotAcquisition;
    try {
      got = await this.callStore(pending);
    } catch (err) {
      // A slot the store grants after we stopped waiting is handed straight back.
      pending.then((late) => (late.lease ? store.releaseSlot(late.lease) : undefined)).catch(() => undefined);
      this.storeFailed(err, 'taking a download slot', log);
      return unlimited;
    }

    const state: LimitState = { limit: size, remaining: Math.max(0, size - got.held), reset: Math.ceil(nowMs / 1000) + slotRetrySeconds, exceeded: !got.lease };
    setRateLimitHeaders(res, state);
    if (!got.lease) {
      this.deps.meters?.rateLimited('download');
      throw rateLimitExceeded(state, nowMs);
    }
    return this.heldSlot(got.lease, leaseMs, renewMs, log);
  }

  private heldSlot(lease: SlotLease, leaseMs: number, renewMs: number, log: Logger): DownloadSlot {
    const { store } = this.deps;
    let lost = false;
    let released = false;
    // One store call on the lease at a time: a renewal still running when the next is due is
    // not doubled, and the release waits for it (both write the lease).
    let renewing: Promise<void> | undefined;
    const renewal = setInterval(() => {
      if (renewing) return;
      renewing = this.callStore(store.renewSlot(lease, new Date(this.deps.clock() + leaseMs)))
        .then(
          (held) => {
            if (held || released) return;
            lost = true;
            clearInterval(renewal);
            log.warn('download slot lease expired and was taken over; the download goes on', { slot: lease.index });
          },
          (err: unknown) => log.warn('could not renew the download slot lease', { err: err instanceof Error ? err.message : String(err) }),
        )
        .finally(() => (renewing = undefined));
    }, renewMs);
    renewal.unref();

    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renewal);
        await renewing;
        if (lost) return;
        try {
          await this.callStore(store.releaseSlot(lease));
        } catch (err) {
          log.warn('could not release the download slot; its lease expires by itself', { err: err instanceof Error ? err.message : String(err) });
        }
      },
    };
  }

  /** A store call bounded by RATE_LIMIT_TIMEOUT_MS (RateLimitStoreTimeout past it). */
  private callStore<T>(work: Promise<T>): Promise<T> {
    const configured = this.deps.config.RATE_LIMIT_TIMEOUT_MS;
    const bounded = withinTimeout(work, this.warm ? configured : Math.max(configured, coldStartTimeoutMs));
    if (!this.warm) {
      const settled = () => {
        this.warm = true;
      };
      bounded.then(settled, settled);
    }
    return bounded;
  }

  /** `open` (the default): the request goes on unlimited, logged; `closed`: 503. */
  private storeFailed(err: unknown, what: string, log: Logger): void {
    const mode = this.deps.config.RATE_LIMIT_FAIL_MODE;
    log.warn(`rate limits not enforced: ${what} failed (fail ${mode})`, { err: err instanceof Error ? err.message : String(err) });
    if (mode === 'closed') {
      throw new ProblemError('service-unavailable', 'Rate limits cannot be checked right now; try again shortly', { retry_after: 5 }, { 'Retry-After': '5' });
    }
  }
}
