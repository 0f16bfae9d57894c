import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import winston from 'winston';
import { newId } from '../shared/domain/ids';
import type { BootProfile } from '../shared/domain/profile';
import type { Inventory } from '../shared/inventory/inventory';
import { sweepOrphanBlobs } from '../shared/profiles/sweep';
import type { BlobInfo, BlobStore } from '../shared/storage/blobs';
import { createMachineId, postProfile, profileForm, randomFile, sha256, storedBlob, storedBlobIds, type ProfileBody } from './helpers/profiles';
import { currentRoot, request, useLocalStack } from './helpers/stack';
import { Switchable, withOverrides } from './helpers/switchable';

const graceSeconds = 2;
const inventory = new Switchable<Inventory>();
const stack = useLocalStack({ BLOB_SWEEP_GRACE_SECONDS: String(graceSeconds) }, { decorate: (parts) => ({ ...parts, inventory: inventory.wrap(parts.inventory) }) });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

interface SweepBody {
  scanned: number;
  deleted: string[];
  kept: number;
  young: number;
}

const sweep = () => api<SweepBody>('POST', '/internal/blobs/sweep');
const sorted = (ids: Iterable<string>): string[] => [...ids].sort();

/** An object under blobs/ that no profile references, as a crash between two steps leaves it. */
async function writeOrphan(): Promise<string> {
  const id = newId();
  await currentRoot().clients.bucket.file(`blobs/${id}`).save(randomFile(512), { resumable: false });
  return id;
}

async function createProfile(): Promise<ProfileBody & { machineId: string }> {
  const machineId = await createMachineId(stack.url);
  const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(4096), initrd: randomFile(2048) }));
  expect(res.status).toBe(201);
  return { ...res.body, machineId };
}

const blobsOf = (p: ProfileBody): string[] => [p.kernel.id, p.initrd.id];

describe('POST /internal/blobs/sweep through the gateway', () => {
  it('deletes old orphans and keeps referenced blobs and young orphans', async () => {
    // Old: two real profiles (referenced) and three orphans.
    const oldProfiles = [await createProfile(), await createProfile()];
    const oldOrphans = [await writeOrphan(), await writeOrphan(), await writeOrphan()];
    await sleep(graceSeconds * 1000 + 300);
    // Young: orphans as an upload in flight has them (written, not yet committed), and a fresh profile.
    const youngOrphans = [await writeOrphan(), await writeOrphan()];
    const youngProfile = await createProfile();
    const referenced = [...oldProfiles, youngProfile].flatMap(blobsOf);
    expect(await storedBlobIds()).toEqual(sorted([...referenced, ...oldOrphans, ...youngOrphans]));

    const res = await sweep();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(sorted(res.body.deleted)).toEqual(sorted(oldOrphans));
    expect(res.body).toEqual({ scanned: 11, deleted: expect.any(Array), kept: 4, young: 4 });

    // Exactly the referenced blobs plus the young ones remain, and the profiles still serve.
    expect(await storedBlobIds()).toEqual(sorted([...referenced, ...youngOrphans]));
    for (const profile of [...oldProfiles, youngProfile]) {
      const read = await api<ProfileBody>('GET', `/api/v1/boot/${profile.machineId}/profile`);
      expect(read.status).toBe(200);
      expect(sha256(await storedBlob(read.body.kernel.id))).toBe(read.body.kernel.sha256);
      expect(sha256(await storedBlob(read.body.initrd.id))).toBe(read.body.initrd.sha256);
    }

    // Running it again changes nothing.
    const again = await sweep();
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ scanned: 8, deleted: [], kept: 4, young: 4 });
    expect(await storedBlobIds()).toEqual(sorted([...referenced, ...youngOrphans]));

    // Once the young orphans age past the grace period, they go too; profiles' blobs never do.
    await sleep(graceSeconds * 1000 + 300);
    const later = await sweep();
    expect(sorted(later.body.deleted)).toEqual(sorted(youngOrphans));
    expect(later.body).toMatchObject({ scanned: 8, kept: 6, young: 0 });
    expect(await storedBlobIds()).toEqual(sorted(referenced));
  });

  it('is safe while an upload is in flight: blobs written but not yet committed are kept', async () => {
    const before = new Set(await storedBlobIds());
    // An orphan old enough to sweep, so the sweep has real work to do while the upload waits.
    const orphan = await writeOrphan();
    await sleep(graceSeconds * 1000 + 300);

    // Hold the upload between "both blobs written" and "profile committed": the window a sweep must respect.
    const real = inventory.real;
    let reachedCommit!: (profile: BootProfile) => void;
    const atCommit = new Promise<BootProfile>((resolve) => (reachedCommit = resolve));
    let releaseCommit!: () => void;
    const released = new Promise<void>((resolve) => (releaseCommit = resolve));
    inventory.use(
      withOverrides(real, {
        async createProfile(profile: BootProfile) {
          reachedCommit(profile);
          await released;
          return real.createProfile(profile);
        },
      }),
    );
    try {
      const machineId = await createMachineId(stack.url);
      const kernel = randomFile(3 * 1024 * 1024);
      const initrd = randomFile(1024 * 1024);
      const upload = postProfile(stack.url, profileForm({ machine_id: machineId, kernel, initrd }));
      const pending = await atCommit;
      const inFlight = [pending.kernel.id, pending.initrd.id];
      expect(await storedBlobIds()).toEqual(sorted([...before, orphan, ...inFlight]));

      const swept = await sweep();
      expect(swept.status).toBe(200);
      expect(swept.body.deleted).toEqual([orphan]);
      expect(swept.body.young).toBe(2);
      expect(await storedBlobIds()).toEqual(sorted([...before, ...inFlight]));

      releaseCommit();
      const created = await upload;
      expect(created.status).toBe(201);
      expect(sorted(blobsOf(created.body))).toEqual(sorted(inFlight));
      expect(sha256(await storedBlob(created.body.kernel.id))).toBe(sha256(kernel));
      expect(sha256(await storedBlob(created.body.initrd.id))).toBe(sha256(initrd));
    } finally {
      releaseCommit();
      inventory.reset();
    }
  });

  it('answers only POST', async () => {
    const res = await api('GET', '/internal/blobs/sweep');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });
});

