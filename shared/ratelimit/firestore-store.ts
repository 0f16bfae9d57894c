import { randomInt } from 'node:crypto';
import { AggregateField, FieldValue, type DocumentSnapshot, type Firestore, type Timestamp } from '@google-cloud/firestore';
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
 * Counters are blind `FieldValue.increment(1)` writes (no transaction, so nothing to
 * abort under contention) to one random shard of the counter, then one read of the
 * window's total: the shard document itself when there is one shard, otherwise a
 * `sum(n)` aggregation over the counter's shards (billed as one read per 1000 index
 * entries). Slots are one document per held slot: `create()` claims a free one (it fails
 * if another instance got there first), a transaction that re-reads the lease takes over
 * an expired one, and renew / release are transactions that check the holder first.
 */
export class FirestoreRateLimitStore implements RateLimitStore {
  constructor(private readonly db: Firestore) {}

  private counters() {
    return this.db.collection(rateLimitCollections.counters);
  }

  private slots() {
    return this.db.collection(rateLimitCollections.slots);
  }

  async increment(hits: readonly CounterHit[]): Promise<number[]> {
    const batch = this.db.batch();
    for (const hit of hits) {
      const shard = hit.shards > 1 ? randomInt(hit.shards) : 0;
      batch.set(this.counters().doc(`${hit.id}:${shard}`), { counter: hit.id, n: FieldValue.increment(1), expire_at: hit.expireAt }, { merge: true });
    }
    await batch.commit();
    return Promise.all(hits.map((hit) => this.total(hit)));
  }

  private async total(hit: CounterHit): Promise<number> {
    if (hit.shards <= 1) {
      const snap = await this.counters().doc(`${hit.id}:0`).get();
      return Number(snap.get('n') ?? 0);
    }
    const sum = await this.counters().where('counter', '==', hit.id).aggregate({ n: AggregateField.sum('n') }).get();
    return Number(sum.data().n ?? 0);
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
          await this.slotRef(pool, lease.index).create(data());
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
    return this.db.runTransaction(async (tx) => {
      const current = await tx.get(ref);
      if (!current.exists || current.get('holder') !== lease.holder) return false;
      tx.update(ref, { expire_at: expireAt });
      return true;
    });
  }

  async releaseSlot(lease: SlotLease): Promise<void> {
    const ref = this.slotRef(lease.pool, lease.index);
    await this.db.runTransaction(async (tx) => {
      const current = await tx.get(ref);
      if (current.exists && current.get('holder') === lease.holder) tx.delete(ref);
    });
  }
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
