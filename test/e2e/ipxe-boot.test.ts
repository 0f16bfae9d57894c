import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { aMachine } from '../helpers/fixtures';
import { postProfile, profileForm } from '../helpers/profiles';
import { request, setEnv, useLocalStack } from '../helpers/stack';
import { bootBios, bootUefi, prepareE2eAssets, type BootResult } from './qemu';

/**
 * Real iPXE clients (BIOS and UEFI, in QEMU) boot a real kernel and a busybox initrd
 * from the local stack, with assets proxied and redirected. Skipped with a reason
 * where the machine cannot run QEMU; in CI a skip is a failure.
 */
const prepared = prepareE2eAssets();
if (!prepared.ok) {
  const message = `iPXE end-to-end boots skipped: ${prepared.reason}`;
  if (process.env.CI) throw new Error(`${message} (CI must run them)`);
  process.stdout.write(`\n${message}\n`);
}

const stack = useLocalStack();
const token = randomBytes(4).toString('hex');
const kernelArgs = ['console=ttyS0', 'panic=-1', `netboot.e2e=${token}`];
const macs = { bios: '52:54:00:e2:e0:01', uefi: '52:54:00:e2:e0:02' };

describe.skipIf(!prepared.ok)('real iPXE clients boot from the service', () => {
  beforeAll(async () => {
    if (!prepared.ok) return;
    const kernel = readFileSync(prepared.assets.kernelPath);
    const initrd = readFileSync(prepared.assets.initrdPath);
    for (const mac of Object.values(macs)) {
      const machine = await request<{ id: string }>(stack.url, 'POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
      expect(machine.status).toBe(201);
      const profile = await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel, initrd, kernel_args: JSON.stringify(kernelArgs) }));
      expect(profile.status).toBe(201);
    }
  });

  const port = () => Number(new URL(stack.url).port);
  // The guest reaches the host's loopback as 10.0.2.2: signed URLs must name that host.
  const storagePort = () => new URL(inject('storageHost')).port;

  function expectBooted(result: BootResult): void {
    expect(result.marker, result.output.slice(-3000)).not.toBeNull();
    for (const arg of kernelArgs) expect(result.cmdline?.split(/\s+/)).toContain(arg);
  }

  it.each([
    ['BIOS', 'proxy', bootBios, macs.bios],
    ['BIOS', 'redirect', bootBios, macs.bios],
    ['UEFI', 'proxy', bootUefi, macs.uefi],
    ['UEFI', 'redirect', bootUefi, macs.uefi],
  ] as const)('%s iPXE, assets by %s', async (_firmware, delivery, boot, mac) => {
    setEnv({ ASSET_DELIVERY: delivery, STORAGE_PUBLIC_URL: delivery === 'redirect' ? `http://10.0.2.2:${storagePort()}` : undefined });
    const result = await boot({ port: port(), mac, timeoutMs: 150_000 });
    process.stdout.write(`  ${_firmware} ${delivery}: booted in ${(result.durationMs / 1000).toFixed(1)} s\n`);
    expectBooted(result);
  }, 180_000);
});
