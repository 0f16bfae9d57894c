import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { PartsProgress, PartsTarget } from '../inventory/inventory';
import { hashPartsInOrder, maxParts, minPartSize, PartHashes, partLayout } from './parts';

const MiB = 1024 * 1024;

describe('partLayout', () => {
  it.each([1, 5, 8 * MiB - 1, 8 * MiB, 8 * MiB + 1, 151 * MiB + 12345, 256 * MiB, 256 * MiB + 1, 1024 * MiB, 5 * 1024 * MiB + 7])('%i bytes: consecutive parts covering the file, at most 32, every part but the last >= 8 MiB and a multiple of 256 KiB', (size) => {
    const { partSize, parts } = partLayout(size);
    expect(parts.length).toBeGreaterThanOrEqual(1);
    expect(parts.length).toBeLessThanOrEqual(maxParts);
    expect(partSize % (256 * 1024)).toBe(0);
    expect(partSize).toBeGreaterThanOrEqual(minPartSize);
    let offset = 0;
    parts.forEach((part, i) => {
      expect(part).toMatchObject({ number: i + 1, offset });
      if (i < parts.length - 1) expect(part.size).toBe(partSize);
      else expect(part.size).toBeGreaterThan(0);
      offset += part.size;
    });
    expect(offset).toBe(size);
  });

  it('keeps parts at 8 MiB until 32 of them are not enough', () => {
    expect(partLayout(151 * MiB).partSize).toBe(8 * MiB);
    expect(partLayout(256 * MiB).parts).toHaveLength(32);
    expect(partLayout(1024 * MiB).partSize).toBe(32 * MiB);
  });
});

describe('PartHashes and hashPartsInOrder', () => {
  const file = randomBytes(3 * 1000 + 17);
  const target: PartsTarget = {
    transfer: 'parts',
    method: 'PUT',
    part_size: 1000,
    parts: [0, 1, 2, 3].map((i) => ({ number: i + 1, offset: i * 1000, size: Math.min(1000, file.length - i * 1000), blob_id: `p${i + 1}`, url: '' })),
  };
  const sha = createHash('sha256').update(file).digest('hex');
  const reads: string[] = [];
  const reader = (landed: Set<string>, sizes: Record<string, number> = {}, failing?: string) => ({
    readWhole: async (id: string, onPiece: (piece: Buffer) => void) => {
      const part = target.parts.find((p) => p.blob_id === id);
      if (!part) throw new Error(id);
      if (!landed.has(id)) return null;
      reads.push(id);
      const bytes = file.subarray(part.offset, part.offset + (sizes[id] ?? part.size));
      // In pieces, as a socket delivers them; a failing read breaks after the first piece.
      onPiece(bytes.subarray(0, 7));
      if (id === failing) throw new Error('connection reset');
      onPiece(bytes.subarray(7));
      return bytes.length;
    },
  });

  it('advances in order across calls, each part read once per instance, to the SHA-256 of the whole file (recorded last)', async () => {
    reads.length = 0;
    const recorded: PartsProgress[] = [];
    const record = async (p: PartsProgress) => void recorded.push(p);
    const hashes = new PartHashes();
    expect(await hashes.advance('s/initrd', target, reader(new Set(['p1', 'p3'])), record)).toMatchObject({ complete: false, waitingFor: 2, progress: { parts: 1, bytes: 1000 } });
    expect(await hashes.advance('s/initrd', target, reader(new Set(['p1', 'p2', 'p3', 'p4'])), record)).toEqual({ complete: true, progress: { parts: 4, bytes: file.length, sha256: sha }, sha256: sha });
    expect(reads).toEqual(['p1', 'p2', 'p3', 'p4']);
    // Once per call: where it stopped, then the finished SHA-256.
    expect(recorded).toEqual([{ parts: 1, bytes: 1000 }, { parts: 4, bytes: file.length, sha256: sha }]);
    // Another instance (no running hash) catches up from Storage; so does finalize's fresh hash.
    expect((await new PartHashes().advance('s/initrd', target, reader(new Set(['p1', 'p2', 'p3', 'p4'])), record)).complete).toBe(true);
    expect(await hashPartsInOrder(target, undefined, reader(new Set(['p1', 'p2', 'p3', 'p4'])))).toMatchObject({ complete: true, sha256: sha });
  });

  it('overlapping calls for one file run one after the other; a read that fails leaves the running hash where it was', async () => {
    const hashes = new PartHashes();
    const all = new Set(['p1', 'p2', 'p3', 'p4']);
    const [a, b] = await Promise.all([hashes.advance('k', target, reader(all), async () => undefined), hashes.advance('k', target, reader(all), async () => undefined)]);
    expect(a).toMatchObject({ complete: true, sha256: sha });
    expect(b).toMatchObject({ complete: true, sha256: sha });

    const flaky = new PartHashes();
    await expect(flaky.advance('f', target, reader(all, {}, 'p2'), async () => undefined)).rejects.toThrow('connection reset');
    expect(await flaky.advance('f', target, reader(all), async () => undefined)).toMatchObject({ complete: true, sha256: sha });
  });

  it('refuses to hash a stored part of the wrong size', async () => {
    expect(await hashPartsInOrder(target, undefined, reader(new Set(['p1']), { p1: 999 }))).toMatchObject({ complete: false, waitingFor: 1, wrongSize: 999 });
  });
});
