import { randomInt } from 'node:crypto';
import { AggregateField, FieldValue, Timestamp, type DocumentSnapshot, type Firestore } from '@google-cloud/firestore';
import { sameTurnBatches } from '../batching';
import type { CounterHit, RateLimitStore, SlotAcquisition, SlotLease } from './store';

/** Collections of the rate-limit database; both carry `expire_at`, the TTL field (terraform/firestore.tf). */
export const rateLimitCollections = {
  /** `{counter}:{shard}`: `{ counter, n, expire_at }`. */
  counters: 'rate_limits',
  /** `{pool}:{index}`: `{ pool, index, holder, expire_at }`, one per held download slot. */
  slots: 'download_slots',
} as const;

const alreadyExists = 6;

/**
 * A sharded counter's first shard takes every hit until it holds this many (a shard's share
 * at the limit in shared/ratelimit/policy.ts: one write every two seconds); only then do hits
 * spread over the other shards. A counter that never gets there (a machine's address asking
 * for its four files) is read as one document, in the turn's one BatchGetDocuments.
 */
export const spillAfter = 30;

/**
 * Counters are blind `FieldValue.increment` writes (no transaction, so nothing to abort
 * under contention), then one read of the window's total. A counter of one shard is that
 * document. A sharded one fills shard 0 first (up to `spillAfter`) and only then spreads
 * over shards 1..n-1 at random; its total is shard 0 while shard 0 is below `spillAfter`
 * (read with the single-shard counters), else a `sum(n)` aggregation over its shards (billed
 * as one read per 1000 index entries). Slots are one document per held slot: `create()`
 * claims a free one (it fails if another instance got there first), a transaction that
 * re-reads the lease takes over an expired one. Renew and release of a lease claimed with
 * `create()` are one write each, conditional on the document's update time being the one
 * this holder last wrote (a takeover rewrites it, so the condition fails and the new
 * holder's lease stays); a lease taken over in a transaction has no such time and uses
 * transactions that check the holder.
 */
export class FirestoreRateLimitStore implements RateLimitStore {
  /** Every hit of one turn of the event loop: one Commit, then one read of the totals (shared/batching.ts). */
  private readonly hits = sameTurnBatches((hits: readonly CounterHit[]) => this.countAll(hits), 250);
  /**
   * Sharded counters this instance has seen at `spillAfter` or more (id -> its expiry): their
   * hits go to shards 1..n-1 and their totals are aggregated. Only a saving: an instance that
   * does not know yet writes shard 0 and finds out from what it reads.
   */
  private readonly spilled = new Map<string, number>();
  /**
   * Counter families (the id without its window) and the last window in which this instance saw
   * them spill. A family that spilled in the window before spreads from the new window's first
   * hit: filling shard 0 first would put its first `spillAfter` hits of every window on one
   * document within a second or two (the global boot counter in a storm: 3.4 writes/s on shard 0
   * over 10 s, against Firestore's one sustained write per second per document).
   */
  private readonly spilledFamilies = new Map<string, number>();

  constructor(private readonly db: Firestore) {}

  private counters() {
    return this.db.collection(rateLimitCollections.counters);
  }

  private slots() {
    return this.db.collection(rateLimitCollections.slots);
  }

  increment(hits: readonly CounterHit[]): Promise<number[]> {
    return Promise.all(hits.map((hit) => this.hits.load(hit)));
  }

