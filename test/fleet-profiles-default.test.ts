import { describe, expect, it } from 'vitest';
import { aMac, aMachine } from './helpers/fixtures';
import { postProfile, profileForm, randomFile, sha256, storedBlobIds, type ProfileBody } from './helpers/profiles';
import { request, setEnv, useLocalStack } from './helpers/stack';
import { expectProblem } from './helpers/problem';
import { commands } from './helpers/scripts';

const stack = useLocalStack({ ASSET_DELIVERY: 'proxy' });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);
const putDefault = (form: FormData) => api<ProfileBody>('PUT', '/api/v1/boot/default/profile', { body: form });

const kernel = randomFile(8192);
const initrd = randomFile(4096);

/** The tests run in order: no default, set, replace, delete. */
describe('the default profile (unregistered MACs)', () => {
  const unknown = aMac();
  let first: ProfileBody;

  it('without one: GET and DELETE are 404 boot-profile-not-found, an unknown MAC 404 machine-not-configured', async () => {
    expectProblem(await api('GET', '/api/v1/boot/default/profile'), 404, 'boot-profile-not-found');
    expectProblem(await api('DELETE', '/api/v1/boot/default/profile'), 404, 'boot-profile-not-found');
    expectProblem(await api('GET', `/boot.ipxe?mac=${unknown}`), 404, 'machine-not-configured');
  });

  it('PUT validates like a machine\'s PUT: 422 for unsafe or unknown placeholders, 400 for a machine_id field', async () => {
    expectProblem(await putDefault(profileForm({ kernel, initrd, kernel_args: '["{{nope}}"]' })), 422, 'invalid-kernel-args');
    expectProblem(await putDefault(profileForm({ kernel, initrd, kernel_args: '[";"]' })), 422, 'invalid-kernel-args');
    expect((await putDefault(profileForm({ machine_id: 'x', kernel, initrd }))).status).toBe(400);
    expectProblem(await api('GET', '/api/v1/boot/default/profile'), 404, 'boot-profile-not-found');
  });

  it('PUT creates it (201, Location), GET answers it, and an unknown MAC boots it, still recorded as a discovery', async () => {
    const res = await putDefault(profileForm({ kernel, initrd, kernel_args: '["console=ttyS0","netboot.id={{machine_id}}","hostname={{hostname}}","s={{base_url}}/metadata/{{mac}}/"]' }));
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe('/api/v1/boot/default/profile');
    first = res.body;
    expect(first).toMatchObject({ machine_id: 'default', kernel: { sha256: sha256(kernel), size: kernel.length }, initrd: { sha256: sha256(initrd) } });
    expect((await api('GET', '/api/v1/boot/default/profile')).body).toEqual(first);

    const script = await api('GET', `/boot.ipxe?mac=${unknown}&arch=x86_64&platform=efi`);
    expect(script.status).toBe(200);
    const host = new URL(stack.url).host;
    expect(commands(script.text, 'kernel')).toEqual([
      `kernel /asset/${first.id}/kernel?v=${first.kernel.id} initrd=initrd console=ttyS0 netboot.id=unregistered hostname=mac-${unknown.replaceAll(':', '')} s=http://${host}/metadata/${unknown}/`,
    ]);
    expect(script.text).not.toContain('netboot.token='); // no boot record: the timeline belongs to machines
    const kernelBytes = await fetch(`${stack.url}/asset/${first.id}/kernel?v=${first.kernel.id}`);
    expect(kernelBytes.status).toBe(200);
    expect(Buffer.from(await kernelBytes.arrayBuffer()).equals(kernel)).toBe(true);

    // A MAC not seen before (this instance coalesces repeated sightings): recorded with what it sent.
    const fresh = aMac();
    expect((await api('GET', `/boot.ipxe?mac=${fresh}&arch=arm64&platform=efi`)).status).toBe(200);
    const seen = await api<{ discoveries: Record<string, unknown>[] }>('GET', `/api/v1/discoveries?mac=${fresh}`);
    expect(seen.body.discoveries).toEqual([expect.objectContaining({ mac: fresh, arch: 'arm64', platform: 'efi', requests: 1 })]);
    expect((await api<{ discoveries: unknown[] }>('GET', `/api/v1/discoveries?mac=${unknown}`)).body.discoveries).toHaveLength(1);
  });

  it('registered machines are not affected: their own profile, or 404 when they have none', async () => {
    const mac = aMac();
    const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
    expectProblem(await api('GET', `/boot.ipxe?mac=${mac}`), 404, 'machine-not-configured');
    expectProblem(await api('GET', `/api/v1/boot/${machine.body.id}/profile`), 404, 'boot-profile-not-found');
    const own = await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel: randomFile(100), initrd: randomFile(100), kernel_args: '["own"]' }));
    expect(own.status).toBe(201);
    expect(commands((await api('GET', `/boot.ipxe?mac=${mac}`)).text, 'kernel')[0]).toContain(`/asset/${own.body.id}/kernel`);
  });

  it('routing: /api/v1/boot/default/profile is its own route (405 for POST; a UUID still reaches the machine routes)', async () => {
    const res = await api('POST', '/api/v1/boot/default/profile');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')?.split(/,\s*/).sort()).toEqual(['DELETE', 'GET', 'PUT']);
    expectProblem(await api('GET', '/api/v1/boot/not-a-uuid/profile'), 400, 'validation-error');
  });

  it('PUT replaces it (200); the old version stays downloadable; the sweeper keeps its blobs', async () => {
    const kernel2 = randomFile(9000);
    const res = await putDefault(profileForm({ kernel: kernel2, initrd, kernel_args: '["quiet"]' }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: first.id, machine_id: 'default', kernel: { sha256: sha256(kernel2), args: ['quiet'] } });
    expect(res.body.kernel.id).not.toBe(first.kernel.id);
    expect((await fetch(`${stack.url}/asset/${first.id}/kernel?v=${first.kernel.id}`)).status).toBe(200);
    setEnv({ BLOB_SWEEP_GRACE_SECONDS: '1' });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await api('POST', '/internal/blobs/sweep')).status).toBe(200);
    setEnv({ BLOB_SWEEP_GRACE_SECONDS: undefined });
    const stored = await storedBlobIds();
    expect(stored).toEqual(expect.arrayContaining([first.kernel.id, res.body.kernel.id, res.body.initrd.id]));
    expect(commands((await api('GET', `/boot.ipxe?mac=${unknown}`)).text, 'kernel')).toEqual([`kernel /asset/${first.id}/kernel?v=${res.body.kernel.id} initrd=initrd quiet`]);
  });

  it('DELETE removes it (204) and releases its blobs; unknown MACs get 404 again', async () => {
    const current = (await api<ProfileBody>('GET', '/api/v1/boot/default/profile')).body;
    expect((await api('DELETE', '/api/v1/boot/default/profile')).status).toBe(204);
    expectProblem(await api('GET', '/api/v1/boot/default/profile'), 404, 'boot-profile-not-found');
    expectProblem(await api('GET', `/boot.ipxe?mac=${unknown}`), 404, 'machine-not-configured');
    const stored = await storedBlobIds();
    for (const id of [first.kernel.id, current.kernel.id, current.initrd.id]) expect(stored).not.toContain(id);
  });
});
