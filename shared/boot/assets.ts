import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import parseRange from 'range-parser';
import type { AssetKind, BlobRef } from '../domain/profile';
import { blobForAsset } from '../domain/profile-versions';
import { ifNoneMatchMatches, ifRangeAllows } from '../http/conditional';
import { ProblemError, validationError } from '../http/problem';
import type { Inventory } from '../inventory/inventory';
import type { Logger } from '../logging';
import type { DownloadSlot, RateLimiter } from '../ratelimit';
import type { BlobRange, BlobStore } from '../storage/blobs';
import type { Meters } from '../telemetry/meters';
import { partCount, partWindow, windowEtag, type AssetSizing, type ByteWindow } from './parts';
import type { SignedUrlCache } from './signed-urls';
import type { BootTimeline } from '../lifecycle/timeline';
import { parseBootRef } from '../lifecycle/tokens';

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
  /** One part of the versioned blob (`&part=n`, shared/boot/parts.ts); undefined for the whole blob. */
  part?: number;
}

export interface AssetServiceDeps {
  inventory: Inventory;
  blobs: BlobStore;
  limiter: RateLimiter;
  signedUrls: SignedUrlCache;
  delivery: 'redirect' | 'proxy';
  /** The part size and the platform's response cap (ASSET_PART_BYTES, RESPONSE_MAX_BYTES). */
  sizing: AssetSizing;
  clock: () => number;
  /** Counts bytes sent and redirects (telemetry). */
  meters?: Meters;
  /** Records the kernel / initrd phase of a boot whose script named it (`&boot=` on the asset URL). */
  timeline?: BootTimeline;
  /** The client address as the boot network reads it (for the boot record). */
  clientAddress?: (req: Request) => string;
}

/** Kernel and initrd downloads: a redirect to a signed URL, or the bytes streamed through the function. */
export class AssetService {
  constructor(private readonly deps: AssetServiceDeps) {}

  /**
   * A part is always streamed, whatever the mode: it is at most one part long. A whole blob
   * over the response cap cannot go through the function, so proxy mode redirects to
   * Storage for it (in practice a kernel over 32 MB: initrds are listed in parts).
   */
  async serve(req: Request, res: Response, asset: AssetRequest, log: Logger): Promise<void> {
    // The caller's own address and the global boot limit; nothing per profile, so another host's requests never refuse this machine's.
    const [limit, found] = await Promise.allSettled([this.deps.limiter.enforceBootSource(res, this.deps.clientAddress?.(req) ?? '', log), this.find(asset)]);
    if (limit.status === 'rejected') throw limit.reason;
    if (found.status === 'rejected') throw found.reason;
    const blob = found.value;
    const started = this.deps.clock();
    await this.deliver(req, res, asset, blob, log);
    await this.recordPhase(req, res, asset, started, log);
  }

  /**
   * The boot record's kernel / initrd phase (1 read + 1 write: only a live boot of this profile
   * served to this client address takes it; anything else is only logged). Redirect mode knows only that the redirect was issued;
   * proxy mode knows the bytes sent and how long the response took. Written after the
   * response ended: the download never waits for it.
   */
  private async recordPhase(req: Request, res: Response, asset: AssetRequest, started: number, log: Logger): Promise<void> {
    const ref = req.method === 'GET' ? parseBootRef(req.query.boot) : null;
    if (!ref || !this.deps.timeline) return;
    const redirected = res.statusCode === 302;
    const length = Number(res.getHeader('content-length') ?? 0);
    const detail = redirected
      ? { delivery: 'redirect' }
      : { delivery: 'proxy', status: res.statusCode, bytes: res.writableEnded && !res.destroyed ? length : 0, complete: res.writableEnded && !res.destroyed, duration_ms: this.deps.clock() - started, ...(asset.part === undefined ? {} : { part: asset.part }) };
    try {
      const recorded = await this.deps.timeline.recordDownload(ref, asset.kind, { at: new Date(started), client_address: this.deps.clientAddress?.(req) ?? '', ...detail }, asset.profileId);
      if (!recorded) log.debug('boot phase not recorded: no live boot of this profile and client address', { boot: ref.bootId, phase: asset.kind });
    } catch (err) {
      log.debug('boot phase not recorded', { boot: ref.bootId, phase: asset.kind, err: err instanceof Error ? err.message : String(err) });
    }
  }

  private async deliver(req: Request, res: Response, asset: AssetRequest, blob: BlobRef, log: Logger): Promise<void> {
    if (asset.part !== undefined) {
      await this.stream(req, res, asset, blob, log, this.partOf(asset, blob));
    } else if (this.deps.delivery === 'redirect') {
      await this.redirect(res, asset, blob);
    } else {
      await this.stream(req, res, asset, blob, log, undefined);
    }
  }

  private partOf({ kind, part }: AssetRequest, blob: BlobRef): ByteWindow {
    const { sizing } = this.deps;
    const window = partWindow(blob.size, sizing.partBytes, part ?? -1);
    if (!window) {
      const count = partCount(blob.size, sizing.partBytes);
      throw validationError([{ field: 'part', reason: `this ${blob.size}-byte ${kind} has parts 0 to ${count - 1} of ${sizing.partBytes} bytes` }], `Query parameter part is not a part of this ${kind}`);
    }
    return window;
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
    this.deps.meters?.redirect(kind);
  }