  /**
   * The hits of one turn, counted together: the k hits on one counter become one
   * `increment(k)` of one shard, all in one Commit; then one BatchGetDocuments reads the
   * totals kept in one document (single-shard counters, sharded ones still below
   * `spillAfter` in shard 0), and a `sum(n)` aggregation each reads the spilled ones. A total
   * T read after the Commit includes every increment committed before it, so the batch's
   * hits are numbered T-k+1..T: exact for this instance, and across instances no more than
   * the limit is ever admitted (each batch's first place is past everything committed
   * before it), as with one increment per request. No overshoot; the saving is the round
   * trips (a burst of one MAC's requests, or a rack's, costs two calls, not two each).
   *
   * Shard 0 alone is the total while it reads below `spillAfter`: an instance writes the
   * other shards only after it read shard 0 at `spillAfter` or more, and shard 0 only grows
   * within a window, so a read of shard 0 below that comes before any such write.
   */
  private async countAll(hits: readonly CounterHit[]): Promise<number[]> {
    const perCounter = new Map<string, { hit: CounterHit; n: number }>();
    for (const hit of hits) {
      const seen = perCounter.get(hit.id);
      if (seen) seen.n++;
      else perCounter.set(hit.id, { hit, n: 1 });
    }
    const batch = this.db.batch();
    // Where each counter's total is read from follows where this batch wrote it.
    const spilled: CounterHit[] = [];
    const inOneDocument: CounterHit[] = [];
    for (const { hit, n } of perCounter.values()) {
      if (hit.shards > 1 && !this.spilled.has(hit.id) && this.spilledLastWindow(hit.id)) {
        // Spread at once, and say so on shard 0 in the same Commit: an instance that reads shard 0
        // and sees the mark aggregates, so shard 0 stays the total only while nothing else was
        // written (the invariant below), at the cost of one write to shard 0 per instance and window.
        batch.set(this.counters().doc(`${hit.id}:0`), { counter: hit.id, spread: true, expire_at: hit.expireAt }, { merge: true });
        this.markSpilled(hit);
      }
      const spread = hit.shards > 1 && this.spilled.has(hit.id);
      (spread ? spilled : inOneDocument).push(hit);
      const shard = spread ? 1 + randomInt(hit.shards - 1) : 0;
      batch.set(this.counters().doc(`${hit.id}:${shard}`), { counter: hit.id, n: FieldValue.increment(n), expire_at: hit.expireAt }, { merge: true });
    }
    await batch.commit();
    const totals = new Map<string, number>();
    const aggregate = async (hit: CounterHit) => {
      const sum = await this.counters().where('counter', '==', hit.id).aggregate({ n: AggregateField.sum('n') }).get();
      totals.set(hit.id, Number(sum.data().n ?? 0));
    };
    await Promise.all([
      inOneDocument.length > 0
        ? this.db.getAll(...inOneDocument.map((hit) => this.counters().doc(`${hit.id}:0`))).then((snaps) =>
            Promise.all(
              inOneDocument.map((hit, i) => {
                const n = Number(snaps[i]?.get('n') ?? 0);
                if (hit.shards <= 1 || (n < spillAfter && snaps[i]?.get('spread') !== true)) return totals.set(hit.id, n);
                // It spilled (here or in another instance): from now on, spread and aggregate.
                this.markSpilled(hit);
                return aggregate(hit);
              }),
            ),
          )
        : undefined,
      ...spilled.map(aggregate),
    ]);
    // The counter's n hits of this batch take the last n places of its total, in order, as if
    // they had been counted one after another after every increment the read saw.
    const placed = new Map<string, number>();
    return hits.map((hit) => {
      const before = placed.get(hit.id) ?? 0;
      placed.set(hit.id, before + 1);
      return (totals.get(hit.id) ?? 0) - ((perCounter.get(hit.id)?.n ?? 1) - 1) + before;
    });
  }

  /** Remembered until the counter's window is over (its ids end in the window: never asked for again). */
  private markSpilled(hit: CounterHit): void {
    const expiry = hit.expireAt.getTime();
    if (this.spilled.size >= 10_000) {
      for (const [id, until] of this.spilled) if (until < expiry) this.spilled.delete(id);
    }
    this.spilled.set(hit.id, expiry);
    const { family, window } = splitCounterId(hit.id);
    if (this.spilledFamilies.size >= 10_000 && !this.spilledFamilies.has(family)) {
      for (const [f, w] of this.spilledFamilies) if (w < window - 1) this.spilledFamilies.delete(f);
    }
    this.spilledFamilies.set(family, Math.max(window, this.spilledFamilies.get(family) ?? window));
  }

  private spilledLastWindow(id: string): boolean {
    const { family, window } = splitCounterId(id);
    return this.spilledFamilies.get(family) === window - 1;
  }

  private slotRef(pool: string, index: number) {
    return this.slots().doc(`${pool}:${index}`);
  }

