// Shared by the tests of this directory: an in-process emulator and reproducible large contents.
import { createCipheriv, createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { Storage } from "@google-cloud/storage";
import { createSigningCredentials, startEmbeddedEmulators, type EmbeddedEmulators } from "../embedded";

export const MiB = 1024 * 1024;
export const KiB = 1024;

export interface StorageFixture {
  emu: EmbeddedEmulators;
  storage: Storage;
  restoreEnv(): void;
}

/** Starts the emulators in this process (so its RSS is this process's) and a client for them. */
export async function startStorage(opts: { dataDir?: string } = {}): Promise<StorageFixture> {
  const saved = { STORAGE_EMULATOR_HOST: process.env.STORAGE_EMULATOR_HOST };
  const emu = await startEmbeddedEmulators({ firestorePort: 0, storagePort: 0, ...opts });
  // Read by @google-cloud/storage at construction (see embedded.test.ts).
  process.env.STORAGE_EMULATOR_HOST = emu.storageHost;
  const storage = new Storage({ projectId: "demo-netboot", apiEndpoint: emu.storageHost, credentials: createSigningCredentials() });
  return {
    emu,
    storage,
    restoreEnv() {
      if (saved.STORAGE_EMULATOR_HOST === undefined) Reflect.deleteProperty(process.env, "STORAGE_EMULATOR_HOST");
      else process.env.STORAGE_EMULATOR_HOST = saved.STORAGE_EMULATOR_HOST;
    },
  };
}

/**
 * Bytes [offset, offset+len) of a reproducible pseudo-random stream (AES-256-CTR keystream of
 * `seed`): any slice can be made on its own, so no test ever holds a whole object.
 */
export function seededBytes(seed: string, offset: number, len: number): Buffer {
  if (offset % 16 !== 0) throw new Error("offset must be a multiple of 16");
  const key = createHash("sha256").update(seed).digest();
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(offset / 16), 8);
  return createCipheriv("aes-256-ctr", key, iv).update(Buffer.alloc(len));
}

/** Samples process RSS every few ms; `peak` is the highest seen since start(). */
export function rssSampler(intervalMs = 5) {
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage.rss());
  };
  const timer = setInterval(sample, intervalMs);
  sample();
  return {
    stop(): number {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

const ZEROS = Buffer.alloc(MiB);

/**
 * The same bytes as seededBytes(), as a fetch body produced 1 MiB at a time (each piece is also
 * given to `onPiece`, to hash while sending); a whole chunk never exists in memory.
 */
export function seededBody(seed: string, offset: number, len: number, onPiece: (b: Buffer) => void = () => undefined): ReadableStream<Uint8Array> {
  if (offset % 16 !== 0) throw new Error("offset must be a multiple of 16");
  const key = createHash("sha256").update(seed).digest();
  const iv = Buffer.alloc(16);
  iv.writeBigUInt64BE(BigInt(offset / 16), 8);
  const cipher = createCipheriv("aes-256-ctr", key, iv);
  let left = len;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left === 0) return controller.close();
      const n = Math.min(MiB, left);
      left -= n;
      const piece = cipher.update(ZEROS.subarray(0, n));
      onPiece(piece);
      controller.enqueue(piece);
    },
  });
}

let gc: (() => void) | undefined;

/**
 * A forced full GC (V8's gc, exposed at run time): RSS is compared after it, so that garbage not
 * yet collected (of the test's own client as much as the emulator's) is not taken for retention.
 * The function is fetched once: each vm.runInNewContext builds a whole new V8 context.
 */
export function forceGc(): void {
  if (!gc) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const v8 = require("node:v8") as typeof import("node:v8");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const vm = require("node:vm") as typeof import("node:vm");
    v8.setFlagsFromString("--expose-gc");
    gc = vm.runInNewContext("gc") as () => void;
  }
  gc();
}

/**
 * What JavaScript keeps alive (V8 heap plus ArrayBuffer contents), after a full GC. Twice: V8 frees
 * dead ArrayBuffers' memory on a background thread after a GC, and the next GC waits for that.
 */
export function liveMemory(): number {
  forceGc();
  forceGc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** A measured number in the test output (stderr), for the record. */
export function report(line: string): void {
  process.stderr.write(`[storage emulator] ${line}\n`);
}

/** A file of `size` bytes of the seeded stream, written 1 MiB at a time; its SHA-256. */
export async function seededFile(path: string, seed: string, size: number): Promise<{ path: string; sha256: string }> {
  const hash = createHash("sha256");
  const out = createWriteStream(path);
  for (let off = 0; off < size; off += MiB) {
    const piece = seededBytes(seed, off, Math.min(MiB, size - off));
    hash.update(piece);
    if (!out.write(piece)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
  return { path, sha256: hash.digest("hex") };
}
