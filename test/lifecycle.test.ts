import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Inventory } from '../shared/inventory/inventory';
import { aMac, aMachine } from './helpers/fixtures';
import { postProfile, profileForm, randomFile } from './helpers/profiles';
import { expectProblem } from './helpers/problem';
import { request, setEnv, useLocalStack } from './helpers/stack';
import { Switchable, withOverrides } from './helpers/switchable';

/** Issue 13: netboot control, the boot reports, the boot timeline, discovery, 503 on the boot path. */
const inventory = new Switchable<Inventory>();
let clockOffsetMs = 0;
const stack = useLocalStack(
  { ASSET_DELIVERY: 'proxy' },
  { decorate: (parts) => ({ ...parts, inventory: inventory.wrap(parts.inventory), clock: () => Date.now() + clockOffsetMs }) },
);
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);
const patch = (id: string, body: unknown, type = 'application/merge-patch+json') =>
  api<Record<string, unknown>>('PATCH', `/api/v1/machines/${id}`, { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': type } });

const tokenOf = (script: string): string => /\/boot\/report\?token=([^&\s]+)&phase=booting/.exec(script)?.[1] ?? '';
const kernelUrlOf = (script: string): string => /^kernel (\S+)/m.exec(script)?.[1] ?? '';
const initrdUrlOf = (script: string): string => /^initrd --name initrd (\S+)/m.exec(script)?.[1] ?? '';

async function machineWithProfile(extra: Record<string, unknown> = {}): Promise<{ id: string; mac: string; profileId: string }> {
  const mac = aMac();
  const created = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }], ...extra }) });
  expect(created.status).toBe(201);
  const profile = await postProfile(stack.url, profileForm({ machine_id: created.body.id, kernel: randomFile(2048), initrd: randomFile(1024), kernel_args: '["console=ttyS0"]' }));
  expect(profile.status).toBe(201);
  return { id: created.body.id, mac, profileId: profile.body.id };
}

afterEach(() => {
  inventory.reset();
  clockOffsetMs = 0;
  setEnv({ BOOT_DB_TIMEOUT_MS: undefined, DISCOVERY_WRITES_PER_MINUTE: undefined, DISCOVERY_COALESCE_SECONDS: undefined, ASSET_DELIVERY: 'proxy' });
});

describe('netboot on machines', () => {
  it('POST and PUT accept it, GET returns it, enabled by default', async () => {
    const plain = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() });
    expect((await api('GET', `/api/v1/machines/${plain.body.id}`)).body.netboot).toBe('enabled');
    const once = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ netboot: 'once' }) });
    expect((await api('GET', `/api/v1/machines/${once.body.id}`)).body.netboot).toBe('once');
    const put = await api('PUT', `/api/v1/machines/${once.body.id}`, { json: aMachine({ netboot: 'disabled' }) });
    expect(put.body.netboot).toBe('disabled');
    const bad = expectProblem(await api('POST', '/api/v1/machines', { json: aMachine({ netboot: 'sometimes' }) }), 400, 'validation-error');
    expect(bad.invalid_fields).toEqual([{ field: 'netboot', reason: 'must be one of enabled, disabled, once' }]);
  });
});

