import { describe, expect, it } from 'vitest';
import { createMachineId, postProfile, profileForm, randomFile, sha256, storedBlob, storedBlobIds, type ProfileBody } from './helpers/profiles';
import { request, setEnv, useLocalStack } from './helpers/stack';
import { expectProblem } from './helpers/problem';

const MiB = 1024 * 1024;
// Small limits so the over-limit cases stay fast; the defaults are 100 MiB / 1 GiB.
const stack = useLocalStack({ KERNEL_MAX_BYTES: String(6 * MiB), INITRD_MAX_BYTES: String(8 * MiB) });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);
const uuidV7 = /^[\da-f]{8}-[\da-f]{4}-7[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/;


describe('boot profile lifecycle through the gateway', () => {
  it('create, read, replace and delete; storage matches the documents at every step', async () => {
    const machineId = await createMachineId(stack.url);
    const kernel = randomFile(5 * MiB);
    const initrd = randomFile(3 * MiB + 17);
    const before = await storedBlobIds();

    const created = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel, initrd, kernel_args: '["console=tty0","console=ttyS0","ip=dhcp"]' }));
    expect(created.status).toBe(201);
    const profile = created.body;
    expect(profile.id).toMatch(uuidV7);
    expect(profile).toEqual({
      id: profile.id,
      machine_id: machineId,
      kernel: { id: expect.stringMatching(uuidV7), args: ['console=tty0', 'console=ttyS0', 'ip=dhcp'], sha256: sha256(kernel), size: kernel.length },
      initrd: { id: expect.stringMatching(uuidV7), sha256: sha256(initrd), size: initrd.length },
    });
    expect(created.headers.get('location')).toBe(`/api/v1/boot/${machineId}/profile`);
    expect(await storedBlobIds()).toEqual([...before, profile.kernel.id, profile.initrd.id].sort());
    expect(sha256(await storedBlob(profile.kernel.id))).toBe(sha256(kernel));
    expect(sha256(await storedBlob(profile.initrd.id))).toBe(sha256(initrd));

    const read = await api<ProfileBody>('GET', `/api/v1/boot/${machineId}/profile`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(profile);

    const kernel2 = randomFile(2 * MiB);
    const initrd2 = randomFile(MiB);
    const replaced = await api<ProfileBody>('PUT', `/api/v1/boot/${machineId}/profile`, { body: profileForm({ kernel: kernel2, initrd: initrd2, kernel_args: '["quiet"]' }) });
    expect(replaced.status).toBe(200);
    expect(replaced.body.id).toBe(profile.id);
    expect(replaced.body.machine_id).toBe(machineId);
    expect(replaced.body.kernel).toEqual({ id: expect.stringMatching(uuidV7), args: ['quiet'], sha256: sha256(kernel2), size: kernel2.length });
    expect(replaced.body.initrd).toEqual({ id: expect.stringMatching(uuidV7), sha256: sha256(initrd2), size: initrd2.length });
    expect(replaced.body.kernel.id).not.toBe(profile.kernel.id);
    // The replaced version stays for scripts already served (PROFILE_VERSION_RETENTION_SECONDS); the sweeper removes it later.
    expect(await storedBlobIds()).toEqual([...before, profile.kernel.id, profile.initrd.id, replaced.body.kernel.id, replaced.body.initrd.id].sort());
    expect((await api('GET', `/api/v1/boot/${machineId}/profile`)).body).toEqual(replaced.body);

    const deleted = await api('DELETE', `/api/v1/boot/${machineId}/profile`);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expect(await storedBlobIds()).toEqual(before);
    const gone = expectProblem(await api('GET', `/api/v1/boot/${machineId}/profile`), 404, 'boot-profile-not-found');
    expect(gone).toMatchObject({
      title: 'Boot Profile Not Found',
      detail: `No boot profile found for machine ${machineId}`,
      instance: `/api/v1/boot/${machineId}/profile`,
      machine_id: machineId,
    });

    // The machine can have a profile again, and can be deleted once it has none.
    expect((await postProfile(stack.url, profileForm({ machine_id: machineId, kernel, initrd }))).status).toBe(201);
    const blocked = expectProblem(await api('DELETE', `/api/v1/machines/${machineId}`), 409, 'machine-has-boot-profile');
    expect(blocked.machine_id).toBe(machineId);
    expect((await api('DELETE', `/api/v1/boot/${machineId}/profile`)).status).toBe(204);
    expect((await api('DELETE', `/api/v1/machines/${machineId}`)).status).toBe(204);
    expect(await storedBlobIds()).toEqual(before);
  });

  it('accepts the exact multipart form the spec shows (kernel_args as an application/json part)', async () => {
    const machineId = await createMachineId(stack.url);
    const boundary = '----WebKitFormBoundary7MA4YWxkTrZu0gW';
    const kernel = randomFile(4096);
    const initrd = randomFile(2048);
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="machine_id"\r\n\r\n${machineId}\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="kernel"; filename="vmlinuz"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      kernel,
      Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="initrd"; filename="initrd.img"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      initrd,
      Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="kernel_args"\r\nContent-Type: application/json\r\n\r\n["console=tty0", "console=ttyS0", "ip=dhcp"]\r\n--${boundary}--\r\n`),
    ]);
    const res = await api<ProfileBody>('POST', '/api/v1/profiles', { body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    expect(res.status).toBe(201);
    expect(res.body.kernel).toMatchObject({ args: ['console=tty0', 'console=ttyS0', 'ip=dhcp'], sha256: sha256(kernel), size: 4096 });
    expect(res.body.initrd).toMatchObject({ sha256: sha256(initrd), size: 2048 });
  });

  it('reads kernel_args sent as a file part (curl -F kernel_args=@args.json)', async () => {
    const machineId = await createMachineId(stack.url);
    const form = profileForm({ machine_id: machineId, kernel: randomFile(10), initrd: randomFile(10) });
    form.append('kernel_args', new Blob(['["ip=dhcp"]'], { type: 'application/json' }), 'args.json');
    const res = await postProfile(stack.url, form);
    expect(res.status).toBe(201);
    expect(res.body.kernel.args).toEqual(['ip=dhcp']);
  });

  it('kernel_args may be omitted (no arguments) and the response keeps the spec members', async () => {
    const machineId = await createMachineId(stack.url);
    const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(10), initrd: randomFile(10) }));
    expect(res.status).toBe(201);
    expect(res.body.kernel.args).toEqual([]);
  });

  it('409 boot-profile-exists for a second profile, with the existing id, and no blob left behind', async () => {
    const machineId = await createMachineId(stack.url);
    const first = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(100), initrd: randomFile(100) }));
    const before = await storedBlobIds();
    const second = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(100), initrd: randomFile(100) }));
    const body = expectProblem(second, 409, 'boot-profile-exists');
    expect(body).toMatchObject({
      title: 'Boot Profile Already Exists',
      detail: `Machine ${machineId} already has a boot profile`,
      instance: '/api/v1/profiles',
      machine_id: machineId,
      existing_profile_id: first.body.id,
    });
    expect(await storedBlobIds()).toEqual(before);
  });

  it('404 for PUT and DELETE on a machine without a profile, or an unknown machine', async () => {
    const machineId = await createMachineId(stack.url);
    const before = await storedBlobIds();
    for (const id of [machineId, '018c7dbd-c000-7000-8000-fedcba987654']) {
      const put = await api('PUT', `/api/v1/boot/${id}/profile`, { body: profileForm({ kernel: randomFile(10), initrd: randomFile(10) }) });
      expect(expectProblem(put, 404, 'boot-profile-not-found').machine_id).toBe(id);
      expectProblem(await api('DELETE', `/api/v1/boot/${id}/profile`), 404, 'boot-profile-not-found');
    }
    expect(await storedBlobIds()).toEqual(before);
  });
});

describe('upload validation leaves no blob and no document behind', () => {
  const kernel = randomFile(1000);
  const initrd = randomFile(1000);

  async function expectNothingWritten(run: () => Promise<void>): Promise<void> {
    const before = await storedBlobIds();
    await run();
    expect(await storedBlobIds()).toEqual(before);
  }

  const badForms: { name: string; form: (machineId: string) => FormData; fields: { field: string; reason: string }[] }[] = [
    { name: 'missing machine_id', form: () => profileForm({ kernel, initrd }), fields: [{ field: 'machine_id', reason: 'required field is missing' }] },
    { name: 'missing kernel', form: (id) => profileForm({ machine_id: id, initrd }), fields: [{ field: 'kernel', reason: 'required field is missing' }] },
    { name: 'missing initrd', form: (id) => profileForm({ machine_id: id, kernel }), fields: [{ field: 'initrd', reason: 'required field is missing' }] },
    { name: 'machine_id not a UUIDv7', form: () => profileForm({ machine_id: 'node-01', kernel, initrd }), fields: [{ field: 'machine_id', reason: 'must be a UUIDv7' }] },
    { name: 'unknown field', form: (id) => profileForm({ machine_id: id, kernel, initrd, extra: [['hostname', 'x']] }), fields: [{ field: 'hostname', reason: 'unknown field' }] },
    { name: 'unknown file', form: (id) => profileForm({ machine_id: id, kernel, initrd, extra: [['firmware', randomFile(10)]] }), fields: [{ field: 'firmware', reason: 'unknown field' }] },
    { name: 'repeated field', form: (id) => profileForm({ machine_id: id, kernel, initrd, extra: [['machine_id', id]] }), fields: [{ field: 'machine_id', reason: 'field given more than once' }] },
    { name: 'repeated file', form: (id) => profileForm({ machine_id: id, kernel, initrd, extra: [['kernel', randomFile(10)]] }), fields: [{ field: 'kernel', reason: 'field given more than once' }] },
    { name: 'empty kernel', form: (id) => profileForm({ machine_id: id, kernel: new Uint8Array(0), initrd }), fields: [{ field: 'kernel', reason: 'file is empty' }] },
    { name: 'kernel sent as a text field', form: (id) => withTextKernel(id), fields: [{ field: 'kernel', reason: 'must be a file' }] },
    { name: 'machine_id sent as a file', form: (id) => profileForm({ kernel, initrd, extra: [['machine_id', Buffer.from(id)]] }), fields: [{ field: 'machine_id', reason: 'must be a text field, not a file' }] },
  ];

  function withTextKernel(id: string): FormData {
    const form = profileForm({ machine_id: id, initrd });
    form.append('kernel', 'not a file');
    return form;
  }

  it.each(badForms)('400 validation-error: $name', async ({ form, fields }) => {
    const machineId = await createMachineId(stack.url);
    await expectNothingWritten(async () => {
      const res = await postProfile(stack.url, form(machineId));
      const body = expectProblem(res, 400, 'validation-error');
      expect(body.instance).toBe('/api/v1/profiles');
      expect(body.invalid_fields).toEqual(fields);
    });
    expectProblem(await api('GET', `/api/v1/boot/${machineId}/profile`), 404, 'boot-profile-not-found');
  });

  it('422 unknown-machine when machine_id names no machine', async () => {
    await expectNothingWritten(async () => {
      const id = '018c7dbd-c000-7000-8000-fedcba987654';
      const body = expectProblem(await postProfile(stack.url, profileForm({ machine_id: id, kernel, initrd })), 422, 'unknown-machine');
      expect(body).toMatchObject({ field: 'machine_id', machine_id: id });
    });
  });

  it('422 file-too-large with the spec members, detected while streaming', async () => {
    const machineId = await createMachineId(stack.url);
    const big = randomFile(6 * MiB + 1);
    await expectNothingWritten(async () => {
      const body = expectProblem(await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: big, initrd })), 422, 'file-too-large');
      expect(body).toMatchObject({ title: 'File Too Large', detail: 'Kernel file exceeds maximum allowed size of 6MB', instance: '/api/v1/profiles', field: 'kernel', file_size: big.length, max_size: 6 * MiB });
    });
    await expectNothingWritten(async () => {
      const body = expectProblem(await postProfile(stack.url, profileForm({ machine_id: machineId, kernel, initrd: randomFile(8 * MiB + 5) })), 422, 'file-too-large');
      expect(body).toMatchObject({ field: 'initrd', file_size: 8 * MiB + 5, max_size: 8 * MiB });
    });
    // Exactly at the limit is fine.
    expect((await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(6 * MiB), initrd }))).status).toBe(201);
  });

  it('422 file-too-large on PUT leaves the old profile and its blobs in place', async () => {
    const machineId = await createMachineId(stack.url);
    const created = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel, initrd }));
    await expectNothingWritten(async () => {
      const res = await api('PUT', `/api/v1/boot/${machineId}/profile`, { body: profileForm({ kernel: randomFile(6 * MiB + 1), initrd }) });
      const body = expectProblem(res, 422, 'file-too-large');
      expect(body.instance).toBe(`/api/v1/boot/${machineId}/profile`);
    });
    expect((await api('GET', `/api/v1/boot/${machineId}/profile`)).body).toEqual(created.body);
  });

  const badArgs: { args: string; reason: RegExp }[] = [
    { args: 'console=ttyS0', reason: /not valid JSON/ },
    { args: '{"a":1}', reason: /array/ },
    { args: '"console=ttyS0"', reason: /array/ },
    { args: '[1,2]', reason: /string/ },
    { args: '["console=ttyS0\\nshell"]', reason: /no whitespace/ },
    { args: '["a b"]', reason: /no whitespace/ },
    { args: '["${root-path}"]', reason: /\$/ },
    { args: '["||","shell"]', reason: /\|/ },
    { args: '["&&"]', reason: /&/ },
    { args: '["#comment"]', reason: /#/ },
    { args: '["quote\\"d"]', reason: /quotes/ },
    { args: '["back\\\\slash"]', reason: /backslashes/ },
    { args: '["tab\\there"]', reason: /whitespace/ },
    { args: '["nul\\u0000"]', reason: /control/ },
    { args: '[""]', reason: /empty/ },
    { args: '["initrd=/other.img"]', reason: /set by the service/ },
    { args: JSON.stringify(['x'.repeat(257)]), reason: /256/ },
    { args: JSON.stringify(Array.from({ length: 65 }, () => 'a')), reason: /64/ },
    { args: JSON.stringify(Array.from({ length: 10 }, () => 'a'.repeat(250))), reason: /2048/ },
  ];

  it.each(badArgs)('422 invalid-kernel-args: $args', async ({ args, reason }) => {
    const machineId = await createMachineId(stack.url);
    await expectNothingWritten(async () => {
      const body = expectProblem(await postProfile(stack.url, profileForm({ machine_id: machineId, kernel, initrd, kernel_args: args })), 422, 'invalid-kernel-args');
      expect(body.field).toBe('kernel_args');
      expect(JSON.stringify(body)).toMatch(reason);
    });
  });

  it('accepts the usual kernel arguments', async () => {
    const machineId = await createMachineId(stack.url);
    const args = ['console=tty0', 'console=ttyS0,115200n8', 'ip=dhcp', 'root=/dev/nfs', 'nfsroot=10.0.0.1:/srv/root', 'rd.luks.uuid=1234-abcd', 'systemd.unit=rescue.target', 'intel_iommu=on', 'hugepages=16', 'quiet'];
    const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel, initrd, kernel_args: JSON.stringify(args) }));
    expect(res.status).toBe(201);
    expect(res.body.kernel.args).toEqual(args);
  });

  it('415 for a body that is not multipart/form-data', async () => {
    await expectNothingWritten(async () => {
      expectProblem(await api('POST', '/api/v1/profiles', { json: { machine_id: 'x' } }), 415, 'unsupported-media-type');
      expectProblem(await api('POST', '/api/v1/profiles', { body: 'abc', headers: { 'content-type': 'application/octet-stream' } }), 415, 'unsupported-media-type');
    });
  });

  it.each([
    ['a boundary that never closes', (b: string) => `--${b}\r\nContent-Disposition: form-data; name="kernel"; filename="k"\r\n\r\nAAAA`],
    ['a part with no headers end', (b: string) => `--${b}\r\nContent-Disposition: form-data; name="kernel"`],
    ['garbage', () => 'not multipart at all'],
    ['a kernel_args file part cut off', (b: string) => `--${b}\r\nContent-Disposition: form-data; name="kernel_args"; filename="args.json"\r\n\r\n["ip=dhcp"`],
  ])('400 for a malformed multipart body: %s', async (_name, make) => {
    await expectNothingWritten(async () => {
      const boundary = 'XyZboundary';
      const res = await api('POST', '/api/v1/profiles', { body: make(boundary), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
      expectProblem(res, 400, 'validation-error');
    });
  });

  it('400 when the multipart boundary is missing from the content type', async () => {
    const res = await api('POST', '/api/v1/profiles', { body: 'x', headers: { 'content-type': 'multipart/form-data' } });
    expectProblem(res, 415, 'unsupported-media-type');
  });
});

describe('request size cap', () => {
  it('413 before the body is read when Content-Length is over MAX_REQUEST_BYTES, and nothing is written', async () => {
    const before = await storedBlobIds();
    setEnv({ MAX_REQUEST_BYTES: String(64 * 1024) });
    try {
      const machineId = await createMachineId(stack.url);
      const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(100 * 1024), initrd: randomFile(10) }));
      expectProblem(res, 413, 'payload-too-large');
      expect(res.body.max_size).toBe(64 * 1024);
    } finally {
      setEnv({ MAX_REQUEST_BYTES: undefined });
    }
    expect(await storedBlobIds()).toEqual(before);
  });
});
