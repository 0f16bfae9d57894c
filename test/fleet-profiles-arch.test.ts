import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { aMac, aMachine } from './helpers/fixtures';
import { expectProblem } from './helpers/problem';
import { postProfile, profileForm, randomFile, sha256, storedBlobIds } from './helpers/profiles';
import { commands } from './helpers/scripts';
import { request, useLocalStack } from './helpers/stack';

/**
 * Issue 14, per-architecture images: a profile holds the default kernel and initrd (the x86
 * family, and requests without arch) plus `kernel.<arch>` / `initrd.<arch>` pairs; the script
 * names the requesting architecture's blobs, and an architecture the profile lacks gets the
 * refusal script. Proxy mode with 4 KiB parts, so an initrd of a few KiB is listed in parts.
 */
const retentionSeconds = 1;
const stack = useLocalStack({ ASSET_DELIVERY: 'proxy', ASSET_PART_BYTES: '4096', PROFILE_VERSION_RETENTION_SECONDS: String(retentionSeconds), BLOB_SWEEP_GRACE_SECONDS: '1' });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

interface Ref {
  id: string;
  sha256: string;
  size: number;
}
interface Profile {
  id: string;
  machine_id: string;
  kernel: Ref & { args: string[] };
  initrd: Ref;
  architectures?: Record<string, { kernel: Ref; initrd: Ref }>;
  vendor_data?: { format: string; size: number; sha256: string };
}

const x86 = { kernel: randomFile(4096), initrd: randomFile(4096) };
// 10,000 bytes: three 4 KiB parts.
const arm64 = { kernel: randomFile(6000), initrd: randomFile(10_000) };
const riscv64 = { kernel: randomFile(3000), initrd: randomFile(2000) };

const digestOf = (bytes: Uint8Array) => ({ sha256: sha256(bytes), size: bytes.length });

async function machine(): Promise<{ id: string; mac: string }> {
  const mac = aMac();
  const res = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
  expect(res.status).toBe(201);
  return { id: res.body.id, mac };
}

