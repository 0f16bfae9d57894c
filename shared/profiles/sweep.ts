import type { BlobLedger, Inventory } from '../inventory/inventory';
import type { Logger } from '../logging';
import type { BlobStore } from '../storage/blobs';
import type { Meters } from '../telemetry/meters';

export interface SweepOptions {
  store: BlobStore;
  inventory: Inventory;
  /**
   * The blob index and upload sessions (the root's `ledger`); without one, the sweep sees
   * profiles only.
   */
  ledger?: BlobLedger;
  /** Blobs written less than this long before `now` are left alone. */
  graceMs: number;
  /** The sweep's reference time, taken when it starts. */
  now: Date;
  log: Logger;
  /** Counts deletions (telemetry). */
  meters?: Meters;
}

export interface SweepResult {
  /** Every blob listed. */
  scanned: number;
  /** Ids of the orphans deleted. */
  deleted: string[];
  /** Old enough to sweep but still in the bucket: needed by a profile (current or retained version), or a delete that failed. */
  kept: number;
  /** Younger than the grace period: not considered at all. */
  young: number;
}

/** Deletes at most this many blobs at once. */
const deleteConcurrency = 8;

/**
 * Deletes the blobs under `blobs/` that are older than the grace period and that no
 * profile needs: what a crash between "blob written" and "profile committed" leaves
 * behind, and the blobs of replaced versions once their retention has ended.
 *
 * Why this is safe while uploads are in flight:
 * - A blob becomes referenced only by the request that wrote it, and only before that
 *   request ends. The grace period is longer than the longest request (the function
 *   timeout), so every blob an unfinished request may still commit is younger than the
 *   grace period and is never a candidate.
 * - The referenced set is loaded AFTER the listing has finished, so a profile committed
 *   while the listing ran (even one naming a blob already listed) is seen; loading it
 *   first could miss such a commit and delete the blob it just pointed at.
 * - Ids are never reused, and a blob is reused by content only through its index entry,
 *   which the release transaction deletes after re-checking the profiles: a blob judged
 *   an orphan can never be referenced later.
 * - Blobs of open upload sessions (their expiry plus the grace period not yet past) are
 *   references: a session's object may be older than the grace period when it is finalized.
 * A delete that fails is logged and left for the next sweep.
 */
export async function sweepOrphanBlobs({ store, inventory, ledger, graceMs, now, log, meters }: SweepOptions): Promise<SweepResult> {
  const cutoff = now.getTime() - graceMs;
  let scanned = 0;
  let young = 0;
  const old: string[] = [];
  for await (const blob of store.list()) {
    scanned++;
    // `>=`: a blob exactly at the cutoff is still within the grace period.
    if (blob.created.getTime() >= cutoff) young++;
    else old.push(blob.id);
  }

  // Open upload sessions' blobs are read before the profiles: a session that finalizes in
  // between names its blobs in a profile the next read sees. A session counts until its
  // expiry plus the grace period (finalize refuses an expired session; the margin absorbs clock skew).
  const inSessions = ledger ? await ledger.openSessionBlobIds(new Date(cutoff)) : new Set<string>();
  // A replaced version is needed until its retention ends, however old its blobs are.
  const referenced = await inventory.referencedBlobIds(now);
  const candidates = old.filter((id) => !referenced.has(id) && !inSessions.has(id));
  // The last word: one transaction per batch re-checks the profiles and removes the blob's
  // index entry, so a reuse committed since (or racing) keeps its blob.
  let orphans = candidates;
  if (ledger && candidates.length > 0) {
    const released = await ledger.releaseBlobs(candidates, now);
    orphans = candidates.filter((id) => released.has(id));
  }
  let kept = old.length - orphans.length;

  const deleted: string[] = [];
  let failed = 0;
  for (let i = 0; i < orphans.length; i += deleteConcurrency) {
    const batch = orphans.slice(i, i + deleteConcurrency);
    const results = await Promise.allSettled(batch.map((id) => store.delete(id)));
    results.forEach((r, j) => {
      const id = batch[j] as string;
      if (r.status === 'fulfilled') deleted.push(id);
      else {
        failed++;
        log.error('could not delete orphan blob; the next sweep will retry', { blob_id: id, err: String(r.reason) });
      }
    });
  }
  kept += failed;
  meters?.swept(deleted.length);

  log.info('blob sweep finished', { scanned, deleted: deleted.length, kept, young, failed, grace_ms: graceMs });
  return { scanned, deleted, kept, young };
}
