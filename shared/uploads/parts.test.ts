import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { PartsProgress, PartsTarget } from '../inventory/inventory';
import { hashLandedParts, maxParts, minPartSize, partLayout } from './parts';

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

describe('hashLandedParts', () => {
  const file = randomBytes(3 * 1000 + 17);
  const target: PartsTarget = {
    transfer: 'parts',
    method: 'PUT',
    part_size: 1000,
    parts: [0, 1, 2, 3].map((i) => ({ number: i + 1, offset: i * 1000, size: Math.min(1000, file.length - i * 1000), blob_id: `p${i + 1}`, url: '' })),
  };
  const reader = (landed: Set<string>, sizes: Record<string, number> = {}) => ({
    stat: async (id: string) => (landed.has(id) ? (sizes[id] ?? (target.parts.find((p) => p.blob_id === id)?.size as number)) : null),
    read: (id: string) => {
      const part = target.parts.find((p) => p.blob_id === id);
      if (!part) throw new Error(id);
      // In small pieces, as a stream delivers them.
      const bytes = file.subarray(part.offset, part.offset + part.size);
      return Readable.from([bytes.subarray(0, 7), bytes.subarray(7)]);
    },
  });

  it('hashes in order across calls that carry the state, stopping at the first part not landed, to the SHA-256 of the whole file', async () => {
    const stored: PartsProgress[] = [];
    const record = async (_from: PartsProgress | undefined, to: PartsProgress) => (stored.push(to), true);
    const first = await hashLandedParts(target, undefined, reader(new Set(['p1', 'p3'])), record);
    expect(first).toMatchObject({ complete: false, waitingFor: 2, progress: { parts: 1, bytes: 1000 } });
    const second = await hashLandedParts(target, first.progress, reader(new Set(['p1', 'p2', 'p3', 'p4'])), record);
    expect(second).toEqual({ complete: true, progress: expect.objectContaining({ parts: 4, bytes: file.length }), sha256: createHash('sha256').update(file).digest('hex') });
    expect(stored.map((p) => p.parts)).toEqual([1, 2, 3, 4]);
  });

  it('stops without advancing when the compare-and-set is lost, and refuses to hash a stored part of the wrong size', async () => {
    const lost = await hashLandedParts(target, undefined, reader(new Set(['p1'])), async () => false);
    expect(lost).toMatchObject({ complete: false, raced: true, progress: undefined });
    const wrong = await hashLandedParts(target, undefined, reader(new Set(['p1']), { p1: 999 }), async () => true);
    expect(wrong).toMatchObject({ complete: false, waitingFor: 1, wrongSize: 999 });
  });
});
