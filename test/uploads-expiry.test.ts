// Upload session expiry and the sweeper: an open session's blobs are references until it
// expires (plus the sweep grace); after that they are orphans like any other.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createMachineId, randomFile, sha256, storedBlobIds } from './helpers/profiles';
import { expectProblem } from './helpers/problem';
import { request, useLocalStack } from './helpers/stack';

const ttlSeconds = 4;
const graceSeconds = 1;
const stack = useLocalStack({ UPLOAD_SESSION_TTL_SECONDS: String(ttlSeconds), BLOB_SWEEP_GRACE_SECONDS: String(graceSeconds) });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

interface Session {
  id: string;
  state: string;
  expires_at: string;
  files: Record<'kernel' | 'initrd', { blob_id: string; upload: { url: string } | null }>;
}

describe('upload session expiry', () => {
  it('open session blobs survive the sweep past the grace period; once expired, finalize is 410 and the sweep removes them', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(256 * 1024);
    const initrd = randomFile(512 * 1024);
    const opened = await api<Session>('POST', '/api/v1/uploads', {
      json: { machine_id: machineId, mode: 'create', kernel: { size: kernel.length, sha256: sha256(kernel) }, initrd: { size: initrd.length, sha256: sha256(initrd) } },
    });
    expect(opened.status).toBe(201);
    const session = opened.body;
    expect(Date.parse(session.expires_at) - Date.now()).toBeLessThanOrEqual(ttlSeconds * 1000);
    for (const [kind, data] of [['kernel', kernel], ['initrd', initrd]] as const) {
      const res = await fetch(session.files[kind].upload?.url as string, { method: 'PUT', body: data as unknown as BodyInit });
      expect(res.status).toBe(200);
    }
    const ids = [session.files.kernel.blob_id, session.files.initrd.blob_id];

    // Older than the grace period, never referenced by a profile, but the session is open: kept.
    await sleep(graceSeconds * 1000 + 300);
    const early = await api<{ deleted: string[] }>('POST', '/internal/blobs/sweep');
    expect(early.status).toBe(200);
    expect(early.body.deleted).toEqual([]);
    expect(await storedBlobIds()).toEqual(expect.arrayContaining(ids));

    // Expired: finalize refused, the session reads as expired without upload URLs.
    await sleep(Math.max(0, Date.parse(session.expires_at) - Date.now()) + 100);
    const late = expectProblem(await api('POST', `/api/v1/uploads/${session.id}/finalize`), 410, 'upload-session-expired');
    expect(late).toMatchObject({ upload_id: session.id, expires_at: session.expires_at });
    expectProblem(await api('GET', `/api/v1/boot/${machineId}/profile`), 404, 'boot-profile-not-found');
    const read = await api<Session>('GET', `/api/v1/uploads/${session.id}`);
    expect(read.body).toMatchObject({ state: 'expired', files: { kernel: { upload: null }, initrd: { upload: null } } });

    // Past expiry plus the grace period: its bytes are orphans and go.
    await sleep(graceSeconds * 1000 + 300);
    const swept = await api<{ deleted: string[] }>('POST', '/internal/blobs/sweep');
    expect(swept.body.deleted.sort()).toEqual([...ids].sort());
    expect(await storedBlobIds()).not.toEqual(expect.arrayContaining([ids[0]]));
  });

  it('a session in parts: its landed parts are references until it expires, then its unfinished part sessions are cancelled and its parts swept', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(256 * 1024);
    const initrd = randomFile(9 * 1024 * 1024);
    const opened = await api<PartsSession>('POST', '/api/v1/uploads', { json: { machine_id: machineId, mode: 'create', transfer: 'parts', kernel: { size: kernel.length }, initrd: { size: initrd.length } } });
    expect(opened.status).toBe(201);
    const session = opened.body;
    const [kernelPart] = session.files.kernel.upload.parts as [Part];
    const [first, second] = session.files.initrd.upload.parts as [Part, Part];
    for (const [part, data] of [[kernelPart, kernel], [first, initrd]] as const) {
      const res = await fetch(part.url, { method: 'PUT', body: new Uint8Array(data.subarray(part.offset, part.offset + part.size)) });
      expect(res.status).toBe(200);
    }
    const landed = [kernelPart.blob_id, first.blob_id];

    await sleep(graceSeconds * 1000 + 300);
    expect((await api<{ deleted: string[] }>('POST', '/internal/blobs/sweep')).body.deleted).toEqual([]);
    expect(await storedBlobIds()).toEqual(expect.arrayContaining(landed));

    await sleep(Math.max(0, Date.parse(session.expires_at) - Date.now()) + 100);
    expectProblem(await api('POST', `/api/v1/uploads/${session.id}/verify`), 410, 'upload-session-expired');
    await sleep(graceSeconds * 1000 + 300);
    const swept = await api<{ deleted: string[] }>('POST', '/internal/blobs/sweep');
    expect(swept.body.deleted.sort()).toEqual([...landed].sort());
    // The part that never arrived can arrive no more: its GCS session was cancelled.
    const refused = await fetch(second.url, { method: 'PUT', body: new Uint8Array(initrd.subarray(second.offset, second.offset + second.size)) });
    expect([404, 410, 499]).toContain(refused.status);
    expect(await storedBlobIds()).not.toContain(second.blob_id);
  });
});

interface Part {
  offset: number;
  size: number;
  blob_id: string;
  url: string;
}
interface PartsSession {
  id: string;
  expires_at: string;
  files: Record<'kernel' | 'initrd', { blob_id: string; upload: { parts: Part[] } }>;
}
