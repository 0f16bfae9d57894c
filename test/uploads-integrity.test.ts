// Upload sessions hold what they declared (issue 21): a session URI writes the declared length and
// no more, expired sessions' URIs are cancelled by the sweeper, a wrong size is refused before any
// hashing, and neither a cancel nor a refused finalize deletes bytes a committed profile names.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../shared/storage/blobs';
import { createMachineId, randomFile, sha256, storedBlob, storedBlobIds, type ProfileBody } from './helpers/profiles';
import { expectProblem } from './helpers/problem';
import { currentRoot, request, setEnv, useLocalStack } from './helpers/stack';
import { Switchable, withOverrides } from './helpers/switchable';

const KiB = 1024;
const graceSeconds = 1;
const blobs = new Switchable<BlobStore>();
const stack = useLocalStack({ BLOB_SWEEP_GRACE_SECONDS: String(graceSeconds) }, { decorate: (parts) => ({ ...parts, blobs: blobs.wrap(parts.blobs) }) });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);
afterEach(() => {
  blobs.reset();
  setEnv({ UPLOAD_SESSION_TTL_SECONDS: undefined });
});

interface UploadFile {
  blob_id: string;
  size: number;
  upload: { url: string } | null;
}
interface Session {
  id: string;
  state: string;
  expires_at: string;
  files: { kernel: UploadFile; initrd: UploadFile };
}

const describeFile = (data: Buffer) => ({ size: data.length, sha256: sha256(data) });
async function openSession(kernel: Buffer, initrd: Buffer): Promise<{ machineId: string; session: Session }> {
  const machineId = await createMachineId(stack.url);
  const res = await api<Session>('POST', '/api/v1/uploads', { json: { machine_id: machineId, mode: 'create', kernel: describeFile(kernel), initrd: describeFile(initrd) } });
  expect(res.status).toBe(201);
  return { machineId, session: res.body };
}
const put = async (url: string, body: Buffer, contentRange?: string) => {
  const res = await fetch(url, { method: 'PUT', headers: contentRange ? { 'Content-Range': contentRange } : {}, body: body as unknown as BodyInit });
  await res.arrayBuffer();
  return res.status;
};
async function uploadAll(session: Session, kernel: Buffer, initrd: Buffer): Promise<void> {
  expect(await put(session.files.kernel.upload?.url as string, kernel)).toBe(200);
  expect(await put(session.files.initrd.upload?.url as string, initrd)).toBe(200);
}
const finalize = (id: string) => api<ProfileBody>('POST', `/api/v1/uploads/${id}/finalize`);

describe('a session URI writes the declared length and no more', () => {
  it('more bytes than declared, a chunk past it or another total: 400 from Storage, then the declared bytes finalize', async () => {
    const kernel = randomFile(256 * KiB);
    const initrd = randomFile(512 * KiB);
    const { session } = await openSession(kernel, initrd);
    const url = session.files.initrd.upload?.url as string;
    expect(await put(url, Buffer.concat([initrd, randomFile(256 * KiB)]))).toBe(400);
    expect(await put(url, Buffer.concat([initrd, randomFile(16)]), `bytes 0-${initrd.length + 15}/*`)).toBe(400);
    expect(await put(url, Buffer.concat([initrd, initrd]), `bytes 0-${2 * initrd.length - 1}/${2 * initrd.length}`)).toBe(400);
    expect(await put(session.files.kernel.upload?.url as string, kernel)).toBe(200);
    expect(await put(url, initrd, `bytes 0-${initrd.length - 1}/${initrd.length}`)).toBe(200);
    expect((await finalize(session.id)).status).toBe(201);
    expect((await storedBlob(session.files.initrd.blob_id)).equals(initrd)).toBe(true);
  });
});

describe('expired sessions', () => {
  it('the sweeper cancels their upload URIs: nothing more can be written through them', async () => {
    setEnv({ UPLOAD_SESSION_TTL_SECONDS: '4' });
    const kernel = randomFile(256 * KiB);
    const initrd = randomFile(512 * KiB);
    const { session } = await openSession(kernel, initrd);
    const kernelUrl = session.files.kernel.upload?.url as string;
    const initrdUrl = session.files.initrd.upload?.url as string;
    // The kernel finished in time; the initrd got half-way.
    expect(await put(kernelUrl, kernel)).toBe(200);
    expect(await put(initrdUrl, initrd.subarray(0, 256 * KiB), `bytes 0-${256 * KiB - 1}/*`)).toBe(308);

    // Before expiry the sweep leaves the session alone (checked when this machine was quick
    // enough to sweep before the expiry; a loaded one goes straight to the rest).
    expect((await api('POST', '/internal/blobs/sweep')).status).toBe(200);
    if (Date.now() < Date.parse(session.expires_at)) expect(await put(initrdUrl, Buffer.alloc(0), 'bytes */*')).toBe(308);

    await sleep(Math.max(0, Date.parse(session.expires_at) - Date.now()) + 100);
    expect((await api('POST', '/internal/blobs/sweep')).status).toBe(200);
    // The rest of the initrd is refused by Storage itself: the URI is dead (410 gone, as after a cancel).
    expect(await put(initrdUrl, initrd.subarray(256 * KiB), `bytes ${256 * KiB}-${initrd.length - 1}/${initrd.length}`)).toBe(410);
    expect(await storedBlobIds()).not.toContain(session.files.initrd.blob_id);
    expectProblem(await finalize(session.id), 410, 'upload-session-expired');
    // A second sweep has nothing left to cancel and still answers.
    expect((await api('POST', '/internal/blobs/sweep')).status).toBe(200);
  });
});

