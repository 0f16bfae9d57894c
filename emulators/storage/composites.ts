// Composite objects as Cloud Storage keeps them: a compose does not copy its sources' bytes, the
// composite is read across them (GCS, "Composite objects": a composite has a component count and
// a CRC32C, no MD5, and composing takes no time in proportion to the bytes). Copying them here
// (GNU cat) made a finalize of a 1000 MiB upload in parts take 1.2-2.2 s of this machine, time
// Cloud Storage does not charge a client.
//
// A compose hard-links each source's file (a composite source: each of its components) under a
// name of its own in the persistence directory, so deleting or replacing a source later keeps the
// bytes; the composite's own disk file is empty, and every reader of object bytes asks here first:
// the streamed downloads (download.ts), compose, the dataDir export (persist.ts) and, through
// firebase-tools' Persistence.readBytes, everything of firebase-tools that reads bytes. Deleting
// or replacing a composite (Persistence.deleteFile) unlinks its components.
import { randomUUID } from "node:crypto";
import { closeSync, linkSync, openSync, readSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { StorageEmulatorInternals } from "./internals";

export interface Component {
  path: string;
  size: number;
}

/** An object's bytes opened for reading: one file, or a composite's components in order. */
export type OpenBytes = { fd: number; size: number }[];

interface PersistenceBytes {
  readBytes(key: string, size: number, offset?: number): Buffer;
  reset(dirPath: string): void;
}

const registries = new WeakMap<StorageEmulatorInternals, Composites>();

export class Composites {
  private readonly byDiskName = new Map<string, Component[]>();

  private constructor(private readonly emu: StorageEmulatorInternals) {}

  /** The emulator's registry; the first call hooks firebase-tools' Persistence (delete, readBytes, reset) to it. */
  static of(emu: StorageEmulatorInternals): Composites {
    let registry = registries.get(emu);
    if (!registry) {
      registry = new Composites(emu);
      registries.set(emu, registry);
      registry.hookPersistence();
    }
    return registry;
  }

  /** The components of the object stored under `diskName`; undefined for an object with bytes of its own. */
  componentsOf(diskName: string | undefined): readonly Component[] | undefined {
    return diskName === undefined ? undefined : this.byDiskName.get(diskName);
  }

  /**
   * Links each source's bytes (a composite source's components) under new names, now and
   * synchronously: what is linked is the generation the caller just checked.
   */
  link(sources: readonly { diskName: string; diskPath: string; size: number }[]): Component[] {
    const linked: Component[] = [];
    try {
      for (const source of sources) {
        const parts = this.byDiskName.get(source.diskName) ?? [{ path: source.diskPath, size: source.size }];
        for (const part of parts) {
          if (part.size === 0) continue;
          const path = join(this.emu._persistence.dirPath, `component-${randomUUID()}`);
          linkSync(part.path, path);
          linked.push({ path, size: part.size });
        }
      }
    } catch (err) {
      unlinkAll(linked);
      throw err;
    }
    return linked;
  }

  register(diskName: string, components: Component[]): void {
    this.byDiskName.set(diskName, components);
  }

  /** The object stored under `key`, opened now: a replace or delete afterwards leaves these bytes to the reader. */
  open(key: string, size: number): OpenBytes {
    const parts = this.componentsOf(this.emu._persistence.getDiskFileName(key));
    if (!parts) return [{ fd: openSync(this.emu._persistence.getDiskPath(key), "r"), size }];
    const opened: OpenBytes = [];
    try {
      for (const part of parts) opened.push({ fd: openSync(part.path, "r"), size: part.size });
    } catch (err) {
      for (const o of opened) closeSync(o.fd);
      throw err;
    }
    return opened;
  }

  /** Unlinks the components of the object stored under `diskName` (a composite deleted, replaced, or never committed); nothing for another object. */
  release(diskName: string | undefined): void {
    const parts = this.componentsOf(diskName);
    if (!parts || diskName === undefined) return;
    this.byDiskName.delete(diskName);
    unlinkAll(parts);
  }

  private hookPersistence(): void {
    const persistence = this.emu._persistence as StorageEmulatorInternals["_persistence"] & PersistenceBytes;
    const deleteFile = persistence.deleteFile.bind(persistence);
    persistence.deleteFile = (key, failSilently) => {
      const diskName = persistence.getDiskFileName(key);
      deleteFile(key, failSilently);
      this.release(diskName);
    };
    const readBytes = persistence.readBytes.bind(persistence);
    persistence.readBytes = (key, size, offset = 0) => {
      const parts = this.componentsOf(persistence.getDiskFileName(key));
      return parts ? readAcross(parts, size, offset) : readBytes(key, size, offset);
    };
    const reset = persistence.reset.bind(persistence);
    persistence.reset = (dirPath) => {
      for (const diskName of [...this.byDiskName.keys()]) this.release(diskName);
      reset(dirPath);
    };
  }
}

/**
 * Where bytes `start` to `end` (exclusive) of a concatenation fall: for each part they touch, its
 * index and the offsets within it (`to` exclusive). Shared by the synchronous and streamed readers.
 */
export function slicesOf(sizes: readonly number[], start: number, end: number): { index: number; from: number; to: number }[] {
  const slices: { index: number; from: number; to: number }[] = [];
  let at = 0;
  sizes.forEach((size, index) => {
    const from = Math.max(start, at) - at;
    const to = Math.min(end, at + size) - at;
    at += size;
    if (from < to) slices.push({ index, from, to });
  });
  return slices;
}

/** `size` bytes from `offset` of the components' concatenation (as firebase-tools' readBytes: synchronous, zero-filled past the end). */
function readAcross(parts: readonly Component[], size: number, offset: number): Buffer {
  const out = Buffer.alloc(size);
  let filled = 0;
  for (const { index, from, to } of slicesOf(parts.map((p) => p.size), offset, offset + size)) {
    const fd = openSync((parts[index] as Component).path, "r");
    try {
      for (let at = from; at < to; ) {
        const got = readSync(fd, out, filled, to - at, at);
        if (got === 0) break;
        at += got;
        filled += got;
      }
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

function unlinkAll(parts: readonly Component[]): void {
  for (const part of parts) {
    try {
      unlinkSync(part.path);
    } catch {
      // already gone (the whole directory removed at stop)
    }
  }
}
