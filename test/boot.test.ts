import http from 'node:http';
import { Readable } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BlobStore } from '../shared/storage/blobs';
import { aMac, aMachine } from './helpers/fixtures';
import { postProfile, profileForm, randomFile, sha256, type ProfileBody } from './helpers/profiles';
import { currentRoot, request, setEnv, useLocalStack } from './helpers/stack';
import { expectProblem } from './helpers/problem';
import { commands, normalised } from './helpers/scripts';
import { Switchable, withOverrides } from './helpers/switchable';

const blobs = new Switchable<BlobStore>();
const stack = useLocalStack({ ASSET_DELIVERY: 'proxy' }, { decorate: (parts) => ({ ...parts, blobs: blobs.wrap(parts.blobs) }) });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

const mac = aMac();
const kernel = randomFile(3 * 1024 * 1024 + 11);
const initrd = randomFile(1024 * 1024);
let machineId = '';
let profile: ProfileBody;

beforeAll(async () => {
  const created = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac: aMac() }, { mac }] }) });
  machineId = created.body.id;
  const res = await postProfile(stack.url, profileForm({ machine_id: machineId, kernel, initrd, kernel_args: '["console=tty0","console=ttyS0","ip=dhcp"]' }));
  expect(res.status).toBe(201);
  profile = res.body;
});

afterEach(() => {
  setEnv({ ASSET_DELIVERY: 'proxy', BOOT_ALLOWED_CIDRS: undefined, TRUSTED_PROXY_HOPS: undefined, ASSET_PART_BYTES: undefined, RESPONSE_MAX_BYTES: undefined });
  blobs.reset();
});


