import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { aMachine } from '../helpers/fixtures';
import { postProfile, profileForm } from '../helpers/profiles';
import { request, useLocalStack } from '../helpers/stack';
import { archAndPlatform, bootBios, bootUefi, localDiskImage, prepareE2eAssets, type BootResult } from './qemu';

/**
 * Issue 13 with real iPXE (BIOS and UEFI, in QEMU, side by side): a netboot-once machine boots
 * its profile, its script reports booting, and its next boot gets the local-boot script
 * (BIOS: sanboot of the local disk, whose boot sector prints a marker; UEFI: `exit`, and the
 * firmware's boot manager moves on to its next entry); the boot timeline shows script,
 * kernel, initrd and booting; an unknown MAC appears in /api/v1/discoveries with the arch
 * and platform of the chain line.
 */
const prepared = prepareE2eAssets();
if (!prepared.ok) {
  const message = `iPXE lifecycle boots skipped: ${prepared.reason}`;
  if (process.env.CI) throw new Error(`${message} (CI must run them)`);
  process.stdout.write(`\n${message}\n`);
}

const stack = useLocalStack({ ASSET_DELIVERY: 'proxy' });
const api = <T = Record<string, unknown>>(method: string, p: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, p, init);
const token = randomBytes(4).toString('hex');
const kernelArgs = ['console=ttyS0', 'panic=-1', `netboot.e2e=${token}`];
const macs = { bios: '52:54:00:e2:13:01', uefi: '52:54:00:e2:13:02', unknownBios: '52:54:00:e2:13:03', unknownUefi: '52:54:00:e2:13:04' };
const dir = mkdtempSync(path.join(tmpdir(), 'e2e-lifecycle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const port = () => Number(new URL(stack.url).port);
const seconds = (r: BootResult) => `${(r.durationMs / 1000).toFixed(1)} s`;

async function onceMachine(mac: string): Promise<string> {
  if (!prepared.ok) return '';
  const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }], netboot: 'once' }) });
  expect(machine.status).toBe(201);
  const profile = await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel: readFileSync(prepared.assets.kernelPath), initrd: readFileSync(prepared.assets.initrdPath), kernel_args: JSON.stringify(kernelArgs) }));
  expect(profile.status).toBe(201);
  return machine.body.id;
}

