import { createSHA256, type IHasher } from 'hash-wasm';
import type { Readable } from 'node:stream';
import type { PartsProgress, PartsTarget } from '../inventory/inventory';
import type { BlobRange } from '../storage/blobs';
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

/** What hashing parts reads from Storage. */
export interface PartReader {
  /** The object's size, or null while it does not exist (its upload has not completed). */
  stat(blobId: string): Promise<number | null>;
  read(blobId: string, range: BlobRange): Readable;
}

/** Where hashing stopped: every part hashed, a part not there yet, or a stored part of the wrong size. */
export type PartsHashed =
  | { complete: true; progress: PartsProgress; sha256: string }
  | { complete: false; progress: PartsProgress | undefined; waitingFor: number; wrongSize?: number; raced?: true };

/**
 * Hashes the parts that have landed, in order, from where `progress` left off: SHA-256 carried
 * from part to part as hash-wasm's saved state, since each call may run on another instance.
 * `record` stores each step (compare-and-set); when it loses, another caller advanced the same
 * parts and this one stops, answering what it has (the next call resumes from the stored state).
 */
export async function hashLandedParts(target: PartsTarget, progress: PartsProgress | undefined, reader: PartReader, record: (from: PartsProgress | undefined, to: PartsProgress) => Promise<boolean>): Promise<PartsHashed> {
  const hasher = await createSHA256();
  let current = progress;
  for (let i = current?.parts ?? 0; i < target.parts.length; i++) {
    const part = target.parts[i] as (typeof target.parts)[number];
    const stored = await reader.stat(part.blob_id);
    if (stored === null) return { complete: false, progress: current, waitingFor: part.number };
    if (stored !== part.size) return { complete: false, progress: current, waitingFor: part.number, wrongSize: stored };
    if (current) hasher.load(Buffer.from(current.state, 'base64'));
    else hasher.init();
    await hashInto(hasher, reader.read(part.blob_id, { start: 0, end: Number.MAX_SAFE_INTEGER }));
    const next: PartsProgress = { parts: i + 1, bytes: (current?.bytes ?? 0) + part.size, state: Buffer.from(hasher.save()).toString('base64') };
    if (!(await record(current, next))) return { complete: false, progress: current, waitingFor: part.number, raced: true };
    current = next;
  }
  if (!current) throw new Error('a parts file has no parts');
  hasher.load(Buffer.from(current.state, 'base64'));
  return { complete: true, progress: current, sha256: hasher.digest('hex') };
}

/** 'data' events rather than for-await: no promise per piece (see digest.ts). */
function hashInto(hasher: IHasher, stream: Readable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    stream.on('data', (piece: Buffer) => hasher.update(piece));
    stream.once('end', resolve);
    stream.once('error', reject);
  });
}
