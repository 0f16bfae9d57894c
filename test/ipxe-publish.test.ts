// `netboot ipxe publish` and GET /ipxe/{file}: a fake build directory (random bytes and the
// manifest.json netboot ipxe build writes) published with the CLI through the real gateway.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mintLocalToken } from '../emulators/local-issuer';
import { ipxeFiles, type IpxeFile } from '../shared/ipxe/files';
import { runNetboot } from './helpers/cli';
import { expectProblem } from './helpers/problem';
import { currentRoot, request, setEnv, useLocalStack } from './helpers/stack';

const stack = useLocalStack();
/** Each CLI run is a Node process with tsx: seconds apiece when the machine is loaded. */
const CLI_TEST_TIMEOUT_MS = 120_000;
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let dir: string;
let token: string;

/** A build directory as netboot ipxe build leaves it: the binaries and manifest.json. */
async function fakeBuild(name: string, bytes: Record<IpxeFile, Buffer>): Promise<string> {
  const out = join(dir, name);
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  for (const [file, b] of Object.entries(bytes)) await writeFile(join(out, file), b);
  const files = Object.entries(bytes).map(([file, b]) => ({ name: file, target: 'bios', sha256: sha256(b), size: b.length }));
  await writeFile(join(out, 'manifest.json'), JSON.stringify({ tool: 'netboot ipxe build', url: 'https://boot.example.test', files }, null, 2));
  return out;
}

const randomBuild = (): Record<IpxeFile, Buffer> => Object.fromEntries(ipxeFiles.map((f, i) => [f, randomBytes(200_000 + i * 1_001)])) as Record<IpxeFile, Buffer>;

const netboot = (args: string[]) => runNetboot(args, { NETBOOT_URL: stack.url, NETBOOT_TOKEN: token, XDG_STATE_HOME: join(dir, 'state') });

async function ipxeObjects(): Promise<string[]> {
  const [files] = await currentRoot().clients.bucket.getFiles({ prefix: 'ipxe/' });
  return files.map((f) => f.name).sort();
}

