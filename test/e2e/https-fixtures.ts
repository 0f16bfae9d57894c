// What the https-*.test.ts files share: their prerequisites (QEMU assets, a boot network, the iPXE
// toolchain), the front door's URL inside the boot network, dnsmasq configuration as
// `netboot ipxe dhcp --dnsmasq` prints it, the build's binaries staged for TFTP, and machines
// with profiles on the local stack.
import { copyFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import type { IpxeBuildResult } from '../../cli/ipxe/build';
import { aMachine } from '../helpers/fixtures';
import { ipxeToolchain } from '../helpers/ipxe-build';
import { sha256 } from '../helpers/profiles';
import { runNetboot } from '../helpers/cli';
import { request } from '../helpers/stack';
import { prepareBootNetwork, SERVER_IP } from './boot-network';
import { prepareE2eAssets, type BootResult, type E2eAssets } from './qemu';
import { prepareArm64Assets, type Arm64Assets } from './qemu-arm64';

/** The front door as the machines see it: 192.0.2.1:443 in the boot network, relayed to the host. */
export const FRONT_DOOR = `https://${SERVER_IP}`;
/** Redirect mode's Storage URLs, HTTPS too: 192.0.2.1:8443, relayed to a TLS front of the Storage emulator. */
export const STORAGE_DOOR_PORT = 8443;

export type Prerequisites = { ok: true; x86: E2eAssets; arm64?: Arm64Assets } | { ok: false; reason: string };

/**
 * Everything an HTTPS boot-network test needs, prepared (installed, downloaded) where it can be;
 * `arm64`: the arm64 kernel and initrd too. Outside CI a file skips with the reason; in CI a
 * missing piece fails the file (CI must run these boots).
 */
export function httpsBootPrerequisites(what: string, opts: { arm64?: boolean } = {}): Prerequisites {
  const checks: (() => { ok: boolean; reason?: string })[] = [prepareBootNetwork, () => ipxeToolchain()];
  let result: Prerequisites | undefined;
  for (const check of checks) {
    const r = check();
    if (!r.ok) {
      result = { ok: false, reason: r.reason ?? 'unknown' };
      break;
    }
  }
  if (!result) {
    const x86 = prepareE2eAssets();
    const arm64 = opts.arm64 ? prepareArm64Assets() : undefined;
    if (!x86.ok) result = { ok: false, reason: x86.reason };
    else if (arm64 && !arm64.ok) result = { ok: false, reason: arm64.reason };
    else result = { ok: true, x86: x86.assets, arm64: arm64?.ok ? arm64.assets : undefined };
  }
  if (!result.ok) {
    const message = `${what} skipped: ${result.reason}`;
    if (process.env.CI) throw new Error(`${message} (CI must run them)`);
    process.stdout.write(`\n${message}\n`);
  }
  return result;
}

/**
 * The dnsmasq configuration `npx netboot ipxe dhcp --dnsmasq` prints for the boot network (full
 * DHCP on br0, TFTP from `tftpRoot`). `--ipxe-clients binary`: QEMU's BIOS NIC ROM is itself an
 * iPXE (user class iPXE) and must still be handed undionly.kpxe.
 */
export async function printedDnsmasqConfig(tftpRoot: string, extra: string[] = []): Promise<string> {
  const run = await runNetboot(
    ['ipxe', 'dhcp', '--dnsmasq', '--tftp-root', tftpRoot, '--interface', 'br0', '--subnet', '192.0.2.0/24', '--range', '192.0.2.100,192.0.2.199', '--boot-url', FRONT_DOOR, '--ipxe-clients', 'binary', ...extra],
    {},
  );
  if (run.code !== 0) throw new Error(`netboot ipxe dhcp failed (${run.code}): ${run.stderr}`);
  return run.stdout;
}

/** Copies a build's binaries (manifest.json's files) into the TFTP root. */
export function stageBinaries(build: IpxeBuildResult, tftpRoot: string): void {
  for (const file of build.manifest.files) copyFileSync(path.join(build.outDir, file.name), path.join(tftpRoot, file.name));
}

export interface ProfileImages {
  kernel: Uint8Array;
  initrd: Uint8Array;
  /** arm64 images beside the default (x86) ones: `kernel.arm64` / `initrd.arm64` of an upload session. */
  arm64?: { kernel: Uint8Array; initrd: Uint8Array };
}

/** A machine with this MAC and a profile of these images and kernel arguments (an upload session). */
export async function machineWithProfile(stackUrl: string, mac: string, images: ProfileImages, kernelArgs: string[]): Promise<string> {
  const machine = await request<{ id: string }>(stackUrl, 'POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
  expect(machine.status).toBe(201);
  const files: Record<string, Uint8Array> = { kernel: images.kernel, initrd: images.initrd };
  if (images.arm64) Object.assign(files, { 'kernel.arm64': images.arm64.kernel, 'initrd.arm64': images.arm64.initrd });
  const declared = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, { size: bytes.length, sha256: sha256(bytes) }]));
  const session = await request<{ id: string; files: Record<string, { upload: { url: string } | null }> }>(stackUrl, 'POST', '/api/v1/uploads', {
    json: { machine_id: machine.body.id, mode: 'create', kernel_args: kernelArgs, ...declared },
  });
  expect(session.status).toBe(201);
  for (const [name, file] of Object.entries(session.body.files)) {
    if (file.upload) expect((await fetch(file.upload.url, { method: 'PUT', body: new Uint8Array(files[name] as Uint8Array) })).status, name).toBeLessThan(300);
  }
  const finalized = await request(stackUrl, 'POST', `/api/v1/uploads/${session.body.id}/finalize`);
  expect(finalized.status).toBe(201);
  return machine.body.id;
}

export function readImages(assets: { kernelPath: string; initrdPath: string }): { kernel: Buffer; initrd: Buffer } {
  return { kernel: readFileSync(assets.kernelPath), initrd: readFileSync(assets.initrdPath) };
}

/** The machine reached its initrd's marker with every one of `kernelArgs` on its command line. */
export function expectBooted(result: BootResult, kernelArgs: string[]): void {
  expect(result.marker, result.output.slice(-4000)).not.toBeNull();
  for (const arg of kernelArgs) expect(result.cmdline?.split(/\s+/), result.output.slice(-2000)).toContain(arg);
}

/** Seconds, one decimal, for the timing lines the files print. */
export const seconds = (ms: number): string => (ms / 1000).toFixed(1);