describe('PATCH /api/v1/machines/{id} (RFC 7396 merge patch)', () => {
  it('{"netboot":"once"} changes nothing else', async () => {
    const body = aMachine();
    const { body: created } = await api<{ id: string }>('POST', '/api/v1/machines', { json: body });
    const res = await patch(created.id, { netboot: 'once' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...body, id: created.id, netboot: 'once' });
    expect((await api('GET', `/api/v1/machines/${created.id}`)).body).toEqual({ ...body, id: created.id, netboot: 'once' });
  });

  it('null removes a member (its default applies); arrays are replaced whole', async () => {
    const { body: created } = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ netboot: 'disabled' }) });
    const res = await patch(created.id, { netboot: null, drives: null, accelerators: [{ manufacturer: 'NVIDIA' }] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ netboot: 'enabled', drives: [], accelerators: [{ manufacturer: 'NVIDIA' }] });
  });

  it('415 unless application/merge-patch+json; 400 for bad JSON or a bad result; 404 unknown machine; 413 over 64 KiB', async () => {
    const { body: created } = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() });
    expectProblem(await patch(created.id, { netboot: 'once' }, 'application/json'), 415, 'unsupported-media-type');
    expectProblem(await patch(created.id, { netboot: 'once' }, 'text/plain'), 415, 'unsupported-media-type');
    expect((await patch(created.id, { netboot: 'once' }, 'application/merge-patch+json; charset=utf-8')).status).toBe(200);
    expectProblem(await patch(created.id, '{"netboot":'), 400, 'invalid-json');
    const invalid = expectProblem(await patch(created.id, { netboot: 'never', id: 'x' }), 400, 'validation-error');
    expect(invalid.invalid_fields).toEqual(expect.arrayContaining([{ field: 'netboot', reason: 'must be one of enabled, disabled, once' }, { field: 'id', reason: 'unknown field' }]));
    expectProblem(await patch(created.id, { nics: [] }), 400, 'validation-error');
    expectProblem(await patch('018c7dbd-c000-7000-8000-fedcba987654', { netboot: 'once' }), 404, 'machine-not-found');
    expectProblem(await patch(created.id, { drives: Array.from({ length: 5000 }, () => ({ capacity: 500107862016 })) }), 413, 'payload-too-large');
  });

  it('a patch of nics follows the MAC-claim rules: 409 for a MAC another machine has; new MACs boot, dropped ones do not', async () => {
    const a = await machineWithProfile();
    const b = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine() });
    const taken = expectProblem(await patch(b.body.id, { nics: [{ mac: a.mac }] }), 409, 'duplicate-mac-address');
    expect(taken).toMatchObject({ mac_address: a.mac, existing_machine_id: a.id });
    const fresh = aMac();
    expect((await patch(a.id, { nics: [{ mac: fresh }] })).status).toBe(200);
    expect((await api('GET', `/boot.ipxe?mac=${fresh}`)).status).toBe(200);
    expectProblem(await api('GET', `/boot.ipxe?mac=${a.mac}`), 404, 'machine-not-configured');
  });
});