beforeAll(async () => {
  token = mintLocalToken();
  dir = await mkdtemp(join(tmpdir(), 'netboot-ipxe-publish-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});
afterEach(() => setEnv({ BOOT_ALLOWED_CIDRS: undefined }));

describe('before anything is published', () => {
  it('lists nothing, and GET /ipxe/{file} is a problem+json 404 for a known and an unknown name', async () => {
    expect((await api('GET', '/api/v1/ipxe')).body).toEqual({ binaries: [] });
    expect(expectProblem(await api('GET', '/ipxe/undionly.kpxe'), 404, 'ipxe-binary-not-found').file).toBe('undionly.kpxe');
    expect(expectProblem(await api('GET', '/ipxe/pxelinux.0'), 404, 'ipxe-binary-not-found').file).toBe('pxelinux.0');
  });
});

describe('netboot ipxe publish', () => {
  const first = randomBuild();

  it('uploads every binary of the manifest; GET / HEAD / If-None-Match serve them with ETag = SHA-256', async () => {
    const build = await fakeBuild('first', first);
    const run = await netboot(['ipxe', 'publish', build]);
    expect(run.stderr).not.toMatch(/already holds/);
    expect(run.code, run.stderr).toBe(0);
    for (const f of ipxeFiles) expect(run.stdout).toContain(`published /ipxe/${f}  ${first[f].length} bytes  sha256 ${sha256(first[f])}`);

    const list = await api<{ binaries: { file: string; size: number; sha256: string; url_path: string }[] }>('GET', '/api/v1/ipxe');
    expect(list.body.binaries.map((b) => [b.file, b.size, b.sha256, b.url_path])).toEqual(ipxeFiles.map((f) => [f, first[f].length, sha256(first[f]), `/ipxe/${f}`]));

    for (const f of ipxeFiles) {
      const res = await fetch(`${stack.url}/ipxe/${f}`);
      const body = Buffer.from(await res.arrayBuffer());
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe(`"${sha256(first[f])}"`);
      expect(res.headers.get('content-length')).toBe(String(first[f].length));
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      expect(body.equals(first[f])).toBe(true);
    }
    const head = await api('HEAD', '/ipxe/snponly-arm64.efi');
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(head.headers.get('content-length')).toBe(String(first['snponly-arm64.efi'].length));
    const etag = `"${sha256(first['undionly.kpxe'])}"`;
    const cached = await api('GET', '/ipxe/undionly.kpxe', { headers: { 'if-none-match': etag } });
    expect(cached.status).toBe(304);
    expect(cached.text).toBe('');
    expect(cached.headers.get('etag')).toBe(etag);
    expect((await api('GET', '/ipxe/undionly.kpxe', { headers: { 'if-none-match': '"0000"' } })).status).toBe(200);
  }, CLI_TEST_TIMEOUT_MS);

  it('the same build again sends nothing; a new build replaces only what changed', async () => {
    const again = await netboot(['ipxe', 'publish', join(dir, 'first')]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.match(/\(already held\)/g)).toHaveLength(ipxeFiles.length);
    const objects = await ipxeObjects();
    expect(objects).toHaveLength(ipxeFiles.length);

    const next = { ...first, 'undionly.kpxe': randomBytes(123_457) };
    const run = await netboot(['ipxe', 'publish', await fakeBuild('second', next)]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.match(/\(already held\)/g)).toHaveLength(ipxeFiles.length - 1);
    const res = await fetch(`${stack.url}/ipxe/undionly.kpxe`);
    expect(Buffer.from(await res.arrayBuffer()).equals(next['undionly.kpxe'])).toBe(true);
    expect(res.headers.get('etag')).toBe(`"${sha256(next['undionly.kpxe'])}"`);
    expect(await ipxeObjects()).toHaveLength(ipxeFiles.length + 1);
  }, CLI_TEST_TIMEOUT_MS);

  it('refuses a build whose file is not the one manifest.json describes, before sending anything', async () => {
    const build = await fakeBuild('tampered', randomBuild());
    await writeFile(join(build, 'snponly-x86_64.efi'), randomBytes(1000));
    const before = await api('GET', '/api/v1/ipxe');
    const objects = await ipxeObjects();
    const run = await netboot(['ipxe', 'publish', build]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/snponly-x86_64\.efi is not the file manifest\.json describes/);
    expect((await api('GET', '/api/v1/ipxe')).body).toEqual(before.body);
    expect(await ipxeObjects()).toEqual(objects);
  }, CLI_TEST_TIMEOUT_MS);

  it('a directory without a manifest is a usage error', async () => {
    const run = await netboot(['ipxe', 'publish', join(dir, 'nowhere')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/manifest\.json.*ENOENT/);
  }, CLI_TEST_TIMEOUT_MS);
});

describe('the upload session checks what Storage holds', () => {
  it('bytes that are not the declared ones: 422, nothing published, the uploaded object deleted, the session cancelled', async () => {
    const before = await api('GET', '/api/v1/ipxe');
    const objects = await ipxeObjects();
    const declared = randomBytes(50_000);
    const session = await api<{ id: string; files: Record<string, { upload: { url: string } | null }> }>('POST', '/api/v1/ipxe/uploads', {
      json: { files: { 'ipxe-x86_64.efi': { size: declared.length, sha256: sha256(declared) } } },
    });
    expect(session.status).toBe(201);
    const url = session.body.files['ipxe-x86_64.efi']?.upload?.url as string;
    const put = await fetch(url, { method: 'PUT', body: randomBytes(declared.length) });
    expect(put.status).toBeLessThan(300);
    expect(await ipxeObjects()).toHaveLength(objects.length + 1);

    const fin = await api('POST', `/api/v1/ipxe/uploads/${session.body.id}/finalize`);
    const problem = expectProblem(fin, 422, 'ipxe-checksum-mismatch');
    expect(problem.mismatches).toEqual([{ file: 'ipxe-x86_64.efi', declared: { size: declared.length, sha256: sha256(declared) }, actual: expect.objectContaining({ size: declared.length }) }]);
    expect((await api('GET', '/api/v1/ipxe')).body).toEqual(before.body);
    expect(await ipxeObjects()).toEqual(objects);
    expectProblem(await api('POST', `/api/v1/ipxe/uploads/${session.body.id}/finalize`), 409, 'upload-session-cancelled');
  });

  it('finalize before the bytes arrived: 409 ipxe-upload-incomplete naming the file', async () => {
    const b = randomBytes(10_000);
    const session = await api<{ id: string }>('POST', '/api/v1/ipxe/uploads', { json: { files: { 'snponly-arm64.efi': { size: b.length, sha256: sha256(b) } } } });
    expect(expectProblem(await api('POST', `/api/v1/ipxe/uploads/${session.body.id}/finalize`), 409, 'ipxe-upload-incomplete').missing).toEqual(['snponly-arm64.efi']);
  });

  it.each([
    ['an unknown file name', { files: { 'pxelinux.0': { size: 1, sha256: 'a'.repeat(64) } } }],
    ['no file', { files: {} }],
    ['a size over 16 MiB', { files: { 'undionly.kpxe': { size: 17 * 1024 * 1024, sha256: 'a'.repeat(64) } } }],
    ['a digest that is not SHA-256', { files: { 'undionly.kpxe': { size: 10, sha256: 'abc' } } }],
    ['no files member', {}],
  ])('%s: 400 validation-error and no session', async (_name, body) => {
    const objects = await ipxeObjects();
    expectProblem(await api('POST', '/api/v1/ipxe/uploads', { json: body }), 400, 'validation-error');
    expect(await ipxeObjects()).toEqual(objects);
  });

  it('admin routes need a token; the boot route does not', async () => {
    expectProblem(await api('GET', '/api/v1/ipxe', { anonymous: true }), 401, 'unauthorized');
    expectProblem(await api('POST', '/api/v1/ipxe/uploads', { anonymous: true, json: { files: {} } }), 401, 'unauthorized');
    expect((await api('HEAD', '/ipxe/undionly.kpxe', { anonymous: true })).status).toBe(200);
  });
});

describe('who may fetch', () => {
  it('a client outside BOOT_ALLOWED_CIDRS gets 403 problem+json, published or not', async () => {
    setEnv({ BOOT_ALLOWED_CIDRS: '10.8.0.0/24' });
    for (const path of ['/ipxe/undionly.kpxe', '/ipxe/pxelinux.0']) expect(expectProblem(await api('GET', path), 403, 'forbidden').client_address).toBe('127.0.0.1');
    expect((await api('GET', '/api/v1/ipxe')).status).toBe(200);
  });
});
