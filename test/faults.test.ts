import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import type { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { BootProfile } from '../shared/domain/profile';
import type { Inventory, ProfileContent } from '../shared/inventory/inventory';
import type { BlobStore } from '../shared/storage/blobs';
import { createMachineId, postProfile, profileForm, randomFile, sha256, storedBlob, storedBlobIds, type ProfileBody } from './helpers/profiles';
import { request, useLocalStack } from './helpers/stack';
import { mintLocalToken } from '../emulators/local-issuer';
import { expectProblem as expectSpecProblem } from './helpers/problem';
import { Switchable, withOverrides as wrap } from './helpers/switchable';

const graceSeconds = 1;
const blobs = new Switchable<BlobStore>();
const inventory = new Switchable<Inventory>();
const stack = useLocalStack(
  { BLOB_SWEEP_GRACE_SECONDS: String(graceSeconds), PROFILE_VERSION_RETENTION_SECONDS: '1' },
  { decorate: (parts) => ({ ...parts, blobs: blobs.wrap(parts.blobs), inventory: inventory.wrap(parts.inventory) }) },
);
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);
const MiB = 1024 * 1024;

/** In every injected error; it must never reach a client. */
const secret = `injected-fault-${randomBytes(6).toString('hex')}`;
const injected = (what: string) => new Error(`${secret}: ${what}`);

function resetFaults(): void {
  blobs.reset();
  inventory.reset();
}

afterEach(resetFaults);

type WriteFault =
  /** openWrite itself throws. */
  | 'open'
  /** The upload breaks part-way (a reset connection, a 503 from Storage). */
  | 'mid-stream'
  /** The object lands in the bucket, but the write reports failure (a lost response). */
  | 'commit';

/** The real store, except that the `n`th openWrite fails as `fault` says. */
function failingWrites(n: number, fault: WriteFault): { store: BlobStore; opened: string[] } {
  const real = blobs.real;
  const opened: string[] = [];
  const store = wrap(real, {
    openWrite(id: string) {
      opened.push(id);
      if (opened.length !== n) return real.openWrite(id);
      if (fault === 'open') throw injected('could not open the upload');
      const { sink, done } = real.openWrite(id);
      if (fault === 'commit') {
        const failed = done.then(() => Promise.reject(injected('upload response lost')));
        failed.catch(() => undefined);
        return { sink, done: failed };
      }
      breakDuringFirstWrite(sink);
      return { sink, done };
    },
  });
  return { store, opened };
}

/** The first write sends half its bytes, then the connection breaks. */
function breakDuringFirstWrite(sink: Writable): void {
  const write = sink.write.bind(sink) as (chunk: Buffer) => boolean;
  sink.write = ((chunk: Buffer) => {
    write(chunk.subarray(0, Math.ceil(chunk.length / 2)));
    sink.destroy(injected('connection reset during upload'));
    return false;
  }) as Writable['write'];
}

function expectProblem(res: { status: number; headers: Headers; body: unknown; text: string }, status: number, slug: string): Record<string, unknown> {
  const body = expectSpecProblem(res, status, slug);
  expect(res.text).not.toContain(secret);
  expect(res.text).not.toMatch(/injected|stack|at \w+ \(/i);
  return body;
}

async function expectNoProfile(machineId: string): Promise<void> {
  const res = await api('GET', `/api/v1/boot/${machineId}/profile`);
  expect(res.status).toBe(404);
}

/** The machine is not left linked to a profile that is not there: a new profile can be created. */
async function expectMachineFree(machineId: string): Promise<void> {
  resetFaults();
  const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(64), initrd: randomFile(64) }));
  expect(res.status).toBe(201);
}

async function createProfile(): Promise<{ machineId: string; profile: ProfileBody }> {
  const machineId = await createMachineId(stack.url);
  const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(256 * 1024), initrd: randomFile(128 * 1024), kernel_args: '["quiet"]' }));
  expect(res.status).toBe(201);
  return { machineId, profile: res.body };
}

async function expectProfileIntact(machineId: string, profile: ProfileBody): Promise<void> {
  const read = await api<ProfileBody>('GET', `/api/v1/boot/${machineId}/profile`);
  expect(read.status).toBe(200);
  expect(read.body).toEqual(profile);
  expect(sha256(await storedBlob(profile.kernel.id))).toBe(profile.kernel.sha256);
  expect(sha256(await storedBlob(profile.initrd.id))).toBe(profile.initrd.sha256);
}

const sortedIds = (ids: Iterable<string>): string[] => [...ids].sort();
const sweep = () => api<{ scanned: number; deleted: string[]; kept: number; young: number }>('POST', '/internal/blobs/sweep');
const pastGrace = () => sleep(graceSeconds * 1000 + 200);

