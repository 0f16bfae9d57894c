import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainCert, ipxeChainVerdict, isCrossSignedFormOf, type ChainCert } from '../cli/ipxe/anchors';
import { planBuildTrust } from '../cli/ipxe/build';
import { probeDoorChain } from '../cli/ipxe/door';
import { selectTrust } from '../cli/ipxe/trust';
import { crossSign, expiredLeaf, issueCertificate, type IssuedCertificate } from '../emulators/tls/ca';
import { runNetboot } from './helpers/cli';

/**
 * The trust plan of `netboot ipxe build` (issue 20: "a build trusting either root boots through
 * both" Google-shaped chains): cross-signed forms of trusted roots, iPXE 2.0.0's anchoring
 * (x509_auto_append + x509_validate_chain) computed on the build host, and the probe that reads
 * the chain a real TLS server on loopback sends. No compile: `--plan` stops before the build.
 * The QEMU boots through both roots are test/e2e/https-google-chains.test.ts.
 */
interface Pki {
  rootA: IssuedCertificate;
  rootB: IssuedCertificate;
  /** Another root that happens to carry root A's name (a different key). */
  namesakeOfA: IssuedCertificate;
  intermediate: IssuedCertificate;
  leaf: IssuedCertificate;
  ecdsaLeaf: IssuedCertificate;
  crossSignedA: string;
}

let pki: Pki;
const c = (pem: string): ChainCert => chainCert(pem);
const dir = mkdtempSync(join(tmpdir(), 'ipxe-trust-plan-'));
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

