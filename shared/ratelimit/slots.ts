import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { getConfig } from '../config';
import type { Logger } from '../logging';
import { rateLimitExceeded, setRateLimitHeaders, type LimitState } from './policy';
import { callStore, leaseTiming, now, rateLimitStore, storeFailed } from './runtime';
import type { SlotAcquisition, SlotLease } from './store';

/** Held while a download streams; `release()` is idempotent and never throws. */
export interface DownloadSlot {
  release(): Promise<void>;
}

/** A refused download is told to come back after this long: slots free up as soon as any download ends. */
export const slotRetrySeconds = 5;

const unlimited: DownloadSlot = { release: () => Promise.resolve() };

/**
 * One of RATE_LIMIT_DOWNLOADS_PER_PROFILE concurrent download slots of a boot profile, or
 * 429. The slot is a lease in Firestore that this instance renews every `renewMs` while
 * the download runs; if the instance dies holding it, it expires after `leaseMs` and the
 * next download takes it over.
 */
export async function acquireDownloadSlot(res: ServerResponse, profileId: string, log: Logger): Promise<DownloadSlot> {
  const size = getConfig().RATE_LIMIT_DOWNLOADS_PER_PROFILE;
  if (size === 0) return unlimited;
  const { leaseMs, renewMs } = leaseTiming();
  const store = rateLimitStore();
  const nowMs = now();

  const pending = store.acquireSlot(`download:${profileId}`, size, randomUUID(), new Date(nowMs), new Date(nowMs + leaseMs));
  let got: SlotAcquisition;
  try {
    got = await callStore(pending);
  } catch (err) {
    // A slot the store grants after we stopped waiting is handed straight back.
    pending.then((late) => (late.lease ? store.releaseSlot(late.lease) : undefined)).catch(() => undefined);
    storeFailed(err, 'taking a download slot', log);
    return unlimited;
  }

  const state: LimitState = { limit: size, remaining: Math.max(0, size - got.held), reset: Math.ceil(nowMs / 1000) + slotRetrySeconds, exceeded: !got.lease };
  setRateLimitHeaders(res, state);
  if (!got.lease) throw rateLimitExceeded(state, nowMs);
  return heldSlot(got.lease, leaseMs, renewMs, log);
}

function heldSlot(lease: SlotLease, leaseMs: number, renewMs: number, log: Logger): DownloadSlot {
  const store = rateLimitStore();
  let lost = false;
  let released = false;
  const renewal = setInterval(() => {
    callStore(store.renewSlot(lease, new Date(now() + leaseMs))).then(
      (held) => {
        if (held || released) return;
        lost = true;
        clearInterval(renewal);
        log.warn('download slot lease expired and was taken over; the download goes on', { slot: lease.index });
      },
      (err: unknown) => log.warn('could not renew the download slot lease', { err: err instanceof Error ? err.message : String(err) }),
    );
  }, renewMs);
  renewal.unref();

  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(renewal);
      if (lost) return;
      try {
        await callStore(store.releaseSlot(lease));
      } catch (err) {
        log.warn('could not release the download slot; its lease expires by itself', { err: err instanceof Error ? err.message : String(err) });
      }
    },
  };
}