describe('finalize', () => {
  it('refuses a stored object of another size before hashing anything (422, actual size only), and removes it', async () => {
    const kernel = randomFile(256 * KiB);
    const initrd = randomFile(512 * KiB);
    const { machineId, session } = await openSession(kernel, initrd);
    await uploadAll(session, kernel, initrd);
    // Written around the session (an admin, or a session opened without a declared length).
    await currentRoot().clients.bucket.file(`blobs/${session.files.kernel.blob_id}`).save(randomFile(300 * KiB), { resumable: false });
    const reads: string[] = [];
    blobs.use(withOverrides(blobs.real, { read: (id, range) => (reads.push(id), blobs.real.read(id, range)), readWhole: (id, onPiece) => (reads.push(id), blobs.real.readWhole(id, onPiece)) }));

    const res = expectProblem(await finalize(session.id), 422, 'checksum-mismatch');
    expect(res).toMatchObject({ field: 'kernel', declared: describeFile(kernel), actual: { size: 300 * KiB } });
    expect(res.actual).not.toHaveProperty('sha256');
    expect(reads).toEqual([]);
    expect(await storedBlobIds()).not.toContain(session.files.kernel.blob_id);
    expectProblem(await api('GET', `/api/v1/boot/${machineId}/profile`), 404, 'boot-profile-not-found');
    expect((await api<Session>('GET', `/api/v1/uploads/${session.id}`)).body.state).toBe('cancelled');
  });

  it('a mismatch seen by one finalize while another commits deletes nothing: both answer the committed profile', async () => {
    const kernel = randomFile(256 * KiB);
    const initrd = randomFile(512 * KiB);
    const { machineId, session } = await openSession(kernel, initrd);
    await uploadAll(session, kernel, initrd);
    // The first finalize's first read stalls, then yields wrong bytes (a bad read, say);
    // meanwhile a second finalize reads the real ones and commits.
    let stalled!: () => void;
    const readStarted = new Promise<void>((resolve) => (stalled = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    blobs.use(
      withOverrides(blobs.real, {
        readWhole: async (id, onPiece) => {
          if (!first) return blobs.real.readWhole(id, onPiece);
          first = false;
          stalled();
          await released;
          const wrong = randomFile(kernel.length);
          onPiece(wrong);
          return wrong.length;
        },
      }),
    );
    const slow = finalize(session.id);
    await readStarted;
    const fast = await finalize(session.id);
    expect(fast.status).toBe(201);
    release();
    const late = await slow;
    expect(late.status).toBe(200);
    expect(late.body.id).toBe(fast.body.id);
    for (const [id, data] of [[session.files.kernel.blob_id, kernel], [session.files.initrd.blob_id, initrd]] as const) expect((await storedBlob(id)).equals(data)).toBe(true);
    expect((await api<ProfileBody>('GET', `/api/v1/boot/${machineId}/profile`)).body.id).toBe(fast.body.id);
  });
});

describe('cancel and finalize side by side', () => {
  it('one of them wins; a committed profile keeps every blob it names, through the sweep too', async () => {
    const outcomes = new Set<string>();
    const committed: string[] = [];
    for (let round = 0; round < 4; round++) {
      const kernel = randomFile(256 * KiB);
      const initrd = randomFile(256 * KiB * (round + 1));
      const { machineId, session } = await openSession(kernel, initrd);
      await uploadAll(session, kernel, initrd);
      // Alternate which request leaves first; the two then run together.
      const del = () => api('DELETE', `/api/v1/uploads/${session.id}`);
      const [cancelled, finalized] = round % 2 === 0 ? await Promise.all([del(), finalize(session.id)]) : await Promise.all([finalize(session.id), del()]).then(([f, c]) => [c, f] as const);
      const profile = await api<ProfileBody>('GET', `/api/v1/boot/${machineId}/profile`);
      if (finalized.status === 201) {
        outcomes.add('finalize');
        expectProblem(cancelled, 409, 'upload-session-finalized');
        expect(profile.status).toBe(200);
        committed.push(profile.body.kernel.id, profile.body.initrd.id);
        for (const [id, data] of [[session.files.kernel.blob_id, kernel], [session.files.initrd.blob_id, initrd]] as const) expect((await storedBlob(id)).equals(data)).toBe(true);
      } else {
        outcomes.add('cancel');
        expect(cancelled.status).toBe(204);
        expectProblem(finalized, 409, 'upload-session-cancelled');
        expect(profile.status).toBe(404);
      }
      expect((await api<Session>('GET', `/api/v1/uploads/${session.id}`)).body.state).toBe(finalized.status === 201 ? 'finalized' : 'cancelled');
    }
    // Past the grace period the sweep deletes orphans, never a committed profile's blobs.
    await sleep(graceSeconds * 1000 + 200);
    expect((await api('POST', '/internal/blobs/sweep')).status).toBe(200);
    const stored = new Set(await storedBlobIds());
    for (const id of committed) expect(stored.has(id), `blob ${id} of a committed profile`).toBe(true);
    expect(outcomes.size).toBeGreaterThan(0);
  });
});