/** The bytes of an asset URL from a script, fetched as iPXE would. */
async function download(path: string): Promise<Buffer> {
  const res = await fetch(stack.url + path);
  expect(res.status, path).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/** The kernel and initrd URLs of the script `mac` gets for `arch` (none: not sent). */
async function scriptFor(mac: string, arch?: string): Promise<{ text: string; kernel: string | undefined; initrds: string[] }> {
  const res = await api('GET', `/boot.ipxe?mac=${encodeURIComponent(mac)}${arch === undefined ? '' : `&arch=${arch}&platform=efi`}`);
  expect(res.status).toBe(200);
  const [kernel] = commands(res.text, 'kernel');
  return { text: res.text, kernel, initrds: commands(res.text, 'initrd').map((l) => l.split(' ').at(-1) as string) };
}

const urlOf = (kernelLine: string | undefined) => kernelLine?.split(' ')[1] as string;

describe('a profile with images per architecture (multipart)', () => {
  it('serves each architecture its own blobs, x86 and no arch the default ones, and refuses an architecture it lacks', async () => {
    const { id, mac } = await machine();
    const created = await postProfile(
      stack.url,
      profileForm({
        machine_id: id,
        kernel: x86.kernel,
        initrd: x86.initrd,
        kernel_args: JSON.stringify(['console=ttyS0', 'netboot.arch={{arch}}']),
        extra: [['kernel.arm64', arm64.kernel], ['initrd.arm64', arm64.initrd]],
      }),
    );
    expect(created.status).toBe(201);
    const profile = created.body as unknown as Profile;
    expect(profile.kernel).toMatchObject(digestOf(x86.kernel));
    expect(profile.architectures).toEqual({ arm64: { kernel: { id: expect.any(String), ...digestOf(arm64.kernel) }, initrd: { id: expect.any(String), ...digestOf(arm64.initrd) } } });
    const arm = profile.architectures?.arm64 as { kernel: Ref; initrd: Ref };
    expect((await api<Profile>('GET', `/api/v1/boot/${id}/profile`)).body).toEqual(profile);

    // arm64: its kernel (versioned by its blob id) and its initrd in three parts, every part named on the kernel line.
    const a = await scriptFor(mac, 'arm64');
    expect(a.kernel).toBe(`kernel /asset/${profile.id}/kernel?v=${arm.kernel.id} initrd=initrd initrd=initrd1 initrd=initrd2 console=ttyS0 netboot.arch=arm64`);
    expect(a.initrds).toEqual([0, 1, 2].map((part) => `/asset/${profile.id}/initrd?v=${arm.initrd.id}&part=${part}`));
    expect(sha256(await download(urlOf(a.kernel)))).toBe(arm.kernel.sha256);
    const parts = await Promise.all(a.initrds.map(download));
    expect(sha256(Buffer.concat(parts))).toBe(arm.initrd.sha256);

    // i386, x86_64 and no arch: the default images, as before.
    for (const arch of ['i386', 'x86_64', undefined]) {
      const s = await scriptFor(mac, arch);
      expect(urlOf(s.kernel)).toBe(`/asset/${profile.id}/kernel?v=${profile.kernel.id}`);
      expect(s.initrds).toEqual([`/asset/${profile.id}/initrd?v=${profile.initrd.id}`]);
    }
    expect(sha256(await download(`/asset/${profile.id}/kernel?v=${profile.kernel.id}`))).toBe(profile.kernel.sha256);

    // An architecture the profile lacks: the refusal script, nothing to download.
    const r = await scriptFor(mac, 'riscv64');
    expect(r.text).toContain(`echo netboot: boot profile ${profile.id} has no kernel for architecture riscv64 (it boots i386 / x86_64 / arm64): not booting`);
    expect(r.text).not.toContain('/asset/');
    expect(r.kernel).toBeUndefined();
  });

  it('refuses unknown and x86 architecture names and half pairs with 400, storing nothing', async () => {
    const { id } = await machine();
    const before = await storedBlobIds();
    const cases: [string, [string, Uint8Array][], { field: string; reason: RegExp }][] = [
      ['unknown', [['kernel.mips', arm64.kernel], ['initrd.mips', arm64.initrd]], { field: 'kernel.mips', reason: /^unknown architecture "mips": one of arm32, arm64, riscv32, riscv64, loong64/ }],
      ['x86', [['kernel.x86_64', arm64.kernel], ['initrd.x86_64', arm64.initrd]], { field: 'kernel.x86_64', reason: /x86_64 boots the profile's kernel/ }],
      ['half a pair', [['kernel.arm64', arm64.kernel]], { field: 'initrd.arm64', reason: /arm64 needs both kernel\.arm64 and initrd\.arm64/ }],
    ];
    for (const [what, extra, expected] of cases) {
      const res = await postProfile(stack.url, profileForm({ machine_id: id, kernel: x86.kernel, initrd: x86.initrd, extra }));
      const body = expectProblem(res, 400, 'validation-error');
      expect(body.invalid_fields, what).toEqual(expect.arrayContaining([{ field: expected.field, reason: expect.stringMatching(expected.reason) }]));
    }
    expect(await storedBlobIds()).toEqual(before);
    expectProblem(await api('GET', `/api/v1/boot/${id}/profile`), 404, 'boot-profile-not-found');
    // The same names in an upload session.
    const session = await api('POST', '/api/v1/uploads', {
      json: { machine_id: id, mode: 'create', kernel: digestOf(x86.kernel), initrd: digestOf(x86.initrd), 'kernel.mips': digestOf(arm64.kernel), 'kernel.arm64': digestOf(arm64.kernel) },
    });
    const body = expectProblem(session, 400, 'validation-error');
    expect(body.invalid_fields).toEqual(
      expect.arrayContaining([
        { field: 'kernel.mips', reason: expect.stringMatching(/^unknown architecture "mips"/) },
        { field: 'initrd.arm64', reason: expect.stringMatching(/arm64 needs both/) },
      ]),
    );
  });

  it('a replace drops, retains and then releases every architecture\'s blobs; the ledger never lets one go that a profile needs', async () => {
    const { id, mac } = await machine();
    const first = (await postProfile(stack.url, profileForm({ machine_id: id, kernel: x86.kernel, initrd: x86.initrd, extra: [['kernel.arm64', randomFile(5000)], ['initrd.arm64', randomFile(3000)]] }))).body as unknown as Profile;
    const oldArm = first.architectures?.arm64 as { kernel: Ref; initrd: Ref };
    const oldScript = await scriptFor(mac, 'arm64');

    // Replaced by a version with riscv64 only: arm64 is refused from now on...
    const replaced = await api<Profile>('PUT', `/api/v1/boot/${id}/profile`, { body: profileForm({ kernel: randomFile(4096), initrd: randomFile(4096), extra: [['kernel.riscv64', riscv64.kernel], ['initrd.riscv64', riscv64.initrd]] }) });
    expect(replaced.status).toBe(200);
    expect(Object.keys(replaced.body.architectures ?? {})).toEqual(['riscv64']);
    expect((await scriptFor(mac, 'arm64')).text).toContain('has no kernel for architecture arm64 (it boots i386 / x86_64 / riscv64)');
    // ...but the script already served still downloads the old arm64 version during the retention.
    expect(sha256(await download(urlOf(oldScript.kernel)))).toBe(oldArm.kernel.sha256);

    // A profile that keeps its arm64 images throughout: the sweeper must never take them.
    const keeper = await machine();
    const kept = (await postProfile(stack.url, profileForm({ machine_id: keeper.id, kernel: randomFile(4096), initrd: randomFile(4096), extra: [['kernel.arm64', randomFile(4100)], ['initrd.arm64', randomFile(4200)]] }))).body as unknown as Profile;
    const keptIds = [kept.kernel.id, kept.initrd.id, kept.architectures?.arm64?.kernel.id, kept.architectures?.arm64?.initrd.id];

    await sleep(retentionSeconds * 1000 + 1200); // past the retention and the sweep's grace period
    const swept = await api<{ deleted: string[] }>('POST', '/internal/blobs/sweep');
    expect(swept.status).toBe(200);
    expect(swept.body.deleted).toEqual(expect.arrayContaining([first.kernel.id, first.initrd.id, oldArm.kernel.id, oldArm.initrd.id]));
    const stored = await storedBlobIds();
    const current = replaced.body;
    for (const blob of [current.kernel.id, current.initrd.id, current.architectures?.riscv64?.kernel.id, current.architectures?.riscv64?.initrd.id, ...keptIds]) expect(stored).toContain(blob);
    expect(stored).not.toContain(oldArm.kernel.id);
    expect((await fetch(`${stack.url}${urlOf(oldScript.kernel)}`)).status).toBe(404);

    // Deleting the profile releases its riscv64 blobs with the rest.
    expect((await api('DELETE', `/api/v1/boot/${id}/profile`)).status).toBe(204);
    const after = await storedBlobIds();
    for (const blob of [current.kernel.id, current.architectures?.riscv64?.kernel.id, current.architectures?.riscv64?.initrd.id]) expect(after).not.toContain(blob);
    for (const blob of keptIds) expect(after).toContain(blob);
  });
});

/** Sends each file of a session that needs bytes to its resumable upload URL. */
async function sendFiles(files: Record<string, { upload: { url: string } | null }>, bytes: Record<string, Uint8Array>): Promise<void> {
  for (const [name, file] of Object.entries(files)) {
    if (!file.upload) continue;
    const res = await fetch(file.upload.url, { method: 'PUT', body: new Uint8Array(bytes[name] as Uint8Array) });
    expect(res.status, name).toBeLessThan(300);
  }
}

describe('upload sessions with images per architecture', () => {
  // Bytes of their own: the multipart tests above have indexed (and so would reuse) theirs.
  const files = { kernel: randomFile(4096), initrd: randomFile(4096), 'kernel.arm64': randomFile(6000), 'initrd.arm64': randomFile(10_000) };
  const declared = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, digestOf(bytes)]));

  it('verifies every file at finalize, commits each architecture, and reuses held blobs by content', async () => {
    const { id, mac } = await machine();
    const opened = await api<{ id: string; files: Record<string, { blob_id: string; upload: { url: string } | null }> }>('POST', '/api/v1/uploads', { json: { machine_id: id, mode: 'create', ...declared } });
    expect(opened.status).toBe(201);
    expect(Object.keys(opened.body.files)).toEqual(['kernel', 'initrd', 'kernel.arm64', 'initrd.arm64']);

    // Only the default pair sent: finalize names the missing arm64 files.
    await sendFiles({ kernel: opened.body.files.kernel as { upload: { url: string } | null }, initrd: opened.body.files.initrd as { upload: { url: string } | null } }, files);
    const incomplete = expectProblem(await api('POST', `/api/v1/uploads/${opened.body.id}/finalize`), 409, 'upload-incomplete');
    expect(incomplete.files).toMatchObject({ 'kernel.arm64': { complete: false }, 'initrd.arm64': { complete: false }, kernel: { complete: true } });

    await sendFiles({ 'kernel.arm64': opened.body.files['kernel.arm64'] as { upload: { url: string } | null }, 'initrd.arm64': opened.body.files['initrd.arm64'] as { upload: { url: string } | null } }, files);
    const fin = await api<Profile>('POST', `/api/v1/uploads/${opened.body.id}/finalize`);
    expect(fin.status).toBe(201);
    expect(fin.body.architectures?.arm64).toEqual({ kernel: { id: opened.body.files['kernel.arm64']?.blob_id, ...declared['kernel.arm64'] }, initrd: { id: opened.body.files['initrd.arm64']?.blob_id, ...declared['initrd.arm64'] } });
    const s = await scriptFor(mac, 'arm64');
    expect(urlOf(s.kernel)).toBe(`/asset/${fin.body.id}/kernel?v=${fin.body.architectures?.arm64?.kernel.id}`);
    expect(sha256(Buffer.concat(await Promise.all(s.initrds.map(download))))).toBe(sha256(files['initrd.arm64']));

    // A second machine with the same files: nothing to send, the same blobs.
    const other = await machine();
    const again = await api<{ id: string; files: Record<string, { blob_id: string; upload: unknown }> }>('POST', '/api/v1/uploads', { json: { machine_id: other.id, mode: 'create', ...declared } });
    expect(Object.values(again.body.files).map((f) => f.upload)).toEqual([null, null, null, null]);
    const reused = await api<Profile>('POST', `/api/v1/uploads/${again.body.id}/finalize`);
    expect(reused.status).toBe(201);
    expect(reused.body.architectures).toEqual(fin.body.architectures);
  });

  it('a wrong arm64 initrd is a checksum mismatch naming it; nothing is committed', async () => {
    const { id } = await machine();
    const wanted = { ...files, 'initrd.arm64': randomFile(7000) };
    const opened = await api<{ id: string; files: Record<string, { upload: { url: string } | null }> }>('POST', '/api/v1/uploads', {
      json: { machine_id: id, mode: 'create', ...Object.fromEntries(Object.entries(wanted).map(([name, bytes]) => [name, digestOf(bytes)])) },
    });
    expect(opened.status).toBe(201);
    await sendFiles(opened.body.files, { ...wanted, 'initrd.arm64': randomFile(7000) });
    const body = expectProblem(await api('POST', `/api/v1/uploads/${opened.body.id}/finalize`), 422, 'checksum-mismatch');
    expect(body.field).toBe('initrd.arm64');
    expectProblem(await api('GET', `/api/v1/boot/${id}/profile`), 404, 'boot-profile-not-found');
  });
});

