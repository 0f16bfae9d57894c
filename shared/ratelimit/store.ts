/**
 * Where rate-limit state lives, shared by every instance. The Firestore adapter is the
 * production one; tests wrap it to fail or hang on demand.
 */

/** One fixed-window counter: `id` names the counter and its window, e.g. `admin-ip:<digest>:29471234`. */
export interface CounterHit {
  id: string;
  /** How many documents the counter is spread over (one random shard takes this hit). */
  shards: number;
  /** When the counter's documents may be deleted (the TTL field). */
  expireAt: Date;
}

/** A held download slot; `holder` tells this holder's lease from a later one on the same slot. */
export interface SlotLease {
  pool: string;
  index: number;
  holder: string;
  /**
   * The store's version of the lease as this holder last wrote it (opaque outside the
   * store): renew and release are then one conditional write each, not a read and a write.
   */
  stamp?: unknown;
}

export interface SlotAcquisition {
  /** Null when every slot is held by a lease that has not expired. */
  lease: SlotLease | null;
  /** Slots held by live leases, this one included. */
  held: number;
}

export interface RateLimitStore {
  /**
   * Adds one to each counter (blind increments of a random shard, one commit) and then
   * returns each counter's window total, this hit included.
   */
  increment(hits: readonly CounterHit[]): Promise<number[]>;
  /**
   * Takes one of the slots `0..size-1` of `pool`: a free one, or one whose lease expired
   * before `now` (its holder died). The lease runs until `expireAt`.
   */
  acquireSlot(pool: string, size: number, holder: string, now: Date, expireAt: Date): Promise<SlotAcquisition>;
  /** Extends the lease; false when it is no longer this holder's (it expired and was taken over). */
  renewSlot(lease: SlotLease, expireAt: Date): Promise<boolean>;
  /** Gives the slot back, unless another holder has taken it over meanwhile. */
  releaseSlot(lease: SlotLease): Promise<void>;
}