describe('GET /boot.ipxe', () => {
  it('renders the machine’s script with relative asset URLs and the spec headers', async () => {
    const res = await api('GET', `/boot.ipxe?mac=${encodeURIComponent(mac)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-store, must-revalidate');
    const lines = res.text.split('\n');
    expect(lines.slice(0, 5)).toEqual(['#!ipxe', '', `# Boot configuration for ${machineId} (${mac})`, `# Boot Profile ID: ${profile.id}`, expect.stringMatching(/^# Generated: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)]);
    expect(normalised(res.text).split('\n').slice(5)).toEqual([
      '',
      'set netboot_try:int32 0',
      ':kernel',
      'inc netboot_try',
      `kernel /asset/${profile.id}/kernel?v=${profile.kernel.id}&boot=REF initrd=initrd netboot.token=TOKEN console=tty0 console=ttyS0 ip=dhcp && goto kernel_ok || iseq \${netboot_try} 3 && goto kernel_failed || echo netboot: downloading the kernel failed (attempt \${netboot_try} of 3), retrying in 5 s`,
      'sleep 5',
      'goto kernel',
      ':kernel_ok',
      'set netboot_try:int32 0',
      ':initrd',
      'inc netboot_try',
      `initrd --name initrd /asset/${profile.id}/initrd?v=${profile.initrd.id}&boot=REF && goto initrd_ok || iseq \${netboot_try} 3 && goto initrd_failed || echo netboot: downloading the initrd failed (attempt \${netboot_try} of 3), retrying in 5 s`,
      'sleep 5',
      'goto initrd',
      ':initrd_ok',
      'imgfetch --name report /boot/report?token=TOKEN&phase=booting && imgfree report || echo netboot: could not report booting to the server, booting anyway',
      'boot || goto boot_failed',
      '',
      ':kernel_failed',
      'echo netboot: giving up: the kernel could not be downloaded in 3 attempts',
      'goto failed',
      ':initrd_failed',
      'echo netboot: giving up: the initrd could not be downloaded in 3 attempts',
      'goto failed',
      ':boot_failed',
      'echo netboot: the downloaded kernel did not start',
      ':failed',
      'echo netboot: rebooting in 30 s to try again',
      'sleep 30',
      'reboot',
      '',
    ]);
    // Each download as it would stand alone: the spec's lines.
    expect(commands(res.text, 'kernel')).toEqual([`kernel /asset/${profile.id}/kernel?v=${profile.kernel.id} initrd=initrd console=tty0 console=ttyS0 ip=dhcp`]);
    expect(commands(res.text, 'initrd')).toEqual([`initrd --name initrd /asset/${profile.id}/initrd?v=${profile.initrd.id}`]);
  });

  it.each([
    ['upper case', () => mac.toUpperCase()],
    ['hyphens (${mac:hexhyp})', () => mac.replaceAll(':', '-')],
    ['URL-encoded as iPXE sends it', () => encodeURIComponent(mac).replaceAll('%3A', '%3a')],
  ])('finds the machine by a MAC in %s', async (_name, form) => {
    const res = await api('GET', `/boot.ipxe?mac=${form()}`);
    expect(res.status).toBe(200);
    expect(res.text).toContain(`(${mac})`);
  });

  it('400 invalid-mac-address with the spec body', async () => {
    const res = await api('GET', '/boot.ipxe?mac=invalid-mac');
    const body = expectProblem(res, 400, 'invalid-mac-address');
    expect(body).toMatchObject({ title: 'Invalid MAC Address', detail: 'MAC address must be in format aa:bb:cc:dd:ee:ff', instance: '/boot.ipxe?mac=invalid-mac', mac_address: 'invalid-mac' });
  });

  it.each(['', '?mac=', '?mac=52:54:00:12:34', '?mac=52:54:00:12:34:56:78', '?mac=01:00:5e:00:00:01', '?mac=a&mac=b', '?mac=52%3A54%3A00%3A12%3A34%3A5G'])('400 for %s', async (query) => {
    expectProblem(await api('GET', `/boot.ipxe${query}`), 400, 'invalid-mac-address');
  });

  it('404 machine-not-configured for an unknown MAC, and for a machine without a profile', async () => {
    const unknown = aMac();
    const body = expectProblem(await api('GET', `/boot.ipxe?mac=${unknown}`), 404, 'machine-not-configured');
    expect(body).toMatchObject({ title: 'Machine Not Configured', detail: `No boot configuration found for MAC address ${unknown}`, instance: `/boot.ipxe?mac=${unknown}`, mac_address: unknown });

    const bare = aMac();
    await api('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac: bare }] }) });
    expectProblem(await api('GET', `/boot.ipxe?mac=${bare}`), 404, 'machine-not-configured');
  });
});

describe('the boot lookup follows every change to machines and profiles', () => {
  it('profile created, replaced, deleted; MACs added and removed', async () => {
    const first = aMac();
    const created = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac: first }] }) });
    const id = created.body.id;
    const script = () => api('GET', `/boot.ipxe?mac=${first}`);
    expectProblem(await script(), 404, 'machine-not-configured');

    const made = await postProfile(stack.url, profileForm({ machine_id: id, kernel: randomFile(64), initrd: randomFile(64), kernel_args: '["one"]' }));
    expect(commands((await script()).text, 'kernel')).toEqual([`kernel /asset/${made.body.id}/kernel?v=${made.body.kernel.id} initrd=initrd one`]);

    // A MAC added later boots the same profile; the one removed no longer boots anything.
    const second = aMac();
    expect((await api('PUT', `/api/v1/machines/${id}`, { json: aMachine({ nics: [{ mac: second }] }) })).status).toBe(200);
    expect((await api('GET', `/boot.ipxe?mac=${second}`)).text).toContain(`# Boot Profile ID: ${made.body.id}`);
    expectProblem(await script(), 404, 'machine-not-configured');

    await api('PUT', `/api/v1/boot/${id}/profile`, { body: profileForm({ kernel: randomFile(64), initrd: randomFile(64), kernel_args: '["two"]' }) });
    expect(commands((await api('GET', `/boot.ipxe?mac=${second}`)).text, 'kernel')[0]).toContain('initrd=initrd two');

    expect((await api('DELETE', `/api/v1/boot/${id}/profile`)).status).toBe(204);
    expectProblem(await api('GET', `/boot.ipxe?mac=${second}`), 404, 'machine-not-configured');
  });
});

