import type { BlobStore } from '../storage/blobs';

interface Entry {
  url: string;
  expiresAt: number;
}

/**
 * Signed read URLs per blob, reused for the first three quarters of their lifetime:
 * in production each signature is an IAM signBlob call, and a rack booting at once
 * asks for the same two blobs hundreds of times.
 */
export class SignedUrlCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 1000,
  ) {}

  async get(store: BlobStore, blobId: string, now = Date.now()): Promise<string> {
    const hit = this.entries.get(blobId);
    if (hit && hit.expiresAt - now > this.ttlMs / 4) return hit.url;
    const expiresAt = now + this.ttlMs;
    const url = await store.signedReadUrl(blobId, new Date(expiresAt));
    this.entries.delete(blobId);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(blobId, { url, expiresAt });
    return url;
  }
}