describe('the default profile per architecture', () => {
  it('multipart PUT and an upload session (machine_id "default") set its images per architecture', async () => {
    const unknown = aMac();
    const put = await api<Profile>('PUT', '/api/v1/boot/default/profile', { body: profileForm({ kernel: x86.kernel, initrd: x86.initrd, extra: [['kernel.arm64', arm64.kernel], ['initrd.arm64', arm64.initrd]] }) });
    expect(put.status).toBe(201);
    expect(put.body.machine_id).toBe('default');
    const s = await scriptFor(unknown, 'arm64');
    expect(urlOf(s.kernel)).toBe(`/asset/${put.body.id}/kernel?v=${put.body.architectures?.arm64?.kernel.id}`);
    expect((await scriptFor(unknown, 'loong64')).text).toContain('has no kernel for architecture loong64 (it boots i386 / x86_64 / arm64)');

    // Replaced through an upload session: riscv64 instead of arm64.
    const digests = { kernel: digestOf(x86.kernel), initrd: digestOf(x86.initrd), 'kernel.riscv64': digestOf(riscv64.kernel), 'initrd.riscv64': digestOf(riscv64.initrd) };
    expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: 'default', mode: 'create', ...digests } }), 409, 'boot-profile-exists');
    const opened = await api<{ id: string; machine_id: string; files: Record<string, { upload: { url: string } | null }> }>('POST', '/api/v1/uploads', { json: { machine_id: 'default', mode: 'replace', ...digests } });
    expect(opened.status).toBe(201);
    expect(opened.body.machine_id).toBe('default');
    await sendFiles(opened.body.files, { kernel: x86.kernel, initrd: x86.initrd, 'kernel.riscv64': riscv64.kernel, 'initrd.riscv64': riscv64.initrd });
    const fin = await api<Profile>('POST', `/api/v1/uploads/${opened.body.id}/finalize`);
    expect(fin.status).toBe(200);
    expect(Object.keys(fin.body.architectures ?? {})).toEqual(['riscv64']);
    expect((await api<Profile>('GET', '/api/v1/boot/default/profile')).body).toEqual(fin.body);
    expect(urlOf((await scriptFor(unknown, 'riscv64')).kernel)).toBe(`/asset/${fin.body.id}/kernel?v=${fin.body.architectures?.riscv64?.kernel.id}`);
    expect((await scriptFor(unknown, 'arm64')).text).toContain('has no kernel for architecture arm64');

    expect((await api('DELETE', '/api/v1/boot/default/profile')).status).toBe(204);
    expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: 'default', mode: 'replace', ...digests } }), 404, 'boot-profile-not-found');
  });
});


