import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crossSign, issueCertificate, type KeyType } from '../../emulators/tls/ca';
import { ensureIpxeBuild, IPXE_BUILD_TIMEOUT_MS } from '../helpers/ipxe-build';
import { useLocalStack } from '../helpers/stack';
import { createBootNetwork, SERVER_IP, type BootNetwork } from './boot-network';
import { expectBooted, FRONT_DOOR, httpsBootPrerequisites, machineWithProfile, printedDnsmasqConfig, readImages, seconds } from './https-fixtures';
import { startTlsFront, type TlsFront } from './tls-front';

/**
 * Issue 20: chains shaped like Google's front ends serve them (pki.goog/updates/
 * march2025-alternate-chains): leaf <- intermediate <- root A (as GTS Root R1), the server sending
 * leaf, intermediate and root A cross-signed by root B (as GlobalSign Root CA). A BIOS build
 * trusting only root B boots through an RSA-leaf server and an ECDSA-leaf server; one trusting
 * only root A is refused by both (see the last test: an iPXE limit, not what the issue asked)
 * (four boots side by side, each machine led to its server by its lease, each
 * loading its build's undionly.kpxe from a TFTP directory of its own: dnsmasq's
 * tftp-unique-root=mac).
 */
const prepared = httpsBootPrerequisites('Google-shaped chains on a boot network');

const stack = useLocalStack({ ASSET_DELIVERY: 'proxy' });
const token = randomBytes(4).toString('hex');
const kernelArgs = ['console=ttyS0', 'panic=-1', `netboot.chains=${token}`];

interface ChainMaterial {
  created: number;
  rootA: string;
  rootB: string;
  /** What each server sends (leaf, intermediate, root A cross-signed by B) and its leaf's key. */
  servers: Record<KeyType, { chainPem: string; keyPem: string }>;
}

/**
 * The chains, kept under .cache/e2e so the two builds (their trust is an input) stay cached from
 * run to run; made again once half a year old (the leaves are valid for one).
 */
async function chainMaterial(): Promise<ChainMaterial> {
  const file = path.resolve(__dirname, '../../.cache/e2e/google-shaped-chains.json');
  try {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as ChainMaterial;
    if (Date.now() - kept.created < 180 * 24 * 3600_000) return kept;
  } catch {
    // none yet, or unreadable: make them
  }
  const [rootA, rootB] = await Promise.all([
    issueCertificate({ names: [], commonName: 'Test GTS-like Root A', keyType: 'rsa', ca: true }),
    issueCertificate({ names: [], commonName: 'Test GlobalSign-like Root B', keyType: 'rsa', ca: true }),
  ]);
  const intermediate = await issueCertificate({ issuer: rootA, names: [], commonName: 'Test WR2-like Intermediate', keyType: 'rsa', ca: true });
  const crossSigned = await crossSign(rootA, rootB);
  const leaves = await Promise.all((['rsa', 'ecdsa'] as const).map((keyType) => issueCertificate({ issuer: intermediate, names: [SERVER_IP], keyType })));
  const material: ChainMaterial = {
    created: Date.now(),
    rootA: rootA.certPem,
    rootB: rootB.certPem,
    servers: {
      rsa: { chainPem: (leaves[0]?.certPem ?? '') + intermediate.certPem + crossSigned, keyPem: leaves[0]?.keyPem ?? '' },
      ecdsa: { chainPem: (leaves[1]?.certPem ?? '') + intermediate.certPem + crossSigned, keyPem: leaves[1]?.keyPem ?? '' },
    },
  };
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(material), { mode: 0o600 });
  renameSync(tmp, file);
  return material;
}

const cases = [
  { trust: 'rootA', leaf: 'rsa', mac: '52:54:00:20:c0:01' },
  { trust: 'rootA', leaf: 'ecdsa', mac: '52:54:00:20:c0:02' },
  { trust: 'rootB', leaf: 'rsa', mac: '52:54:00:20:c0:03' },
  { trust: 'rootB', leaf: 'ecdsa', mac: '52:54:00:20:c0:04' },
] as const;
const timings: string[] = [];

