import { createHash, type Hash } from 'node:crypto';
import type { PartsProgress, PartsTarget } from '../inventory/inventory';
import { outsideRequestDomain } from '../request-domain';
import type { BlobStore } from '../storage/blobs';
import { chunkMultiple } from './storage';

const MiB = 1024 * 1024;
/** The smallest part but the last: the tail finalize still has to hash after the last byte arrives. */
export const minPartSize = 8 * MiB;
/** Cloud Storage composes at most 32 source objects in one request (GCS docs, "Compose objects"). */
export const maxParts = 32;

export interface PartSpan {
  number: number;
  offset: number;
  size: number;
}

/**
 * Consecutive parts of a file: at least `minPartSize` each (but the last), as few as GCS composes
 * in one request, every part but the last a multiple of 256 KiB (a resumable session's chunk).
 */
export function partLayout(size: number): { partSize: number; parts: PartSpan[] } {
  const perCompose = Math.ceil(Math.ceil(size / maxParts) / chunkMultiple) * chunkMultiple;
  const partSize = Math.max(minPartSize, perCompose);
  const parts: PartSpan[] = [];
  for (let offset = 0, number = 1; offset < size; offset += partSize, number++) parts.push({ number, offset, size: Math.min(partSize, size - offset) });
  return { partSize, parts };
}

/** What hashing parts reads from Storage: a part's object whole, or null while its upload has not completed. */
export type PartReader = Pick<BlobStore, 'readWhole'>;

/** Where hashing stopped: every part hashed, a part not there yet, or a stored part of the wrong size. */
export type PartsHashed = { complete: true; progress: PartsProgress; sha256: string } | { complete: false; progress: PartsProgress; waitingFor: number; wrongSize?: number };

/** A SHA-256 over a file's first `parts` parts, in this process. */
interface RunningHash {
  parts: number;
  bytes: number;
  hash: Hash;
}

/**
 * SHA-256 of parts files, hashed in order as their parts land, with the platform's native SHA-256
 * (OpenSSL: about 1.7 GB/s here, against 0.4 GB/s for a WebAssembly one whose state could be
 * saved). A native hash's state cannot leave the process, so each instance keeps its own running
 * hash per file and, when a call reaches it for a file another instance advanced, catches up from
 * Storage (parts are immutable, so any in-order hash of parts 1..k is the same one). Only the
 * finished SHA-256 is stored (in the session's progress), for finalize, which runs elsewhere.
 */
export class PartHashes {
  private readonly running = new Map<string, RunningHash>();
  private readonly locks = new Map<string, Promise<unknown>>();

  /** `capacity`: files whose running hash an instance keeps (the least recently advanced go first). */
  constructor(private readonly capacity = 256) {}

  /**
   * Hashes the parts of `key`'s file that have landed since this instance last did, in order;
   * `record` is told each step (and the finished SHA-256). Calls for one file run one at a time.
   */
  advance(key: string, target: PartsTarget, reader: PartReader, record: (progress: PartsProgress) => Promise<void>): Promise<PartsHashed> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(async () => {
      const state = this.running.get(key) ?? { parts: 0, bytes: 0, hash: createHash('sha256') };
      this.running.delete(key);
      try {
        return await hashPartsInOrder(target, state, reader, record);
      } finally {
        if (state.parts < target.parts.length) this.keep(key, state); // a finished file is not needed again
      }
    });
    this.locks.set(key, run);
    void run.finally(() => {
      if (this.locks.get(key) === run) this.locks.delete(key);
    }).catch(() => undefined);
    return run;
  }

  private keep(key: string, state: RunningHash): void {
    this.running.set(key, state);
    for (const oldest of this.running.keys()) {
      if (this.running.size <= this.capacity) break;
      this.running.delete(oldest);
    }
  }
}

/**
 * Hashes from `state` on while the parts' objects exist (a fresh state: from the first part).
 * A part is added to the state only once read whole, so a failed read leaves the state where it was.
 */
export async function hashPartsInOrder(target: PartsTarget, state: RunningHash = { parts: 0, bytes: 0, hash: createHash('sha256') }, reader: PartReader, record?: (progress: PartsProgress) => Promise<void>): Promise<PartsHashed> {
  const start = state.parts;
  const stopped = async (waitingFor: number, wrongSize?: number): Promise<PartsHashed> => {
    const progress = { parts: state.parts, bytes: state.bytes };
    if (state.parts > start) await record?.(progress);
    return { complete: false, progress, waitingFor, ...(wrongSize === undefined ? {} : { wrongSize }) };
  };
  for (let i = state.parts; i < target.parts.length; i++) {
    const part = target.parts[i] as (typeof target.parts)[number];
    // Read without asking first: a part not there yet is a 404 (one request per part, not two).
    const attempt = state.hash.copy();
    const read = await outsideRequestDomain(() => reader.readWhole(part.blob_id, (piece) => attempt.update(piece)));
    if (read === null) return stopped(part.number);
    if (read !== part.size) return stopped(part.number, read);
    state.hash = attempt;
    state.parts = i + 1;
    state.bytes += part.size;
  }
  // Recorded once per call: the progress is for the view; only the finished SHA-256 is relied on (by finalize).
  const progress: PartsProgress = { parts: state.parts, bytes: state.bytes, sha256: state.hash.copy().digest('hex') };
  await record?.(progress);
  return { complete: true, progress, sha256: progress.sha256 as string };
}
