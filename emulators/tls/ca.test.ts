import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultLeafNames, ensureLocalCa, expiredLeaf, googleShapedChain, issueCertificate, otherCa, wrongNameLeaf } from './ca';

const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'netboot-tls-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

/** `openssl verify` of `leafPem` against `rootPem` with `untrustedPem` as the intermediates; its exit status decides. */
async function opensslVerifies(rootPem: string, leafPem: string, untrustedPem?: string): Promise<boolean> {
  const tag = Math.random().toString(36).slice(2);
  const args = ['verify', '-CAfile', write(`root-${tag}.pem`, rootPem)];
  if (untrustedPem) args.push('-untrusted', write(`untrusted-${tag}.pem`, untrustedPem));
  args.push(write(`leaf-${tag}.pem`, leafPem));
  return run('openssl', args).then(
    () => true,
    () => false,
  );
}

describe('local CA', () => {
  it('is made once, kept with its key at 0600, and agrees between two processes that race to make it', async () => {
    const dir = join(work, 'local-tls');
    // Two CLIs racing through tsx, as `npm start` and a test starting at the same moment would.
    const script = `import { ensureLocalCa } from ${JSON.stringify(join(__dirname, 'ca.ts'))};
      ensureLocalCa(${JSON.stringify(dir)}).then((ca) => process.stdout.write(ca.fingerprintSha256));`;
    const racer = () => run(join(__dirname, '../../node_modules/.bin/tsx'), ['-e', script]).then((r) => r.stdout);
    const [first, second] = await Promise.all([racer(), racer()]);
    const ca = await ensureLocalCa(dir);
    expect(first).toBe(ca.fingerprintSha256);
    expect(second).toBe(ca.fingerprintSha256);

    const onDisk = new X509Certificate(readFileSync(ca.certPath));
    expect(onDisk.fingerprint256).toBe(ca.fingerprintSha256);
    expect(onDisk.ca).toBe(true);
    expect(statSync(ca.keyPath).mode & 0o777).toBe(0o600);
    expect(readFileSync(ca.certPath, 'utf8')).not.toContain('PRIVATE KEY');
    // Loaded again, it issues leaves that verify against the file on disk.
    const leaf = await issueCertificate({ issuer: await ensureLocalCa(dir), names: defaultLeafNames, keyType: 'ecdsa' });
    expect(new X509Certificate(leaf.certPem).verify(onDisk.publicKey)).toBe(true);
  }, 60_000);

  it('issues ECDSA P-256 and RSA 2048 leaves for DNS names and IP addresses, for server authentication', async () => {
    const ca = await otherCa('rsa', 'unit CA');
    const caCert = new X509Certificate(ca.certPem);
    for (const keyType of ['ecdsa', 'rsa'] as const) {
      const leaf = await issueCertificate({ issuer: ca, names: ['localhost', '127.0.0.1', '10.0.2.2', '192.0.2.1'], keyType });
      const cert = new X509Certificate(leaf.certPem);
      expect(cert.verify(caCert.publicKey)).toBe(true);
      expect(cert.checkIssued(caCert)).toBe(true);
      expect(cert.ca).toBe(false);
      expect(cert.checkHost('localhost')).toBe('localhost');
      expect(cert.checkIP('10.0.2.2')).toBe('10.0.2.2');
      expect(cert.checkIP('192.0.2.1')).toBe('192.0.2.1');
      expect(cert.checkIP('10.0.2.3')).toBeUndefined();
      expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth
      expect(cert.publicKey.asymmetricKeyType).toBe(keyType === 'rsa' ? 'rsa' : 'ec');
      if (keyType === 'rsa') expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
      else expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      expect(await opensslVerifies(ca.certPem, leaf.certPem)).toBe(true);
    }
  });

  it('writes what iPXE 2.0.0 checks: v3, SHA-256, critical CA basicConstraints and keyCertSign, no OCSP responder', async () => {
    const ca = await otherCa('rsa', 'unit CA');
    const leaf = await issueCertificate({ issuer: ca, names: ['localhost'], keyType: 'ecdsa' });
    const caText = (await run('openssl', ['x509', '-noout', '-text', '-in', write('ca-text.pem', ca.certPem)])).stdout;
    const leafText = (await run('openssl', ['x509', '-noout', '-text', '-in', write('leaf-text.pem', leaf.certPem)])).stdout;
    expect(caText).toMatch(/Version: 3/);
    expect(caText).toMatch(/Basic Constraints: critical\s+CA:TRUE/);
    expect(caText).toMatch(/Key Usage: critical\s+Certificate Sign/);
    expect(caText).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
    expect(leafText).toMatch(/Subject Alternative Name:\s+DNS:localhost/);
    expect(leafText).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication/);
    expect(leafText).not.toMatch(/OCSP/);
    const ecdsaCa = await otherCa('ecdsa', 'unit ECDSA CA');
    const underEcdsa = await issueCertificate({ issuer: ecdsaCa, names: ['localhost'], keyType: 'rsa' });
    expect((await run('openssl', ['x509', '-noout', '-text', '-in', write('leaf-ec.pem', underEcdsa.certPem)])).stdout).toMatch(
      /Signature Algorithm: ecdsa-with-SHA256/,
    );
  });
});