/** The path of a boot's own NoCloud seed (`{{metadata_url}}`): a boot script fetched as the machine would. */
async function seedOf(mac: string): Promise<string> {
  const booted = await api('GET', `/boot.ipxe?mac=${mac}`);
  return new URL(/ds=nocloud;s=(\S+)/.exec(booted.text)?.[1] ?? 'http://missing/').pathname;
}
const seedArgs = '["ds=nocloud;s={{metadata_url}}"]';

describe('vendor-data', () => {
  const vendor = '#cloud-config\npackages: [htop]\n';

  it('is served byte for byte when the profile has it, empty when not, and validated like user-data', async () => {
    const withIt = await machine();
    const created = await postProfile(stack.url, profileForm({ machine_id: withIt.id, kernel: x86.kernel, initrd: x86.initrd, kernel_args: seedArgs, extra: [['vendor_data', new TextEncoder().encode(vendor)]] }));
    expect(created.status).toBe(201);
    expect((created.body as unknown as Profile).vendor_data).toEqual({ format: 'cloud-config', size: vendor.length, sha256: sha256(Buffer.from(vendor)) });
    const served = await api('GET', `${await seedOf(withIt.mac)}vendor-data`);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('text/cloud-config');
    expect(served.text).toBe(vendor);

    // A replace without it drops it: empty again.
    expect((await api('PUT', `/api/v1/boot/${withIt.id}/profile`, { body: profileForm({ kernel: x86.kernel, initrd: x86.initrd, kernel_args: seedArgs }) })).status).toBe(200);
    const empty = await api('GET', `${await seedOf(withIt.mac)}vendor-data`);
    expect(empty.status).toBe(200);
    expect(empty.text).toBe('');
    expect(empty.headers.get('content-type')).toMatch(/^text\/plain/);

    const bad = await postProfile(stack.url, profileForm({ machine_id: (await machine()).id, kernel: x86.kernel, initrd: x86.initrd, extra: [['vendor_data', '#cloud-config\nkey: [unclosed\n']] }));
    expect(expectProblem(bad, 422, 'invalid-user-data').field).toBe('vendor_data');

    // Through an upload session too.
    const viaSession = await machine();
    const opened = await api<{ id: string; vendor_data?: unknown }>('POST', '/api/v1/uploads', { json: { machine_id: viaSession.id, mode: 'create', kernel: digestOf(x86.kernel), initrd: digestOf(x86.initrd), kernel_args: ['ds=nocloud;s={{metadata_url}}'], vendor_data: '#!/bin/sh\necho vendor\n' } });
    expect(opened.status).toBe(201);
    expect(opened.body.vendor_data).toMatchObject({ format: 'script' });
    expect((await api('POST', `/api/v1/uploads/${opened.body.id}/finalize`)).status).toBe(201);
    const script = await api('GET', `${await seedOf(viaSession.mac)}vendor-data`);
    expect(script.headers.get('content-type')).toBe('text/x-shellscript');
    expect(script.text).toBe('#!/bin/sh\necho vendor\n');
    expect(expectProblem(await api('POST', '/api/v1/uploads', { json: { machine_id: viaSession.id, mode: 'replace', kernel: digestOf(x86.kernel), initrd: digestOf(x86.initrd), vendor_data: 'not cloud-init' } }), 422, 'invalid-user-data').field).toBe('vendor_data');
  });
});
