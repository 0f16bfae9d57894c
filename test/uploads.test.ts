// Upload sessions (POST /api/v1/uploads ...): files go straight to the Storage emulator
// through GCS resumable session URIs with plain fetch; the service verifies and commits.
import { describe, expect, it } from 'vitest';
import type { BlobLedger } from '../shared/inventory/inventory';
import { createMachineId, postProfile, profileForm, randomFile, sha256, storedBlob, storedBlobIds, type ProfileBody } from './helpers/profiles';
import { expectProblem } from './helpers/problem';
import { currentRoot, request, useLocalStack } from './helpers/stack';
import { Switchable, withOverrides } from './helpers/switchable';

const MiB = 1024 * 1024;
const ledger = new Switchable<BlobLedger>();
const stack = useLocalStack({}, { decorate: (parts) => ({ ...parts, ledger: ledger.wrap(parts.ledger) }) });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);
const uuidV7 = /^[\da-f]{8}-[\da-f]{4}-7[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/;

interface UploadFile {
  blob_id: string;
  size: number;
  sha256: string;
  upload: { url: string; method: 'PUT'; chunk_multiple: number } | null;
}
interface Session {
  id: string;
  machine_id: string;
  mode: 'create' | 'replace';
  state: string;
  expires_at: string;
  kernel_args: string[];
  files: { kernel: UploadFile; initrd: UploadFile };
  profile?: ProfileBody;
}

const describeFile = (data: Buffer) => ({ size: data.length, sha256: sha256(data) });

function openSession(machineId: string, mode: 'create' | 'replace', kernel: Buffer, initrd: Buffer, extra: Record<string, unknown> = {}) {
  return api<Session>('POST', '/api/v1/uploads', { json: { machine_id: machineId, mode, kernel_args: ['console=ttyS0', 'ip=dhcp'], kernel: describeFile(kernel), initrd: describeFile(initrd), ...extra } });
}

const put = (url: string, contentRange: string | undefined, body?: Uint8Array, signal?: AbortSignal) =>
  // A Buffer is a fine body at run time; the DOM typing wants an ArrayBuffer-backed view.
  fetch(url, { method: 'PUT', headers: contentRange ? { 'Content-Range': contentRange } : {}, body: body as unknown as BodyInit | undefined, signal });

/** The whole file in chunks (a multiple of 256 KiB each but the last), as any GCS resumable client sends it. */
async function uploadInChunks(url: string, data: Buffer, chunk = 8 * MiB, from = 0): Promise<void> {
  for (let off = from; off < data.length; off += chunk) {
    const end = Math.min(off + chunk, data.length) - 1;
    const last = end === data.length - 1;
    const res = await put(url, `bytes ${off}-${end}/${last ? data.length : '*'}`, data.subarray(off, end + 1));
    await res.arrayBuffer();
    expect(res.status).toBe(last ? 200 : 308);
  }
}

async function uploadAll(session: Session, kernel: Buffer, initrd: Buffer): Promise<void> {
  if (session.files.kernel.upload) await uploadInChunks(session.files.kernel.upload.url, kernel);
  if (session.files.initrd.upload) await uploadInChunks(session.files.initrd.upload.url, initrd);
}

const finalize = (id: string) => api<ProfileBody>('POST', `/api/v1/uploads/${id}/finalize`);

async function machineWithProfile(kernel = randomFile(64 * 1024), initrd = randomFile(32 * 1024)): Promise<{ machineId: string; profile: ProfileBody }> {
  const machineId = await createMachineId(stack.url);
  const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel, initrd }));
  expect(res.status).toBe(201);
  return { machineId, profile: res.body };
}

async function expectNoProfile(machineId: string): Promise<void> {
  expectProblem(await api('GET', `/api/v1/boot/${machineId}/profile`), 404, 'boot-profile-not-found');
}

