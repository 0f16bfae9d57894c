import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { digestOf, type Digest } from '../uploads/digest';
import { chunkMultiple } from '../uploads/storage';
import { newId } from '../domain/ids';
import { ifNoneMatchMatches } from '../http/conditional';
import { ProblemError } from '../http/problem';
import { parseOrThrow } from '../http/validate';
import type { Logger } from '../logging';
import type { RateLimiter } from '../ratelimit';
import { ipxeFiles, ipxeUploadRequestSchema, isIpxeFile, type IpxeBinary, type IpxeFile, type IpxeUploadSessionView } from './files';
import type { IpxeRecord, IpxeRepository, IpxeSessionRecord } from './repository';
import { ipxeObjectName, type IpxeObjects } from './storage';

export interface IpxeServiceDeps {
  repository: IpxeRepository;
  objects: IpxeObjects;
  limiter: RateLimiter;
  clientAddress: (req: Request) => string;
  /** UPLOAD_SESSION_TTL_SECONDS, as for image uploads. */
  ttlMs: number;
  clock: () => number;
}

const binaryNotFound = (file: string) => new ProblemError('ipxe-binary-not-found', `No iPXE binary ${file} is published (publish one with: npx netboot ipxe publish BUILD_DIR); the files are ${ipxeFiles.join(', ')}`, { file });

const viewOf = (r: IpxeRecord): IpxeBinary => ({ file: r.file, size: r.size, sha256: r.sha256, published_at: r.publishedAt.toISOString(), url_path: `/ipxe/${r.file}` });

/**
 * Published iPXE binaries: upload sessions like the images' (the bytes go from the client
 * straight to Storage; finalize hashes what Storage holds before anything is published),
 * content-addressed (bytes the service holds are not sent again), and `GET /ipxe/{file}`.
 */
export class IpxeService {
  constructor(private readonly deps: IpxeServiceDeps) {}

  /** GET /api/v1/ipxe. */
  async list(): Promise<IpxeBinary[]> {
    return (await this.deps.repository.list()).map(viewOf);
  }

  /** POST /api/v1/ipxe/uploads. */
  async createSession(body: unknown, log: Logger): Promise<IpxeUploadSessionView> {
    const { repository, objects, clock, ttlMs } = this.deps;
    const request = parseOrThrow(ipxeUploadRequestSchema, body);
    const declared = ipxeFiles.filter((f) => request.files[f] !== undefined);
    const files: IpxeSessionRecord['files'] = {};
    const started: string[] = [];
    try {
      for (const file of declared) {
        const { size, sha256 } = request.files[file] as Digest;
        const held = await repository.findContent(sha256, size);
        if (held && (await objects.stat(held)) === size) {
          files[file] = { size, sha256, object: held, upload: null };
          continue;
        }
        // The same bytes under two names (e.g. one build's snponly for two slots): one upload.
        const twin = Object.values(files).find((f) => f.upload && f.sha256 === sha256 && f.size === size);
        if (twin) {
          files[file] = twin;
          continue;
        }
        const object = ipxeObjectName(newId());
        const url = await objects.startSession(object);
        started.push(object);
        files[file] = { size, sha256, object, upload: { url, method: 'PUT', chunk_multiple: chunkMultiple } };
      }
      const now = clock();
      const session: IpxeSessionRecord = { id: newId(), state: 'open', createdAt: new Date(now), expiresAt: new Date(now + ttlMs), files };
      await repository.createSession(session);
      log.info('ipxe upload session opened', { upload_id: session.id, files: declared, uploads: started.length });
      return this.view(session);
    } catch (err) {
      if (started.length) log.warn('ipxe upload session not opened; its upload sessions are left to expire', { objects: started });
      throw err;
    }
  }

