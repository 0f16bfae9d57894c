import type { Bucket } from '@google-cloud/storage';
import { blobObjectName } from '../storage/blobs';

/** GCS resumable uploads accept chunks in multiples of this (except the last one). */
export const chunkMultiple = 256 * 1024;

/**
 * What upload sessions need from Storage beyond the BlobStore: resumable sessions on
 * `blobs/{id}`, object sizes and the bytes a session holds. The bytes themselves go from
 * the client straight to Storage; none pass through a function.
 */
export interface UploadStorage {
  /**
   * A resumable upload session URI for `blobs/{blobId}` that can only create the object
   * (ifGenerationMatch=0), of exactly `size` bytes (X-Upload-Content-Length): the URI is a bearer
   * credential, and this bounds what its holder can write.
   */
  startSession(blobId: string, size: number, origin?: string): Promise<string>;
  /** The stored object's size, or null when it does not exist (yet). */
  stat(blobId: string): Promise<number | null>;
  /** How many bytes a session has persisted (its status query); 0 when it cannot tell. */
  received(sessionUri: string): Promise<number>;
  /** Cancels a session (GCS answers 499); errors are the caller's to log. */
  cancel(sessionUri: string): Promise<void>;
  /**
   * Composes `blobs/{sources...}` in order into a new `blobs/{blobId}` (ifGenerationMatch=0: never
   * over an existing object); false when that object exists already (an earlier finalize composed it).
   */
  compose(sources: readonly string[], blobId: string): Promise<boolean>;
}

export class GcsUploadStorage implements UploadStorage {
  constructor(private readonly bucket: Bucket) {}

  async startSession(blobId: string, size: number, origin?: string): Promise<string> {
    const [uri] = await this.bucket.file(blobObjectName(blobId)).createResumableUpload({
      preconditionOpts: { ifGenerationMatch: 0 },
      // A browser's session (the console): GCS answers the session URI's requests with the CORS
      // headers of the origin given when the session was started (GCS docs, "Resumable uploads").
      ...(origin ? { origin } : {}),
      // Sent as X-Upload-Content-Length: GCS then refuses any byte past `size`.
      metadata: { contentType: 'application/octet-stream', contentLength: size },
    });
    return uri;
  }

  async stat(blobId: string): Promise<number | null> {
    try {
      const [meta] = await this.bucket.file(blobObjectName(blobId)).getMetadata();
      return Number(meta.size ?? 0);
    } catch (err) {
      if ((err as { code?: number }).code === 404) return null;
      throw err;
    }
  }

  async received(sessionUri: string): Promise<number> {
    try {
      const res = await fetch(sessionUri, { method: 'PUT', headers: { 'Content-Range': 'bytes */*' }, signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      if (res.status !== 308) return 0; // finished (object then exists or was removed), cancelled, or unknown
      const match = /^bytes=0-(\d+)$/.exec(res.headers.get('range') ?? '');
      return match ? Number(match[1]) + 1 : 0;
    } catch {
      return 0;
    }
  }

  async compose(sources: readonly string[], blobId: string): Promise<boolean> {
    try {
      await this.bucket.combine(sources.map((id) => this.bucket.file(blobObjectName(id))), this.bucket.file(blobObjectName(blobId)), { ifGenerationMatch: 0 });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 412) return false;
      throw err;
    }
  }

  async cancel(sessionUri: string): Promise<void> {
    const res = await fetch(sessionUri, { method: 'DELETE', signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    // 499: cancelled now; 404/410: gone already. Anything else is a failure worth logging.
    if (![200, 204, 404, 410, 499].includes(res.status)) throw new Error(`cancelling the upload session answered ${res.status}`);
  }
}