describe('who may boot', () => {
  it('403 problem+json for a client outside BOOT_ALLOWED_CIDRS, on every boot endpoint', async () => {
    setEnv({ BOOT_ALLOWED_CIDRS: '10.8.0.0/24,fd00::/64' });
    for (const path of [`/boot.ipxe?mac=${mac}`, `/asset/${profile.id}/kernel`, `/asset/${profile.id}/initrd`]) {
      const body = expectProblem(await api('GET', path), 403, 'forbidden');
      expect(body.client_address).toBe('127.0.0.1');
    }
    // Admin and health endpoints are not boot endpoints.
    expect((await api('GET', '/health/liveness')).status).toBe(200);
  });

  it('a client cannot choose its address with its own X-Forwarded-For', async () => {
    setEnv({ BOOT_ALLOWED_CIDRS: '10.8.0.0/24' });
    const res = await api('GET', `/boot.ipxe?mac=${mac}`, { headers: { 'x-forwarded-for': '10.8.0.5' } });
    expect(expectProblem(res, 403, 'forbidden').client_address).toBe('127.0.0.1');
  });

  it('with two trusted hops, the entry the outer proxy appended counts', async () => {
    setEnv({ BOOT_ALLOWED_CIDRS: '10.8.0.0/24', TRUSTED_PROXY_HOPS: '2' });
    // As if a load balancer had appended the VPN client 10.8.0.5 before the gateway appended its own peer.
    const res = await api('GET', `/boot.ipxe?mac=${mac}`, { headers: { 'x-forwarded-for': '6.6.6.6, 10.8.0.5' } });
    expect(res.status).toBe(200);
  });

  it('an unparsable BOOT_ALLOWED_CIDRS is refused at start-up, naming the variable; nothing is served with it', async () => {
    expect(() => setEnv({ BOOT_ALLOWED_CIDRS: '10.0.0.0/33' })).toThrow(/^invalid configuration: BOOT_ALLOWED_CIDRS: "10\.0\.0\.0\/33" is not an IPv4 or IPv6 CIDR$/);
    // The stack goes on with the configuration it had.
    expect((await api('GET', `/boot.ipxe?mac=${mac}`)).status).toBe(200);
  });
});