beforeAll(async () => {
  const [rootA, rootB, namesakeOfA] = await Promise.all([
    issueCertificate({ names: [], commonName: 'Plan Root A', keyType: 'rsa', ca: true }),
    issueCertificate({ names: [], commonName: 'Plan Root B', keyType: 'rsa', ca: true }),
    issueCertificate({ names: [], commonName: 'Plan Root A', keyType: 'ecdsa', ca: true }),
  ]);
  const intermediate = await issueCertificate({ issuer: rootA, names: [], commonName: 'Plan Intermediate', keyType: 'rsa', ca: true });
  const [leaf, ecdsaLeaf, crossSignedA] = await Promise.all([
    issueCertificate({ issuer: intermediate, names: ['127.0.0.1'], keyType: 'rsa' }),
    issueCertificate({ issuer: intermediate, names: ['127.0.0.1'], keyType: 'ecdsa' }),
    crossSign(rootA, rootB),
  ]);
  pki = { rootA, rootB, namesakeOfA, intermediate, leaf, ecdsaLeaf, crossSignedA };
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What a Google-shaped door sends: leaf, intermediate, root A cross-signed by root B. */
const served = (leaf = pki.leaf) => [c(leaf.certPem), c(pki.intermediate.certPem), c(pki.crossSignedA)];
const build = (...pems: string[]) => ({ trusted: new Set(pems.map((p) => c(p).sha256)), store: pems.map(c) });

describe('a cross-signed form: the same subject and key as the root, not self-signed', () => {
  it('recognises root A cross-signed by B as a form of A, and nothing else', () => {
    expect(isCrossSignedFormOf(c(pki.crossSignedA), c(pki.rootA.certPem))).toBe(true);
    expect(isCrossSignedFormOf(c(pki.crossSignedA), c(pki.rootB.certPem))).toBe(false);
    expect(isCrossSignedFormOf(c(pki.rootA.certPem), c(pki.rootA.certPem))).toBe(false);
    expect(isCrossSignedFormOf(c(pki.intermediate.certPem), c(pki.rootA.certPem))).toBe(false);
    // Same name, other key: not the same trust anchor (RFC 5280 6.1.1 (d): a name and a key).
    expect(isCrossSignedFormOf(c(pki.crossSignedA), c(pki.namesakeOfA.certPem))).toBe(false);
  });
});

describe("iPXE 2.0.0's anchoring over a served chain", () => {
  it('trusting root A alone refuses the Google-shaped chain (the pin of test/e2e/https-google-chains)', () => {
    const v = ipxeChainVerdict(served(), build(pki.rootA.certPem));
    expect(v.anchored).toBe(false);
    expect(v.appended).toEqual([]);
    if (!v.anchored) expect(v.reason).toMatch(/no certificate of the chain .*CN=Plan Root A \(issued by CN=Plan Root B.*0216eb3c/);
  });

  it('trusting root B anchors at B, which the store appends as the issuer of the last certificate', () => {
    const v = ipxeChainVerdict(served(), build(pki.rootB.certPem));
    expect(v.anchored && v.anchor.subject).toBe('CN=Plan Root B');
    expect(v.anchored && v.anchorFrom).toBe('store');
    expect(v.appended.map((x) => x.subject)).toEqual(['CN=Plan Root B']);
  });

  it('trusting root A and its cross-signed form anchors at the form the door sends, RSA and ECDSA leaves alike', () => {
    for (const leaf of [pki.leaf, pki.ecdsaLeaf]) {
      const v = ipxeChainVerdict(served(leaf), build(pki.rootA.certPem, pki.crossSignedA));
      expect(v.anchored && v.anchor.sha256).toBe(c(pki.crossSignedA).sha256);
      expect(v.anchored && v.anchorFrom).toBe('served');
    }
  });

  it('a door that sends no root anchors at the root from the store', () => {
    const v = ipxeChainVerdict([c(pki.leaf.certPem), c(pki.intermediate.certPem)], build(pki.rootA.certPem));
    expect(v.anchored && v.anchor.sha256).toBe(c(pki.rootA.certPem).sha256);
  });

  it('an anchored chain with an expired leaf, or in the wrong order, is still refused, saying why', async () => {
    const expired = ipxeChainVerdict([c((await expiredLeaf(pki.intermediate, ['127.0.0.1'], 'rsa')).certPem), c(pki.intermediate.certPem)], build(pki.rootA.certPem));
    expect(expired.anchored).toBe(false);
    if (!expired.anchored) expect(expired.reason).toMatch(/anchors at CN=Plan Root A .* but CN=127\.0\.0\.1 expired/);
    const swapped = ipxeChainVerdict([c(pki.intermediate.certPem), c(pki.leaf.certPem)], build(pki.rootA.certPem));
    expect(swapped.anchored).toBe(false);
  });
});

describe('trust files: roots, and cross-signed forms of them only', () => {
  it('takes a cross-signed form beside its root and names what it is a form of', () => {
    const roots = selectTrust({ trustFiles: [file('bundle.pem', pki.crossSignedA + pki.rootA.certPem)] });
    expect(roots.map((r) => [r.subject, r.issuer, r.crossSignedFormOf?.subject])).toEqual([
      ['CN=Plan Root A', 'CN=Plan Root A', undefined],
      ['CN=Plan Root A', 'CN=Plan Root B', 'CN=Plan Root A'],
    ]);
  });

  it('refuses an intermediate, and a cross-signed form whose root the build does not trust', () => {
    expect(() => selectTrust({ trustFiles: [file('inter.pem', pki.rootA.certPem + pki.intermediate.certPem)] })).toThrow(
      /inter\.pem #2: CN=Plan Intermediate \(issued by CN=Plan Root A\) is not self-signed.*intermediate's fingerprint is a different thing/,
    );
    expect(() => selectTrust({ trustFiles: [file('form-alone.pem', pki.crossSignedA)] })).toThrow(/no root this build trusts has its subject and key/);
  });
});

describe('the door chain: given offline, or read from a TLS server on loopback', () => {
  let server: Server;
  let port = 0;
  let closedPort = 0;

  beforeAll(async () => {
    server = createServer({ cert: pki.leaf.certPem + pki.intermediate.certPem + pki.crossSignedA, key: pki.leaf.keyPem, minVersion: 'TLSv1.2' }, (s) => s.end());
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    port = (server.address() as AddressInfo).port;
    // A port nothing listens on: taken and released.
    const probe = createNetServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise((done) => probe.close(done));
  });
  afterAll(() => new Promise((done) => server.close(done)));

  it('the probe reads the certificates in the order sent, as openssl s_client -showcerts does', async () => {
    const ders = await probeDoorChain(`https://127.0.0.1:${port}`);
    const pems = ders.map((d) => new X509Certificate(d).toString());
    expect(pems.map((p) => c(p).sha256)).toEqual(served().map((x) => x.sha256));
    // Asynchronously: the server answers from this process's event loop.
    const stdout = await new Promise<string>((done, fail) => {
      const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-showcerts', '-tls1_2'], { timeout: 20_000 }, (e, out) => (e ? fail(e) : done(out)));
      child.stdin?.end();
    });
    const shown = stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    expect(shown.map((p) => c(p).sha256)).toEqual(pems.map((p) => c(p).sha256));
  });

  it('a build trusting root A takes root A cross-signed by B from the door and will be accepted', async () => {
    const plan = await planBuildTrust({ url: `https://127.0.0.1:${port}`, trustPem: [pki.rootA.certPem], probe: true });
    expect(plan.trust.map((t) => [t.sha256, t.source, t.crossSignedFormOf?.sha256])).toEqual([
      [c(pki.rootA.certPem).sha256, 'trust PEM 1', undefined],
      [c(pki.crossSignedA).sha256, `probe https://127.0.0.1:${port} #3`, c(pki.rootA.certPem).sha256],
    ]);
    expect(plan.door.chain.map((x) => x.subject)).toEqual(['CN=127.0.0.1', 'CN=Plan Intermediate', 'CN=Plan Root A']);
    expect(plan.door.verdict).toEqual({ accepted: true, text: expect.stringMatching(/^accepted: the chain anchors at CN=Plan Root A .*sent by the door/) });
  });

  it('a door out of reach is said in one line and the trust stays as given', async () => {
    const plan = await planBuildTrust({ url: `https://127.0.0.1:${closedPort}`, trustPem: [pki.rootA.certPem], probe: true });
    expect(plan.trust).toHaveLength(1);
    expect(plan.door.source).toMatch(/^not reached \(127\.0\.0\.1:\d+: connect ECONNREFUSED/);
    expect(plan.door.verdict).toBeUndefined();
  });

  it('a door that speaks only TLS 1.3 is said so: iPXE 2.0.0 stops at TLS 1.2', async () => {
    const only13 = createServer({ cert: pki.leaf.certPem, key: pki.leaf.keyPem, minVersion: 'TLSv1.3' });
    only13.on('tlsClientError', () => undefined);
    await new Promise<void>((done) => only13.listen(0, '127.0.0.1', done));
    try {
      await expect(probeDoorChain(`https://127.0.0.1:${(only13.address() as AddressInfo).port}`)).rejects.toThrow(/TLS alert protocol_version .*TLS 1\.2 at most/);
    } finally {
      await new Promise((done) => only13.close(done));
    }
  });

  it('netboot ipxe build --plan: the probe, --no-probe, --door-chain and the refusal warning, nothing built', async () => {
    const rootA = file('root-a.pem', pki.rootA.certPem);
    const url = `https://127.0.0.1:${port}`;
    const probed = await runNetboot(['ipxe', 'build', '--url', url, '--trust', rootA, '--plan'], {});
    expect(probed.code, probed.stderr).toBe(0);
    expect(probed.stdout).toMatch(/trusting CN=Plan Root A issued by CN=Plan Root B \(sha256 [0-9a-f]{64}\) from probe https:\/\/127\.0\.0\.1:\d+ #3: cross-signed form of CN=Plan Root A/);
    expect(probed.stdout).toMatch(/as this build's iPXE will see it: accepted/);

    const unprobed = await runNetboot(['ipxe', 'build', '--url', url, '--trust', rootA, '--no-probe', '--plan'], {});
    expect(unprobed.stdout).not.toMatch(/cross-signed form/);
    expect(unprobed.stdout).toMatch(/front door's chain: not checked/);

    // openssl s_client -showcerts as an operator would save it, text around the certificates.
    const saved = file('door.txt', `CONNECTED(00000003)\n---\nCertificate chain\n 0 s:CN = 127.0.0.1\n${pki.leaf.certPem} 1 s:CN = Plan Intermediate\n${pki.intermediate.certPem} 2 s:CN = Plan Root A\n${pki.crossSignedA}---\n`);
    const offline = await runNetboot(['ipxe', 'build', '--url', 'https://192.0.2.1', '--trust', rootA, '--door-chain', saved, '--plan'], {});
    expect(offline.stdout).toMatch(/from --door-chain \S+door\.txt #3: cross-signed form of CN=Plan Root A/);

    const other = file('root-b-only.pem', pki.namesakeOfA.certPem);
    const refused = await runNetboot(['ipxe', 'build', '--url', url, '--trust', other, '--plan'], {});
    expect(refused.code).toBe(0);
    expect(refused.stdout).toMatch(/^warning: front door's chain, as this build's iPXE will see it: REFUSED \(iPXE error 0216eb3c/m);

    const intermediate = await runNetboot(['ipxe', 'build', '--url', url, '--trust', file('i.pem', pki.intermediate.certPem), '--plan'], {});
    expect(intermediate.code).toBe(2);
    expect(intermediate.stderr).toMatch(/is not self-signed/);
  }, 60_000);
});
