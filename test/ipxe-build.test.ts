import { spawn } from 'node:child_process';
import { X509Certificate, createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIpxe, IpxeBuildError, type IpxeBuildResult } from '../cli/ipxe/build';
import { SCRIPT_LIMITS, chainUrl, embeddedScript, frontDoorUrl } from '../cli/ipxe/script';
import { DEBIAN_CA_DIR, GOOGLE_ROOT_SUBJECTS, googleRoots, parsePemBundle, selectTrust } from '../cli/ipxe/trust';
import { VENDORED_TARBALL } from '../cli/ipxe/source';
import { checkToolchain } from '../cli/ipxe/toolchain';
import { defaultLeafNames, issueCertificate, otherCa, type IssuedCertificate } from '../emulators/tls/ca';
import { runNetboot } from './helpers/cli';
import { IPXE_BUILD_TIMEOUT_MS, ensureIpxeBuild, ipxeToolchain } from './helpers/ipxe-build';
import { accelArgs, cleanOutput, prepareE2eAssets } from './e2e/qemu';

/**
 * `netboot ipxe build`: the script, trust and refusals as units; then one real BIOS build from the
 * vendored v2.0.0 source, booted in QEMU against a Node HTTPS server under a throwaway CA, and the
 * same binary against a server whose certificate comes from another CA.
 */
const toolchain = ipxeToolchain(['bios']);
const qemu = toolchain.ok ? prepareE2eAssets() : undefined;
const realBuild = toolchain.ok && qemu?.ok === true && existsSync(VENDORED_TARBALL);
if (!realBuild) {
  const reason = !toolchain.ok ? toolchain.reason : qemu && !qemu.ok ? qemu.reason : `no vendored tarball at ${VENDORED_TARBALL}`;
  const message = `iPXE build and boot skipped: ${reason}`;
  if (process.env.CI) throw new Error(`${message} (CI must run them)`);
  process.stdout.write(`\n${message}\n`);
}

const fingerprint = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

describe('the embedded script', () => {
  const url = 'https://boot.example.com/netboot';

  it('gets an address by DHCP with retries, then chains URL/boot.ipxe with mac, arch and platform', () => {
    const script = embeddedScript({ url });
    const lines = script.split('\n');
    expect(lines[0]).toBe('#!ipxe');
    expect(script).toContain(`chain --autofree ${url}/boot.ipxe?mac=\${net0/mac}&arch=\${buildarch}&platform=\${platform} && goto netboot_done ||`);
    expect(lines.indexOf('dhcp && goto netboot_dhcp_done ||')).toBeLessThan(lines.findIndex((l) => l.startsWith('chain ')));
    expect(script).toContain(`iseq \${netboot_try} ${SCRIPT_LIMITS.dhcpAttempts} && goto netboot_dhcp_failed ||`);
    expect(script).toContain(`iseq \${netboot_try} ${SCRIPT_LIMITS.chainAttempts} && goto netboot_chain_failed ||`);
  });

  it('on final failure prints the saved error, its ipxe.org page and what it usually means, pauses, reboots', () => {
    const script = embeddedScript({ url });
    const failed = script.slice(script.indexOf(':netboot_chain_failed'));
    expect(failed).toContain('error ${netboot_error} (https://ipxe.org/${netboot_error})');
    expect(failed).toMatch(/echo Permission denied .*does not chain to a root built in/);
    expect(failed).toMatch(/echo Operation not supported .*no HTTPS/);
    expect(failed).toMatch(/prompt --timeout 60000 .* && shell \|\|\nreboot\n/);
    // errno is overwritten by the next failing command: it is saved right after the chain.
    expect(script).toMatch(/chain --autofree .*\nset netboot_error \$\{errno:hexraw\}\n/);
  });

  it('sets the clock from DHCP option 42 when no --ntp is given, and only from --ntp when one is', () => {
    const fromDhcp = embeddedScript({ url });
    expect(fromDhcp).toContain('isset ${ntp} || goto netboot_ntp_done');
    expect(fromDhcp).toContain('ntp ${ntp} ||');
    const fromFlag = embeddedScript({ url, ntp: 'time.example.net' });
    expect(fromFlag).toContain('ntp time.example.net ||');
    expect(fromFlag).not.toContain('${ntp}');
    // The clock is set after DHCP and before the chain.
    expect(fromFlag.indexOf('ntp time.example.net')).toBeGreaterThan(fromFlag.indexOf(':netboot_dhcp_done'));
    expect(fromFlag.indexOf('ntp time.example.net')).toBeLessThan(fromFlag.indexOf('chain --autofree'));
  });

  it('takes only URLs the script cannot misread', () => {
    expect(frontDoorUrl('https://boot.example.com/')).toBe('https://boot.example.com');
    expect(frontDoorUrl('https://10.0.2.2:8443/a/b/')).toBe('https://10.0.2.2:8443/a/b');
    expect(chainUrl('https://h')).toBe('https://h/boot.ipxe?mac=${net0/mac}&arch=${buildarch}&platform=${platform}');
    for (const bad of ['https://h/${x}', 'https://h/?q=1', 'https://h/#f', 'https://u:p@h', 'ftp://h', 'not a url']) {
      expect(() => frontDoorUrl(bad), bad).toThrow(IpxeBuildError);
    }
    expect(() => frontDoorUrl('http://h')).toThrow(/plain http/);
    expect(frontDoorUrl('http://h', true)).toBe('http://h');
  });
});