describe('chains for refusal tests', () => {
  it('another CA, an expired leaf and a leaf for the wrong name each fail where they should', async () => {
    const ca = await otherCa();
    const impostor = await otherCa('rsa', 'impostor CA');
    const good = await issueCertificate({ issuer: ca, names: defaultLeafNames, keyType: 'ecdsa' });
    const fromImpostor = await issueCertificate({ issuer: impostor, names: defaultLeafNames, keyType: 'ecdsa' });
    const expired = await expiredLeaf(ca);
    const wrongName = await wrongNameLeaf(ca);

    expect(await opensslVerifies(ca.certPem, good.certPem)).toBe(true);
    expect(await opensslVerifies(ca.certPem, fromImpostor.certPem)).toBe(false);
    expect(await opensslVerifies(ca.certPem, expired.certPem)).toBe(false);
    expect(new Date(new X509Certificate(expired.certPem).validTo).getTime()).toBeLessThan(Date.now());
    expect(await opensslVerifies(ca.certPem, wrongName.certPem)).toBe(true); // a good chain...
    expect(new X509Certificate(wrongName.certPem).checkIP('127.0.0.1')).toBeUndefined(); // ...for another name
    expect(new X509Certificate(wrongName.certPem).checkHost('localhost')).toBeUndefined();
  });

  it('a Google-shaped chain verifies to root A and, through the cross-signed root, to root B alone', async () => {
    for (const leafKeyType of ['rsa', 'ecdsa'] as const) {
      const chain = await googleShapedChain(defaultLeafNames, leafKeyType);
      const served = chain.serverChainPem;
      const untrusted = chain.intermediate.certPem + chain.rootACrossSignedPem;
      expect(served.startsWith(chain.leaf.certPem)).toBe(true);
      expect(served.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
      expect(await opensslVerifies(chain.rootA.certPem, chain.leaf.certPem, untrusted)).toBe(true);
      expect(await opensslVerifies(chain.rootB.certPem, chain.leaf.certPem, untrusted)).toBe(true);
      // Without the cross-signed certificate, root B alone does not reach the leaf.
      expect(await opensslVerifies(chain.rootB.certPem, chain.leaf.certPem, chain.intermediate.certPem)).toBe(false);
      const cross = new X509Certificate(chain.rootACrossSignedPem);
      expect(cross.subject).toBe(new X509Certificate(chain.rootA.certPem).subject);
      expect(cross.checkIssued(new X509Certificate(chain.rootB.certPem))).toBe(true);
      expect(new X509Certificate(chain.leaf.certPem).publicKey.asymmetricKeyType).toBe(leafKeyType === 'rsa' ? 'rsa' : 'ec');
    }
  });
});
