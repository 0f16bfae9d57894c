import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { outsideRequestDomain } from '../request-domain';
import type { BlobRange } from '../storage/blobs';

export interface Digest {
  size: number;
  sha256: string;
}

const EMPTY_SHA256 = createHash('sha256').digest('hex');

/**
 * Size and SHA-256 of a whole stored object from a reader that hands its pieces on as they arrive
 * and keeps none (BlobStore.readWhole): what upload finalize computes from the stored bytes, and
 * what `npm run bench` times as the floor of that step. Null when there is no such object.
 */
export async function digestWhole(readWhole: (onPiece: (piece: Buffer) => void) => Promise<number | null>): Promise<Digest | null> {
  const hash = createHash('sha256');
  const size = await outsideRequestDomain(() => readWhole((piece) => hash.update(piece)));
  return size === null ? null : { size, sha256: hash.digest('hex') };
}

/**
 * Size and SHA-256 of a stored object from a read stream (never held in memory): iPXE binaries,
 * read through the Storage client (a few MiB each).
 *
 * Read as the range "byte 0 to past the end", which Storage cuts to the whole object (RFC 9110
 * 14.1.2), because @google-cloud/storage then skips its own check of whole reads: a pure-JS
 * CRC32C of every byte, about 1 s of CPU per 150 MiB on real GCS. The SHA-256 compared with the
 * declared one checks every byte already. An empty object has no such range: 416.
 * Consumed with 'data' events rather than for-await: no promise per piece (each one costs extra
 * under functions-framework's per-request domain).
 */
export async function digestOf(read: (range: BlobRange) => Readable): Promise<Digest> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const stream = outsideRequestDomain(() => read({ start: 0, end: Number.MAX_SAFE_INTEGER }));
      stream.on('data', (piece: Buffer) => {
        size += piece.length;
        hash.update(piece);
      });
      stream.once('end', resolve);
      stream.once('error', reject);
    });
  } catch (err) {
    if ((err as { code?: number }).code === 416 && size === 0) return { size: 0, sha256: EMPTY_SHA256 };
    throw err;
  }
  return { size, sha256: hash.digest('hex') };
}