  async acquireSlot(pool: string, size: number, holder: string, now: Date, expireAt: Date): Promise<SlotAcquisition> {
    // A lost race (another instance created or took over the slot picked) starts again.
    for (let attempt = 0; attempt < 4; attempt++) {
      const held = await this.slots().where('pool', '==', pool).get();
      const live = new Set<number>();
      const expired: number[] = [];
      for (const doc of held.docs) {
        const index = doc.get('index') as number;
        if (index >= size) continue; // the limit was lowered: slots above it no longer count
        if (expiry(doc) > now.getTime()) live.add(index);
        else expired.push(index);
      }
      if (live.size >= size) return { lease: null, held: live.size };

      const lease: SlotLease = { pool, index: 0, holder };
      const data = () => ({ pool, index: lease.index, holder, expire_at: expireAt });
      const free = freeIndices(size, live, expired);
      if (free.length > 0) {
        // Random among the first free ones, so that concurrent acquirers rarely collide.
        lease.index = free[randomInt(free.length)] as number;
        try {
          lease.stamp = (await this.slotRef(pool, lease.index).create(data())).writeTime;
          return { lease, held: live.size + 1 };
        } catch (err) {
          if ((err as { code?: number }).code === alreadyExists) continue;
          throw err;
        }
      }
      lease.index = expired[randomInt(expired.length)] as number;
      const ref = this.slotRef(pool, lease.index);
      const taken = await this.db.runTransaction(async (tx) => {
        const current = await tx.get(ref);
        if (current.exists && expiry(current) > now.getTime()) return false; // renewed or taken over meanwhile
        tx.set(ref, data());
        return true;
      });
      if (taken) return { lease, held: live.size + 1 };
    }
    // Still losing races after several attempts: every slot is in demand, refuse.
    return { lease: null, held: size };
  }

  async renewSlot(lease: SlotLease, expireAt: Date): Promise<boolean> {
    const ref = this.slotRef(lease.pool, lease.index);
    if (lease.stamp instanceof Timestamp) {
      // Unchanged since this holder wrote it: still ours (a takeover would have rewritten it).
      try {
        lease.stamp = (await ref.update({ expire_at: expireAt }, { lastUpdateTime: lease.stamp })).writeTime;
        return true;
      } catch (err) {
        if (!changedSince(err)) throw err;
        // Changed: taken over, or our own write whose answer was lost. The transaction below tells which.
        lease.stamp = undefined;
      }
    }
    return this.db.runTransaction(async (tx) => {
      const current = await tx.get(ref);
      if (!current.exists || current.get('holder') !== lease.holder) return false;
      tx.update(ref, { expire_at: expireAt });
      return true;
    });
  }

  async releaseSlot(lease: SlotLease): Promise<void> {
    const ref = this.slotRef(lease.pool, lease.index);
    if (lease.stamp instanceof Timestamp) {
      // One conditional delete: a lease taken over since (rewritten by its new holder) stays.
      try {
        await ref.delete({ lastUpdateTime: lease.stamp });
        return;
      } catch (err) {
        if (!changedSince(err)) throw err;
        // Changed: taken over, or our own renewal whose answer was lost. The transaction below tells which.
      }
    }
    await this.db.runTransaction(async (tx) => {
      const current = await tx.get(ref);
      if (current.exists && current.get('holder') === lease.holder) tx.delete(ref);
    });
  }
}

/** FAILED_PRECONDITION (rewritten since) or NOT_FOUND (deleted since): no longer as this holder last wrote it. */
function changedSince(err: unknown): boolean {
  const code = (err as { code?: number }).code;
  return code === 9 || code === 5;
}

function expiry(doc: DocumentSnapshot): number {
  return (doc.get('expire_at') as Timestamp | undefined)?.toMillis() ?? 0;
}

/** Up to 8 indices below `size` that no lease document occupies, lowest first. */
function freeIndices(size: number, live: Set<number>, expired: number[]): number[] {
  const occupied = new Set([...live, ...expired]);
  const free: number[] = [];
  for (let i = 0; i < size && free.length < 8; i++) if (!occupied.has(i)) free.push(i);
  return free;
}

/** A counter id is `{scope}:{key digest}:{window number}` (shared/ratelimit/limiter.ts). */
function splitCounterId(id: string): { family: string; window: number } {
  const cut = id.lastIndexOf(':');
  return { family: id.slice(0, cut), window: Number(id.slice(cut + 1)) };
}
