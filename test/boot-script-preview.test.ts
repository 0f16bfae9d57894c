import { beforeAll, describe, expect, it } from 'vitest';
import { mintLocalToken } from '../emulators/local-issuer';
import { previewTokenStrings } from '../shared/boot/preview';
import { runNetboot } from './helpers/cli';
import { aMac, aMachine } from './helpers/fixtures';
import { expectProblem } from './helpers/problem';
import { postProfile, profileForm, randomFile } from './helpers/profiles';
import { request, setEnv, useLocalStack } from './helpers/stack';

/**
 * GET /api/v1/boot-script and GET /api/v1/machines/{id}/boot-script: an administrator's look at
 * what /boot.ipxe answers. Byte for byte the boot's script once the per-boot token (and the
 * Generated line, a clock reading) are set aside; no boot record, no discovery, no boot limit.
 */
const stack = useLocalStack();
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

const mac = aMac();
const second = aMac();
let machineId = '';

beforeAll(async () => {
  const created = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }, { mac: second }], hostname: 'node-7' }) });
  machineId = created.body.id;
  const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(4096), initrd: randomFile(8192), kernel_args: '["console=ttyS0","hostname={{hostname}}","arch={{arch}}","ds=nocloud;s={{base_url}}/metadata/{{mac}}/"]' }));
  expect(res.status).toBe(201);
});

