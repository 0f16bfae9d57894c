// The local stack over HTTPS (issue 20, section 2): the gateway and Storage's HTTPS door under
// the local CA, as curl, Node and the netboot CLI meet them.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { X509Certificate, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../emulators/stack';
import { mintLocalToken } from '../emulators/local-issuer';
import { runNetboot } from './helpers/cli';
import { aMac, aMachine } from './helpers/fixtures';
import { enterOwnProject, request } from './helpers/stack';
import { profileForm, sha256 } from './helpers/profiles';

const run = promisify(execFile);
const repo = resolve(__dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'netboot-local-tls-'));

let stack: LocalStack;
let caPath: string;
const mac = aMac();
const kernel = randomBytes(300_000);
const initrd = randomBytes(700_000);
let profileId: string;

beforeAll(async () => {
  enterOwnProject({ ASSET_DELIVERY: 'redirect' });
  stack = await startLocalStack({ tls: 'ecdsa', tlsNames: ['192.0.2.1'] });
  caPath = stack.ca?.certPath as string;
  const machine = await request<{ id: string }>(stack.url, 'POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
  expect(machine.status).toBe(201);
  const profile = await request<{ id: string }>(stack.url, 'POST', '/api/v1/profiles', {
    body: profileForm({ machine_id: machine.body.id, kernel, initrd, kernel_args: '["console=ttyS0","ds=nocloud;s={{base_url}}/x"]' }),
  });
  expect(profile.status).toBe(201);
  profileId = profile.body.id;
});

afterAll(async () => {
  await stack?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** curl, the real binary: exit status, body (to a file when asked) and the -w summary. */
async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('curl', ['-sS', '--max-time', '60', ...args], { maxBuffer: 64 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
  );
}

/** The certificate the server presents to a client that trusts only `ca` (Node's TLS, not the process defaults). */
function peerCertificate(url: string, ca: string[]): Promise<tls.DetailedPeerCertificate> {
  const { hostname, port } = new URL(url);
  return new Promise((done, fail) => {
    const socket = tls.connect({ host: hostname, port: Number(port), ca, servername: hostname === '127.0.0.1' ? undefined : hostname }, () => {
      done(socket.getPeerCertificate(true));
      socket.end();
    });
    socket.once('error', fail);
  });
}

const scriptUrls = (script: string) => [...script.matchAll(/\b(https?:\/\/[^\s"']+)/g)].map((m) => m[1] as string);

describe('the local stack over HTTPS', () => {
  it('curl --cacert gets a boot script whose links say https, and follows the redirect to a signed Storage URL over HTTPS', async () => {
    const script = await curl(['--cacert', caPath, `${stack.url}/boot.ipxe?mac=${mac}&arch=x86_64&platform=efi`]);
    expect(script.code).toBe(0);
    expect(script.stdout).toMatch(/^#!ipxe/);
    // Absolute links ({{base_url}} in the kernel arguments) name the HTTPS gateway...
    const urls = scriptUrls(script.stdout);
    expect(urls.length).toBeGreaterThan(0);
    for (const url of urls) expect(url.startsWith(`${stack.url}/`), url).toBe(true);
    expect(script.stdout).toContain(`ds=nocloud;s=${stack.url}/x`); // {{base_url}}
    // ...and the asset links are relative, so iPXE resolves them against the https URL it chained.
    const assetLinks = [...script.stdout.matchAll(/(?:kernel|initrd)\s+(\/asset\/\S+)/g)].map((m) => new URL(m[1] as string, `${stack.url}/boot.ipxe`).href);
    expect(assetLinks).toHaveLength(2);
    for (const link of assetLinks) expect(link.startsWith(`${stack.url}/asset/${profileId}/`), link).toBe(true);

    // Redirect mode: the asset route answers 302 to Storage's HTTPS door, which serves the bytes.
    const head = await curl(['--cacert', caPath, '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', `${stack.url}/asset/${profileId}/kernel`]);
    const [status, location] = head.stdout.split(' ');
    expect(status).toBe('302');
    expect(location?.startsWith(`${stack.storageUrl}/`)).toBe(true);
    expect(stack.storageUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const file = join(work, 'kernel');
    const fetched = await curl(['--cacert', caPath, '-L', '-o', file, '-w', '%{num_redirects} %{url_effective}', `${stack.url}/asset/${profileId}/kernel`]);
    expect(fetched.code).toBe(0);
    expect(fetched.stdout).toMatch(/^1 https:\/\//);
    expect(sha256(readFileSync(file))).toBe(sha256(kernel));
  });

  it('a redirect names Storage by the host the client asked the gateway by (a guest asking 10.0.2.2 is sent to 10.0.2.2)', async () => {
    const port = new URL(stack.storageUrl).port;
    // Resolve `localhost` to 127.0.0.1 for curl: the leaf names localhost, as a guest's leaf names 10.0.2.2.
    const gatewayPort = new URL(stack.url).port;
    const res = await curl(['--cacert', caPath, '--resolve', `localhost:${gatewayPort}:127.0.0.1`, '--resolve', `localhost:${port}:127.0.0.1`, '-L', '-o', join(work, 'initrd'), '-w', '%{url_effective}', `https://localhost:${gatewayPort}/asset/${profileId}/initrd`]);
    expect(res.code).toBe(0);
    expect(res.stdout.startsWith(`https://localhost:${port}/`)).toBe(true);
    expect(sha256(readFileSync(join(work, 'initrd')))).toBe(sha256(initrd));
    // What a QEMU guest would be told (curl cannot reach 10.0.2.2 from the host; the Location is the point).
    const guest = await curl(['--cacert', caPath, '-H', `Host: 10.0.2.2:${gatewayPort}`, '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', `${stack.url}/asset/${profileId}/initrd`]);
    expect(guest.stdout).toMatch(new RegExp(`^302 https://10\\.0\\.2\\.2:${port}/`));
  });

  it('proxy mode: the script links and the asset bytes come through the HTTPS gateway', async () => {
    stack.reconfigure({ ASSET_DELIVERY: 'proxy' });
    try {
      const script = await curl(['--cacert', caPath, `${stack.url}/boot.ipxe?mac=${mac}&arch=x86_64&platform=efi`]);
      expect(script.code).toBe(0);
      for (const url of scriptUrls(script.stdout)) expect(url.startsWith(`${stack.url}/`), url).toBe(true);
      const file = join(work, 'initrd-proxied');
      const res = await curl(['--cacert', caPath, '-o', file, '-w', '%{http_code} %{num_redirects}', `${stack.url}/asset/${profileId}/initrd`]);
      expect(res.stdout).toBe('200 0');
      expect(sha256(readFileSync(file))).toBe(sha256(initrd));
    } finally {
      stack.reconfigure({ ASSET_DELIVERY: 'redirect' });
    }
  });

  it('the gateway and Storage present an ECDSA P-256 leaf for every name asked for, chained to the local CA', async () => {
    const ca = readFileSync(caPath, 'utf8');
    for (const url of [stack.url, stack.storageUrl]) {
      const leaf = await peerCertificate(url, [ca]);
      expect(leaf.asn1Curve ?? leaf.nistCurve).toMatch(/prime256v1|P-256/);
      expect(leaf.bits).toBe(256);
      const x509 = new X509Certificate(leaf.raw);
      for (const ip of ['127.0.0.1', '10.0.2.2', '192.0.2.1']) expect(x509.checkIP(ip)).toBe(ip);
      expect(x509.checkHost('localhost')).toBe('localhost');
      expect(x509.checkIssued(new X509Certificate(ca))).toBe(true);
    }
  });

  it('a client without the CA is refused: curl, Node TLS with only the system roots', async () => {
    const res = await curl([`${stack.url}/health/liveness`]);
    expect(res.code).toBe(60); // CURLE_PEER_FAILED_VERIFICATION
    await expect(peerCertificate(stack.url, [...tls.rootCertificates])).rejects.toMatchObject({ code: 'SELF_SIGNED_CERT_IN_CHAIN' });
    const storage = await curl([`${stack.storageUrl}/`]);
    expect(storage.code).toBe(60);
  });

  it('the CLI with --ca and with NETBOOT_CA: machine add, profile set through HTTPS upload sessions, boot-script; without, exit 3 and how to trust', async () => {
    const token = mintLocalToken();
    const env = { NETBOOT_URL: stack.url, NETBOOT_TOKEN: token, NETBOOT_CA: undefined };
    const cliMac = aMac();
    const added = await runNetboot(['--ca', caPath, '--json', 'machine', 'add', '--mac', cliMac], env);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const id = (JSON.parse(added.stdout) as { id: string }).id;

    // The upload session URIs the service hands out name Storage's HTTPS door.
    const declared = (bytes: number) => ({ size: bytes, sha256: sha256(randomBytes(bytes)) });
    const session = await request<{ files: { kernel: { upload: { url: string } } } }>(stack.url, 'POST', '/api/v1/uploads', { json: { machine_id: id, mode: 'create', kernel: declared(1000), initrd: declared(2000) } });
    expect(session.status).toBe(201);
    expect(session.body.files.kernel.upload.url.startsWith(`${stack.storageUrl}/upload/`)).toBe(true);

    const kernelFile = join(work, 'cli-kernel');
    const initrdFile = join(work, 'cli-initrd');
    writeFileSync(kernelFile, randomBytes(600_000));
    writeFileSync(initrdFile, randomBytes(900_000));
    const caEnv = { ...env, NETBOOT_CA: caPath };
    const set = await runNetboot(['profile', 'set', id, '--kernel', kernelFile, '--initrd', initrdFile, '--arg', 'console=ttyS0'], caEnv);
    expect(set.stderr).not.toMatch(/error|cannot/i);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain(sha256(readFileSync(initrdFile)));

    const script = await runNetboot(['boot-script', cliMac], caEnv);
    expect(script.code).toBe(0);
    expect(script.stdout).toMatch(/^#!ipxe/);
    for (const url of scriptUrls(script.stdout)) expect(url.startsWith('https://'), url).toBe(true);

    const refused = await runNetboot(['machine', 'list'], env);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/SELF_SIGNED_CERT_IN_CHAIN.*--ca FILE or NETBOOT_CA/);
    expect(refused.stderr).not.toMatch(/asking again/);
    const missing = await runNetboot(['--ca', join(work, 'no-such.pem'), 'machine', 'list'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*no-such\.pem: ENOENT/);
  }, 120_000);
});

describe('npm start', () => {
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of children) {
      if (child.exitCode !== null) continue;
      child.kill('SIGINT');
      await once(child, 'exit');
    }
  });

  /** A fresh `npm start ARGS` (embedded emulators of its own, a free port); its URL and what it printed. */
  async function npmStart(args: string[], extraEnv: Record<string, string> = {}): Promise<{ url: string; stderr: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', LOG_LEVEL: 'warn', ...extraEnv };
    for (const name of ['FIRESTORE_EMULATOR_HOST', 'STORAGE_EMULATOR_HOST', 'GOOGLE_CLOUD_PROJECT', 'BLOB_BUCKET', 'STORAGE_PUBLIC_URL']) Reflect.deleteProperty(env, name);
    const child = spawn(process.execPath, ['--import', 'tsx', 'emulators/start.ts', ...args], { cwd: repo, env, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = Date.now() + 75_000;
    while (!/Storage emulator:/.test(stderr) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    const url = /listening on (https?:\/\/\S+)/.exec(stderr)?.[1];
    if (!url) throw new Error(`npm start ${args.join(' ')} did not come up:\n${stderr}`);
    return { url, stderr };
  }

  it('plain HTTP, no STORAGE_PUBLIC_URL: a guest asking 10.0.2.2 is redirected to Storage at 10.0.2.2 on the port npm start printed', async () => {
    const { url, stderr } = await npmStart([], { ASSET_DELIVERY: 'redirect' });
    const printed = /Storage for machines \(redirect mode\): http:\/\/<the host the machine asked the gateway by>:(\d+), e\.g\. http:\/\/10\.0\.2\.2:(\d+) from a QEMU guest/.exec(stderr);
    expect(printed?.[1]).toBeDefined();
    const machine = await request<{ id: string }>(url, 'POST', '/api/v1/machines', { json: aMachine() });
    const profile = await request<{ id: string }>(url, 'POST', '/api/v1/profiles', { body: profileForm({ machine_id: machine.body.id, kernel: randomBytes(4096), initrd: randomBytes(4096) }) });
    expect(profile.status).toBe(201);
    const guest = await curl(['-H', `Host: 10.0.2.2:${new URL(url).port}`, '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', `${url}/asset/${profile.body.id}/kernel`]);
    expect(guest.stdout).toMatch(new RegExp(`^302 http://10\\.0\\.2\\.2:${printed?.[1]}/`));
    // The host itself, asking 127.0.0.1, follows the redirect to the bytes.
    const host = await curl(['-L', '-o', '/dev/null', '-w', '%{http_code} %{size_download}', `${url}/asset/${profile.body.id}/kernel`]);
    expect(host.stdout).toBe('200 4096');
  }, 120_000);

  it('--tls rsa serves an RSA 2048 leaf and prints the CA, its fingerprint (the file’s) and the Storage URL machines are sent to', async () => {
    const { url, stderr } = await npmStart(['--tls', 'rsa', '--tls-name', '192.0.2.7']);
    expect(url).toMatch(/^https:/);

    const printedPath = /^ {2}CA: +(\S+)$/m.exec(stderr)?.[1] as string;
    const printedFingerprint = /CA SHA-256 fingerprint: (\S+)/.exec(stderr)?.[1];
    expect(printedPath).toBe(join(repo, '.cache/local-tls/ca.pem'));
    const onDisk = await run('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', printedPath]);
    expect(onDisk.stdout.trim()).toBe(`sha256 Fingerprint=${printedFingerprint}`);
    expect(stderr).toMatch(/Storage for machines \(redirect mode\): https:\/\/<the host the machine asked the gateway by>:\d+, e\.g\. https:\/\/10\.0\.2\.2:\d+/);

    const leaf = await peerCertificate(url, [readFileSync(printedPath, 'utf8')]);
    expect(leaf.bits).toBe(2048);
    expect(leaf.modulus).toBeDefined();
    expect(new X509Certificate(leaf.raw).checkIP('192.0.2.7')).toBe('192.0.2.7');
    const live = await curl(['--cacert', printedPath, '-o', '/dev/null', '-w', '%{http_code}', `${url}/health/liveness`]);
    expect(live.stdout).toBe('200');
  }, 120_000);
});
