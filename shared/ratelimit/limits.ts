import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../auth/verify';
import { clientAddress } from '../boot/client-address';
import { getConfig } from '../config';
import type { Logger } from '../logging';
import { addressKey, digest } from './keys';
import { mostConstraining, rateLimitExceeded, setRateLimitHeaders, shardsFor, windowMs, type LimitState } from './policy';
import { callStore, now, rateLimitStore, refusals, storeFailed } from './runtime';

export type Scope = 'boot-mac' | 'admin-principal' | 'admin-ip' | 'admin-global';

/** One limit on one request: `key` is a validated value (canonical MAC, verified email, parsed address). */
export interface Limit {
  scope: Scope;
  key: string;
  /** Requests per minute; 0: not limited. */
  limit: number;
}

/**
 * Counts the request against each limit (fixed one-minute windows, INCR-then-compare:
 * the count includes refused attempts, so it never undercounts), sets X-RateLimit-* for
 * the most constraining one and throws 429 when any is exceeded.
 */
export async function enforceLimits(res: ServerResponse, limits: readonly Limit[], log: Logger): Promise<void> {
  const active = limits.filter((l) => l.limit > 0);
  if (active.length === 0) return;
  const nowMs = now();
  const window = Math.floor(nowMs / windowMs);
  const windowEndMs = (window + 1) * windowMs;
  const reset = windowEndMs / 1000;
  const counters = active.map((l) => ({ limit: l.limit, id: `${l.scope}:${digest(l.key)}:${window}`, shards: shardsFor(l.limit) }));

  let states: LimitState[];
  const known = counters.find((c) => refusals.has(c.id, nowMs));
  if (known) {
    states = [{ limit: known.limit, remaining: 0, reset, exceeded: true }];
  } else {
    let totals: number[];
    try {
      const expireAt = new Date(windowEndMs + windowMs);
      totals = await callStore(rateLimitStore().increment(counters.map((c) => ({ id: c.id, shards: c.shards, expireAt }))));
    } catch (err) {
      storeFailed(err, 'counting the request', log);
      return;
    }
    states = counters.map((c, i) => {
      const total = totals[i] ?? 0;
      if (total > c.limit) refusals.add(c.id, windowEndMs, nowMs);
      return { limit: c.limit, remaining: Math.max(0, c.limit - total), reset, exceeded: total > c.limit };
    });
  }
  const state = mostConstraining(states);
  setRateLimitHeaders(res, state);
  if (state.exceeded) throw rateLimitExceeded(state, nowMs);
}

/** Admin API: per administrator, per client address (as the trusted front end saw it), and in total. */
export async function enforceAdminLimits(req: IncomingMessage, res: ServerResponse, principal: Principal, log: Logger): Promise<void> {
  const config = getConfig();
  await enforceLimits(
    res,
    [
      { scope: 'admin-principal', key: principal.email.toLowerCase(), limit: config.RATE_LIMIT_ADMIN_PER_PRINCIPAL },
      { scope: 'admin-ip', key: addressKey(clientAddress(req, config.TRUSTED_PROXY_HOPS)), limit: config.RATE_LIMIT_ADMIN_PER_IP },
      { scope: 'admin-global', key: 'all', limit: config.RATE_LIMIT_ADMIN_GLOBAL },
    ],
    log,
  );
}

/** Boot script: per MAC address (canonical form), whether or not a machine has it. */
export async function enforceBootScriptLimit(res: ServerResponse, mac: string, log: Logger): Promise<void> {
  await enforceLimits(res, [{ scope: 'boot-mac', key: mac, limit: getConfig().RATE_LIMIT_BOOT_PER_MAC }], log);
}
