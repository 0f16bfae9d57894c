import type { Readable } from 'node:stream';
import type { Bucket } from '@google-cloud/storage';
import type { BlobRange } from '../storage/blobs';

/**
 * iPXE binaries in the blob bucket, under `ipxe/` (apart from `blobs/`, which the blob
 * sweeper owns): `ipxe/{uuidv7}`, one object per content, written once by a resumable
 * session that can only create it.
 */
export interface IpxeObjects {
  startSession(object: string): Promise<string>;
  /** Size, or null when the object does not exist. */
  stat(object: string): Promise<number | null>;
  read(object: string, range?: BlobRange): Readable;
  delete(object: string): Promise<void>;
}

export const ipxeObjectName = (id: string) => `ipxe/${id}`;

export class GcsIpxeObjects implements IpxeObjects {
  constructor(private readonly bucket: Bucket) {}

  async startSession(object: string): Promise<string> {
    const [uri] = await this.bucket.file(object).createResumableUpload({ preconditionOpts: { ifGenerationMatch: 0 }, metadata: { contentType: 'application/octet-stream' } });
    return uri;
  }

  async stat(object: string): Promise<number | null> {
    try {
      const [meta] = await this.bucket.file(object).getMetadata();
      return Number(meta.size ?? 0);
    } catch (err) {
      if ((err as { code?: number }).code === 404) return null;
      throw err;
    }
  }

  read(object: string, range?: BlobRange): Readable {
    // No CRC32C check of whole reads: the SHA-256 (finalize) or the ETag stands for the bytes.
    return this.bucket.file(object).createReadStream({ validation: false, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async delete(object: string): Promise<void> {
    await this.bucket.file(object).delete({ ignoreNotFound: true });
  }
}
