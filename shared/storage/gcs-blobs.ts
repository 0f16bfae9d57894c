import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Bucket } from '@google-cloud/storage';
import { blobObjectName, type BlobInfo, type BlobRange, type BlobStore } from './blobs';
import type { GcsMediaReader } from './gcs-media';

const prefix = 'blobs/';

/** Blobs in a Cloud Storage bucket. */
export class GcsBlobStore implements BlobStore {
  constructor(
    private readonly bucket: Bucket,
    /** The same bucket's whole objects, read lean (readWhole). */
    private readonly media: GcsMediaReader,
    /** Bucket handle that signs URLs (its client holds the signing identity). */
    private readonly signingBucket: Bucket = bucket,
    /** Base URL clients reach Storage at, when it differs from the default endpoint (emulators, a VM's view of the host). */
    private readonly publicUrl?: string,
  ) {}

  openWrite(id: string) {
    const sink = this.bucket.file(blobObjectName(id)).createWriteStream({
      // Bodies are at most 32 MiB here: one multipart request, no resumable session to clean up.
      resumable: false,
      contentType: 'application/octet-stream',
      // Generation 0 = "only if absent": a blob, once written, is never replaced.
      preconditionOpts: { ifGenerationMatch: 0 },
    });
    // Rejects on an error and on destroy() before the upload completed.
    const done = finished(sink);
    done.catch(() => undefined); // observed by the caller; never an unhandled rejection
    return { sink, done };
  }

  async delete(id: string): Promise<void> {
    await this.bucket.file(blobObjectName(id)).delete({ ignoreNotFound: true });
  }

  read(id: string, range?: BlobRange): Readable {
    return this.bucket.file(blobObjectName(id)).createReadStream(range ? { start: range.start, end: range.end, validation: false } : {});
  }

  readWhole(id: string, onPiece: (piece: Buffer) => void): Promise<number | null> {
    return this.media.readWhole(blobObjectName(id), onPiece);
  }

  async signedReadUrl(id: string, expiresAt: Date): Promise<string> {
    const [url] = await this.signingBucket
      .file(blobObjectName(id))
      .getSignedUrl({ version: 'v4', action: 'read', expires: expiresAt, ...(this.publicUrl ? { host: this.publicUrl } : {}) });
    return url;
  }

  async *list(): AsyncIterable<BlobInfo> {
    let pageToken: string | undefined;
    do {
      const [files, next] = await this.bucket.getFiles({ prefix, maxResults: 1000, autoPaginate: false, ...(pageToken ? { pageToken } : {}) });
      for (const file of files) {
        const { size, timeCreated } = file.metadata;
        yield { id: file.name.slice(prefix.length), size: Number(size ?? 0), created: new Date(timeCreated ?? 0) };
      }
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
  }
}