/** The boot's own token and reference replaced by the preview's placeholder; the Generated line's time set aside. */
function asPreview(script: string, id: string): string {
  const { token, ref } = previewTokenStrings(id);
  return sameTime(script.replace(/[\da-f-]{36}\.[\da-f-]{36}\.[A-Za-z0-9_-]{43}/g, token).replace(/[\da-f-]{36}\.[\da-f-]{36}(?![.\w-])/g, ref));
}
const sameTime = (script: string) => script.replace(/^# Generated: .*$/m, '# Generated: T');

async function boots(): Promise<unknown[]> {
  return (await api<{ boots: unknown[] }>('GET', `/api/v1/machines/${machineId}/boots`)).body.boots;
}

describe('boot-script previews', () => {
  it.each([
    ['x86_64', 'efi'],
    ['i386', 'pcbios'],
    ['arm64', 'efi'], // no arm64 images: the refusal script, the same way
  ])('are the script /boot.ipxe serves (arch %s, platform %s), by machine and by MAC, recording no boot', async (arch, platform) => {
    const before = (await boots()).length;
    const byMachine = await api('GET', `/api/v1/machines/${machineId}/boot-script?arch=${arch}&platform=${platform}&mac=${second}`);
    const byMac = await api('GET', `/api/v1/boot-script?mac=${second.toUpperCase()}&arch=${arch}&platform=${platform}`);
    expect(byMachine.status).toBe(200);
    expect(byMachine.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(byMachine.headers.get('cache-control')).toBe('no-cache, no-store, must-revalidate');
    expect((await boots()).length).toBe(before);

    const real = await api('GET', `/boot.ipxe?mac=${second}&arch=${arch}&platform=${platform}`);
    expect(real.status).toBe(200);
    expect(sameTime(byMachine.text)).toBe(asPreview(real.text, machineId));
    expect(sameTime(byMac.text)).toBe(sameTime(byMachine.text));
    if (arch !== 'arm64') {
      // Templates rendered for this machine, and the placeholder where the boot has its token.
      expect(byMachine.text).toContain(`hostname=node-7 arch=${arch} ds=nocloud;s=${stack.url}/metadata/${second}/`);
      expect(byMachine.text).toContain(`netboot.token=${previewTokenStrings(machineId).token}`);
      expect((await boots()).length).toBe(before + 1); // the real one only
    }
  });

  it("default to the machine's first NIC; base_url renders {{base_url}} as the boot host would", async () => {
    const res = await api('GET', `/api/v1/machines/${machineId}/boot-script?base_url=https://boot.example.com`);
    expect(res.status).toBe(200);
    expect(res.text).toContain(`(${mac})`);
    expect(res.text).toContain(`ds=nocloud;s=https://boot.example.com/metadata/${mac}/`);
  });

  it('the placeholder token reports no boot', async () => {
    const { token } = previewTokenStrings(machineId);
    expectProblem(await api('GET', `/boot/report?token=${token}&phase=booting`), 404, 'boot-not-found');
  });

  it('a disabled machine previews its local-disk script', async () => {
    expect((await api('PATCH', `/api/v1/machines/${machineId}`, { json: { netboot: 'disabled' }, headers: { 'content-type': 'application/merge-patch+json' } })).status).toBe(200);
    try {
      const preview = await api('GET', `/api/v1/boot-script?mac=${mac}`);
      const real = await api('GET', `/boot.ipxe?mac=${mac}`);
      expect(preview.text).toContain('# Netboot: disabled');
      expect(sameTime(preview.text)).toBe(sameTime(real.text));
    } finally {
      await api('PATCH', `/api/v1/machines/${machineId}`, { json: { netboot: 'enabled' }, headers: { 'content-type': 'application/merge-patch+json' } });
    }
  });

  it('an unknown MAC: 404 machine-not-configured and no discovery', async () => {
    const unknown = aMac();
    expectProblem(await api('GET', `/api/v1/boot-script?mac=${unknown}`), 404, 'machine-not-configured');
    expect((await api<{ discoveries: unknown[] }>('GET', `/api/v1/discoveries?mac=${unknown}`)).body.discoveries).toEqual([]);
    // The boot route does record it: the check above can fail.
    expectProblem(await api('GET', `/boot.ipxe?mac=${unknown}`), 404, 'machine-not-configured');
    expect((await api<{ discoveries: unknown[] }>('GET', `/api/v1/discoveries?mac=${unknown}`)).body.discoveries).toHaveLength(1);
  });

  it('spend no boot rate limit', async () => {
    setEnv({ RATE_LIMIT_BOOT_PER_MAC: '2' });
    try {
      const limited = aMac();
      const created = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac: limited }] }) });
      await postProfile(stack.url, profileForm({ machine_id: created.body.id, kernel: randomFile(64), initrd: randomFile(64) }));
      for (let i = 0; i < 5; i++) expect((await api('GET', `/api/v1/boot-script?mac=${limited}`)).status).toBe(200);
      expect((await api('GET', `/boot.ipxe?mac=${limited}`)).status).toBe(200);
      expect((await api('GET', `/boot.ipxe?mac=${limited}`)).status).toBe(200);
      expectProblem(await api('GET', `/boot.ipxe?mac=${limited}`), 429, 'rate-limit-exceeded');
      expect((await api('GET', `/api/v1/machines/${created.body.id}/boot-script`)).status).toBe(200);
    } finally {
      setEnv({ RATE_LIMIT_BOOT_PER_MAC: undefined });
    }
  });

  it('need an administrator and valid input', async () => {
    expectProblem(await api('GET', `/api/v1/boot-script?mac=${mac}`, { anonymous: true }), 401, 'unauthorized');
    expectProblem(await api('GET', `/api/v1/machines/${machineId}/boot-script`, { anonymous: true }), 401, 'unauthorized');
    expectProblem(await api('GET', '/api/v1/boot-script?mac=nope'), 400, 'invalid-mac-address');
    expectProblem(await api('GET', `/api/v1/boot-script?mac=${mac}&arch=X86`), 400, 'validation-error');
    expectProblem(await api('GET', `/api/v1/boot-script?mac=${mac}&base_url=https://a.example/path`), 400, 'validation-error');
    expectProblem(await api('GET', `/api/v1/machines/${machineId}/boot-script?mac=${aMac()}`), 400, 'validation-error');
    expectProblem(await api('GET', '/api/v1/machines/not-an-id/boot-script'), 400, 'validation-error');
    expectProblem(await api('GET', '/api/v1/machines/0190a6e4-6a8b-7cde-8f01-23456789abcd/boot-script'), 404, 'machine-not-found');
  });
});

describe('netboot boot-script', () => {
  it('prints the preview: the same script, and the machine keeps no boot of it', async () => {
    const before = (await boots()).length;
    const run = await runNetboot(['boot-script', second, '--arch', 'x86_64', '--platform', 'efi'], { NETBOOT_URL: stack.url, NETBOOT_TOKEN: mintLocalToken() });
    expect(run.code, run.stderr).toBe(0);
    const preview = await api('GET', `/api/v1/boot-script?mac=${second}&arch=x86_64&platform=efi`);
    expect(sameTime(run.stdout)).toBe(`${sameTime(preview.text)}\n`.replace(/\n\n$/, '\n'));
    expect((await boots()).length).toBe(before);
  }, 30_000);
});