describe('POST /api/v1/profiles: a failure at any step leaves nothing behind', () => {
  it.each<WriteFault>(['mid-stream', 'commit', 'open'])('Storage write of the second file fails (%s): 500 storage-error, no blob, no profile', async (fault) => {
    const machineId = await createMachineId(stack.url);
    const before = await storedBlobIds();
    const { store, opened } = failingWrites(2, fault);
    blobs.use(store);

    const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(MiB), initrd: randomFile(MiB) }));
    const body = expectProblem(res, 500, 'storage-error');
    expect(body.detail).toBe('Failed to store the uploaded files due to an internal error');
    expect(opened).toHaveLength(2);
    expect(await storedBlobIds()).toEqual(before);
    await expectNoProfile(machineId);
    await expectMachineFree(machineId);
  });

  it('Firestore create fails after both blobs were written: 500, both new blobs deleted, no profile', async () => {
    const machineId = await createMachineId(stack.url);
    const before = await storedBlobIds();
    let attempted: ProfileContent | undefined;
    let storedAtCommit: string[] = [];
    inventory.use(
      wrap(inventory.real, {
        async createProfile(profile: BootProfile): Promise<never> {
          attempted = profile;
          storedAtCommit = await storedBlobIds();
          throw injected('Firestore transaction aborted');
        },
      }),
    );

    const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(MiB), initrd: randomFile(MiB) }));
    const body = expectProblem(res, 500, 'internal-error');
    expect(body.detail).toBe('The request failed due to an internal error');
    if (!attempted) throw new Error('create was never reached');
    // Both blobs really were in the bucket when the commit failed, and are gone now.
    expect(storedAtCommit).toEqual(sortedIds([...before, attempted.kernel.id, attempted.initrd.id]));
    expect(await storedBlobIds()).toEqual(before);
    await expectNoProfile(machineId);
    await expectMachineFree(machineId);
  });
});

describe('PUT /api/v1/boot/{id}/profile: the old profile survives every failure', () => {
  it.each<[number, WriteFault]>([
    [1, 'mid-stream'],
    [2, 'commit'],
  ])('Storage write of file %i fails (%s): 500 storage-error, old profile and blobs intact, no new blob', async (n, fault) => {
    const { machineId, profile } = await createProfile();
    const before = await storedBlobIds();
    blobs.use(failingWrites(n, fault).store);

    const res = await api('PUT', `/api/v1/boot/${machineId}/profile`, { body: profileForm({ kernel: randomFile(MiB), initrd: randomFile(MiB) }) });
    expectProblem(res, 500, 'storage-error');
    expect(await storedBlobIds()).toEqual(before);
    await expectProfileIntact(machineId, profile);
  });

  it('Firestore replace fails: 500, old profile and blobs intact, new blobs deleted', async () => {
    const { machineId, profile } = await createProfile();
    const before = await storedBlobIds();
    let attempted: ProfileContent | undefined;
    let storedAtCommit: string[] = [];
    inventory.use(
      wrap(inventory.real, {
        async replaceProfile(_machineId: string, content: ProfileContent): Promise<never> {
          attempted = content;
          storedAtCommit = await storedBlobIds();
          throw injected('Firestore deadline exceeded');
        },
      }),
    );

    const res = await api('PUT', `/api/v1/boot/${machineId}/profile`, { body: profileForm({ kernel: randomFile(MiB), initrd: randomFile(MiB) }) });
    expectProblem(res, 500, 'internal-error');
    if (!attempted) throw new Error('replace was never reached');
    expect(storedAtCommit).toEqual(sortedIds([...before, attempted.kernel.id, attempted.initrd.id]));
    expect(await storedBlobIds()).toEqual(before);
    resetFaults();
    await expectProfileIntact(machineId, profile);
  });

  it('the old version stays downloadable for its retention, then the sweeper removes exactly its blobs', async () => {
    const { machineId, profile } = await createProfile();
    const before = await storedBlobIds();
    const deleteAttempts: string[] = [];
    blobs.use(wrap(blobs.real, { delete: async (id: string) => (deleteAttempts.push(id), blobs.real.delete(id)) }));

    const kernel = randomFile(MiB);
    const initrd = randomFile(MiB / 2);
    const res = await api<ProfileBody>('PUT', `/api/v1/boot/${machineId}/profile`, { body: profileForm({ kernel, initrd, kernel_args: '["ip=dhcp"]' }) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: profile.id, machine_id: machineId, kernel: { args: ['ip=dhcp'], sha256: sha256(kernel) }, initrd: { sha256: sha256(initrd) } });
    const old = [profile.kernel.id, profile.initrd.id];
    const fresh = [res.body.kernel.id, res.body.initrd.id];
    // Nothing is deleted by the replace itself: scripts served before it link to the old version.
    expect(deleteAttempts).toEqual([]);
    await expectProfileIntact(machineId, res.body);
    expect(await storedBlobIds()).toEqual(sortedIds([...before, ...fresh]));

    // Past the retention (1 s) and the sweeper's grace (1 s), exactly the old version goes.
    await pastGrace();
    const swept = await sweep();
    expect(swept.status).toBe(200);
    expect(sortedIds(swept.body.deleted)).toEqual(sortedIds(old));
    expect(await storedBlobIds()).toEqual(sortedIds([...before, ...fresh].filter((id) => !old.includes(id))));
    await expectProfileIntact(machineId, res.body);
  });
});