describe('upload sessions: create, upload straight to Storage, finalize', () => {
  it('creates a profile with a 40 MiB initrd (over the 32 MiB request cap) uploaded in chunks; finalize twice answers the same profile', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(3 * MiB + 5);
    const initrd = randomFile(40 * MiB + 123);
    expect(currentRoot().config.MAX_REQUEST_BYTES).toBe(32 * MiB);
    const before = await storedBlobIds();

    const opened = await openSession(machineId, 'create', kernel, initrd);
    expect(opened.status).toBe(201);
    expect(opened.headers.get('location')).toBe(`/api/v1/uploads/${opened.body.id}`);
    expect(opened.headers.get('x-api-version')).toBe('v1');
    const session = opened.body;
    expect(session).toMatchObject({ id: expect.stringMatching(uuidV7), machine_id: machineId, mode: 'create', state: 'open', kernel_args: ['console=ttyS0', 'ip=dhcp'] });
    expect(Date.parse(session.expires_at) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
    for (const [kind, data] of [['kernel', kernel], ['initrd', initrd]] as const) {
      expect(session.files[kind]).toEqual({
        blob_id: expect.stringMatching(uuidV7),
        size: data.length,
        sha256: sha256(data),
        upload: { url: expect.stringContaining('upload_id='), method: 'PUT', chunk_multiple: 262144 },
      });
    }
    // Nothing stored yet: the sessions only exist in Storage's upload state.
    expect(await storedBlobIds()).toEqual(before);

    await uploadAll(session, kernel, initrd);
    const done = await finalize(session.id);
    expect(done.status).toBe(201);
    expect(done.headers.get('location')).toBe(`/api/v1/boot/${machineId}/profile`);
    expect(done.body).toEqual({
      id: expect.stringMatching(uuidV7),
      machine_id: machineId,
      kernel: { id: session.files.kernel.blob_id, args: ['console=ttyS0', 'ip=dhcp'], sha256: sha256(kernel), size: kernel.length },
      initrd: { id: session.files.initrd.blob_id, sha256: sha256(initrd), size: initrd.length },
    });
    expect((await api('GET', `/api/v1/boot/${machineId}/profile`)).body).toEqual(done.body);
    expect(sha256(await storedBlob(done.body.initrd.id))).toBe(sha256(initrd));

    const again = await finalize(session.id);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(done.body);
    const read = await api<Session>('GET', `/api/v1/uploads/${session.id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id: session.id, state: 'finalized', profile: done.body, files: { kernel: { upload: null }, initrd: { upload: null } } });
  });

  it('replaces a profile (mode replace): 200, same profile id, new blobs, the old version retained', async () => {
    const { machineId, profile } = await machineWithProfile();
    const kernel = randomFile(MiB);
    const initrd = randomFile(5 * MiB);
    const opened = await openSession(machineId, 'replace', kernel, initrd, { kernel_args: ['quiet'] });
    expect(opened.status).toBe(201);
    await uploadAll(opened.body, kernel, initrd);
    const done = await finalize(opened.body.id);
    expect(done.status).toBe(200);
    expect(done.headers.get('location')).toBeNull();
    expect(done.body).toEqual({ id: profile.id, machine_id: machineId, kernel: { id: opened.body.files.kernel.blob_id, args: ['quiet'], sha256: sha256(kernel), size: kernel.length }, initrd: { id: opened.body.files.initrd.blob_id, sha256: sha256(initrd), size: initrd.length } });
    expect((await api('GET', `/api/v1/boot/${machineId}/profile`)).body).toEqual(done.body);
    // The replaced version's blobs are kept for scripts already served.
    expect(await storedBlobIds()).toEqual(expect.arrayContaining([profile.kernel.id, profile.initrd.id]));
    expect((await finalize(opened.body.id)).body).toEqual(done.body);
  });

  it('resumes after an aborted chunk from what the status query reports', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(MiB);
    const initrd = randomFile(12 * MiB);
    const { body: session } = await openSession(machineId, 'create', kernel, initrd);
    const url = session.files.initrd.upload?.url as string;
    expect((await put(url, `bytes 0-${4 * MiB - 1}/*`, initrd.subarray(0, 4 * MiB))).status).toBe(308);

    // The next chunk is cut off after about 3 MiB.
    const abort = new AbortController();
    const partial = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(initrd.subarray(4 * MiB, 7 * MiB)) });
    const pending = fetch(url, { method: 'PUT', headers: { 'Content-Range': `bytes ${4 * MiB}-${initrd.length - 1}/${initrd.length}` }, body: partial, signal: abort.signal, duplex: 'half' } as RequestInit).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    abort.abort();
    await pending;

    // Finalize now: 409 upload-incomplete with what Storage holds.
    const early = expectProblem(await finalize(session.id), 409, 'upload-incomplete');
    const status = await put(url, `bytes */${initrd.length}`);
    expect(status.status).toBe(308);
    const kept = Number(/^bytes=0-(\d+)$/.exec(status.headers.get('range') ?? '')?.[1]) + 1;
    expect(kept).toBeGreaterThanOrEqual(4 * MiB);
    expect(early.files).toEqual({ kernel: { size: kernel.length, bytes_received: 0, complete: false }, initrd: { size: initrd.length, bytes_received: kept, complete: false } });

    await uploadInChunks(url, initrd, 8 * MiB, kept);
    await uploadInChunks(session.files.kernel.upload?.url as string, kernel);
    const done = await finalize(session.id);
    expect(done.status).toBe(201);
    expect(sha256(await storedBlob(done.body.initrd.id))).toBe(sha256(initrd));
  });
});

describe('finalize verifies the stored bytes', () => {
  it('a wrong declared SHA-256: 422 checksum-mismatch with declared and actual, nothing committed, the wrong bytes gone', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(MiB);
    const initrd = randomFile(2 * MiB);
    const declared = { size: initrd.length, sha256: 'ab'.repeat(32) };
    const { body: session } = await openSession(machineId, 'create', kernel, initrd, { initrd: declared });
    await uploadAll(session, kernel, initrd);
    expect(await storedBlobIds()).toEqual(expect.arrayContaining([session.files.initrd.blob_id]));

    const res = expectProblem(await finalize(session.id), 422, 'checksum-mismatch');
    expect(res).toMatchObject({ field: 'initrd', declared, actual: { size: initrd.length, sha256: sha256(initrd) } });
    await expectNoProfile(machineId);
    expect(await storedBlobIds()).not.toContain(session.files.initrd.blob_id);
    // The session is spent: cancelled, and finalizing it again says so.
    expect((await api<Session>('GET', `/api/v1/uploads/${session.id}`)).body.state).toBe('cancelled');
    expectProblem(await finalize(session.id), 409, 'upload-session-cancelled');
  });

  it('an object written under the name by someone else (the upload then fails with 412) is refused', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(MiB);
    const initrd = randomFile(2 * MiB);
    const { body: session } = await openSession(machineId, 'create', kernel, initrd);
    const intruder = randomFile(2 * MiB);
    await currentRoot().clients.bucket.file(`blobs/${session.files.initrd.blob_id}`).save(intruder, { resumable: false });
    await uploadInChunks(session.files.kernel.upload?.url as string, kernel);
    const refused = await put(session.files.initrd.upload?.url as string, `bytes 0-${initrd.length - 1}/${initrd.length}`, initrd);
    expect(refused.status).toBe(412);

    const res = expectProblem(await finalize(session.id), 422, 'checksum-mismatch');
    expect(res).toMatchObject({ field: 'initrd', declared: describeFile(initrd), actual: describeFile(intruder) });
    await expectNoProfile(machineId);
    expect(await storedBlobIds()).not.toContain(session.files.initrd.blob_id);
  });

  it('a truncated stored object is refused', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(MiB);
    const initrd = randomFile(2 * MiB);
    const { body: session } = await openSession(machineId, 'create', kernel, initrd);
    await uploadAll(session, kernel, initrd);
    const file = currentRoot().clients.bucket.file(`blobs/${session.files.kernel.blob_id}`);
    await file.save(kernel.subarray(0, kernel.length - 1000), { resumable: false });
    const res = expectProblem(await finalize(session.id), 422, 'checksum-mismatch');
    expect(res).toMatchObject({ field: 'kernel', actual: { size: kernel.length - 1000 } });
    await expectNoProfile(machineId);
  });

  it('finalize before any byte: 409 upload-incomplete with 0 bytes received per file', async () => {
    const machineId = await createMachineId(stack.url);
    const { body: session } = await openSession(machineId, 'create', randomFile(1000), randomFile(2000));
    const res = expectProblem(await finalize(session.id), 409, 'upload-incomplete');
    expect(res.files).toEqual({ kernel: { size: 1000, bytes_received: 0, complete: false }, initrd: { size: 2000, bytes_received: 0, complete: false } });
    expect((await api<Session>('GET', `/api/v1/uploads/${session.id}`)).body.state).toBe('open');
  });
});

describe('content-addressed reuse', () => {
  it('a second machine with the same files uploads nothing: upload null for both, no new object, same blob ids', async () => {
    const kernel = randomFile(2 * MiB);
    const initrd = randomFile(3 * MiB);
    const first = await createMachineId(stack.url);
    const s1 = (await openSession(first, 'create', kernel, initrd)).body;
    await uploadAll(s1, kernel, initrd);
    const p1 = await finalize(s1.id);
    expect(p1.status).toBe(201);

    const objects = (await storedBlobIds()).length;
    const second = await createMachineId(stack.url);
    const opened = await openSession(second, 'create', kernel, initrd);
    expect(opened.status).toBe(201);
    expect(opened.body.files).toEqual({
      kernel: { blob_id: p1.body.kernel.id, size: kernel.length, sha256: sha256(kernel), upload: null },
      initrd: { blob_id: p1.body.initrd.id, size: initrd.length, sha256: sha256(initrd), upload: null },
    });
    const p2 = await finalize(opened.body.id);
    expect(p2.status).toBe(201);
    expect(p2.body).toMatchObject({ machine_id: second, kernel: { id: p1.body.kernel.id }, initrd: { id: p1.body.initrd.id } });
    expect((await storedBlobIds()).length).toBe(objects);

    // Deleting the first profile keeps the shared blobs (the second needs them); deleting the second frees them.
    expect((await api('DELETE', `/api/v1/boot/${first}/profile`)).status).toBe(204);
    expect(await storedBlobIds()).toEqual(expect.arrayContaining([p1.body.kernel.id, p1.body.initrd.id]));
    expect((await api('DELETE', `/api/v1/boot/${second}/profile`)).status).toBe(204);
    expect(await storedBlobIds()).not.toContain(p1.body.kernel.id);
    // ... and with them their index entries: the same content is uploaded again.
    const third = await createMachineId(stack.url);
    const s3 = (await openSession(third, 'create', kernel, initrd)).body;
    expect(s3.files.kernel.upload).not.toBeNull();
    expect(s3.files.initrd.upload).not.toBeNull();
  });

  it('blobs stored by the multipart routes are indexed too', async () => {
    const kernel = randomFile(100 * 1024);
    const initrd = randomFile(200 * 1024);
    const { profile } = await machineWithProfile(kernel, initrd);
    const other = await createMachineId(stack.url);
    const opened = await openSession(other, 'create', kernel, initrd);
    expect(opened.body.files.kernel).toMatchObject({ blob_id: profile.kernel.id, upload: null });
    expect(opened.body.files.initrd).toMatchObject({ blob_id: profile.initrd.id, upload: null });
  });
});

describe('cancel', () => {
  it('DELETE: 204, the GCS sessions refuse further bytes, finalize is refused; DELETE of a finalized session is 409', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(MiB);
    const initrd = randomFile(MiB);
    const { body: session } = await openSession(machineId, 'create', kernel, initrd);
    const res = await api('DELETE', `/api/v1/uploads/${session.id}`);
    expect(res.status).toBe(204);
    expect((await put(session.files.initrd.upload?.url as string, `bytes 0-${initrd.length - 1}/${initrd.length}`, initrd)).status).toBe(410);
    const read = await api<Session>('GET', `/api/v1/uploads/${session.id}`);
    expect(read.body).toMatchObject({ state: 'cancelled', files: { kernel: { upload: null }, initrd: { upload: null } } });
    expectProblem(await finalize(session.id), 409, 'upload-session-cancelled');
    expect((await api('DELETE', `/api/v1/uploads/${session.id}`)).status).toBe(204);

    const s2 = (await openSession(machineId, 'create', kernel, initrd)).body;
    await uploadAll(s2, kernel, initrd);
    expect((await finalize(s2.id)).status).toBe(201);
    expectProblem(await api('DELETE', `/api/v1/uploads/${s2.id}`), 409, 'upload-session-finalized');
  });
});

describe('validation', () => {
  const good = () => ({ size: 1000, sha256: 'a'.repeat(64) });

  it('400 validation-error with invalid_fields for a bad shape; sha256 case is normalised', async () => {
    const machineId = await createMachineId(stack.url);
    const bad = expectProblem(
      await api('POST', '/api/v1/uploads', { json: { machine_id: 'nope', mode: 'upsert', kernel: { size: 0, sha256: 'xyz' }, initrd: { size: 1.5, sha256: 'a'.repeat(63) }, extra: 1 } }),
      400,
      'validation-error',
    );
    expect(bad.invalid_fields).toEqual(
      expect.arrayContaining([
        { field: 'machine_id', reason: 'must be a UUIDv7' },
        { field: 'mode', reason: expect.any(String) },
        { field: 'kernel.size', reason: 'must be a positive integer' },
        { field: 'kernel.sha256', reason: expect.stringContaining('SHA-256') },
        { field: 'initrd.size', reason: 'must be an integer' },
        { field: 'initrd.sha256', reason: expect.stringContaining('SHA-256') },
        { field: 'extra', reason: 'unknown field' },
      ]),
    );
    const missing = expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: machineId, mode: 'create' } }), 400, 'validation-error');
    expect(missing.invalid_fields).toEqual([
      { field: 'kernel', reason: 'required field is missing' },
      { field: 'initrd', reason: 'required field is missing' },
    ]);
    const unsafe = expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: machineId, mode: 'create', kernel: { size: 2 ** 53, sha256: 'a'.repeat(64) }, initrd: good() } }), 400, 'validation-error');
    expect(unsafe.invalid_fields).toContainEqual({ field: 'kernel.size', reason: 'must be a safe integer' });
    expectProblem(await api('POST', '/api/v1/uploads', { body: 'machine_id=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported-media-type');

    const upper = await api<Session>('POST', '/api/v1/uploads', { json: { machine_id: machineId.toUpperCase(), mode: 'create', kernel: { size: 10, sha256: 'AB'.repeat(32) }, initrd: good() } });
    expect(upper.status).toBe(201);
    expect(upper.body).toMatchObject({ machine_id: machineId, kernel_args: [], files: { kernel: { sha256: 'ab'.repeat(32) } } });
  });

  it('the multipart routes\' problems: unknown machine, existing profile, no profile, too large, bad kernel args', async () => {
    const nobody = '01890a5d-ac96-774b-bcce-b302099a8057';
    expect(expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: nobody, mode: 'create', kernel: good(), initrd: good() } }), 422, 'unknown-machine')).toMatchObject({ field: 'machine_id', machine_id: nobody });
    expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: nobody, mode: 'replace', kernel: good(), initrd: good() } }), 404, 'boot-profile-not-found');
    const { machineId, profile } = await machineWithProfile();
    expect(expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: machineId, mode: 'create', kernel: good(), initrd: good() } }), 409, 'boot-profile-exists')).toMatchObject({ machine_id: machineId, existing_profile_id: profile.id });
    const bare = await createMachineId(stack.url);
    expect(expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: bare, mode: 'replace', kernel: good(), initrd: good() } }), 404, 'boot-profile-not-found')).toMatchObject({ machine_id: bare });

    const tooBig = expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: bare, mode: 'create', kernel: good(), initrd: { size: 2 * 1024 * MiB, sha256: 'a'.repeat(64) } } }), 422, 'file-too-large');
    expect(tooBig).toMatchObject({ detail: 'Initrd file exceeds maximum allowed size of 1024MB', field: 'initrd', file_size: 2 * 1024 * MiB, max_size: 1024 * MiB });
    const bigKernel = expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: bare, mode: 'create', kernel: { size: 100 * MiB + 1, sha256: 'a'.repeat(64) }, initrd: good() } }), 422, 'file-too-large');
    expect(bigKernel).toMatchObject({ field: 'kernel', file_size: 100 * MiB + 1, max_size: 100 * MiB });

    const args = expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: bare, mode: 'create', kernel_args: ['ok', 'bad arg'], kernel: good(), initrd: good() } }), 422, 'invalid-kernel-args');
    expect(args).toMatchObject({ field: 'kernel_args', invalid_fields: [{ field: 'kernel_args[1]', reason: expect.any(String) }] });
    expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: bare, mode: 'create', kernel_args: 'quiet', kernel: good(), initrd: good() } }), 422, 'invalid-kernel-args');
  });

  it('unknown session 404, malformed id 400, wrong method 405, no token 401', async () => {
    expectProblem(await api('GET', '/api/v1/uploads/01890a5d-ac96-774b-bcce-b302099a8057'), 404, 'upload-session-not-found');
    expectProblem(await finalize('01890a5d-ac96-774b-bcce-b302099a8057'), 404, 'upload-session-not-found');
    expectProblem(await api('DELETE', '/api/v1/uploads/01890a5d-ac96-774b-bcce-b302099a8057'), 404, 'upload-session-not-found');
    expectProblem(await api('GET', '/api/v1/uploads/nope'), 400, 'validation-error');
    const wrong = expectProblem(await api('PUT', '/api/v1/uploads/01890a5d-ac96-774b-bcce-b302099a8057'), 405, 'method-not-allowed');
    expect(wrong).toBeTruthy();
    expectProblem(await api('POST', '/api/v1/uploads', { json: {}, anonymous: true }), 401, 'unauthorized');
  });

  it('finalize re-checks: the machine got a profile meanwhile (create) -> 409, the session stays open', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(MiB);
    const initrd = randomFile(MiB);
    const { body: session } = await openSession(machineId, 'create', kernel, initrd);
    await uploadAll(session, kernel, initrd);
    await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(1000), initrd: randomFile(1000) }));
    expectProblem(await finalize(session.id), 409, 'boot-profile-exists');
    expect((await api<Session>('GET', `/api/v1/uploads/${session.id}`)).body.state).toBe('open');
  });
});

describe('release vs reuse of a shared blob', () => {
  /** A profile on machine A, and an open session on machine B that reuses both its blobs. */
  async function sharedSetup() {
    const kernel = randomFile(300 * 1024);
    const initrd = randomFile(500 * 1024);
    const a = await machineWithProfile(kernel, initrd);
    const b = await createMachineId(stack.url);
    const session = (await openSession(b, 'create', kernel, initrd)).body;
    expect(session.files.kernel.upload).toBeNull();
    expect(session.files.initrd.upload).toBeNull();
    return { a, b, session, kernel, initrd };
  }

  const gate = () => {
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    let reach!: () => void;
    const reached = new Promise<void>((r) => (reach = r));
    return { opened, open, reached, reach };
  };

  it('the release commits first (finalize held before its transaction): finalize is refused 409 blob-unavailable, no profile', async () => {
    const { a, b, session } = await sharedSetup();
    const real = ledger.real;
    const g = gate();
    ledger.use(withOverrides(real, { finalizeUpload: async (id: string, now: Date, until: Date) => (g.reach(), await g.opened, real.finalizeUpload(id, now, until)) }));
    try {
      const pending = finalize(session.id);
      await g.reached; // the bytes were verified present; the commit is next
      expect((await api('DELETE', `/api/v1/boot/${a.machineId}/profile`)).status).toBe(204);
      expect(await storedBlobIds()).not.toContain(a.profile.kernel.id); // released and deleted
      g.open();
      const res = expectProblem(await pending, 409, 'blob-unavailable');
      expect(res.detail).toMatch(/upload the file again/);
      await expectNoProfile(b);
    } finally {
      g.open();
      ledger.reset();
    }
  });

  it('the reuse commits first (release held after the profile delete): the release keeps the blobs the new profile needs', async () => {
    const { a, b, session, kernel, initrd } = await sharedSetup();
    const real = ledger.real;
    const g = gate();
    ledger.use(withOverrides(real, { releaseBlobs: async (ids: readonly string[], now: Date) => (g.reach(), await g.opened, real.releaseBlobs(ids, now)) }));
    try {
      const deleting = api('DELETE', `/api/v1/boot/${a.machineId}/profile`);
      await g.reached; // profile A is gone; its blobs looked unreferenced when the delete began
      ledger.use(withOverrides(real, { releaseBlobs: async (ids: readonly string[], now: Date) => (await g.opened, real.releaseBlobs(ids, now)) }));
      const done = await finalize(session.id);
      expect(done.status).toBe(201);
      g.open();
      expect((await deleting).status).toBe(204);
      expect(done.body).toMatchObject({ machine_id: b, kernel: { id: a.profile.kernel.id }, initrd: { id: a.profile.initrd.id } });
      expect(sha256(await storedBlob(done.body.kernel.id))).toBe(sha256(kernel));
      expect(sha256(await storedBlob(done.body.initrd.id))).toBe(sha256(initrd));
    } finally {
      g.open();
      ledger.reset();
    }
  });

  it('run concurrently, never a profile pointing at a deleted blob', async () => {
    for (let i = 0; i < 4; i++) {
      const { a, b, session } = await sharedSetup();
      const [del, fin] = await Promise.all([api('DELETE', `/api/v1/boot/${a.machineId}/profile`), finalize(session.id)]);
      expect(del.status).toBe(204);
      const stored = await storedBlobIds();
      if (fin.status === 201) {
        expect(stored).toEqual(expect.arrayContaining([fin.body.kernel.id, fin.body.initrd.id]));
      } else {
        expectProblem(fin, 409, 'blob-unavailable');
        await expectNoProfile(b);
      }
    }
  });
});
