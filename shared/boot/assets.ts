import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import fresh from 'fresh';
import parseRange from 'range-parser';
import { getConfig } from '../config';
import type { AssetKind, BlobRef, BootProfile } from '../domain/profile';
import { ProblemError } from '../http/problem';
import type { Logger } from '../logging';
import { acquireDownloadSlot } from '../ratelimit';
import { blobStore, profileRepository } from '../repositories';
import type { BlobRange } from '../storage/blobs';
import { SignedUrlCache } from './signed-urls';

const titles: Record<AssetKind, string> = { kernel: 'Kernel', initrd: 'Initrd' };

function assetNotFound(kind: AssetKind, profileId: string): ProblemError {
  return new ProblemError(`${kind}-not-found`, `${titles[kind]} image not found for boot profile ${profileId}`, { boot_profile_id: profileId });
}

function storageError(kind: AssetKind): ProblemError {
  return new ProblemError('storage-error', `Failed to retrieve ${kind} from storage due to an internal error`);
}

export async function loadAsset(profileId: string, kind: AssetKind): Promise<BlobRef> {
  const profile: BootProfile | null = await profileRepository().get(profileId);
  if (!profile) throw assetNotFound(kind, profileId);
  return profile[kind];
}

let signedUrls: { key: string; cache: SignedUrlCache } | undefined;

/** 302 to a short-lived signed URL of the blob. */
export async function redirectToAsset(res: Response, kind: AssetKind, blob: BlobRef): Promise<void> {
  const { SIGNED_URL_TTL_SECONDS, STORAGE_PUBLIC_URL } = getConfig();
  const key = `${SIGNED_URL_TTL_SECONDS}|${STORAGE_PUBLIC_URL ?? ''}`;
  if (signedUrls?.key !== key) signedUrls = { key, cache: new SignedUrlCache(SIGNED_URL_TTL_SECONDS * 1000) };
  let url: string;
  try {
    url = await signedUrls.cache.get(blobStore(), blob.id);
  } catch (err) {
    throw Object.assign(storageError(kind), { cause: err });
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
export async function streamAsset(req: Request, res: Response, kind: AssetKind, profileId: string, blob: BlobRef, log: Logger): Promise<void> {
  const etag = `"${blob.sha256}"`;
  res.setHeader('Content-Type', 'application/octet-stream');
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'public, max-age=3600');

  if (fresh(req.headers, { etag })) {
    res.status(304).end();
    return;
  }

  let range: BlobRange | undefined;
  const rangeHeader = req.headers.range;
  const ifRange = req.headers['if-range'];
  if (rangeHeader && (!ifRange || ifRange === etag)) {
    const parsed = parseRange(blob.size, rangeHeader, { combine: true });
    if (parsed === -1) {
      throw new ProblemError('range-not-satisfiable', `Range ${rangeHeader.slice(0, 100)} is outside the ${blob.size}-byte ${kind}`, {}, { 'Content-Range': `bytes */${blob.size}` });
    }
    // Malformed or multi-range requests get the whole body (RFC 9110 allows ignoring Range).
    if (parsed !== -2 && parsed.type === 'bytes' && parsed.length === 1) range = parsed[0];
  }

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

  // One of the profile's concurrent download slots (429 when all are held), released
  // however the download ends: finished, failed, or the client gone.
  const slot = await acquireDownloadSlot(res, profileId, log);
  try {
    setStatus();
    const source = blobStore().read(blob.id, range);
    try {
      await firstBytes(source);
    } catch (err) {
      source.destroy();
      if ((err as { code?: number }).code === 404) throw assetNotFound(kind, profileId);
      throw Object.assign(storageError(kind), { cause: err });
    }
    try {
      // pipeline destroys the Storage read when the client goes away.
      await pipeline(source, res);
    } catch (err) {
      if (res.destroyed && !res.writableFinished) log.info('client went away mid-download', { blob_id: blob.id, sent: res.socket?.bytesWritten });
      else throw Object.assign(storageError(kind), { cause: err });
    }
  } finally {
    await slot.release();
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