describe('DELETE /api/v1/boot/{id}/profile', () => {
  it('Firestore delete fails: 500, profile and blobs intact', async () => {
    const { machineId, profile } = await createProfile();
    const before = await storedBlobIds();
    inventory.use(wrap(inventory.real, { deleteProfile: (): Promise<never> => Promise.reject(injected('Firestore unavailable')) }));

    expectProblem(await api('DELETE', `/api/v1/boot/${machineId}/profile`), 500, 'internal-error');
    resetFaults();
    expect(await storedBlobIds()).toEqual(before);
    await expectProfileIntact(machineId, profile);
  });

  it('deleting the blobs fails after the profile is gone: 204; the blobs are orphans the sweeper removes', async () => {
    const { machineId, profile } = await createProfile();
    const before = await storedBlobIds();
    blobs.use(wrap(blobs.real, { delete: (): Promise<never> => Promise.reject(injected('Storage delete failed')) }));

    const res = await api('DELETE', `/api/v1/boot/${machineId}/profile`);
    expect(res.status).toBe(204);
    resetFaults();
    await expectNoProfile(machineId);
    expect(await storedBlobIds()).toEqual(before);

    await pastGrace();
    const swept = await sweep();
    expect(sortedIds(swept.body.deleted)).toEqual(sortedIds([profile.kernel.id, profile.initrd.id]));
    expect(await storedBlobIds()).toEqual(before.filter((id) => id !== profile.kernel.id && id !== profile.initrd.id));
  });
});

describe('the client goes away', () => {
  /** A multipart POST over a raw socket: the head and the first `sent` bytes of a body announced as `announced` bytes. */
  async function abortedUpload(machineId: string, announced: number, sent: number): Promise<void> {
    const { hostname, port } = new URL(stack.url);
    const socket = net.connect(Number(port), hostname);
    await once(socket, 'connect');
    const boundary = 'clientWentAwayBoundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="machine_id"\r\n\r\n${machineId}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="kernel"; filename="vmlinuz"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    );
    socket.write(
      `POST /api/v1/profiles HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${mintLocalToken()}\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: ${announced}\r\n\r\n`,
    );
    socket.write(head);
    for (let written = head.length; written < sent; written += 256 * 1024) {
      if (!socket.write(randomFile(Math.min(256 * 1024, sent - written)))) await once(socket, 'drain');
    }
    await sleep(100);
    socket.destroy();
  }

  it('mid-body: no blob, no profile, and the handler never ran', async () => {
    const machineId = await createMachineId(stack.url);
    const before = await storedBlobIds();
    const real = blobs.real;
    const opened: string[] = [];
    blobs.use(wrap(real, { openWrite: (id: string) => (opened.push(id), real.openWrite(id)) }));

    await abortedUpload(machineId, 8 * MiB, 2 * MiB);
    await sleep(500);

    // functions-framework reads the whole body before the function runs, so nothing was opened.
    expect(opened).toEqual([]);
    expect(await storedBlobIds()).toEqual(before);
    await expectNoProfile(machineId);
    await expectMachineFree(machineId);
  });

  it('while the profile is being committed: the request completes (all or nothing), no orphan', async () => {
    const machineId = await createMachineId(stack.url);
    const before = await storedBlobIds();
    const real = inventory.real;
    let reached!: () => void;
    const atCommit = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    inventory.use(
      wrap(real, {
        async createProfile(profile: BootProfile) {
          reached();
          await released;
          return real.createProfile(profile);
        },
      }),
    );

    const controller = new AbortController();
    const form = profileForm({ machine_id: machineId, kernel: randomFile(MiB), initrd: randomFile(MiB) });
    const upload = fetch(`${stack.url}/api/v1/profiles`, { method: 'POST', body: form, headers: { authorization: `Bearer ${mintLocalToken()}` }, signal: controller.signal }).catch((err: unknown) => err);
    await atCommit;
    controller.abort();
    expect(await upload).toBeInstanceOf(Error);
    release();
    await sleep(500);
    resetFaults();

    const read = await api<ProfileBody>('GET', `/api/v1/boot/${machineId}/profile`);
    expect(read.status).toBe(200);
    expect(await storedBlobIds()).toEqual(sortedIds([...before, read.body.kernel.id, read.body.initrd.id]));
    await expectProfileIntact(machineId, read.body);
  });

  it('afterwards a sweep finds nothing to delete: no test in this file left an orphan', async () => {
    const before = await storedBlobIds();
    await pastGrace();
    const swept = await sweep();
    expect(swept.status).toBe(200);
    expect(swept.body).toMatchObject({ deleted: [], scanned: before.length, kept: before.length, young: 0 });
    expect(await storedBlobIds()).toEqual(before);
  });
});
