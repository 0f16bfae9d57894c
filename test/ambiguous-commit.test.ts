import { describe, expect, it } from 'vitest';
import { FirestoreInventory } from '../shared/inventory/firestore-inventory';
import { aMac, aMachine } from './helpers/fixtures';
import { grpcStatus } from './helpers/faulty-grpc';
import { createMachineId, postProfile, profileForm, randomFile, sha256, storedBlob, storedBlobIds, type ProfileBody } from './helpers/profiles';
import { request, useLocalStackThroughProxy } from './helpers/stack';

/**
 * A commit that Firestore applied but whose answer never reached the client: the client
 * library reports UNAVAILABLE or DEADLINE_EXCEEDED and runs the transaction again. The
 * inventory and the ledger (the blob index and upload sessions: one store, as the root
 * builds them) talk to the emulator through a proxy that drops such answers on demand.
 */
const through = useLocalStackThroughProxy({ PROFILE_VERSION_RETENTION_SECONDS: '3600' }, (parts, firestore) => {
  const inventory = new FirestoreInventory(firestore);
  return { ...parts, inventory, ledger: inventory };
});
const { stack } = through;
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

interface UploadSession {
  id: string;
  state: string;
  files: Record<'kernel' | 'initrd', { blob_id: string; upload: { url: string } | null }>;
  profile?: ProfileBody;
}

async function expectIntact(machineId: string, profile: ProfileBody): Promise<void> {
  const read = await api<ProfileBody>('GET', `/api/v1/boot/${machineId}/profile`);
  expect(read.status).toBe(200);
  expect(read.body).toEqual(profile);
  expect(sha256(await storedBlob(profile.kernel.id))).toBe(profile.kernel.sha256);
  expect(sha256(await storedBlob(profile.initrd.id))).toBe(profile.initrd.sha256);
}