describe('trust selection', () => {
  it("--trust-google takes GTS Root R1-R4 and the GlobalSign roots from Debian's store, by subject", () => {
    const roots = googleRoots();
    expect(roots.map((r) => r.subject)).toEqual(GOOGLE_ROOT_SUBJECTS);
    for (const r of roots) {
      expect(r.source.startsWith(`${DEBIAN_CA_DIR}/`)).toBe(true);
      expect(r.sha256).toBe(fingerprint(r.pem));
    }
    // GTS Root R1's published SHA-256 fingerprint (pki.goog).
    expect(roots[0]?.sha256).toBe('d947432abde7b7fa90fc2e6b59101b1280e0e1c7e4e40fa3c6887fff57a7f4cf');
  });

  it('matches subjects, not file names, and names a root the store lacks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipxe-ca-'));
    try {
      // The roots under other names, plus GlobalSign Root CA - R3 (not one of Google's) named like R1.
      copyFileSync(join(DEBIAN_CA_DIR, 'GTS_Root_R1.crt'), join(dir, 'a.crt'));
      copyFileSync(join(DEBIAN_CA_DIR, 'GlobalSign_Root_CA_-_R3.crt'), join(dir, 'GlobalSign_Root_CA.crt'));
      expect(() => googleRoots(dir)).toThrow(/lacks C=US, O=Google Trust Services LLC, CN=GTS Root R2; .*CN=GlobalSign Root CA/);
      for (const f of ['GTS_Root_R2', 'GTS_Root_R3', 'GTS_Root_R4', 'GlobalSign_ECC_Root_CA_-_R4']) copyFileSync(join(DEBIAN_CA_DIR, `${f}.crt`), join(dir, `x-${f}.crt`));
      copyFileSync(join(DEBIAN_CA_DIR, 'GlobalSign_Root_CA.crt'), join(dir, 'z.crt'));
      const roots = googleRoots(dir);
      expect(roots.map((r) => r.subject)).toEqual(GOOGLE_ROOT_SUBJECTS);
      expect(roots[4]?.source).toBe(join(dir, 'z.crt'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a PEM bundle gives each of its roots; a root given twice is embedded once', async () => {
    const [a, b] = await Promise.all([otherCa('ecdsa', 'bundle root A'), otherCa('rsa', 'bundle root B')]);
    const bundle = `${a.certPem}\n${b.certPem}`;
    const parsed = parsePemBundle(bundle, 'roots.pem');
    expect(parsed.map((r) => [r.subject, r.sha256, r.source])).toEqual([
      ['CN=bundle root A', fingerprint(a.certPem), 'roots.pem #1'],
      ['CN=bundle root B', fingerprint(b.certPem), 'roots.pem #2'],
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'ipxe-trust-'));
    try {
      writeFileSync(join(dir, 'roots.pem'), bundle);
      const roots = selectTrust({ trustFiles: [join(dir, 'roots.pem')], trustPems: [a.certPem], trustGoogle: true });
      expect(roots.map((r) => r.subject)).toEqual(['CN=bundle root A', 'CN=bundle root B', ...GOOGLE_ROOT_SUBJECTS]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => parsePemBundle('not a certificate', 'x.pem')).toThrow(/x.pem: no PEM certificate/);
  });
});

describe('refusals, before anything is built or written', () => {
  const out = join(tmpdir(), `ipxe-refused-${randomBytes(4).toString('hex')}`);

  it.each([
    ['no trust option', ['--url', 'https://boot.example.com'], /no trust given/],
    ['an http URL without --insecure-http', ['--url', 'http://boot.example.com', '--trust-google'], /plain http.*--insecure-http/],
    ['an unknown target', ['--url', 'https://boot.example.com', '--trust-google', '--target', 'bios', '--target', 'efi-riscv'], /--target efi-riscv: unknown target; one of bios, efi-x86_64, efi-arm64/],
    ['a trust file that is not PEM', ['--url', 'https://boot.example.com', '--trust', '/etc/hostname'], /--trust|no PEM certificate/],
    ['no --url', ['--trust-google'], /--url is required/],
  ])('%s: exit 2 with the reason, no output directory', async (_name, args, message) => {
    const run = await runNetboot(['ipxe', 'build', ...args, '--out', out], { NETBOOT_URL: undefined });
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(2);
    expect(existsSync(out)).toBe(false);
  });

  it('buildIpxe throws the same refusals as IpxeBuildError of kind usage', async () => {
    await expect(buildIpxe({ url: 'https://h', out })).rejects.toMatchObject({ kind: 'usage', message: expect.stringMatching(/no trust given/) });
    await expect(buildIpxe({ url: 'https://h', trustGoogle: true, ntp: 'bad server;', out })).rejects.toMatchObject({ kind: 'usage' });
    expect(existsSync(out)).toBe(false);
  });
});

/** A Node HTTPS server for the guest (10.0.2.2 from inside QEMU): what it was asked, and how many TLS connections it saw. */
interface ScriptServer {
  server: Server;
  requests: string[];
  connections: number;
  close(): Promise<void>;
}

function listenHttps(leaf: IssuedCertificate, chainPem: string, port: number): Promise<ScriptServer> {
  const s: ScriptServer = {
    server: createServer({ key: leaf.keyPem, cert: `${leaf.certPem}${chainPem}` }, (req, res) => {
      s.requests.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/plain' }).end('#!ipxe\necho netboot-test: chained\nsleep 600\n');
    }),
    requests: [],
    connections: 0,
    close: () => new Promise((done) => {
      s.server.closeAllConnections();
      s.server.close(() => done());
    }),
  };
  s.server.on('connection', () => s.connections++);
  return new Promise((resolve, reject) => {
    s.server.once('error', reject);
    s.server.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/** Power-on to PXE: SeaBIOS's NIC ROM takes DHCP and TFTP from QEMU user networking, then the build's undionly.kpxe runs. */
async function pxeBoot(tftpDir: string, mac: string, until: () => boolean, timeoutMs: number): Promise<string> {
  const child = spawn('qemu-system-x86_64', [
    ...(await accelArgs()), '-nographic', '-no-reboot', '-serial', 'mon:stdio', '-m', '256',
    '-netdev', `user,id=n0,tftp=${tftpDir},bootfile=undionly.kpxe`, '-device', `virtio-net-pci,netdev=n0,mac=${mac}`, '-boot', 'n',
  ], { stdio: ['pipe', 'pipe', 'pipe'] });
  let raw = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (raw += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (raw += d));
  const closed = new Promise<void>((done) => child.on('close', () => done()));
  const started = Date.now();
  while (!until() && Date.now() - started < timeoutMs && child.exitCode === null) await new Promise((r) => setTimeout(r, 250));
  // A moment for the console to show what happened after the server's side saw it.
  await new Promise((r) => setTimeout(r, 1500));
  child.kill('SIGKILL');
  await closed;
  return cleanOutput(raw);
}

describe.skipIf(!realBuild)('a real BIOS build from the vendored v2.0.0 source', () => {
  let ca: IssuedCertificate;
  let trusted: ScriptServer;
  let port: number;
  let build: IpxeBuildResult;
  let tftp: string;

  beforeAll(async () => {
    ca = await otherCa('ecdsa', 'ipxe-build test CA');
    const leaf = await issueCertificate({ issuer: ca, names: defaultLeafNames, keyType: 'ecdsa' });
    trusted = await listenHttps(leaf, '', 0);
    port = (trusted.server.address() as AddressInfo).port;
    build = await ensureIpxeBuild({ url: `https://10.0.2.2:${port}`, trustPem: [ca.certPem], targets: ['bios'] });
    // QEMU's TFTP serves the directory; a copy of its own so nothing else writes there meanwhile.
    tftp = mkdtempSync(join(tmpdir(), 'ipxe-tftp-'));
    copyFileSync(join(build.outDir, 'undionly.kpxe'), join(tftp, 'undionly.kpxe'));
  }, IPXE_BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await trusted?.close();
    if (tftp) rmSync(tftp, { recursive: true, force: true });
  });

  it('writes undionly.kpxe and a manifest of what went in', () => {
    const m = build.manifest;
    const file = join(build.outDir, 'undionly.kpxe');
    expect(m.files).toEqual([{ name: 'undionly.kpxe', target: 'bios', size: statSync(file).size, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') }]);
    expect(m.ipxe).toEqual({ version: '2.0.0', source: { kind: 'tarball', path: VENDORED_TARBALL, sha256: '907009e4faa3947c823849cf0dc077456290f738d455376fa965f7531bb99562' } });
    expect(m.url).toBe(`https://10.0.2.2:${port}`);
    expect(m.trust).toEqual([{ subject: 'CN=ipxe-build test CA', sha256: fingerprint(ca.certPem), source: 'trust PEM 1' }]);
    expect(m.options).toEqual({ targets: ['bios'], ocsp: true, ntp: 'dhcp-option-42', insecureHttp: false, trustGoogle: false });
    expect(JSON.parse(readFileSync(join(build.outDir, 'manifest.json'), 'utf8'))).toEqual(m);
  });

  it('boots in QEMU and chains the front door over HTTPS with the MAC, i386 and pcbios', async () => {
    const mac = '52:54:00:1b:00:01';
    const console = await pxeBoot(tftp, mac, () => trusted.requests.length > 0, 240_000);
    expect(trusted.requests, console).toHaveLength(1);
    // iPXE 2.0.0 sends the MAC's colons as they are (1.0.0 percent-encoded them): compare decoded.
    const asked = new URL(trusted.requests[0] ?? '', 'https://front-door');
    expect([asked.pathname, ...asked.searchParams]).toEqual(['/boot.ipxe', ['mac', mac], ['arch', 'i386'], ['platform', 'pcbios']]);
    expect(console).toContain(`netboot: loading https://10.0.2.2:${port}/boot.ipxe`);
  }, 300_000);

  it('the same binary refuses a server whose certificate comes from another CA: no request reaches it', async () => {
    await trusted.close();
    const impostorCa = await otherCa('ecdsa', 'impostor CA');
    const impostor = await listenHttps(await issueCertificate({ issuer: impostorCa, names: defaultLeafNames, keyType: 'ecdsa' }), '', port);
    try {
      // Two connections: the first attempt was refused and the script tried again.
      const console = await pxeBoot(tftp, '52:54:00:1b:00:02', () => impostor.connections >= 2, 240_000);
      expect(impostor.connections, console).toBeGreaterThanOrEqual(2);
      expect(impostor.requests).toEqual([]);
      // The console wraps at 80 columns, which can split the closing parenthesis off.
      expect(console).toMatch(/Permission denied \(https?:\/\/ipxe\.org\/0216eb3c\s*\)/);
    } finally {
      await impostor.close();
    }
  }, 300_000);

  it('a changed URL relinks only; the same inputs again come from the cache in seconds', async () => {
    const url = `https://10.0.2.2:${port}/relink-${randomBytes(4).toString('hex')}`;
    const out = mkdtempSync(join(tmpdir(), 'ipxe-relink-'));
    try {
      const inputs = { url, trustPem: [ca.certPem], targets: ['bios'], out };
      const relinked = await buildIpxe(inputs);
      const bios = relinked.targets.bios;
      expect(bios?.cache).toBe('built');
      // embedded.o (the script), and rootcert.o / certstore.o when the last build in the tree had other roots; then the link.
      expect(bios?.compiled).toBeGreaterThanOrEqual(1);
      expect(bios?.compiled).toBeLessThanOrEqual(3);
      const again = await buildIpxe(inputs);
      expect(again.targets.bios).toMatchObject({ cache: 'hit', compiled: 0 });
      expect(again.targets.bios?.seconds).toBeLessThan(5);
      expect(again.manifest.files).toEqual(relinked.manifest.files);
      expect(relinked.manifest.files[0]?.sha256).not.toBe(build.manifest.files[0]?.sha256);
      process.stdout.write(`\nipxe build: relink with a changed URL ${bios?.seconds.toFixed(1)} s, ${bios?.waitedSeconds.toFixed(1)} s of it waiting for another build (${bios?.compiled} objects), same inputs again ${again.targets.bios?.seconds.toFixed(2)} s\n`);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 600_000);
});

describe('a missing toolchain', () => {
  it('is one error naming the Debian packages to install', () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(() => checkToolchain(['bios', 'efi-arm64'])).toThrow(
        /^building iPXE needs make, gcc, perl, openssl, tar, xz, .*aarch64-linux-gnu-gcc.* missing here\. On Debian: apt-get install -y make gcc perl openssl tar xz-utils .*binutils gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu .*prepare-ipxe\.sh/,
      );
    } finally {
      process.env.PATH = path;
    }
  });
});
