// `netboot profile set` with images per architecture (--arch), vendor-data and the default
// profile, as a user runs it (child processes) against the real local stack.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintLocalToken } from '../emulators/local-issuer';
import { aMac, aMachine } from './helpers/fixtures';
import { randomFile, sha256 } from './helpers/profiles';
import { commands } from './helpers/scripts';
import { runNetboot, type CliRun } from './helpers/cli';
import { currentRoot, request, useLocalStack } from './helpers/stack';

const stack = useLocalStack();
let token: string;
let dir: string;

beforeAll(async () => {
  token = mintLocalToken();
  dir = await mkdtemp(join(tmpdir(), 'netboot-cli-arch-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function netboot(args: string[]): Promise<CliRun> {
  return runNetboot(args, { NETBOOT_URL: stack.url, NETBOOT_TOKEN: token, XDG_STATE_HOME: join(dir, 'state') });
}

async function file(name: string, bytes: Uint8Array | string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

interface Ref {
  id: string;
  sha256: string;
  size: number;
}

describe('netboot profile set --arch', () => {
  it('sends every architecture through an upload session; the script for arm64 names the arm64 blobs', async () => {
    const mac = aMac();
    const machine = await request<{ id: string }>(stack.url, 'POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
    const bytes = { kernel: randomFile(5000), initrd: randomFile(6000), armKernel: randomFile(7000), armInitrd: randomFile(8000) };
    const vendor = '#cloud-config\nntp: {enabled: true}\n';
    const args = [
      'profile', 'set', machine.body.id,
      '--kernel', await file('vmlinuz', bytes.kernel), '--initrd', await file('initrd.img', bytes.initrd),
      '--arch', 'arm64', await file('vmlinuz-arm64', bytes.armKernel), await file('initrd-arm64.img', bytes.armInitrd),
      '--arg', 'console=ttyS0', '--arg', 'console=ttyAMA0',
      '--vendor-data', await file('vendor-data.yaml', vendor),
    ];
    const run = await netboot(args);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^created boot profile/);
    expect(run.stdout).toMatch(new RegExp(`kernel\\.arm64\\s+\\S+\\s+7000 bytes\\s+sha256 ${sha256(bytes.armKernel)}`));
    expect(run.stdout).toMatch(/vendor_data cloud-config/);
    const stats = JSON.parse(/netboot: upload stats (.*)/.exec(run.stderr)?.[1] ?? '{}') as { files: Record<string, { sent: number }> };
    expect(Object.keys(stats.files)).toEqual(['kernel', 'initrd', 'kernel.arm64', 'initrd.arm64']);
    expect(stats.files['initrd.arm64']?.sent).toBe(8000);

    const profile = await request<{ id: string; architectures: Record<string, { kernel: Ref; initrd: Ref }> }>(stack.url, 'GET', `/api/v1/boot/${machine.body.id}/profile`);
    expect(profile.body.architectures.arm64?.initrd).toMatchObject({ sha256: sha256(bytes.armInitrd), size: 8000 });
    const script = await request(stack.url, 'GET', `/boot.ipxe?mac=${mac}&arch=arm64&platform=efi`);
    expect(commands(script.text, 'kernel')[0]).toMatch(new RegExp(`^kernel /asset/${profile.body.id}/kernel\\?v=${profile.body.architectures.arm64?.kernel.id} initrd=initrd console=ttyS0 console=ttyAMA0$`));
    // Stored byte for byte (the machine reads it only under its boot's {{metadata_url}}: test/fleet-profiles-arch.test.ts).
    expect((await currentRoot().inventory.getProfile(profile.body.id))?.vendorData?.text).toBe(vendor);
    const shown = await netboot(['boot-script', mac, '--arch', 'arm64', '--platform', 'efi']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`/asset/${profile.body.id}/kernel?v=${profile.body.architectures.arm64?.kernel.id}`);

    // Again with the same files: replaced, nothing sent.
    const again = await netboot(args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^replaced boot profile/);
    expect(again.stderr).toMatch(/kernel\.arm64: the service already has it/);
  });

  it('sets the default profile (`default`) through the same session flow', async () => {
    const run = await netboot(['profile', 'set', 'default', '--kernel', await file('k-default', randomFile(3000)), '--initrd', await file('i-default', randomFile(3000)), '--arch', 'riscv64', await file('k-rv', randomFile(3100)), await file('i-rv', randomFile(3200))]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^created boot profile\nprofile\s+\S+\nmachine\s+default/);
    const got = await netboot(['profile', 'get', 'default', '--json']);
    expect(Object.keys((JSON.parse(got.stdout) as { architectures: object }).architectures)).toEqual(['riscv64']);
    const unknown = aMac();
    const script = await request(stack.url, 'GET', `/boot.ipxe?mac=${unknown}&arch=arm64`);
    expect(script.text).toContain('has no kernel for architecture arm64 (it boots i386 / x86_64 / riscv64): not booting');
    expect((await netboot(['profile', 'rm', 'default'])).code).toBe(0);
  });

  it('refuses a malformed --arch as a usage error (exit 2) before reading or sending anything', async () => {
    const k = await file('k-usage', randomFile(100));
    for (const [arch, message] of [
      [['--arch', 'mips', k, k], /--arch mips: unknown architecture; one of arm32, arm64, riscv32, riscv64, loong64/],
      [['--arch', 'x86_64', k, k], /i386 and x86_64 boot --kernel \/ --initrd/],
      [['--arch', 'arm64', k], /--arch takes three values, ARCH KERNEL INITRD/],
    ] as const) {
      const run = await netboot(['profile', 'set', '018c7dbd-c000-7000-8000-fedcba987654', '--kernel', k, '--initrd', k, ...arch]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(message);
    }
  });
});