describe('assets in proxy mode', () => {
  it('GET streams the kernel with Content-Length, ETag and caching headers', async () => {
    const res = await fetch(`${stack.url}/asset/${profile.id}/kernel`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('content-length')).toBe(String(kernel.length));
    expect(res.headers.get('etag')).toBe(`"${sha256(kernel)}"`);
    // Unversioned: "the current kernel", which a replace changes; a cache must ask again.
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(kernel));
    const rd = await fetch(`${stack.url}/asset/${profile.id}/initrd`);
    expect(sha256(Buffer.from(await rd.arrayBuffer()))).toBe(sha256(initrd));
  });

  it('HEAD gives the headers without a body', async () => {
    const res = await fetch(`${stack.url}/asset/${profile.id}/initrd`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(initrd.length));
    expect(res.headers.get('etag')).toBe(`"${sha256(initrd)}"`);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it.each([
    ['bytes=0-4', 0, 4],
    ['bytes=100-', 100, 3 * 1024 * 1024 + 10],
    ['bytes=-10', 3 * 1024 * 1024 + 1, 3 * 1024 * 1024 + 10],
    ['bytes=1000-999999999', 1000, 3 * 1024 * 1024 + 10],
  ])('Range %s gives 206 with Content-Range', async (range, start, end) => {
    const res = await fetch(`${stack.url}/asset/${profile.id}/kernel`, { headers: { range } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${kernel.length}`);
    expect(res.headers.get('content-length')).toBe(String(end - start + 1));
    expect(Buffer.from(await res.arrayBuffer()).equals(kernel.subarray(start, end + 1))).toBe(true);
  });

  it('an unsatisfiable range is 416 with Content-Range: bytes */size', async () => {
    const res = await api('GET', `/asset/${profile.id}/kernel`, { headers: { range: `bytes=${kernel.length}-` } });
    expectProblem(res, 416, 'range-not-satisfiable');
    expect(res.headers.get('content-range')).toBe(`bytes */${kernel.length}`);
  });

  it('a multi-range or malformed Range gets the whole body', async () => {
    for (const range of ['bytes=0-1,5-6', 'items=0-5', 'bytes=abc']) {
      const res = await fetch(`${stack.url}/asset/${profile.id}/initrd`, { headers: { range } });
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(initrd.length);
    }
  });

  it('If-None-Match with the ETag gives 304; If-Range with another ETag ignores Range', async () => {
    const etag = `"${sha256(kernel)}"`;
    const notModified = await rawGet(`${stack.url}/asset/${profile.id}/kernel`, { 'if-none-match': etag });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.etag).toBe(etag);
    expect(notModified.bytes).toBe(0);
    // RFC 9110 13.2.1: an origin server evaluates the precondition whatever the request's
    // Cache-Control says (fetch() sends no-cache with conditional requests).
    for (const cacheControl of ['no-cache', 'no-store', 'max-age=0']) {
      const res = await rawGet(`${stack.url}/asset/${profile.id}/kernel`, { 'if-none-match': `W/"x", ${etag}`, 'cache-control': cacheControl, pragma: 'no-cache' });
      expect(res.status).toBe(304);
    }
    expect((await rawGet(`${stack.url}/asset/${profile.id}/kernel`, { 'if-none-match': '*' })).status).toBe(304);
    const viaFetch = await fetch(`${stack.url}/asset/${profile.id}/kernel`, { headers: { 'if-none-match': etag } });
    expect(viaFetch.status).toBe(304);
    const other = await fetch(`${stack.url}/asset/${profile.id}/kernel`, { headers: { 'if-none-match': '"other"' } });
    expect(other.status).toBe(200);
    await other.arrayBuffer();
    const stale = await fetch(`${stack.url}/asset/${profile.id}/kernel`, { headers: { range: 'bytes=0-4', 'if-range': '"stale"' } });
    expect(stale.status).toBe(200);
    await stale.arrayBuffer();
  });

  it('404 kernel-not-found / initrd-not-found for an unknown profile, with the spec body', async () => {
    const id = '018c7dbd-a1b2-7000-8000-987654321def';
    const body = expectProblem(await api('GET', `/asset/${id}/kernel`), 404, 'kernel-not-found');
    expect(body).toMatchObject({ title: 'Kernel Not Found', detail: `Kernel image not found for boot profile ${id}`, instance: `/asset/${id}/kernel`, boot_profile_id: id });
    expect(expectProblem(await api('GET', `/asset/${id}/initrd`), 404, 'initrd-not-found').title).toBe('Initrd Not Found');
  });

  it('400 for a profile id that is not a UUIDv7, 404 for other asset names, 405 for POST', async () => {
    expectProblem(await api('GET', '/asset/not-an-id/kernel'), 400, 'validation-error');
    expectProblem(await api('GET', `/asset/${profile.id}/firmware`), 404, 'not-found');
    expectProblem(await api('GET', `/asset/${profile.id}/../kernel`), 404, 'not-found');
    const post = await api('POST', `/asset/${profile.id}/kernel`);
    expectProblem(post, 405, 'method-not-allowed');
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('500 storage-error when Storage fails, 404 when the blob is gone', async () => {
    blobs.use(withOverrides(blobs.real, { read: () => failingStream(Object.assign(new Error('backend exploded'), { code: 503 })) }));
    const res = await api('GET', `/asset/${profile.id}/initrd`);
    const body = expectProblem(res, 500, 'storage-error');
    expect(body.detail).toBe('Failed to retrieve initrd from storage due to an internal error');
    expect(res.text).not.toContain('exploded');
    blobs.use(withOverrides(blobs.real, { read: () => failingStream(Object.assign(new Error('No such object'), { code: 404 })) }));
    expectProblem(await api('GET', `/asset/${profile.id}/initrd`), 404, 'initrd-not-found');
  });

  it('a client that disconnects mid-stream stops the Storage read', async () => {
    const real = blobs.real;
    const reads: Readable[] = [];
    blobs.use(withOverrides(real, { read: (id: string, range?: { start: number; end: number }) => { const s = real.read(id, range); reads.push(s); return s; } }));
    const controller = new AbortController();
    const res = await fetch(`${stack.url}/asset/${profile.id}/kernel`, { signal: controller.signal });
    const reader = res.body?.getReader();
    await reader?.read();
    controller.abort();
    await expect.poll(() => reads[0]?.destroyed, { timeout: 5000 }).toBe(true);
  });
});

describe('assets in proxy mode, under the platform’s response caps (large initrds: test/large-assets.test.ts)', () => {
  it('an initrd larger than ASSET_PART_BYTES is listed as parts that together are the initrd', async () => {
    setEnv({ ASSET_PART_BYTES: String(256 * 1024) });
    const script = (await api('GET', `/boot.ipxe?mac=${mac}`)).text;
    expect(commands(script, 'kernel')).toEqual([`kernel /asset/${profile.id}/kernel?v=${profile.kernel.id} initrd=initrd initrd=initrd1 initrd=initrd2 initrd=initrd3 console=tty0 console=ttyS0 ip=dhcp`]);
    const urls = commands(script, 'initrd').map((l) => l.split(' ').at(-1) as string);
    expect(urls).toEqual([0, 1, 2, 3].map((n) => `/asset/${profile.id}/initrd?v=${profile.initrd.id}&part=${n}`));
    const bodies = await Promise.all(urls.map(async (url) => Buffer.from(await (await fetch(stack.url + url)).arrayBuffer())));
    expect(bodies.map((b) => b.length)).toEqual([262144, 262144, 262144, 262144]);
    expect(Buffer.concat(bodies).equals(initrd)).toBe(true);
    // The kernel is one image: never split.
    expect(script.match(/\/kernel\?/g)).toHaveLength(1);
  });

  it('no script when the part names would push the kernel line over 2048 characters', async () => {
    // 1 MiB in 4 KiB parts: 256 names of about 15 characters each.
    setEnv({ ASSET_PART_BYTES: '4096' });
    expectProblem(await api('GET', `/boot.ipxe?mac=${mac}`), 500, 'internal-error');
  });

  it('a kernel over RESPONSE_MAX_BYTES cannot be split: 302 to Storage even in proxy mode', async () => {
    setEnv({ RESPONSE_MAX_BYTES: String(2 * 1024 * 1024) });
    const res = await api('GET', `/asset/${profile.id}/kernel?v=${profile.kernel.id}`);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toContain(`/blobs/${profile.kernel.id}?`);
    expect(res.headers.get('etag')).toBeNull();
    // A Range within the cap is still streamed.
    const ranged = await fetch(`${stack.url}/asset/${profile.id}/kernel`, { headers: { range: 'bytes=0-9' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(kernel.subarray(0, 10))).toBe(true);
  });
});

describe('assets in redirect mode', () => {
  it('302 to a signed URL that serves the bytes, reused while fresh', async () => {
    setEnv({ ASSET_DELIVERY: 'redirect' });
    const first = await api('GET', `/asset/${profile.id}/kernel`);
    expect(first.status).toBe(302);
    expect(first.headers.get('cache-control')).toBe('no-store');
    const location = first.headers.get('location') as string;
    expect(location).toContain(`/${currentRoot().clients.bucket.name}/blobs/${profile.kernel.id}?`);
    expect(location).toMatch(/X-Goog-Signature=[\da-f]+/);
    expect(location).toMatch(/X-Goog-Expires=900\b/);
    const again = await api('GET', `/asset/${profile.id}/kernel`);
    expect(again.headers.get('location')).toBe(location);

    const blob = await fetch(location);
    expect(blob.status).toBe(200);
    expect(sha256(Buffer.from(await blob.arrayBuffer()))).toBe(sha256(kernel));
    const head = await api('HEAD', `/asset/${profile.id}/initrd`);
    expect(head.status).toBe(302);
  });

  it('STORAGE_PUBLIC_URL sets the host clients are sent to', async () => {
    setEnv({ ASSET_DELIVERY: 'redirect', STORAGE_PUBLIC_URL: 'http://10.0.2.2:9199' });
    const res = await api('GET', `/asset/${profile.id}/initrd`);
    expect(res.headers.get('location')).toMatch(new RegExp(`^http://10\\.0\\.2\\.2:9199/${currentRoot().clients.bucket.name}/blobs/${profile.initrd.id}\\?`));
    setEnv({ STORAGE_PUBLIC_URL: undefined });
  });
});

function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; bytes: number }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes }));
    }).on('error', reject);
  });
}

function failingStream(err: Error): Readable {
  return new Readable({
    read() {
      this.destroy(err);
    },
  });
}
