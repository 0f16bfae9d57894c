import { Timestamp, type Firestore } from '@google-cloud/firestore';
import type { Logger } from '../logging';

export interface Sighting {
  mac: string;
  clientAddress: string;
  arch: string | null;
  platform: string | null;
}

export interface DiscoveryLimits {
  /** A MAC is written at most once per this many ms per instance; sightings in between are counted and added at its next write. */
  coalesceMs: number;
  /** Discovery writes per minute, all MACs and all instances together (each instance also stops at it alone); sightings past it are dropped (counted only if the MAC is remembered). */
  writesPerMinute: number;
  /** A record expires this long after its last write. */
  ttlMs: number;
}

export type SightingOutcome = 'written' | 'coalesced' | 'capped' | 'failed';

export interface Discovery {
  mac: string;
  first_seen: string;
  last_seen: string;
  requests: number;
  client_address: string;
  arch: string | null;
  platform: string | null;
  expire_at: string;
}

export interface DiscoveryPage {
  discoveries: Discovery[];
  total: number;
}

const collection = 'discoveries';

/** The shared per-minute budget of discovery writes (the rate-limit store's counters): true while there is room. */
export type DiscoveryBudget = (log: Logger) => Promise<boolean>;

/**
 * Unknown MACs that asked for a boot script: `discoveries/{mac}`. The inventory deletes a
 * record in the transaction that claims its MAC (shared/inventory).
 *
 * Bounded cost: at most `writesPerMinute` recordings a minute across all instances (each one
 * transaction: 1 read + 1 write, after one hit of the shared budget: 1 write + 1 read; each
 * instance also stops at the number alone, so a flood costs it no more than that many budget
 * hits a minute), whatever arrives; a MAC at most once per `coalesceMs` per instance.
 * The memory of recently written MACs holds at most writesPerMinute * (coalesce minutes + 1)
 * entries. The store holds at most (writes a minute, all instances) * TTL minutes records.
 */
export class DiscoveryRecorder {
  private readonly recent = new Map<string, { writtenAt: number; pending: number }>();
  private minute = -1;
  private writes = 0;

  constructor(
    private readonly db: Firestore,
    private readonly limits: DiscoveryLimits,
    private readonly clock: () => number,
    /** Shared by every instance; without it (stand-alone uses) only the per-instance bound applies. */
    private readonly budget?: DiscoveryBudget,
  ) {}

  async sighted(s: Sighting, log: Logger): Promise<SightingOutcome> {
    const now = this.clock();
    // This MAC's entry first (its pending count is added to the next write), then forget old ones.
    const known = this.recent.get(s.mac);
    this.prune(now);
    if (known && now - known.writtenAt < this.limits.coalesceMs) {
      known.pending += 1;
      return 'coalesced';
    }
    const minute = Math.floor(now / 60_000);
    if (minute !== this.minute) {
      this.minute = minute;
      this.writes = 0;
    }
    if (this.writes >= this.limits.writesPerMinute) {
      if (known) known.pending += 1;
      return 'capped';
    }
    this.writes += 1;
    if (this.budget && !(await this.budget(log))) {
      if (known) known.pending += 1;
      return 'capped';
    }
    const requests = 1 + (known?.pending ?? 0);
    this.recent.delete(s.mac); // re-inserted last: the map stays ordered by write time
    this.recent.set(s.mac, { writtenAt: now, pending: 0 });
    try {
      await this.write(s, requests, now);
      return 'written';
    } catch (err) {
      log.warn('could not record a discovered MAC', { mac: s.mac, err: err instanceof Error ? err.message : String(err) });
      return 'failed';
    }
  }

  /** Entries older than the coalescing window are forgotten (oldest first: the map is in write order). */
  private prune(now: number): void {
    for (const [mac, entry] of this.recent) {
      if (now - entry.writtenAt < this.limits.coalesceMs) break;
      this.recent.delete(mac);
    }
  }

  private async write(s: Sighting, requests: number, now: number): Promise<void> {
    const ref = this.db.collection(collection).doc(s.mac);
    const at = Timestamp.fromMillis(now);
    await this.db.runTransaction(async (tx) => {
      const snap = await tx.get(ref);
      const before = snap.data();
      const stillValid = before && before.expire_at instanceof Timestamp && before.expire_at.toMillis() > now;
      tx.set(ref, {
        mac: s.mac,
        first_seen: stillValid ? before.first_seen : at,
        last_seen: at,
        requests: (stillValid ? Number(before.requests ?? 0) : 0) + requests,
        client_address: s.clientAddress,
        arch: s.arch ?? (stillValid ? (before.arch ?? null) : null),
        platform: s.platform ?? (stillValid ? (before.platform ?? null) : null),
        expire_at: Timestamp.fromMillis(now + this.limits.ttlMs),
      });
    });
  }

  /** Unexpired records, most recently seen first; pages as for machines (keys-only skip, then a cursor). */
  async list({ page, perPage, mac }: { page: number; perPage: number; mac?: string }): Promise<DiscoveryPage> {
    const now = Timestamp.fromMillis(this.clock());
    if (mac) {
      const snap = await this.db.collection(collection).doc(mac).get();
      const data = snap.data();
      const live = data && data.expire_at instanceof Timestamp && data.expire_at > now;
      return { discoveries: live && page === 1 ? [toDiscovery(data)] : [], total: live ? 1 : 0 };
    }
    const live = this.db.collection(collection).where('expire_at', '>', now);
    const total = (await live.count().get()).data().count;
    const skip = (page - 1) * perPage;
    if (skip >= total) return { discoveries: [], total };
    let query = live.orderBy('expire_at', 'desc');
    if (skip > 0) {
      const before = await live.orderBy('expire_at', 'desc').select('expire_at').limit(skip).get();
      const last = before.docs.at(-1);
      if (!last || before.size < skip) return { discoveries: [], total };
      query = query.startAfter(last);
    }
    const snap = await query.limit(perPage).get();
    return { discoveries: snap.docs.map((d) => toDiscovery(d.data())), total };
  }
}

const iso = (value: unknown): string => (value instanceof Timestamp ? value.toDate().toISOString() : '');

function toDiscovery(d: Record<string, unknown>): Discovery {
  return {
    mac: String(d.mac),
    first_seen: iso(d.first_seen),
    last_seen: iso(d.last_seen),
    requests: Number(d.requests ?? 0),
    client_address: String(d.client_address ?? ''),
    arch: (d.arch as string | null | undefined) ?? null,
    platform: (d.platform as string | null | undefined) ?? null,
    expire_at: iso(d.expire_at),
  };
}