describe('netboot disabled and once', () => {
  it('disabled: 200 with a script that leaves iPXE for the local disk, no kernel', async () => {
    const m = await machineWithProfile({ netboot: 'disabled' });
    const res = await api('GET', `/boot.ipxe?mac=${m.mac}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.text).toContain(`# Boot configuration for ${m.id} (${m.mac})`);
    expect(res.text).toContain('iseq ${platform} efi && goto local_efi || goto local_bios');
    expect(res.text).toContain('sanboot --no-describe --drive 0x80 ||');
    expect(res.text.match(/^exit$/gm)).toHaveLength(2);
    expect(res.text).not.toMatch(/^(kernel|initrd|boot)\b/m);
  });

  it('disabled without a profile is still the local-boot script', async () => {
    const mac = aMac();
    await api('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }], netboot: 'disabled' }) });
    expect((await api('GET', `/boot.ipxe?mac=${mac}`)).text).toContain('sanboot --no-describe');
  });

  it('once: the profile until the script reports booting, then disabled (machine and boot path)', async () => {
    const m = await machineWithProfile({ netboot: 'once' });
    const first = await api('GET', `/boot.ipxe?mac=${m.mac}`);
    expect(first.text).toContain(`# Boot Profile ID: ${m.profileId}`);
    // Served again before the report: still the profile (a retry of the same boot).
    const again = await api('GET', `/boot.ipxe?mac=${m.mac}`);
    expect(again.text).toContain(`# Boot Profile ID: ${m.profileId}`);
    const report = await api('GET', `/boot/report?token=${tokenOf(again.text)}&phase=booting`);
    expect(report.status).toBe(200);
    expect(report.text).toBe('ok\n');
    expect((await api('GET', `/api/v1/machines/${m.id}`)).body.netboot).toBe('disabled');
    expect((await api('GET', `/boot.ipxe?mac=${m.mac}`)).text).toContain('sanboot --no-describe');
    // The earlier script's report still counts (recorded), and changes nothing more.
    expect((await api('GET', `/boot/report?token=${tokenOf(first.text)}&phase=booting`)).status).toBe(200);
    expect((await api('GET', `/api/v1/machines/${m.id}`)).body.netboot).toBe('disabled');
  });

  it('enabled stays enabled after a report', async () => {
    const m = await machineWithProfile();
    const script = await api('GET', `/boot.ipxe?mac=${m.mac}`);
    expect((await api('GET', `/boot/report?token=${tokenOf(script.text)}&phase=booting`)).status).toBe(200);
    expect((await api('GET', `/api/v1/machines/${m.id}`)).body.netboot).toBe('enabled');
  });

  it('the installed callback: POST /boot/installed with the kernel line’s token; a once machine becomes disabled', async () => {
    const m = await machineWithProfile({ netboot: 'once' });
    const script = (await api('GET', `/boot.ipxe?mac=${m.mac}`)).text;
    const onKernelLine = /netboot\.token=(\S+)/.exec(script)?.[1];
    expect(onKernelLine).toBe(tokenOf(script));
    const res = await api('POST', `/boot/installed?token=${onKernelLine}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ recorded: 'installed', netboot_disabled: true });
    expect((await api('GET', `/api/v1/machines/${m.id}`)).body.netboot).toBe('disabled');
  });

  it('a wrong secret, an unknown boot or a malformed token is refused; the machine is unchanged', async () => {
    const m = await machineWithProfile({ netboot: 'once' });
    const token = tokenOf((await api('GET', `/boot.ipxe?mac=${m.mac}`)).text);
    const [machineId, bootId] = token.split('.');
    const forged = `${machineId}.${bootId}.${'A'.repeat(43)}`;
    expectProblem(await api('GET', `/boot/report?token=${forged}&phase=booting`), 404, 'boot-not-found');
    expectProblem(await api('POST', `/boot/installed?token=${forged}`), 404, 'boot-not-found');
    expectProblem(await api('GET', `/boot/report?token=${machineId}.${machineId}.${token.split('.')[2]}&phase=booting`), 404, 'boot-not-found');
    expectProblem(await api('GET', `/boot/report?token=${m.mac}&phase=booting`), 400, 'validation-error');
    expectProblem(await api('GET', `/boot/report?token=${token}&phase=installed`), 400, 'validation-error');
    expect((await api('GET', `/api/v1/machines/${m.id}`)).body.netboot).toBe('once');
  });

  it('the report and callback are boot-network routes: 403 outside BOOT_ALLOWED_CIDRS', async () => {
    setEnv({ BOOT_ALLOWED_CIDRS: '10.99.0.0/16' });
    try {
      expectProblem(await api('GET', '/boot/report?token=x&phase=booting'), 403, 'forbidden');
      expectProblem(await api('POST', '/boot/installed?token=x'), 403, 'forbidden');
    } finally {
      setEnv({ BOOT_ALLOWED_CIDRS: undefined });
    }
  });
});

describe('GET /api/v1/machines/{id}/boots', () => {
  it('newest first, each with script, kernel, initrd (proxy: bytes, duration), booting, installed in order', async () => {
    const m = await machineWithProfile();
    const older = (await api('GET', `/boot.ipxe?mac=${m.mac}&arch=x86_64&platform=efi`)).text;
    const script = (await api('GET', `/boot.ipxe?mac=${m.mac}&arch=x86_64&platform=pcbios`)).text;
    expect((await fetch(stack.url + kernelUrlOf(script))).status).toBe(200);
    expect((await fetch(stack.url + initrdUrlOf(script))).status).toBe(200);
    await api('GET', `/boot/report?token=${tokenOf(script)}&phase=booting`);
    await api('POST', `/boot/installed?token=${tokenOf(script)}`);

    // Download phases are written after the response (a transaction since issue 21): wait for them.
    const res = await vi.waitFor(async () => {
      const listed = await api<{ machine_id: string; boots: { phases: unknown[] }[] }>('GET', `/api/v1/machines/${m.id}/boots`);
      expect(listed.body.boots[0]?.phases).toHaveLength(5);
      return listed;
    }, { timeout: 10_000, interval: 200 });
    expect(res.status).toBe(200);
    expect(res.body.boots).toHaveLength(2);
    const [newest, oldest] = res.body.boots as unknown as { id: string; phases: Record<string, unknown>[] }[];
    expect(newest?.id).toBe(tokenOf(script).split('.')[1]);
    expect(oldest?.id).toBe(tokenOf(older).split('.')[1]);
    expect(newest).toMatchObject({ mac: m.mac, action: 'profile', profile_id: m.profileId, netboot: 'enabled' });
    expect(newest?.phases.map((p) => p.phase)).toEqual(['script', 'kernel', 'initrd', 'booting', 'installed']);
    expect(newest?.phases[0]).toMatchObject({ phase: 'script', profile_id: m.profileId, arch: 'x86_64', platform: 'pcbios', client_address: expect.any(String) });
    expect(newest?.phases[1]).toMatchObject({ phase: 'kernel', delivery: 'proxy', bytes: 2048, complete: true, duration_ms: expect.any(Number) });
    expect(newest?.phases[2]).toMatchObject({ phase: 'initrd', delivery: 'proxy', bytes: 1024 });
    expect(oldest?.phases.map((p) => p.phase)).toEqual(['script']);
  });

  it('redirect mode records that the redirect was issued; 404 for an unknown machine', async () => {
    setEnv({ ASSET_DELIVERY: 'redirect' });
    const m = await machineWithProfile();
    const script = (await api('GET', `/boot.ipxe?mac=${m.mac}`)).text;
    expect((await fetch(stack.url + kernelUrlOf(script), { redirect: 'manual' })).status).toBe(302);
    const res = await api<{ boots: { phases: Record<string, unknown>[] }[] }>('GET', `/api/v1/machines/${m.id}/boots`);
    expect(res.body.boots[0]?.phases[1]).toMatchObject({ phase: 'kernel', delivery: 'redirect' });
    expect(res.body.boots[0]?.phases[1]).not.toHaveProperty('bytes');
    expectProblem(await api('GET', '/api/v1/machines/018c7dbd-c000-7000-8000-fedcba987654/boots'), 404, 'machine-not-found');
  });

  it('keeps the last 10', async () => {
    const m = await machineWithProfile();
    for (let i = 0; i < 12; i++) await api('GET', `/boot.ipxe?mac=${m.mac}`);
    expect((await api<{ boots: unknown[] }>('GET', `/api/v1/machines/${m.id}/boots`)).body.boots).toHaveLength(10);
  });
});

describe('discovery of unknown MACs', () => {
  it('an unknown MAC is recorded with arch and platform; GET /api/v1/discoveries lists it; registering the MAC removes it', async () => {
    const mac = aMac();
    expectProblem(await api('GET', `/boot.ipxe?mac=${mac}&arch=x86_64&platform=efi`), 404, 'machine-not-configured');
    const res = await api<{ discoveries: Record<string, unknown>[]; pagination: unknown }>('GET', `/api/v1/discoveries?mac=${mac}`);
    expect(res.status).toBe(200);
    expect(res.body.discoveries).toEqual([
      { mac, first_seen: expect.any(String), last_seen: expect.any(String), requests: 1, client_address: expect.any(String), arch: 'x86_64', platform: 'efi', expire_at: expect.any(String) },
    ]);
    expect(res.body.pagination).toEqual({ total: 1, page: 1, per_page: 20, total_pages: 1 });
    expect((await api<{ discoveries: { mac: string }[] }>('GET', '/api/v1/discoveries?per_page=100')).body.discoveries.map((d) => d.mac)).toContain(mac);

    expect((await api('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) })).status).toBe(201);
    expect((await api<{ discoveries: unknown[] }>('GET', `/api/v1/discoveries?mac=${mac}`)).body.discoveries).toEqual([]);
  });

  it('a machine without a profile is not a discovery; arch/platform outside the allow-list are 400', async () => {
    const mac = aMac();
    await api('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
    await api('GET', `/boot.ipxe?mac=${mac}`);
    expect((await api<{ discoveries: unknown[] }>('GET', `/api/v1/discoveries?mac=${mac}`)).body.discoveries).toEqual([]);
    expectProblem(await api('GET', `/boot.ipxe?mac=${aMac()}&arch=x86_64;echo`), 400, 'validation-error');
    expectProblem(await api('GET', `/boot.ipxe?mac=${aMac()}&platform=${'e'.repeat(17)}`), 400, 'validation-error');
    expect((await api('GET', `/boot.ipxe?mac=${aMac()}&arch=&platform=`)).status).toBe(404); // empty: absent
  });

  it('repeated sightings are coalesced: one write per MAC per DISCOVERY_COALESCE_SECONDS, the count catches up at the next', async () => {
    setEnv({ DISCOVERY_COALESCE_SECONDS: '60' });
    const mac = aMac();
    for (let i = 0; i < 4; i++) await api('GET', `/boot.ipxe?mac=${mac}`);
    const first = (await api<{ discoveries: { requests: number; first_seen: string; last_seen: string }[] }>('GET', `/api/v1/discoveries?mac=${mac}`)).body.discoveries[0];
    expect(first?.requests).toBe(1);
    clockOffsetMs = 61_000;
    await api('GET', `/boot.ipxe?mac=${mac}&arch=arm64`);
    const later = (await api<{ discoveries: { requests: number; first_seen: string; last_seen: string; arch: string }[] }>('GET', `/api/v1/discoveries?mac=${mac}`)).body.discoveries[0];
    expect(later).toMatchObject({ requests: 5, first_seen: first?.first_seen, arch: 'arm64' });
    expect(Date.parse(later?.last_seen ?? '')).toBeGreaterThan(Date.parse(first?.last_seen ?? ''));
  });

  it('a flood of random MACs writes at most DISCOVERY_WRITES_PER_MINUTE records a minute (all instances together)', async () => {
    setEnv({ DISCOVERY_WRITES_PER_MINUTE: '5' });
    // A window of its own: the cap is one shared counter (issue 21), which this file's other discoveries also draw on.
    clockOffsetMs = 60 * 60_000;
    const macs = Array.from({ length: 30 }, () => aMac());
    for (const mac of macs) expectProblem(await api('GET', `/boot.ipxe?mac=${mac}`), 404, 'machine-not-configured');
    const recorded = await Promise.all(macs.map(async (mac) => (await api<{ discoveries: unknown[] }>('GET', `/api/v1/discoveries?mac=${mac}`)).body.discoveries.length));
    const sum = recorded.reduce((a, b) => a + b, 0);
    // 5 a minute; the flood may straddle a minute boundary.
    expect(sum).toBeGreaterThanOrEqual(5);
    expect(sum).toBeLessThanOrEqual(10);
  });

  it('records expire: filtered on read after DISCOVERY_TTL_SECONDS', async () => {
    const mac = aMac();
    await api('GET', `/boot.ipxe?mac=${mac}`);
    expect((await api<{ discoveries: unknown[] }>('GET', `/api/v1/discoveries?mac=${mac}`)).body.discoveries).toHaveLength(1);
    clockOffsetMs = 8 * 24 * 3600 * 1000;
    expect((await api<{ pagination: { total: number } }>('GET', `/api/v1/discoveries?mac=${mac}`)).body.pagination.total).toBe(0);
  });

  it('pages like machines', async () => {
    for (let i = 0; i < 3; i++) await api('GET', `/boot.ipxe?mac=${aMac()}`);
    const all = await api<{ discoveries: { mac: string }[]; pagination: { total: number } }>('GET', '/api/v1/discoveries?per_page=100');
    const total = all.body.pagination.total;
    expect(total).toBeGreaterThanOrEqual(3);
    const p2 = await api<{ discoveries: { mac: string }[]; pagination: Record<string, number> }>('GET', '/api/v1/discoveries?page=2&per_page=1');
    expect(p2.body.pagination).toEqual({ total, page: 2, per_page: 1, total_pages: total });
    expect(p2.body.discoveries.map((d) => d.mac)).toEqual([all.body.discoveries[1]?.mac]);
    expectProblem(await api('GET', '/api/v1/discoveries?colour=blue'), 400, 'validation-error');
  });
});

describe('the boot path under a failing dependency', () => {
  beforeAll(() => undefined);

  it('a Firestore call slower than BOOT_DB_TIMEOUT_MS: 503 service-unavailable with Retry-After', async () => {
    setEnv({ BOOT_DB_TIMEOUT_MS: '200' });
    inventory.use(withOverrides(inventory.real, { findBootTarget: () => new Promise(() => undefined) }));
    const res = await api('GET', `/boot.ipxe?mac=${aMac()}`);
    expectProblem(res, 503, 'service-unavailable');
    expect(res.headers.get('retry-after')).toBe('5');
  });

  it('Firestore UNAVAILABLE: 503 with Retry-After, at once', async () => {
    inventory.use(withOverrides(inventory.real, { findBootTarget: () => Promise.reject(Object.assign(new Error('14 UNAVAILABLE: no connection'), { code: 14 })) }));
    const res = await api('GET', `/boot.ipxe?mac=${aMac()}`);
    expectProblem(res, 503, 'service-unavailable');
    expect(res.headers.get('retry-after')).toBe('5');
  });
});
