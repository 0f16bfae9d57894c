import type { Readable, Writable } from 'node:stream';

export interface BlobInfo {
  id: string;
  size: number;
  /** When the object was written; the sweeper leaves young blobs alone. */
  created: Date;
}

export interface BlobRange {
  /** Inclusive byte offsets, as HTTP and Cloud Storage count them. */
  start: number;
  end: number;
}

/** Kernel and initrd bytes, at `blobs/{id}`. Ids are never reused, so writes never overwrite. */
export interface BlobStore {
  /** A stream that stores what is written to it; `done` settles when the object is committed or the write failed. */
  openWrite(id: string): { sink: Writable; done: Promise<void> };
  delete(id: string): Promise<void>;
  read(id: string, range?: BlobRange): Readable;
  /**
   * The whole object, each piece handed to `onPiece` as it arrives and not kept: its length, or
   * null when there is no such object. For the service's own reads of whole objects (hashing
   * upload parts), where a stream's per-piece machinery would cost more than the work.
   */
  readWhole(id: string, onPiece: (piece: Buffer) => void): Promise<number | null>;
  signedReadUrl(id: string, expiresAt: Date): Promise<string>;
  /** Every blob, oldest first as far as the store can tell; pages internally. */
  list(): AsyncIterable<BlobInfo>;
}

export const blobObjectName = (id: string): string => `blobs/${id}`;
