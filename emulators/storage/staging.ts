import { randomUUID } from "node:crypto";
import { open, rm, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { ObjectHasher } from "./hasher";

/** GCS persists resumable uploads in multiples of 256 KiB until the final chunk. */
export const QUANTUM = 256 * 1024;
const WRITE_BATCH = 4 * QUANTUM;

export interface AppendResult {
  bodyBytes: number; // body bytes read (all of them, even skipped or dropped ones)
  ended: boolean; // the body arrived whole (false: the client aborted)
  overflow: boolean; // the body was longer than `limit`; the excess was dropped
  completed: boolean; // the tail was kept: this request completed the object
}

/**
 * An object's bytes being staged on disk (in the persistence directory, under a fresh name) with
 * running hashes. Memory per upload stays at about one write batch, whatever the object size.
 */
export class StagedFile {
  readonly hasher = new ObjectHasher();
  readonly diskName = randomUUID();
  private fh?: FileHandle;

  constructor(private readonly dir: string) {}

  get path(): string {
    return join(this.dir, this.diskName);
  }

  /** The open file's descriptor (for a copy made outside this class, as compose's). */
  get fd(): number {
    if (!this.fh) throw new Error("staged file not open");
    return this.fh.fd;
  }

  /** Bytes on disk, all hashed: what a status query reports. */
  get persisted(): number {
    return this.hasher.size;
  }

  async create(): Promise<void> {
    this.fh = await open(this.path, "w+");
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }

  async discard(): Promise<void> {
    await this.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }

  /**
   * Appends one request body that carries object bytes from offset `start` (<= persisted: bytes the
   * server already has are skipped, as GCS does on a resend). `limit`: the body length announced by
   * Content-Range, undefined = until the body ends. Only whole 256 KiB quanta are persisted unless
   * the body arrived whole and `isLast(bodyBytes)` says it completes the object; a partial quantum
   * (aborted request, or a chunk that is not a multiple of 256 KiB) is dropped, and the client
   * learns the real offset from the Range header.
   */
  async append(body: AsyncIterable<Buffer>, start: number, limit: number | undefined, isLast: (bodyBytes: number) => boolean): Promise<AppendResult> {
    if (!this.fh) throw new Error("staged file not open");
    let skip = this.persisted - start;
    let bodyBytes = 0;
    let overflow = false;
    let ended = false;
    const pending: Buffer[] = [];
    let pendingLen = 0;
    const flush = async (all: boolean) => {
      let n = all ? pendingLen : pendingLen - (pendingLen % QUANTUM);
      if (n === 0) return;
      // Written as the socket's own buffers (writev): no copy of the data on its way to disk.
      const out: Buffer[] = [];
      while (n > 0) {
        const b = pending.shift() as Buffer;
        if (b.length <= n) {
          out.push(b);
          n -= b.length;
          pendingLen -= b.length;
        } else {
          out.push(b.subarray(0, n));
          pending.unshift(b.subarray(n));
          pendingLen -= n;
          n = 0;
        }
      }
      await this.write(out);
    };
    const it = body[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await it.next();
      } catch {
        break; // aborted by the client: keep the whole quanta that arrived
      }
      if (next.done) {
        ended = true;
        break;
      }
      let chunk = next.value;
      const before = bodyBytes;
      bodyBytes += chunk.length;
      if (limit !== undefined && bodyBytes > limit) {
        overflow = true;
        chunk = chunk.subarray(0, Math.max(0, limit - before)); // keep reading: the answer must still reach the client
      }
      if (skip > 0) {
        const s = Math.min(skip, chunk.length);
        chunk = chunk.subarray(s);
        skip -= s;
      }
      if (chunk.length === 0) continue;
      pending.push(chunk);
      pendingLen += chunk.length;
      if (pendingLen >= WRITE_BATCH) await flush(false); // a disk error propagates (500), it is no abort
    }
    const completed = ended && !overflow && isLast(bodyBytes);
    await flush(completed);
    return { bodyBytes, ended, overflow, completed };
  }

  private async write(bufs: Buffer[]): Promise<void> {
    const fh = this.fh as FileHandle;
    const total = bufs.reduce((n, b) => n + b.length, 0);
    let done = 0;
    while (done < total) {
      const { bytesWritten } = await fh.writev(done === 0 ? bufs : remainder(bufs, done), this.persisted + done);
      done += bytesWritten;
    }
    for (const b of bufs) this.hasher.update(b); // only once on disk: persisted never counts bytes that are not
  }
}

/** The buffers past the first `skip` bytes (after a short writev). */
function remainder(bufs: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of bufs) {
    if (skip >= b.length) skip -= b.length;
    else {
      out.push(skip > 0 ? b.subarray(skip) : b);
      skip = 0;
    }
  }
  return out;
}
