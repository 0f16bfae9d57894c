// One large GET, timed: headers, first body byte, last byte; optionally hashed.
import { createHash } from 'node:crypto';
import http from 'node:http';

export interface GetTiming {
  status: number;
  bytes: number;
  headersMs: number;
  firstByteMs: number;
  totalMs: number;
  mibPerSec: number;
  /** 'data' events the client saw: their average size shows how the sender writes. */
  chunks: number;
  sha256?: string;
}

/** A fresh connection per GET, the body counted (and hashed when asked) as it arrives. */
export function timedGet(url: string, opts: { hash?: boolean; headers?: Record<string, string> } = {}): Promise<GetTiming> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = http.get(url, { agent: false, headers: opts.headers ?? {} }, (res) => {
      const headersMs = performance.now() - start;
      let firstByteMs = NaN;
      let bytes = 0;
      let chunks = 0;
      const hash = opts.hash ? createHash('sha256') : undefined;
      res.on('data', (chunk: Buffer) => {
        if (bytes === 0) firstByteMs = performance.now() - start;
        bytes += chunk.length;
        chunks++;
        hash?.update(chunk);
      });
      res.on('end', () => {
        const totalMs = performance.now() - start;
        resolve({
          status: res.statusCode ?? 0,
          bytes,
          headersMs,
          firstByteMs,
          totalMs,
          mibPerSec: bytes / (1024 * 1024) / (totalMs / 1000),
          chunks,
          ...(hash ? { sha256: hash.digest('hex') } : {}),
        });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Lets buffers of the previous transfer be freed before the next baseline. */
export function settle(ms = 300): Promise<void> {
  return new Promise((ok) => setTimeout(ok, ms));
}
