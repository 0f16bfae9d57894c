import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { aMac, aMachine } from './helpers/fixtures';
import { expectProblem } from './helpers/problem';
import { postProfile, profileForm, randomFile, sha256, storedBlobIds, type ProfileBody } from './helpers/profiles';
import { request, setEnv, useLocalStack } from './helpers/stack';

const retentionSeconds = 2;
const stack = useLocalStack({ ASSET_DELIVERY: 'proxy', PROFILE_VERSION_RETENTION_SECONDS: String(retentionSeconds), BLOB_SWEEP_GRACE_SECONDS: '1' });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

/** The asset URLs a script links to, in order (kernel, initrd), without the per-boot `&boot=` reference. */
function assetUrls(script: string): string[] {
  return [...script.matchAll(/(\/asset\/[^\s]+)/g)].map((m) => (m[1] as string).replace(/&boot=[^&]*/, ''));
}

async function bytesOf(path: string): Promise<{ status: number; sha256: string; cacheControl: string | null }> {
  const res = await fetch(stack.url + path);
  return { status: res.status, sha256: sha256(Buffer.from(await res.arrayBuffer())), cacheControl: res.headers.get('cache-control') };
}

describe('a replace never breaks a boot in progress', () => {
  it('a script fetched before a PUT still boots the version it describes; the new script boots the new one', async () => {
    const mac = aMac();
    const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
    const [kernel1, initrd1, kernel2, initrd2] = [randomFile(300_000), randomFile(200_000), randomFile(310_000), randomFile(210_000)];
    const created = await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel: kernel1, initrd: initrd1, kernel_args: '["v=1"]' }));
    expect(created.status).toBe(201);

    const before = await api('GET', `/boot.ipxe?mac=${mac}`);
    const oldUrls = assetUrls(before.text);
    expect(oldUrls).toEqual([`/asset/${created.body.id}/kernel?v=${created.body.kernel.id}`, `/asset/${created.body.id}/initrd?v=${created.body.initrd.id}`]);
    expect(before.text).toContain('v=1');

    const replaced = await api<ProfileBody>('PUT', `/api/v1/boot/${machine.body.id}/profile`, { body: profileForm({ kernel: kernel2, initrd: initrd2, kernel_args: '["v=2"]' }) });
    expect(replaced.status).toBe(200);
    const after = await api('GET', `/boot.ipxe?mac=${mac}`);
    const newUrls = assetUrls(after.text);
    expect(after.text).toContain('v=2');
    expect(newUrls).not.toEqual(oldUrls);

    // The old script's URLs: the old bytes, cacheable for good (they never change).
    const [oldKernel, oldInitrd] = await Promise.all(oldUrls.map(bytesOf));
    expect(oldKernel).toEqual({ status: 200, sha256: sha256(kernel1), cacheControl: 'public, max-age=31536000, immutable' });
    expect(oldInitrd).toMatchObject({ status: 200, sha256: sha256(initrd1) });
    // The new script's URLs: the new bytes.
    const [newKernel, newInitrd] = await Promise.all(newUrls.map(bytesOf));
    expect(newKernel).toMatchObject({ status: 200, sha256: sha256(kernel2) });
    expect(newInitrd).toMatchObject({ status: 200, sha256: sha256(initrd2) });
    // Unversioned: whatever is current, and no cache may keep it without asking.
    expect(await bytesOf(`/asset/${created.body.id}/kernel`)).toEqual({ status: 200, sha256: sha256(kernel2), cacheControl: 'no-cache' });

    // Redirect mode follows the same versions.
    setEnv({ ASSET_DELIVERY: 'redirect' });
    const redirected = await api('GET', oldUrls[0] as string);
    expect(redirected.status).toBe(302);
    expect(redirected.headers.get('location')).toContain(`/blobs/${created.body.kernel.id}?`);
    setEnv({ ASSET_DELIVERY: 'proxy' });

    // After the retention the old version is gone: 404, and the sweeper removes exactly its blobs.
    await sleep(retentionSeconds * 1000 + 200);
    expectProblem(await api('GET', oldUrls[0] as string), 404, 'kernel-not-found');
    expectProblem(await api('GET', oldUrls[1] as string), 404, 'initrd-not-found');
    const swept = await api<{ deleted: string[] }>('POST', '/internal/blobs/sweep');
    expect(swept.body.deleted.sort()).toEqual([created.body.kernel.id, created.body.initrd.id].sort());
    const stored = await storedBlobIds();
    expect(stored).toContain(replaced.body.kernel.id);
    expect(stored).not.toContain(created.body.kernel.id);
    expect((await bytesOf(newUrls[0] as string)).sha256).toBe(sha256(kernel2));
  });

  it('a version that is not the profile’s is 404; a malformed one is 400', async () => {
    const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() });
    const created = await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel: randomFile(1000), initrd: randomFile(1000) }));
    const other = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() });
    const foreign = await postProfile(stack.url, profileForm({ machine_id: other.body.id, kernel: randomFile(1000), initrd: randomFile(1000) }));
    // Another profile's blob is not reachable through this profile's URL.
    expectProblem(await api('GET', `/asset/${created.body.id}/kernel?v=${foreign.body.kernel.id}`), 404, 'kernel-not-found');
    // The initrd's id is no kernel version.
    expectProblem(await api('GET', `/asset/${created.body.id}/kernel?v=${created.body.initrd.id}`), 404, 'kernel-not-found');
    const bad = expectProblem(await api('GET', `/asset/${created.body.id}/kernel?v=1;DROP`), 400, 'validation-error');
    expect(bad.invalid_fields).toEqual([{ field: 'v', reason: expect.stringContaining('UUIDv7') }]);
  });
});