  /**
   * Streams the blob through the function: Content-Length always (iPXE stalls
   * without it), ETag from the stored SHA-256, conditional GET, one byte range, HEAD.
   */
  private async stream(req: Request, res: Response, asset: AssetRequest, blob: BlobRef, log: Logger, part: ByteWindow | undefined): Promise<void> {
    const { sizing } = this.deps;
    const { kind, profileId, version } = asset;
    // What this URL names: the whole blob, or one part of it (then Range, ETag and
    // Content-Length are the part's own, as if it were a file of its own).
    const offset = part?.start ?? 0;
    const size = part ? part.end - part.start + 1 : blob.size;
    const etag = part ? windowEtag(blob.sha256, part) : `"${blob.sha256}"`;
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Accept-Ranges', 'bytes');
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', version ? cacheControl.versioned : cacheControl.current);

    if (ifNoneMatchMatches(req.headers['if-none-match'], etag)) {
      res.status(304).end();
      return;
    }

    const range = this.rangeOf(req, kind, size, etag, sizing.maxResponseBytes);
    if (!part && !range && size > sizing.maxResponseBytes) {
      // The whole blob in one response would be over the platform's cap (Cloud Run would
      // answer 500 in its place): Storage serves it, as in redirect mode.
      log.warn('asset over the response cap: redirected to Storage although ASSET_DELIVERY=proxy', { blob_id: blob.id, size, max_response_bytes: sizing.maxResponseBytes });
      for (const name of ['Content-Type', 'Accept-Ranges', 'ETag']) res.removeHeader(name);
      await this.redirect(res, asset, blob);
      return;
    }
    const setStatus = () => {
      if (range) {
        res.status(206);
        res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
      } else {
        res.status(200);
      }
      res.setHeader('Content-Length', String(range ? range.end - range.start + 1 : size));
    };
    if (req.method === 'HEAD') {
      setStatus();
      res.end();
      return;
    }

    // The Storage read opens while one of the profile's concurrent download slots is taken
    // (429 when all are held): a part's wait before its first byte is the longer of the two,
    // not their sum. A refused download drops the read it opened (one Storage request).
    const window = range ?? (part ? { start: 0, end: size - 1 } : undefined);
    const source = this.deps.blobs.read(blob.id, window && { start: window.start + offset, end: window.end + offset });
    const opened = firstBytes(source);
    opened.catch(() => undefined); // awaited below, once the slot is held
    let slot: DownloadSlot;
    try {
      slot = await this.deps.limiter.acquireDownloadSlot(res, profileId, this.deps.clientAddress?.(req) ?? '', log);
    } catch (err) {
      source.destroy();
      throw err;
    }
    try {
      setStatus();
      try {
        await opened;
      } catch (err) {
        source.destroy();
        if ((err as { code?: number }).code === 404) throw assetNotFound(kind, profileId);
        throw storageError(kind, err);
      }
      // The last chunk is written only after the slot is given back: once the client has the
      // whole body the platform may throttle this instance's CPU, and a release still
      // pending then would hold the slot until its lease runs out (false 429s in a boot storm).
      const lastChunk = new HoldLastChunk();
      res.flushHeaders(); // the first chunk is held back too: the client learns the status now
      try {
        // pipeline destroys the Storage read when the client goes away.
        await pipeline(source, lastChunk, res, { end: false });
      } catch (err) {
        if (res.destroyed && !res.writableFinished) {
          log.info('client went away mid-download', { blob_id: blob.id, sent: res.socket?.bytesWritten });
          return;
        }
        throw storageError(kind, err);
      }
      await slot.release();
      res.end(lastChunk.held);
      this.deps.meters?.assetSent(kind, part ? 'part' : 'proxy', Number(res.getHeader('Content-Length') ?? 0));
    } finally {
      await slot.release();
    }
  }

  /**
   * One satisfiable byte range of `size` bytes, or undefined for the whole body; 416 when
   * unsatisfiable. A range longer than the response cap is cut to its first `max` bytes
   * (Content-Range says which; a client asks again for the rest).
   */
  private rangeOf(req: Request, kind: AssetKind, size: number, etag: string, max: number): BlobRange | undefined {
    const header = req.headers.range;
    const ifRange = req.headers['if-range'];
    if (!header || !ifRangeAllows(typeof ifRange === 'string' ? ifRange : undefined, etag)) return undefined;
    const parsed = parseRange(size, header, { combine: true });
    if (parsed === -1) {
      throw new ProblemError('range-not-satisfiable', `Range ${header.slice(0, 100)} is outside the ${size}-byte ${kind}`, {}, { 'Content-Range': `bytes */${size}` });
    }
    // Malformed or multi-range requests get the whole body (RFC 9110 allows ignoring Range).
    const one = parsed !== -2 && parsed.type === 'bytes' && parsed.length === 1 ? parsed[0] : undefined;
    return one && { start: one.start, end: Math.min(one.end, one.start + max - 1) };
  }
}

/** Passes every chunk on except the last one, which it keeps in `held`. */
class HoldLastChunk extends Transform {
  held: Buffer | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.held) this.push(this.held);
    this.held = chunk;
    done();
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
