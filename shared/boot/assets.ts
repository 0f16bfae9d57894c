import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import parseRange from 'range-parser';
import type { AssetKind, BlobRef } from '../domain/profile';
import { blobForAsset } from '../domain/profile-versions';
import { ifNoneMatchMatches, ifRangeAllows } from '../http/conditional';
import { ProblemError } from '../http/problem';
import type { Inventory } from '../inventory/inventory';
import type { Logger } from '../logging';
import type { RateLimiter } from '../ratelimit';
import type { BlobRange, BlobStore } from '../storage/blobs';
import type { SignedUrlCache } from './signed-urls';

const titles: Record<AssetKind, string> = { kernel: 'Kernel', initrd: 'Initrd' };

function assetNotFound(kind: AssetKind, profileId: string): ProblemError {
  return new ProblemError(`${kind}-not-found`, `${titles[kind]} image not found for boot profile ${profileId}`, { boot_profile_id: profileId });
}

function storageError(kind: AssetKind, cause: unknown): ProblemError {
  return Object.assign(new ProblemError('storage-error', `Failed to retrieve ${kind} from storage due to an internal error`), { cause });
}

/**
 * A versioned URL (`?v=<blob id>`, what scripts link to) names bytes that never change:
 * any cache may keep them. Without a version the URL means "the current one", which a
 * replace changes: caches must ask again every time (the ETag makes that cheap).
 */
const cacheControl = { versioned: 'public, max-age=31536000, immutable', current: 'no-cache' } as const;

export interface AssetRequest {
  kind: AssetKind;
  profileId: string;
  /** The blob id of a versioned URL, already validated as a UUIDv7. */
  version: string | undefined;
}

export interface AssetServiceDeps {
  inventory: Inventory;
  blobs: BlobStore;
  limiter: RateLimiter;
  signedUrls: SignedUrlCache;
  delivery: 'redirect' | 'proxy';
  clock: () => number;
}

/** Kernel and initrd downloads: a redirect to a signed URL, or the bytes streamed through the function. */
export class AssetService {
  constructor(private readonly deps: AssetServiceDeps) {}

  async serve(req: Request, res: Response, asset: AssetRequest, log: Logger): Promise<void> {
    const blob = await this.find(asset);
    if (this.deps.delivery === 'redirect') await this.redirect(res, asset, blob);
    else await this.stream(req, res, asset, blob, log);
  }

  private async find({ kind, profileId, version }: AssetRequest): Promise<BlobRef> {
    const record = await this.deps.inventory.getProfile(profileId);
    const blob = record && blobForAsset(record, kind, version, new Date(this.deps.clock()));
    if (!blob) throw assetNotFound(kind, profileId);
    return blob;
  }

  /** 302 to a short-lived signed URL of the blob. */
  private async redirect(res: Response, { kind }: AssetRequest, blob: BlobRef): Promise<void> {
    let url: string;
    try {
      url = await this.deps.signedUrls.get(this.deps.blobs, blob.id);
    } catch (err) {
      throw storageError(kind, err);
    }
    res.status(302);
    res.setHeader('Location', url);
    // The URL expires: neither iPXE nor a cache in between may keep it.
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Length', '0');
    res.end();
  }

  /**
   * Streams the blob through the function: Content-Length always (iPXE stalls
   * without it), ETag from the stored SHA-256, conditional GET, one byte range, HEAD.
   */
  private async stream(req: Request, res: Response, { kind, profileId, version }: AssetRequest, blob: BlobRef, log: Logger): Promise<void> {
    const etag = `"${blob.sha256}"`;
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', version ? cacheControl.versioned : cacheControl.current);

    if (ifNoneMatchMatches(req.headers['if-none-match'], etag)) {
      res.status(304).end();
      return;
    }

    const range = this.rangeOf(req, kind, blob, etag);
    const setStatus = () => {
      if (range) {
        res.status(206);
        res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${blob.size}`);
      } else {
        res.status(200);
      }
      res.setHeader('Content-Length', String(range ? range.end - range.start + 1 : blob.size));
    };
    if (req.method === 'HEAD') {
      setStatus();
      res.end();
      return;
    }

    // One of the profile's concurrent download slots (429 when all are held).
    const slot = await this.deps.limiter.acquireDownloadSlot(res, profileId, log);
    try {
      setStatus();
      const source = this.deps.blobs.read(blob.id, range);
      try {
        await firstBytes(source);
      } catch (err) {
        source.destroy();
        if ((err as { code?: number }).code === 404) throw assetNotFound(kind, profileId);
        throw storageError(kind, err);
      }
      try {
        // pipeline destroys the Storage read when the client goes away. The response is
        // ended only after the slot is given back: once it has ended, the platform may
        // throttle this instance's CPU, and a release still pending then would hold the
        // slot until its lease runs out.
        await pipeline(source, res, { end: false });
      } catch (err) {
        if (res.destroyed && !res.writableFinished) {
          log.info('client went away mid-download', { blob_id: blob.id, sent: res.socket?.bytesWritten });
          return;
        }
        throw storageError(kind, err);
      }
      await slot.release();
      res.end();
    } finally {
      await slot.release();
    }
  }

  /** One satisfiable byte range, or undefined for the whole body; 416 when unsatisfiable. */
  private rangeOf(req: Request, kind: AssetKind, blob: BlobRef, etag: string): BlobRange | undefined {
    const header = req.headers.range;
    const ifRange = req.headers['if-range'];
    if (!header || !ifRangeAllows(typeof ifRange === 'string' ? ifRange : undefined, etag)) return undefined;
    const parsed = parseRange(blob.size, header, { combine: true });
    if (parsed === -1) {
      throw new ProblemError('range-not-satisfiable', `Range ${header.slice(0, 100)} is outside the ${blob.size}-byte ${kind}`, {}, { 'Content-Range': `bytes */${blob.size}` });
    }
    // Malformed or multi-range requests get the whole body (RFC 9110 allows ignoring Range).
    return parsed !== -2 && parsed.type === 'bytes' && parsed.length === 1 ? parsed[0] : undefined;
  }
}

/** Waits until the read has data (or ended): errors such as a missing object surface before any header is sent. */
function firstBytes(stream: Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: unknown) => {
      stream.off('readable', onReadable);
      stream.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    const onReadable = () => done();
    stream.once('readable', onReadable);
    stream.once('error', done);
  });
}
