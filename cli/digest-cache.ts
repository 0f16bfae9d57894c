// What `profile set` remembers of files it hashed: (device, inode, size, mtime, ctime) -> SHA-256,
// so a file sent before is declared at open (the service skips what it holds) without reading it
// again. ctime is in the key as git's index has it: any write to the file changes it, and no tool
// can set it back. One JSON file, digests.json, beside the upload state's directory (cli/state.ts).
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FileDigest } from './hash';
import { stateDir } from './state';

/** Entries kept (the most recently used); a few KB of JSON. */
const MAX_ENTRIES = 256;

interface Entry {
  size: number;
  sha256: string;
  used_at: string;
}

/** A file's identity as the cache knows it: changes whenever its content may have. */
export async function fileIdentity(path: string): Promise<string> {
  const st = await stat(path, { bigint: true });
  return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':');
}

export class DigestCache {
  /** The file as this run first read it: one read for all of a run's lookups. */
  private loaded?: Promise<Record<string, Entry>>;

  constructor(private readonly file = join(dirname(stateDir()), 'digests.json')) {}

  async get(identity: string): Promise<FileDigest | undefined> {
    this.loaded ??= this.read();
    const entry = (await this.loaded)[identity];
    const valid = entry && Number.isSafeInteger(entry.size) && typeof entry.sha256 === 'string' && /^[\da-f]{64}$/.test(entry.sha256);
    return valid ? { size: entry.size, sha256: entry.sha256 } : undefined;
  }

  /** Remembers digests (a failure to write is no error: the cache only saves a read). */
  async put(digests: ReadonlyMap<string, FileDigest>): Promise<void> {
    if (digests.size === 0) return;
    try {
      // Read again, not the copy lookups used: another run may have written meanwhile.
      const entries = await this.read();
      const now = new Date().toISOString();
      for (const [identity, d] of digests) entries[identity] = { size: d.size, sha256: d.sha256, used_at: now };
      const kept = Object.entries(entries)
        .sort(([, a], [, b]) => b.used_at.localeCompare(a.used_at))
        .slice(0, MAX_ENTRIES);
      await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, `${JSON.stringify(Object.fromEntries(kept))}\n`, { mode: 0o600 });
      await rename(tmp, this.file);
    } catch {
      // a read-only or full state directory: the next run hashes again
    }
  }

  private async read(): Promise<Record<string, Entry>> {
    try {
      const v = JSON.parse(await readFile(this.file, 'utf8')) as unknown;
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, Entry>) : {};
    } catch {
      return {};
    }
  }
}