  /**
   * POST /api/v1/ipxe/uploads/{id}/finalize: every uploaded object is hashed from Storage;
   * only when all match their declared size and SHA-256 are they published, together.
   * A mismatch cancels the session and deletes what was uploaded: nothing is published.
   */
  async finalize(id: string, log: Logger): Promise<IpxeBinary[]> {
    const { repository, objects, clock } = this.deps;
    const session = await repository.getSession(id);
    if (!session) throw new ProblemError('upload-session-not-found', `Upload session ${id} not found`, { upload_id: id });
    if (session.state === 'finalized') return (session.published ?? []).map(viewOf);
    if (session.state === 'cancelled') throw new ProblemError('upload-session-cancelled', `Upload session ${id} was cancelled; start a new one`, { upload_id: id });
    if (clock() >= session.expiresAt.getTime()) throw new ProblemError('upload-session-expired', `Upload session ${id} expired at ${session.expiresAt.toISOString()}; start a new one`, { upload_id: id, expires_at: session.expiresAt.toISOString() });

    const entries = ipxeFiles.flatMap((file) => (session.files[file] ? [[file, session.files[file]] as const] : []));
    const sizes = await Promise.all(entries.map(([, f]) => objects.stat(f.object)));
    const missing = entries.filter(([, f], i) => sizes[i] === null || (!f.upload && sizes[i] !== f.size)).map(([file]) => file);
    if (missing.length) throw new ProblemError('ipxe-upload-incomplete', `Not every binary has been uploaded completely: ${missing.join(', ')} missing`, { upload_id: id, missing });

    const hashed = new Map<string, Digest>();
    const mismatches: { file: IpxeFile; declared: Digest; actual: Digest }[] = [];
    for (const [file, f] of entries) {
      if (!f.upload) continue;
      const actual = hashed.get(f.object) ?? (await digestOf((range) => objects.read(f.object, range)));
      hashed.set(f.object, actual);
      if (actual.size !== f.size || actual.sha256 !== f.sha256) mismatches.push({ file, declared: { size: f.size, sha256: f.sha256 }, actual });
    }
    if (mismatches.length) {
      await repository.cancelSession(id).catch((err: unknown) => log.warn('could not cancel the ipxe session after a checksum mismatch', { upload_id: id, err: String(err) }));
      const wrong = [...new Set(entries.filter(([file]) => mismatches.some((m) => m.file === file)).map(([, f]) => f.object))];
      const results = await Promise.allSettled(wrong.map((object) => objects.delete(object)));
      results.forEach((r, i) => {
        if (r.status === 'rejected') log.error('could not delete a mismatched ipxe object', { object: wrong[i], err: String(r.reason) });
      });
      throw new ProblemError('ipxe-checksum-mismatch', `The stored ${mismatches.map((m) => m.file).join(', ')} ${mismatches.length === 1 ? 'does' : 'do'} not match the declared size and SHA-256; nothing was published, start a new session`, { upload_id: id, mismatches });
    }

    const published = await repository.publish(id, new Date(clock()));
    if (!published) throw new ProblemError('upload-session-cancelled', `Upload session ${id} was cancelled; start a new one`, { upload_id: id });
    log.info('ipxe binaries published', { upload_id: id, files: published.map((r) => `${r.file} ${r.sha256}`) });
    return published.map(viewOf);
  }

  /** GET / HEAD /ipxe/{file}: the published bytes, ETag = SHA-256, If-None-Match, Content-Length, streamed. */
  async serve(req: Request, res: Response, file: string, log: Logger): Promise<void> {
    await this.deps.limiter.enforceBootSource(res, this.deps.clientAddress(req), log);
    if (!isIpxeFile(file)) throw binaryNotFound(file);
    const record = await this.deps.repository.get(file);
    if (!record) throw binaryNotFound(file);
    const etag = `"${record.sha256}"`;
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('ETag', etag);
    // A publish replaces the bytes behind this URL: caches ask again (the ETag makes that cheap).
    res.setHeader('Cache-Control', 'no-cache');
    if (ifNoneMatchMatches(req.headers['if-none-match'], etag)) {
      res.status(304).end();
      return;
    }
    res.status(200);
    res.setHeader('Content-Length', String(record.size));
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const source = this.deps.objects.read(record.object);
    try {
      // The first bytes (or Storage's error) before the status goes out: a failed read is still a problem answer.
      await new Promise((resolve, reject) => {
        source.once('readable', resolve);
        source.once('error', reject);
      });
    } catch (err) {
      source.destroy();
      throw Object.assign(new ProblemError('storage-error', `Failed to read ${file} from storage due to an internal error`), { cause: err });
    }
    try {
      await pipeline(source, res);
    } catch (err) {
      // Headers are out: all that is left is to drop the connection (pipeline did).
      log.info('ipxe download ended early', { file, err: String(err) });
    }
  }

  private view(session: IpxeSessionRecord): IpxeUploadSessionView {
    const expired = session.state === 'open' && this.deps.clock() >= session.expiresAt.getTime();
    const state = expired ? 'expired' : session.state;
    return {
      id: session.id,
      state,
      created_at: session.createdAt.toISOString(),
      expires_at: session.expiresAt.toISOString(),
      files: Object.fromEntries(
        ipxeFiles.flatMap((file) => {
          const f = session.files[file];
          // Upload URLs are credentials: handed out only while they can still lead somewhere.
          return f ? [[file, { size: f.size, sha256: f.sha256, upload: state === 'open' ? f.upload : null }]] : [];
        }),
      ),
      ...(session.published ? { binaries: session.published.map(viewOf) } : {}),
    };
  }
}
