import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

export interface FileDigest {
  size: number;
  sha256: string;
}

/** SHA-256 and size of a file, read through one reused 1 MiB buffer (memory stays flat). */
export async function hashFile(path: string, onBytes?: (n: number) => void): Promise<FileDigest> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  const fh = await open(path, 'r');
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      size += bytesRead;
      onBytes?.(bytesRead);
    }
  } finally {
    await fh.close();
  }
  return { size, sha256: hash.digest('hex') };
}
