// The client side of Cloud Storage's resumable upload protocol (JSON API), for one file:
// https://cloud.google.com/storage/docs/performing-resumable-uploads
//
// - status query: PUT, empty body, `Content-Range: bytes */TOTAL` -> 308 with `Range: bytes=0-N`
//   (N+1 bytes persisted) or without Range (nothing), or 200/201 (the object exists: done);
// - chunks: PUT `Content-Range: bytes S-E/*` (intermediate, a multiple of 256 KiB long) or
//   `bytes S-E/TOTAL` (the last one), each read from the file with createReadStream({start, end})
//   and streamed with an exact Content-Length: memory stays flat whatever the file size;
// - a chunk that fails (network, 408/429/5xx) is retried with backoff after asking Storage again
//   what it holds, so nothing it already has is sent twice.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';

export const CHUNK_MULTIPLE = 262_144;
export const DEFAULT_CHUNK_SIZE = 32 * CHUNK_MULTIPLE; // 8 MiB

export interface UploadProgress {
  /** Bytes Storage has confirmed plus bytes of the current chunk written to the socket. */
  position: number;
  total: number;
  /** Bytes this run has written to request bodies so far. */
  sent: number;
}

export interface ResumableUploadOptions {
  /** The session URI (`upload.url`). */
  uri: string;
  path: string;
  /** Declared size: the file must still have it. */
  total: number;
  /** Multiple of 262144; default 8 MiB. */
  chunkSize?: number;
  /** Consecutive failed attempts without progress before giving up (default 6). */
  retries?: number;
  /** First backoff delay in ms, doubled each time (default 500). */
  backoffMs?: number;
  /** Idle socket timeout per request in ms (default 120 s). */
  timeoutMs?: number;
  onProgress?: (p: UploadProgress) => void;
  /** Called with each retry (for the user). */
  onRetry?: (info: { attempt: number; delayMs: number; error: string }) => void;
}

export interface ResumableUploadResult {
  total: number;
  /** What Storage already held when this run started. */
  resumedFrom: number;
  /** Bytes this run wrote to request bodies (re-sent bytes of failed chunks included). */
  sent: number;
  /** Storage's object resource, when it answered with one. */
  object?: Record<string, unknown>;
}

/** A session Storage no longer knows or accepts (404, 410, 499): a new one is needed. */
export class SessionGoneError extends Error {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(`the upload session is gone (Storage answered ${status}${detail ? `: ${detail}` : ''})`);
  }
}

/** Storage refused a request for a reason retrying does not fix. */
export class StorageError extends Error {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(`Storage answered ${status}${detail ? `: ${detail}` : ''}`);
  }
}

class RetryableError extends Error {}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One PUT; `body` is streamed with the given length (0: empty). Counts bytes written. */
function put(uri: string, contentRange: string, body: { path: string; start: number; length: number } | null, timeoutMs: number, onBytes: (n: number) => void): Promise<RawResponse> {
  const url = new URL(uri);
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise<RawResponse>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      reader?.destroy();
      req.destroy();
      reject(new RetryableError(err.message));
    };
    const req = mod.request(url, {
      method: 'PUT',
      headers: { 'Content-Range': contentRange, 'Content-Length': String(body?.length ?? 0), 'Content-Type': 'application/octet-stream' },
      timeout: timeoutMs,
    });
    req.on('timeout', () => fail(new Error(`no answer from Storage for ${timeoutMs / 1000} s`)));
    req.on('error', fail);
    req.on('response', (res) => {
      // Storage may answer before the whole body is sent (an error): stop sending.
      reader?.unpipe(req);
      reader?.destroy();
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        if (size < 64 * 1024) parts.push(d);
        size += d.length;
      });
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString('utf8') });
      });
    });
    let reader: ReturnType<typeof createReadStream> | undefined;
    if (body && body.length > 0) {
      reader = createReadStream(body.path, { start: body.start, end: body.start + body.length - 1, highWaterMark: 256 * 1024 });
      reader.on('data', (d) => onBytes(d.length));
      reader.on('error', (err) => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(err); // a local read error is not retried
      });
      reader.pipe(req);
    } else {
      req.end();
    }
  });
}

