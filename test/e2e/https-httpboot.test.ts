import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IpxeBuildResult } from '../../cli/ipxe/build';
import { mintLocalToken } from '../../emulators/local-issuer';
import { startLocalStack, type LocalStack } from '../../emulators/stack';
import { ensureLocalCa } from '../../emulators/tls/ca';
import { runNetboot } from '../helpers/cli';
import { ensureIpxeBuild, IPXE_BUILD_TIMEOUT_MS } from '../helpers/ipxe-build';
import { enterOwnProject } from '../helpers/stack';
import { createBootNetwork, edk2CaCerts, SERVER_IP, type BootNetwork } from './boot-network';
import { expectBooted, FRONT_DOOR, httpsBootPrerequisites, machineWithProfile, printedDnsmasqConfig, readImages, seconds } from './https-fixtures';

/**
 * Issue 20: UEFI HTTP Boot, no TFTP. The project's efi-x86_64 build is published with
 * `netboot ipxe publish` through the admin API of the local stack over HTTPS (as `npm start --
 * --tls rsa`); dnsmasq runs the configuration `netboot ipxe dhcp --dnsmasq` printed, which answers
 * option 93 = 16 with vendor class HTTPClient and https://192.0.2.1/ipxe/snponly-x86_64.efi (the
 * TFTP root stays empty); OVMF fetches that URL over HTTPS trusting only the local CA, given as its
 * CA store through fw_cfg; the binary's embedded script chains the boot script over HTTPS and the
 * machine boots its profile.
 *
 * An RSA leaf: Debian bookworm's OVMF (edk2 2022.11) offers only RSA and DHE-RSA cipher suites and
 * no elliptic curves (its ClientHello, captured here), so it cannot talk to an ECDSA-only server
 * (docs/booting/troubleshooting.md).
 */
const prepared = httpsBootPrerequisites('UEFI HTTP Boot on a boot network');

const token = randomBytes(4).toString('hex');
const machine = { mac: '52:54:00:20:b0:16', args: ['console=ttyS0', 'panic=-1', `netboot.httpboot=${token}`] };
const BINARY = 'snponly-x86_64.efi';

/** Requests the gateway answered on a route, from its Prometheus text (GET /metrics), by method and status. */
async function answered(stack: LocalStack, route: string, method: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${stack.url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('http_server_request_duration_count{') || !line.includes(`http_route="${route}"`) || !line.includes(`http_request_method="${method}"`)) continue;
    const status = /http_response_status_code="(\d+)"/.exec(line)?.[1] ?? '?';
    // A response the client cut off carries error_type="aborted": count it apart.
    const key = line.includes('error_type="aborted"') ? `${status} aborted` : status;
    counts[key] = (counts[key] ?? 0) + Number(line.split(' ').pop());
  }
  return counts;
}

describe.skipIf(!prepared.ok)('UEFI HTTP Boot under OVMF: the iPXE binary from /ipxe/ over HTTPS, then the profile', () => {
  let network: BootNetwork | undefined;
  let build: IpxeBuildResult | undefined;
  let stack: LocalStack | undefined;
  let caList = '';
  const timings: string[] = [];

  beforeAll(async () => {
    if (!prepared.ok) return;
    const ca = await ensureLocalCa();
    const started = Date.now();
    build = await ensureIpxeBuild({ url: FRONT_DOOR, trustPem: [ca.certPem], targets: ['efi-x86_64'] });
    timings.push(`build: ${seconds(Date.now() - started)} s (${Object.entries(build.targets).map(([t, r]) => `${t} ${r.cache}`).join(', ')})`);

    enterOwnProject({ ASSET_DELIVERY: 'proxy' });
    stack = await startLocalStack({ tls: 'rsa', tlsNames: [SERVER_IP] });
    network = await createBootNetwork({ tag: 'httpboot', tcpPorts: [443] });
    network.ports.get(443)?.target(stack.port);

    // Published as an operator would: the CLI against the admin API, trusting the local CA.
    const publish = await runNetboot(['ipxe', 'publish', build.outDir], {
      NETBOOT_URL: stack.url,
      NETBOOT_TOKEN: mintLocalToken(),
      NETBOOT_CA: stack.ca?.certPath,
      XDG_STATE_HOME: path.join(network.dir, 'state'),
    });
    expect(publish.code, publish.stderr).toBe(0);
    expect(publish.stdout).toContain(`published /ipxe/${BINARY}`);

    // Nothing staged for TFTP: this machine gets its binary from the front door only.
    await network.startDnsmasq(await printedDnsmasqConfig(network.tftpRoot));
    caList = path.join(network.dir, 'https-cacerts.esl');
    writeFileSync(caList, edk2CaCerts(ca.certPem));
    await machineWithProfile(stack.url, machine.mac, readImages(prepared.x86), machine.args);
  }, IPXE_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await network?.destroy();
    await stack?.stop();
    process.stdout.write(`\n  https-httpboot timings: ${timings.join('; ')}\n`);
  });

  it('OVMF takes the URL from DHCP (HTTPClient), downloads the published binary over HTTPS, and the profile boots', async () => {
    if (!network || !stack || !build) throw new Error('not set up');
    const before = await answered(stack, '/ipxe/{file}', 'GET');
    // OVMF falls back to its shell once every boot option failed: no need to wait out the timeout then.
    const result = await network.boot({ firmware: 'uefi-http', mac: machine.mac, httpsCaCerts: caList, timeoutMs: 540_000, until: /UEFI Interactive Shell/ });
    timings.push(`uefi-http: ${seconds(result.durationMs)} s`);
    const tail = result.output.slice(-3000);

    // The firmware's own HTTP Boot, with the URL dnsmasq handed it and the published file's size (its HEAD).
    const size = build.manifest.files.find((f) => f.name === BINARY)?.size;
    expect(result.output, tail).toContain('>>Start HTTP Boot over IPv4');
    expect(result.output, tail).toContain(`URI: ${FRONT_DOOR}/ipxe/${BINARY}`);
    expect(result.output, tail).toContain(`File Size: ${size} Bytes`);
    // The gateway served the binary whole (a GET the client cut off would count as aborted).
    const after = await answered(stack, '/ipxe/{file}', 'GET');
    expect((after['200'] ?? 0) - (before['200'] ?? 0), JSON.stringify(after)).toBeGreaterThanOrEqual(1);
    expect(after['200 aborted'] ?? 0, JSON.stringify(after)).toBe(before['200 aborted'] ?? 0);

    // DHCP: the HTTP Boot answer (option 93 = 16), and no TFTP transfer at all.
    const dhcp = network.dnsmasqLog();
    expect(dhcp).toMatch(/vendor class: HTTPClient:Arch:00016/);
    // The answer's option 60, which dnsmasq logs in hex: HTTPClient.
    const httpClientHex = [...Buffer.from('HTTPClient')].map((b) => b.toString(16).padStart(2, '0')).join(':');
    expect(dhcp).toContain(`option: 60 vendor-class  ${httpClientHex}`);
    expect(dhcp).toContain(`option: 67 bootfile-name  ${FRONT_DOOR}/ipxe/${BINARY}`);
    // dnsmasq's TFTP server logs only its root at start; a request of any kind would add a line.
    expect(dhcp.split('\n').filter((l) => /dnsmasq-tftp\[\d+\]:/.test(l) && !l.includes('TFTP root is'))).toEqual([]);

    // The downloaded iPXE ran its embedded script, chained over HTTPS, and the profile's kernel came up.
    expect(result.output, tail).toContain(`netboot: loading ${FRONT_DOOR}/boot.ipxe`);
    expectBooted(result, machine.args);
  }, 600_000);
});
