// Upload sessions with transfer "parts": each part goes to its own GCS resumable session (plain
// fetch to the Storage emulator), the service hashes landed parts in order (POST .../verify, a
// SHA-256 state carried between calls) and finalize composes them into the file's blob.
import { describe, expect, it } from 'vitest';
import { createMachineId, postProfile, profileForm, randomFile, sha256, storedBlob, storedBlobIds, type ProfileBody } from './helpers/profiles';
import { expectProblem } from './helpers/problem';
import { currentRoot, request, useLocalStack } from './helpers/stack';

const MiB = 1024 * 1024;
const stack = useLocalStack();
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

interface Part {
  number: number;
  offset: number;
  size: number;
  blob_id: string;
  url: string;
}
interface PartsFile {
  blob_id: string;
  size: number;
  sha256: string | null;
  upload: { transfer: 'parts'; method: 'PUT'; part_size: number; parts: Part[] } | null;
  verified_bytes?: number;
}
interface Session {
  id: string;
  state: string;
  files: { kernel: PartsFile; initrd: PartsFile };
}

function openParts(machineId: string, files: { kernel: Buffer; initrd: Buffer }, declare: { kernel?: string; initrd?: string } = {}) {
  const file = (name: 'kernel' | 'initrd') => ({ size: files[name].length, ...(declare[name] ? { sha256: declare[name] } : {}) });
  return api<Session>('POST', '/api/v1/uploads', { json: { machine_id: machineId, mode: 'create', transfer: 'parts', kernel_args: ['quiet'], kernel: file('kernel'), initrd: file('initrd') } });
}

async function putPart(part: Part, data: Buffer): Promise<void> {
  const res = await fetch(part.url, { method: 'PUT', body: new Uint8Array(data.subarray(part.offset, part.offset + part.size)) });
  await res.arrayBuffer();
  expect(res.status, `part ${part.number}`).toBe(200);
}

const partsOf = (file: PartsFile): Part[] => file.upload?.parts ?? [];
const verify = (id: string, query = '') => api<Session>('POST', `/api/v1/uploads/${id}/verify${query}`);
const finalize = (id: string, json?: unknown) => api<ProfileBody>('POST', `/api/v1/uploads/${id}/finalize`, json === undefined ? undefined : { json });