describe.skipIf(!prepared.ok)('real iPXE clients through the fleet lifecycle', () => {
  it('once: profile, booting report, then local boot (BIOS: the local disk; UEFI: exit to the boot manager); discovery with arch and platform', async () => {
    const ids = { bios: await onceMachine(macs.bios), uefi: await onceMachine(macs.uefi) };
    const opts = { port: port(), chainQuery: archAndPlatform, timeoutMs: 150_000 };
    // Unknown MACs: chain gets 404; iPXE gives up and the firmware moves on.
    const gaveUp = /Booting from Hard Disk|No bootable device|BdsDxe|Shell>|Start PXE over IPv6/;
    const [bios, uefi, unknownBios, unknownUefi] = await Promise.all([
      bootBios({ ...opts, mac: macs.bios }),
      bootUefi({ ...opts, mac: macs.uefi }),
      bootBios({ ...opts, mac: macs.unknownBios, until: gaveUp, timeoutMs: 60_000 }),
      bootUefi({ ...opts, mac: macs.unknownUefi, until: /machine-not-configured|Not found|No such file|Operation not permitted|Error 0x/, timeoutMs: 90_000 }),
    ]);
    process.stdout.write(`  once, first boot: BIOS ${seconds(bios)}, UEFI ${seconds(uefi)}; unknown MACs: BIOS ${seconds(unknownBios)}, UEFI ${seconds(unknownUefi)}\n`);
    for (const r of [bios, uefi]) {
      expect(r.marker, r.output.slice(-3000)).not.toBeNull();
      for (const arg of kernelArgs) expect(r.cmdline?.split(/\s+/)).toContain(arg);
      expect(r.cmdline).toMatch(/netboot\.token=[\da-f-]{36}\.[\da-f-]{36}\.[A-Za-z0-9_-]{43}/);
    }

    // The booting report switched both machines to disabled; the timeline shows the boot.
    for (const [firmware, id] of Object.entries(ids)) {
      expect((await api('GET', `/api/v1/machines/${id}`)).body.netboot, firmware).toBe('disabled');
      const boots = await api<{ boots: { phases: { phase: string; [k: string]: unknown }[] }[] }>('GET', `/api/v1/machines/${id}/boots`);
      const phases = boots.body.boots[0]?.phases ?? [];
      expect(phases.map((p) => p.phase), firmware).toEqual(['script', 'kernel', 'initrd', 'booting']);
      expect(phases[0], firmware).toMatchObject({ arch: firmware === 'bios' ? 'i386' : 'x86_64', platform: firmware === 'bios' ? 'pcbios' : 'efi' });
      expect(phases[1], firmware).toMatchObject({ delivery: 'proxy', complete: true, bytes: readFileSync(prepared.ok ? prepared.assets.kernelPath : '').length });
    }

    // Unknown MACs were discovered, with arch and platform.
    for (const [mac, arch, platform] of [[macs.unknownBios, 'i386', 'pcbios'], [macs.unknownUefi, 'x86_64', 'efi']] as const) {
      const found = await api<{ discoveries: Record<string, unknown>[] }>('GET', `/api/v1/discoveries?mac=${mac}`);
      expect(found.body.discoveries[0], (mac === macs.unknownBios ? unknownBios : unknownUefi).output.slice(-2000)).toMatchObject({ mac, arch, platform });
    }

    // Second boot: the local-boot script. BIOS boots the disk's boot sector; UEFI leaves iPXE and OVMF moves on.
    const disk = localDiskImage(dir);
    const [biosLocal, uefiLocal] = await Promise.all([
      bootBios({ ...opts, mac: macs.bios, disk, until: /NETBOOT-LOCAL-DISK-BOOTED/, timeoutMs: 60_000 }),
      bootUefi({ ...opts, mac: macs.uefi, until: /leaving iPXE: the UEFI boot manager[\s\S]*BdsDxe: failed to load Boot\d+[\s\S]*>>Start/, timeoutMs: 90_000 }),
    ]);
    process.stdout.write(`  once, second boot (local): BIOS ${seconds(biosLocal)}, UEFI ${seconds(uefiLocal)}\n`);
    expect(biosLocal.output, biosLocal.output.slice(-3000)).toContain('network boot is disabled for this machine');
    // The boot sector's marker can land in the middle of iPXE's line on the serial console.
    expect(biosLocal.output).toMatch(/Booting from SAN device 0x8[\s\S]*NETBOOT-LOCAL-DISK-BOOTED/);
    expect(biosLocal.marker).toBeNull();
    expect(uefiLocal.output, uefiLocal.output.slice(-3000)).toContain('leaving iPXE: the UEFI boot manager tries its next boot entry');
    // OVMF: the iPXE entry returned (BdsDxe reports it), and the boot manager starts its next entry.
    expect(uefiLocal.output).toMatch(/leaving iPXE: the UEFI boot manager tries its next boot entry[\s\S]*BdsDxe: failed to load Boot\d+ "UEFI PXEv4[\s\S]*>>Start PXE over IPv4/);
    for (const r of [biosLocal, uefiLocal]) expect(r.output).not.toContain('/asset/');
    expect(uefiLocal.marker).toBeNull();
    for (const [firmware, id] of Object.entries(ids)) {
      const boots = await api<{ boots: { action: string; phases: { phase: string }[] }[] }>('GET', `/api/v1/machines/${id}/boots`);
      expect(boots.body.boots[0], firmware).toMatchObject({ action: 'local' });
      expect(boots.body.boots[0]?.phases.map((p) => p.phase), firmware).toEqual(['script']);
    }
    if (process.env.E2E_DEBUG) process.stdout.write(`--- UEFI local ---\n${uefiLocal.output.slice(-2500)}\n--- unknown UEFI ---\n${unknownUefi.output.slice(-1500)}\n`);
  }, 300_000);
});