describe.skipIf(!prepared.ok)('Google-shaped chains through RSA and ECDSA leaves', () => {
  let network: BootNetwork | undefined;
  const fronts: TlsFront[] = [];
  const fileStart = Date.now();

  beforeAll(async () => {
    if (!prepared.ok) return;
    const material = await chainMaterial();
    const started = Date.now();
    const builds = {
      rootA: await ensureIpxeBuild({ url: FRONT_DOOR, trustPem: [material.rootA], targets: ['bios'] }),
      rootB: await ensureIpxeBuild({ url: FRONT_DOOR, trustPem: [material.rootB], targets: ['bios'] }),
    };
    timings.push(`builds (bios, root A and root B): ${seconds(Date.now() - started)} s`);

    network = await createBootNetwork({ tag: 'chains', tcpPorts: [443] });
    const upstreamPort = Number(new URL(stack.url).port);
    for (const c of cases) {
      const server = material.servers[c.leaf];
      const front = await startTlsFront({ certPem: server.chainPem, keyPem: server.keyPem, upstreamPort });
      fronts.push(front);
      network.ports.get(443)?.targetFor(c.mac, front.port);
      // dnsmasq's tftp-unique-root=mac: TFTP_ROOT/<mac with dashes>/ for this machine.
      const dir = path.join(network.tftpRoot, c.mac.replace(/:/g, '-'));
      mkdirSync(dir, { mode: 0o755 });
      writeFileSync(path.join(dir, 'undionly.kpxe'), readFileSync(path.join(builds[c.trust].outDir, 'undionly.kpxe')));
    }
    await network.startDnsmasq(`${await printedDnsmasqConfig(network.tftpRoot)}\ntftp-unique-root=mac`);
    const images = readImages(prepared.x86);
    for (const c of cases) await machineWithProfile(stack.url, c.mac, images, kernelArgs);
  }, IPXE_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await network?.destroy();
    await Promise.all(fronts.map((f) => f.close()));
    timings.push(`file: ${seconds(Date.now() - fileStart)} s`);
    process.stdout.write(`\n  https-google-chains timings: ${timings.join('; ')}\n`);
  });

  async function boot(mac: string): Promise<Awaited<ReturnType<BootNetwork['boot']>>> {
    if (!network) throw new Error('no boot network');
    const c = cases.find((x) => x.mac === mac);
    const result = await network.boot({ firmware: 'bios', mac, timeoutMs: 540_000, until: /netboot: what it usually means/ });
    timings.push(`${c?.trust} ${c?.leaf}: ${seconds(result.durationMs)} s`);
    return result;
  }

  it.concurrent.each(cases.filter((c) => c.trust === 'rootB'))('trusting only root B (the cross-signer, as GlobalSign Root CA), $leaf leaf: boots', async ({ mac }) => {
    const result = await boot(mac);
    expect(fronts[cases.findIndex((c) => c.mac === mac)]?.handshakes(), result.output.slice(-3000)).toBeGreaterThan(0);
    expectBooted(result, kernelArgs);
  }, 600_000);

  // Found by this test, against the issue's wish (a build trusting either root boots): iPXE 2.0.0
  // anchors a chain only at a certificate whose own fingerprint is built in (x509_validate_chain),
  // and appends from its store only the issuer of the chain's last certificate, here root B. Root A
  // self-signed is in the store but the server's root A is the cross-signed one, so nothing anchors
  // and iPXE asks ${crosscert} (ca.ipxe.org, out of reach) for a cross-signed certificate: refused.
  // With Google, --trust-google builds in GTS Root R1 and GlobalSign Root CA alike, which boots;
  // trusting GTS Root R1 alone would not. This pins the behaviour so a change to it is noticed.
  it.concurrent.each(cases.filter((c) => c.trust === 'rootA'))('trusting only root A (as GTS Root R1 alone), $leaf leaf: refused with 0216eb3c, the server asked nothing', async ({ mac }) => {
    const result = await boot(mac);
    // iPXE shows the cross-certificate attempt as a progress tag (`[XCRT Test GTS-like Root A]`)
    // that later output overwrites: seen on the console, not reliably in the captured text.
    expect(result.output, result.output.slice(-3000)).toContain('Permission denied (https://ipxe.org/0216eb3c)');
    expect(result.marker).toBeNull();
    expect(fronts[cases.findIndex((c) => c.mac === mac)]?.requestBytes()).toBe(0);
  }, 600_000);
});