describe('sweepOrphanBlobs', () => {
  const now = new Date('2025-01-01T12:00:00Z');
  const graceMs = 60 * 60 * 1000;
  const ago = (ms: number) => new Date(now.getTime() - ms);

  function capturingLogger(): { log: winston.Logger; entries: Record<string, unknown>[] } {
    const entries: Record<string, unknown>[] = [];
    const stream = new Writable({
      objectMode: true,
      write(info: Record<string, unknown>, _enc, cb) {
        entries.push(info);
        cb();
      },
    });
    return { log: winston.createLogger({ level: 'debug', transports: [new winston.transports.Stream({ stream })] }), entries };
  }

  function memoryStore(blobs: BlobInfo[], opts: { onListed?: () => void; failDelete?: (id: string) => boolean } = {}): BlobStore & { ids(): string[] } {
    const live = new Map(blobs.map((b) => [b.id, b]));
    return {
      ids: () => sorted(live.keys()),
      async *list() {
        for (const blob of [...live.values()]) yield blob;
        opts.onListed?.();
      },
      async delete(id) {
        if (opts.failDelete?.(id)) throw new Error(`injected delete failure for ${id}`);
        live.delete(id);
      },
      openWrite: () => {
        throw new Error('not used');
      },
      readWhole: () => {
        throw new Error('not used');
      },
      read: () => {
        throw new Error('not used');
      },
      signedReadUrl: () => Promise.reject(new Error('not used')),
    };
  }

  function profilesReferencing(ids: () => Iterable<string>): Inventory {
    const unused = () => Promise.reject(new Error('not used'));
    return {
      createMachine: unused,
      getMachine: unused,
      listMachines: unused,
      replaceMachine: unused,
      deleteMachine: unused,
      findBootTarget: unused,
      getProfile: unused,
      getProfileOfMachine: unused,
      createProfile: unused,
      replaceProfile: unused,
      deleteProfile: unused,
      referencedBlobIds: async () => new Set(ids()),
    };
  }

  it('judges age against the grace period: exactly at the cutoff is still young', async () => {
    const store = memoryStore([
      { id: 'old-orphan', size: 1, created: ago(graceMs + 1) },
      { id: 'at-cutoff', size: 1, created: ago(graceMs) },
      { id: 'fresh', size: 1, created: ago(10) },
      { id: 'old-referenced', size: 1, created: ago(10 * graceMs) },
    ]);
    const { log } = capturingLogger();
    const result = await sweepOrphanBlobs({ store, inventory: profilesReferencing(() => ['old-referenced']), graceMs, now, log });
    expect(result).toEqual({ scanned: 4, deleted: ['old-orphan'], kept: 1, young: 2 });
    expect(store.ids()).toEqual(['at-cutoff', 'fresh', 'old-referenced']);
  });

  it('reads the referenced set after the listing, so a commit during the listing is seen', async () => {
    const referenced: string[] = [];
    // A profile that commits while the listing runs, naming a blob already listed.
    const store = memoryStore([{ id: 'committed-during-listing', size: 1, created: ago(2 * graceMs) }], { onListed: () => referenced.push('committed-during-listing') });
    const { log } = capturingLogger();
    const result = await sweepOrphanBlobs({ store, inventory: profilesReferencing(() => referenced), graceMs, now, log });
    expect(result).toEqual({ scanned: 1, deleted: [], kept: 1, young: 0 });
    expect(store.ids()).toEqual(['committed-during-listing']);
  });

  it('logs and counts a failed delete, and carries on with the others', async () => {
    const blobs = Array.from({ length: 20 }, (_, i) => ({ id: `orphan-${String(i).padStart(2, '0')}`, size: 1, created: ago(graceMs + 1000) }));
    const store = memoryStore(blobs, { failDelete: (id) => id === 'orphan-03' || id === 'orphan-17' });
    const { log, entries } = capturingLogger();
    const result = await sweepOrphanBlobs({ store, inventory: profilesReferencing(() => []), graceMs, now, log });
    expect(result.scanned).toBe(20);
    expect(result.kept).toBe(2);
    expect(result.young).toBe(0);
    expect(sorted(result.deleted)).toEqual(blobs.map((b) => b.id).filter((id) => id !== 'orphan-03' && id !== 'orphan-17'));
    expect(store.ids()).toEqual(['orphan-03', 'orphan-17']);
    const failures = entries.filter((e) => e.level === 'error');
    expect(failures.map((e) => e.blob_id)).toEqual(['orphan-03', 'orphan-17']);
    expect(entries.find((e) => e.level === 'info')).toMatchObject({ failed: 2, kept: 2, scanned: 20 });
  });
});
