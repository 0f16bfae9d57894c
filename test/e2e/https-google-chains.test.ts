import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crossSign, issueCertificate, type KeyType } from '../../emulators/tls/ca';
import type { IpxeBuildResult } from '../../cli/ipxe/build';
import { ensureIpxeBuild, IPXE_BUILD_TIMEOUT_MS } from '../helpers/ipxe-build';
import { useLocalStack } from '../helpers/stack';
import { createBootNetwork, SERVER_IP, type BootNetwork } from './boot-network';
import { expectBooted, FRONT_DOOR, httpsBootPrerequisites, machineWithProfile, printedDnsmasqConfig, readImages, seconds } from './https-fixtures';
import { startTlsFront, type TlsFront } from './tls-front';

/**
 * Issue 20: chains shaped like Google's front ends serve them (pki.goog/updates/
 * march2025-alternate-chains): leaf <- intermediate <- root A (as GTS Root R1), the server sending
 * leaf, intermediate and root A cross-signed by root B (as GlobalSign Root CA). A BIOS build
 * trusting only root B, and one trusting only root A, each boot through an RSA-leaf server and an
 * ECDSA-leaf server. The root-A build is given the servers' chain (--door-chain: the URL lives in
 * the boot network's namespace, out of the build's reach) and builds in root A's cross-signed form
 * from it; a fifth machine, with a root-A build made without the door's chain (--no-probe), pins
 * iPXE's behaviour without that form: refused. (Five boots side by side, each machine led to its
 * server by its lease, each loading its build's undionly.kpxe from a TFTP directory of its own:
 * dnsmasq's tftp-unique-root=mac.)
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
 * The chains, kept under .cache/e2e so the three builds (their trust is an input) stay cached from
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
  { trust: 'rootA', who: 'root A + its cross-signed form', leaf: 'rsa', mac: '52:54:00:20:c0:01' },
  { trust: 'rootA', who: 'root A + its cross-signed form', leaf: 'ecdsa', mac: '52:54:00:20:c0:02' },
  { trust: 'rootB', who: 'root B (cross-signer)', leaf: 'rsa', mac: '52:54:00:20:c0:03' },
  { trust: 'rootB', who: 'root B (cross-signer)', leaf: 'ecdsa', mac: '52:54:00:20:c0:04' },
  { trust: 'rootAWithoutForm', who: 'root A alone', leaf: 'rsa', mac: '52:54:00:20:c0:05' },
] as const;
const timings: string[] = [];

describe.skipIf(!prepared.ok)('Google-shaped chains through RSA and ECDSA leaves', () => {
  let network: BootNetwork | undefined;
  let builds: Record<(typeof cases)[number]['trust'], IpxeBuildResult> | undefined;
  let material: ChainMaterial | undefined;
  const fronts: TlsFront[] = [];
  const fileStart = Date.now();

  beforeAll(async () => {
    if (!prepared.ok) return;
    material = await chainMaterial();
    const started = Date.now();
    builds = {
      // --door-chain: both servers send the same intermediate and cross-signed root A.
      rootA: await ensureIpxeBuild({ url: FRONT_DOOR, trustPem: [material.rootA], targets: ['bios'], doorChainPem: material.servers.rsa.chainPem, doorChainSource: "the RSA server's chain" }),
      rootB: await ensureIpxeBuild({ url: FRONT_DOOR, trustPem: [material.rootB], targets: ['bios'] }),
      // No door chain and no probe (buildIpxe's default; the CLI's --no-probe): root A alone.
      rootAWithoutForm: await ensureIpxeBuild({ url: FRONT_DOOR, trustPem: [material.rootA], targets: ['bios'] }),
    };
    timings.push(`builds (bios: root A with its cross-signed form, root B, root A alone): ${seconds(Date.now() - started)} s`);

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

  it('the root-A build took the cross-signed form from the door chain and expects it accepted; the one without a chain did not', () => {
    if (!builds || !material) throw new Error('no builds');
    const form = builds.rootA.manifest.trust.find((t) => t.crossSignedFormOf);
    expect(form).toMatchObject({ subject: 'CN=Test GTS-like Root A', issuer: 'CN=Test GlobalSign-like Root B', source: "the RSA server's chain #3" });
    expect(form?.crossSignedFormOf?.subject).toBe('CN=Test GTS-like Root A');
    expect(builds.rootA.manifest.door.verdict?.accepted).toBe(true);
    expect(builds.rootAWithoutForm.manifest.trust).toHaveLength(1);
    expect(builds.rootAWithoutForm.manifest.door.verdict).toBeUndefined();
  });

  it.concurrent.each(cases.filter((c) => c.trust === 'rootA' || c.trust === 'rootB'))('trusting only $who, $leaf leaf: boots', async ({ mac }) => {
    const result = await boot(mac);
    expect(fronts[cases.findIndex((c) => c.mac === mac)]?.handshakes(), result.output.slice(-3000)).toBeGreaterThan(0);
    expectBooted(result, kernelArgs);
  }, 600_000);

  // The pin of iPXE 2.0.0's behaviour that the cross-signed forms work around: it anchors a chain
  // only at a certificate whose own fingerprint is built in (x509_validate_chain), and appends
  // from its store only issuers of the chain's last certificate (x509_auto_append), here root B.
  // Root A self-signed is in the store but the server's root A is the cross-signed one, so nothing
  // anchors and iPXE asks ${crosscert} (ca.ipxe.org, out of reach) for a cross-signed
  // certificate: refused. Should iPXE start anchoring by name and key, this test says so.
  it.concurrent.each(cases.filter((c) => c.trust === 'rootAWithoutForm'))('trusting only root A without its cross-signed form (--no-probe), $leaf leaf: refused with 0216eb3c, the server asked nothing', async ({ mac }) => {
    const result = await boot(mac);
    // iPXE shows the cross-certificate attempt as a progress tag (`[XCRT Test GTS-like Root A]`)
    // that later output overwrites: seen on the console, not reliably in the captured text.
    expect(result.output, result.output.slice(-3000)).toContain('Permission denied (https://ipxe.org/0216eb3c)');
    expect(result.marker).toBeNull();
    expect(fronts[cases.findIndex((c) => c.mac === mac)]?.requestBytes()).toBe(0);
  }, 600_000);
});
