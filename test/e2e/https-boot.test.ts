import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IpxeBuildResult } from '../../cli/ipxe/build';
import { startLocalStack, type LocalStack } from '../../emulators/stack';
import { ensureLocalCa } from '../../emulators/tls/ca';
import { ensureIpxeBuild, IPXE_BUILD_TIMEOUT_MS } from '../helpers/ipxe-build';
import { enterOwnProject } from '../helpers/stack';
import { createBootNetwork, SERVER_IP, type BootNetwork, type Firmware } from './boot-network';
import { expectBooted, FRONT_DOOR, httpsBootPrerequisites, machineWithProfile, printedDnsmasqConfig, readImages, seconds, stageBinaries } from './https-fixtures';

/**
 * Issue 20: power-on to the kernel over HTTPS on a real boot network. In a namespace of its own,
 * dnsmasq runs the configuration `netboot ipxe dhcp --dnsmasq` printed; SeaBIOS (the NIC's PXE
 * ROM), OVMF and AAVMF take DHCP from it and the project's iPXE build by TFTP (undionly.kpxe,
 * snponly-x86_64.efi, snponly-arm64.efi), whose embedded script chains https://192.0.2.1/boot.ipxe
 * trusting only the local CA built in, from the local stack over HTTPS (`startLocalStack({ tls })`,
 * as `npm start -- --tls`; 192.0.2.1:443 is relayed to it); each boots its machine's profile: all
 * three with assets proxied, BIOS again with redirect mode's HTTPS Storage URLs (the stack's
 * Storage door, relayed on its own port).
 */
const prepared = httpsBootPrerequisites('HTTPS boots on a boot network', { arm64: true });

const token = randomBytes(4).toString('hex');
const machines: Record<Exclude<Firmware, 'uefi-http'>, { mac: string; args: string[] }> = {
  bios: { mac: '52:54:00:20:b0:01', args: ['console=ttyS0', 'panic=-1', `netboot.https=${token}-bios`] },
  uefi: { mac: '52:54:00:20:b0:02', args: ['console=ttyS0', 'panic=-1', `netboot.https=${token}-uefi`] },
  arm64: { mac: '52:54:00:20:b0:03', args: ['console=ttyAMA0', 'panic=-1', `netboot.https=${token}-arm64`] },
};
const timings: string[] = [];

describe.skipIf(!prepared.ok)('HTTPS boots on a real boot network (dnsmasq, firmware PXE, the project\'s iPXE)', () => {
  let network: BootNetwork | undefined;
  let build: IpxeBuildResult | undefined;
  let stack: LocalStack | undefined;
  let storageDoorPort = 0;
  const fileStart = Date.now();

  beforeAll(async () => {
    if (!prepared.ok) return;
    const ca = await ensureLocalCa();
    const started = Date.now();
    build = await ensureIpxeBuild({ url: FRONT_DOOR, trustPem: [ca.certPem] });
    timings.push(`build (all targets): ${seconds(Date.now() - started)} s (${Object.entries(build.targets).map(([t, r]) => `${t} ${r.cache}`).join(', ')})`);

    enterOwnProject({ ASSET_DELIVERY: 'proxy' });
    // The gateway's leaf names the address the build chains to, beside the defaults.
    stack = await startLocalStack({ tls: 'ecdsa', tlsNames: [SERVER_IP] });
    storageDoorPort = Number(new URL(stack.storageUrl).port);
    network = await createBootNetwork({ tag: 'boot', tcpPorts: [443, storageDoorPort] });
    network.ports.get(443)?.target(stack.port);
    // Redirects name the host the machine asked the gateway by (192.0.2.1) on the door's port.
    network.ports.get(storageDoorPort)?.target(storageDoorPort);
    stageBinaries(build, network.tftpRoot);
    await network.startDnsmasq(await printedDnsmasqConfig(network.tftpRoot));

    const x86 = readImages(prepared.x86);
    const arm64 = prepared.arm64 ? readImages(prepared.arm64) : undefined;
    for (const m of Object.values(machines)) await machineWithProfile(stack.url, m.mac, { ...x86, arm64 }, m.args);
  }, IPXE_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await network?.destroy();
    await stack?.stop();
    timings.push(`file: ${seconds(Date.now() - fileStart)} s`);
    process.stdout.write(`\n  https-boot timings: ${timings.join('; ')}\n`);
  });

  async function bootAndCheck(firmware: Exclude<Firmware, 'uefi-http'>, delivery: string): Promise<void> {
    if (!network) throw new Error('no boot network');
    const { mac, args } = machines[firmware];
    const result = await network.boot({ firmware, mac, timeoutMs: 540_000 });
    timings.push(`${firmware} ${delivery}: ${seconds(result.durationMs)} s`);
    // The build's embedded script ran (not a DHCP filename, not QEMU's own iPXE) and chained over HTTPS.
    expect(result.output, result.output.slice(-3000)).toContain(`netboot: loading ${FRONT_DOOR}/boot.ipxe`);
    expectBooted(result, args);
  }

  describe('assets proxied by the front door', () => {
    it.concurrent.each(['bios', 'uefi', 'arm64'] as const)('%s: DHCP and TFTP from dnsmasq, then the profile over HTTPS', async (firmware) => {
      await bootAndCheck(firmware, 'proxy');
    }, 600_000);
  });

  describe('redirect mode: the assets from HTTPS Storage URLs', () => {
    it('bios', async () => {
      stack?.reconfigure({ ASSET_DELIVERY: 'redirect' });
      const before = network?.ports.get(storageDoorPort)?.connections(storageDoorPort) ?? 0;
      await bootAndCheck('bios', 'redirect');
      // The kernel and initrd came through the Storage door, not the front door.
      expect(network?.ports.get(storageDoorPort)?.connections(storageDoorPort)).toBeGreaterThan(before);
    }, 600_000);
  });
});