describe('upload sessions in parts', () => {
  it('lays files out in parts, hashes landed parts in order, and finalize composes them into the declared blob', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(MiB + 7);
    const initrd = randomFile(20 * MiB + 5);
    const opened = await openParts(machineId, { kernel, initrd });
    expect(opened.status).toBe(201);
    const session = opened.body;
    expect(session.files.initrd).toMatchObject({ size: initrd.length, sha256: null, verified_bytes: 0, upload: { transfer: 'parts', method: 'PUT', part_size: 8 * MiB } });
    expect(partsOf(session.files.initrd).map(({ number, offset, size }) => ({ number, offset, size }))).toEqual([
      { number: 1, offset: 0, size: 8 * MiB },
      { number: 2, offset: 8 * MiB, size: 8 * MiB },
      { number: 3, offset: 16 * MiB, size: 4 * MiB + 5 },
    ]);
    expect(partsOf(session.files.kernel)).toHaveLength(1);
    const [p1, p2, p3] = partsOf(session.files.initrd) as [Part, Part, Part];

    // Out of order: part 2 first. Nothing can be hashed before part 1.
    await putPart(p2, initrd);
    expect((await verify(session.id)).body.files.initrd.verified_bytes).toBe(0);
    await putPart(p1, initrd);
    expect((await verify(session.id)).body.files.initrd.verified_bytes).toBe(16 * MiB);
    await Promise.all([putPart(p3, initrd), putPart(partsOf(session.files.kernel)[0] as Part, kernel)]);
    // Two overlapping calls: one advances, the other answers what is stored; neither goes back.
    const [a, b] = await Promise.all([verify(session.id), verify(session.id)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.headers.get('cache-control')).toBe('no-store');
    for (const res of [a, b]) expect(res.body.files.initrd.verified_bytes).toBeGreaterThanOrEqual(16 * MiB);

    const done = await finalize(session.id, { files: { kernel: { sha256: sha256(kernel) }, initrd: { sha256: sha256(initrd).toUpperCase() } } });
    expect(done.status).toBe(201);
    expect(done.body).toMatchObject({
      machine_id: machineId,
      kernel: { id: session.files.kernel.blob_id, sha256: sha256(kernel), size: kernel.length, args: ['quiet'] },
      initrd: { id: session.files.initrd.blob_id, sha256: sha256(initrd), size: initrd.length },
    });
    expect(sha256(await storedBlob(session.files.initrd.blob_id))).toBe(sha256(initrd));
    const [meta] = await currentRoot().clients.bucket.file(`blobs/${session.files.initrd.blob_id}`).getMetadata();
    expect(Number(meta.componentCount)).toBe(3);
    // The parts are spent: deleted once composed.
    const stored = await storedBlobIds();
    for (const part of [...partsOf(session.files.initrd), ...partsOf(session.files.kernel)]) expect(stored).not.toContain(part.blob_id);
    // Finalize again: the same profile; the session shows the verified SHA-256.
    const again = await finalize(session.id);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(done.body);
    const read = await api<Session>('GET', `/api/v1/uploads/${session.id}`);
    expect(read.body).toMatchObject({ state: 'finalized', files: { initrd: { sha256: sha256(initrd), upload: null, verified_bytes: initrd.length } } });
  });

  it('without any declaration the SHA-256 the service computed names the file; finalize hashes what verify did not', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(3 * MiB);
    const initrd = randomFile(9 * MiB);
    const { body: session } = await openParts(machineId, { kernel, initrd });
    for (const file of [session.files.kernel, session.files.initrd]) for (const part of partsOf(file)) await putPart(part, file === session.files.kernel ? kernel : initrd);
    const done = await finalize(session.id);
    expect(done.status).toBe(201);
    expect(done.body.initrd).toMatchObject({ sha256: sha256(initrd), size: initrd.length });
    expect(sha256(await storedBlob(done.body.kernel.id))).toBe(sha256(kernel));
  });

  it('a missing part: 409 upload-incomplete counting the parts that landed; once it lands, finalize commits', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(MiB);
    const initrd = randomFile(17 * MiB);
    const { body: session } = await openParts(machineId, { kernel, initrd }, { initrd: sha256(initrd) });
    const [p1, p2, p3] = partsOf(session.files.initrd) as [Part, Part, Part];
    await putPart(partsOf(session.files.kernel)[0] as Part, kernel);
    await putPart(p1, initrd);
    await putPart(p3, initrd);
    const early = expectProblem(await finalize(session.id), 409, 'upload-incomplete');
    expect(early.files).toEqual({ kernel: { size: kernel.length, bytes_received: kernel.length, complete: true }, initrd: { size: initrd.length, bytes_received: p1.size + p3.size, complete: false } });
    await putPart(p2, initrd);
    expect((await finalize(session.id)).status).toBe(201);
  });

  it('bytes that are not the declared ones: 422 checksum-mismatch, nothing committed, the parts deleted, the session cancelled', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(MiB);
    const initrd = randomFile(10 * MiB);
    const declared = sha256(randomFile(16));
    const { body: session } = await openParts(machineId, { kernel, initrd }, { initrd: declared });
    await putPart(partsOf(session.files.kernel)[0] as Part, kernel);
    for (const part of partsOf(session.files.initrd)) await putPart(part, initrd);
    const res = expectProblem(await finalize(session.id), 422, 'checksum-mismatch');
    expect(res).toMatchObject({ field: 'initrd', declared: { size: initrd.length, sha256: declared }, actual: { size: initrd.length, sha256: sha256(initrd) } });
    expectProblem(await api('GET', `/api/v1/boot/${machineId}/profile`), 404, 'boot-profile-not-found');
    const stored = await storedBlobIds();
    for (const part of partsOf(session.files.initrd)) expect(stored).not.toContain(part.blob_id);
    expect(stored).not.toContain(session.files.initrd.blob_id);
    expect((await api<Session>('GET', `/api/v1/uploads/${session.id}`)).body.state).toBe('cancelled');
    expectProblem(await verify(session.id), 409, 'upload-session-cancelled');
  });

  it('content the service already holds: declared at open nothing is sent; found at finalize the held blob is referenced and the parts deleted', async () => {
    const kernel = randomFile(MiB);
    const initrd = randomFile(9 * MiB);
    const first = await postProfile(stack.url, profileForm({ machine_id: await createMachineId(stack.url), kernel, initrd }));
    expect(first.status).toBe(201);

    const declaredMachine = await createMachineId(stack.url);
    const { body: declared } = await openParts(declaredMachine, { kernel, initrd }, { kernel: sha256(kernel), initrd: sha256(initrd) });
    expect(declared.files.initrd).toMatchObject({ blob_id: first.body.initrd.id, upload: null });
    expect((await finalize(declared.id)).body.initrd.id).toBe(first.body.initrd.id);

    const blobsBefore = await storedBlobIds();
    const lateMachine = await createMachineId(stack.url);
    const { body: late } = await openParts(lateMachine, { kernel, initrd });
    for (const file of [late.files.kernel, late.files.initrd]) for (const part of partsOf(file)) await putPart(part, file === late.files.kernel ? kernel : initrd);
    const done = await finalize(late.id);
    expect(done.status).toBe(201);
    expect(done.body.initrd.id).toBe(first.body.initrd.id);
    expect(done.body.kernel.id).toBe(first.body.kernel.id);
    expect((await storedBlobIds()).sort()).toEqual(blobsBefore.sort());
  });

  it('refuses what it cannot take: a resumable file without SHA-256, late declarations for unknown files or that differ, a non-JSON finalize body', async () => {
    const machineId = await createMachineId(stack.url);
    const noHash = await api('POST', '/api/v1/uploads', { json: { machine_id: machineId, mode: 'create', kernel: { size: 10 }, initrd: { size: 10, sha256: 'ab'.repeat(32) } } });
    expect(expectProblem(noHash, 400, 'validation-error').invalid_fields).toEqual([{ field: 'kernel.sha256', reason: expect.stringContaining('transfer "resumable"') }]);
    expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: machineId, mode: 'create', transfer: 'chunks', kernel: { size: 10 }, initrd: { size: 10 } } }), 400, 'validation-error');

    const kernel = randomFile(MiB);
    const initrd = randomFile(MiB);
    const { body: session } = await openParts(machineId, { kernel, initrd }, { kernel: sha256(kernel) });
    const unknown = expectProblem(await finalize(session.id, { files: { 'kernel.arm64': { sha256: sha256(kernel) } } }), 400, 'validation-error');
    expect(unknown.invalid_fields).toEqual([{ field: 'files.kernel.arm64', reason: 'not a file this session sends in parts' }]);
    const differs = expectProblem(await finalize(session.id, { files: { kernel: { sha256: sha256(initrd) } } }), 400, 'validation-error');
    expect(differs.invalid_fields).toEqual([{ field: 'files.kernel.sha256', reason: expect.stringContaining('differs from the SHA-256 declared at open') }]);
    expectProblem(await api('POST', `/api/v1/uploads/${session.id}/finalize`, { headers: { 'content-type': 'text/plain' }, body: 'kernel' }), 415, 'unsupported-media-type');
    expect((await api<Session>('GET', `/api/v1/uploads/${session.id}`)).body.state).toBe('open');
  });

  it('one verify?wait call follows the upload: it answers once every part has landed and is hashed, and the SHA-256 it stored is what finalize commits', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(MiB);
    const initrd = randomFile(17 * MiB);
    const { body: session } = await openParts(machineId, { kernel, initrd });
    const asked = Date.now();
    const following = verify(session.id, '?wait=20');
    // The parts arrive one by one, slowly, while the call waits.
    for (const [file, data] of [[session.files.kernel, kernel], [session.files.initrd, initrd]] as const) {
      for (const part of partsOf(file)) {
        await new Promise((resolve) => setTimeout(resolve, 150));
        await putPart(part, data);
      }
    }
    const followed = await following;
    expect(followed.status).toBe(200);
    expect(Date.now() - asked).toBeLessThan(15_000);
    expect(followed.body.files.initrd.verified_bytes).toBe(initrd.length);
    expect(followed.body.files.kernel.verified_bytes).toBe(kernel.length);
    const done = await finalize(session.id, { files: { initrd: { sha256: sha256(initrd) } } });
    expect(done.status).toBe(201);
    expect(done.body.initrd.sha256).toBe(sha256(initrd));

    for (const wait of ['121', 'soon', '-1']) expectProblem(await verify(session.id, `?wait=${wait}`), 400, 'validation-error');
  });

  it("an open session's parts are references the sweeper keeps", async () => {
    const machineId = await createMachineId(stack.url);
    const { body: session } = await openParts(machineId, { kernel: randomFile(MiB), initrd: randomFile(9 * MiB) });
    const referenced = await currentRoot().ledger.openSessionBlobIds(new Date());
    for (const part of [...partsOf(session.files.kernel), ...partsOf(session.files.initrd)]) expect(referenced.has(part.blob_id)).toBe(true);
  });
});