describe.each([
  ['UNAVAILABLE', grpcStatus.UNAVAILABLE],
  ['DEADLINE_EXCEEDED', grpcStatus.DEADLINE_EXCEEDED],
])('a commit applied but answered %s', (_name, code) => {
  it('POST /api/v1/machines: 201, and exactly one machine holds the MAC', async () => {
    const mac = aMac();
    const commits = through.proxy.calls('Commit');
    through.proxy.loseAnswers('Commit', code);
    const res = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
    expect(through.proxy.calls('Commit')).toBeGreaterThan(commits + 1); // the client did run it again
    expect(res.status).toBe(201);
    const listed = await api<{ machines: { id: string }[] }>('GET', `/api/v1/machines?mac=${mac}`);
    expect(listed.body.machines.map((m) => m.id)).toEqual([res.body.id]);
  });

  it('POST /api/v1/profiles: 201, and the committed profile keeps its blobs', async () => {
    const machineId = await createMachineId(stack.url);
    const before = await storedBlobIds();
    through.proxy.loseAnswers('Commit', code);
    const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(70_000), initrd: randomFile(50_000) }));
    expect(res.status).toBe(201);
    await expectIntact(machineId, res.body);
    expect(await storedBlobIds()).toEqual([...before, res.body.kernel.id, res.body.initrd.id].sort());
  });

  it('PUT /api/v1/boot/{id}/profile: 200 with the new version, and neither version loses a blob', async () => {
    const machineId = await createMachineId(stack.url);
    const created = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(70_000), initrd: randomFile(50_000) }));
    through.proxy.loseAnswers('Commit', code);
    const res = await api<ProfileBody>('PUT', `/api/v1/boot/${machineId}/profile`, { body: profileForm({ kernel: randomFile(71_000), initrd: randomFile(51_000), kernel_args: '["two"]' }) });
    expect(res.status).toBe(200);
    expect(res.body.kernel.args).toEqual(['two']);
    await expectIntact(machineId, res.body);
    // The version replaced is still served to scripts that link to it.
    const old = await fetch(`${stack.url}/asset/${created.body.id}/kernel?v=${created.body.kernel.id}`, { redirect: 'follow' });
    expect(old.status).toBe(200);
    expect(sha256(Buffer.from(await old.arrayBuffer()))).toBe(created.body.kernel.sha256);
  });

  it('DELETE /api/v1/boot/{id}/profile: 204, and the blobs go', async () => {
    const machineId = await createMachineId(stack.url);
    const created = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(70_000), initrd: randomFile(50_000) }));
    const before = await storedBlobIds();
    through.proxy.loseAnswers('Commit', code);
    expect((await api('DELETE', `/api/v1/boot/${machineId}/profile`)).status).toBe(204);
    expect((await api('GET', `/api/v1/boot/${machineId}/profile`)).status).toBe(404);
    expect(await storedBlobIds()).toEqual(before.filter((id) => id !== created.body.kernel.id && id !== created.body.initrd.id));
  });

  it('POST /api/v1/uploads/{id}/finalize: 201 with the profile, the session finalized, finalize again the same profile', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(70_000);
    const initrd = randomFile(50_000);
    const opened = await api<UploadSession>('POST', '/api/v1/uploads', {
      json: { machine_id: machineId, mode: 'create', kernel_args: ['console=ttyS0'], kernel: { size: kernel.length, sha256: sha256(kernel) }, initrd: { size: initrd.length, sha256: sha256(initrd) } },
    });
    expect(opened.status).toBe(201);
    for (const [file, data] of [[opened.body.files.kernel, kernel], [opened.body.files.initrd, initrd]] as const) {
      expect(file.upload).not.toBeNull();
      // The whole file in one PUT to the session URI (GCS resumable protocol).
      const put = await fetch(file.upload?.url ?? '', { method: 'PUT', body: new Uint8Array(data) });
      await put.arrayBuffer();
      expect(put.status).toBe(200);
    }
    const commits = through.proxy.calls('Commit');
    through.proxy.loseAnswers('Commit', code);
    const res = await api<ProfileBody>('POST', `/api/v1/uploads/${opened.body.id}/finalize`);
    expect(through.proxy.calls('Commit')).toBeGreaterThan(commits + 1); // the client did run it again
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      machine_id: machineId,
      kernel: { id: opened.body.files.kernel.blob_id, sha256: sha256(kernel), size: kernel.length, args: ['console=ttyS0'] },
      initrd: { id: opened.body.files.initrd.blob_id, sha256: sha256(initrd), size: initrd.length },
    });
    await expectIntact(machineId, res.body);
    const session = await api<UploadSession>('GET', `/api/v1/uploads/${opened.body.id}`);
    expect(session.status).toBe(200);
    expect(session.body.state).toBe('finalized');
    expect(session.body.profile).toEqual(res.body);
    const again = await api<ProfileBody>('POST', `/api/v1/uploads/${opened.body.id}/finalize`);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
  });

  it('DELETE /api/v1/machines/{id}: 204, not 404', async () => {
    const machineId = await createMachineId(stack.url);
    through.proxy.loseAnswers('Commit', code);
    expect((await api('DELETE', `/api/v1/machines/${machineId}`)).status).toBe(204);
    expect((await api('GET', `/api/v1/machines/${machineId}`)).status).toBe(404);
  });
});

describe('every answer lost', () => {
  // DEADLINE_EXCEEDED: the client retries the transaction (5 attempts) but not the Commit
  // call itself, which it retries on UNAVAILABLE for up to 10 minutes.
  it('POST /api/v1/profiles fails with 500, but the profile that did commit keeps its blobs', async () => {
    const machineId = await createMachineId(stack.url);
    through.proxy.loseAnswers('Commit', grpcStatus.DEADLINE_EXCEEDED, 100);
    const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(70_000), initrd: randomFile(50_000) }));
    through.proxy.loseAnswers('Commit', grpcStatus.DEADLINE_EXCEEDED, 0);
    expect(res.status).toBe(500);
    // The first commit went through: the profile exists, and its blobs were not deleted on the way out.
    const read = await api<ProfileBody>('GET', `/api/v1/boot/${machineId}/profile`);
    expect(read.status).toBe(200);
    expect(sha256(await storedBlob(read.body.kernel.id))).toBe(read.body.kernel.sha256);
    expect(sha256(await storedBlob(read.body.initrd.id))).toBe(read.body.initrd.sha256);
  }, 60_000);
});