const shortBody = (s: string) => s.replace(/\s+/g, ' ').trim().slice(0, 300);

/** Reads a `Range: bytes=0-N` header: N+1, or 0 without one. */
function persisted(headers: http.IncomingHttpHeaders): number {
  const range = headers.range;
  if (!range) return 0;
  const m = /^bytes=0-(\d+)$/.exec(String(range).trim());
  if (!m) throw new StorageError(308, `unexpected Range header ${String(range)}`);
  return Number(m[1]) + 1;
}

function parseObject(body: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function classify(res: RawResponse): never {
  if (res.status === 404 || res.status === 410 || res.status === 499) throw new SessionGoneError(res.status, shortBody(res.body));
  if (res.status === 408 || res.status === 429 || res.status >= 500) throw new RetryableError(`Storage answered ${res.status}`);
  throw new StorageError(res.status, shortBody(res.body));
}

export type SessionStatus = { complete: true; object?: Record<string, unknown> } | { complete: false; offset: number };

/** Asks Storage what the session holds. */
export async function querySession(uri: string, total: number, timeoutMs = 120_000): Promise<SessionStatus> {
  const res = await put(uri, `bytes */${total}`, null, timeoutMs, () => undefined);
  if (res.status === 200 || res.status === 201) return { complete: true, object: parseObject(res.body) };
  if (res.status === 308) return { complete: false, offset: persisted(res.headers) };
  return classify(res);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends what Storage lacks of `path`; resolves when the object exists. */
export async function uploadResumable(opts: ResumableUploadOptions): Promise<ResumableUploadResult> {
  const { uri, path, total } = opts;
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (chunkSize <= 0 || chunkSize % CHUNK_MULTIPLE !== 0) throw new Error(`chunk size must be a positive multiple of ${CHUNK_MULTIPLE}`);
  const retries = opts.retries ?? 6;
  const backoffMs = opts.backoffMs ?? 500;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const size = (await stat(path)).size;
  if (size !== total) throw new Error(`${path} is ${size} bytes now, ${total} when it was hashed: it changed`);

  let sent = 0;
  let failures = 0;
  let resumedFrom: number | undefined;
  let stalls = 0;
  const report = (position: number) => opts.onProgress?.({ position, total, sent });

  for (;;) {
    let status: SessionStatus;
    try {
      status = await querySession(uri, total, timeoutMs);
    } catch (err) {
      if (!(err instanceof RetryableError) || ++failures > retries) throw unwrap(err);
      await backoff(failures, err);
      continue;
    }
    resumedFrom ??= status.complete ? total : status.offset;
    if (status.complete) {
      report(total);
      return { total, resumedFrom, sent, object: status.object };
    }
    let offset = status.offset;
    report(offset);
    try {
      while (offset < total) {
        const length = Math.min(chunkSize, total - offset);
        const last = offset + length === total;
        const range = `bytes ${offset}-${offset + length - 1}/${last ? total : '*'}`;
        const start = offset;
        let written = 0;
        const res = await put(uri, range, { path, start, length }, timeoutMs, (n) => {
          written += n;
          sent += n;
          report(start + written);
        });
        if (res.status === 308) {
          const now = persisted(res.headers);
          if (now > offset) failures = 0;
          offset = now;
          report(offset);
          continue;
        }
        if ((res.status === 200 || res.status === 201) && last) {
          report(total);
          return { total, resumedFrom, sent, object: parseObject(res.body) };
        }
        classify(res);
      }
      // Storage holds every byte yet answered 308: the status query with the total completes it.
      if (++stalls > 2) throw new StorageError(308, `holds all ${total} bytes but does not complete the object`);
    } catch (err) {
      if (!(err instanceof RetryableError) || ++failures > retries) throw unwrap(err);
      await backoff(failures, err);
    }
  }

  async function backoff(attempt: number, err: Error) {
    const delayMs = backoffMs * 2 ** (attempt - 1);
    opts.onRetry?.({ attempt, delayMs, error: err.message });
    await sleep(delayMs);
  }
}

function unwrap(err: unknown): Error {
  if (err instanceof RetryableError) return new Error(`upload to Storage failed: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}
