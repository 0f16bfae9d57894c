import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { capResponse } from '../emulators/gateway';
import type { BootProfile } from '../shared/domain/profile';
import { createProfileWithBlobs } from './e2e/large-profile';
import { aMac, aMachine } from './helpers/fixtures';
import { expectProblem } from './helpers/problem';
import { commands } from './helpers/scripts';
import { sha256 } from './helpers/profiles';
import { currentRoot, request, setEnv, useLocalStack } from './helpers/stack';

/**
 * Issue 9 (response side): proxy mode serves an initrd far over the platform's response
 * caps as parts, each one response with Content-Length well under them, through the local
 * gateway that enforces those caps (RESPONSE_MAX_BYTES 32,000,000 with Content-Length,
 * STREAMED_RESPONSE_MAX_BYTES 10,000,000 without).
 */
const stack = useLocalStack({ ASSET_DELIVERY: 'proxy' });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

const MiB = 1024 * 1024;
const PART = 8 * MiB;
const RESPONSE_MAX = 32_000_000;
const initrd = randomBytes(150 * MiB);
const kernel = randomBytes(256 * 1024);
const mac = aMac();
let profile: BootProfile;

beforeAll(async () => {
  const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
  expect(machine.status).toBe(201);
  profile = await createProfileWithBlobs(currentRoot(), machine.body.id, kernel, initrd, ['console=ttyS0']);
}, 120_000);

const partUrl = (n: number) => `${stack.url}/asset/${profile.id}/initrd?v=${profile.initrd.id}&part=${n}`;
const parts = Math.ceil((150 * MiB) / PART);

describe('a 150 MiB initrd in proxy mode', () => {
  it(`is listed in the script as ${parts} parts, each named on the kernel line`, async () => {
    const res = await api('GET', `/boot.ipxe?mac=${mac}`);
    expect(res.status).toBe(200);
    const names = Array.from({ length: parts }, (_, i) => (i === 0 ? 'initrd' : `initrd${i}`));
    expect(commands(res.text, 'kernel')).toEqual([`kernel /asset/${profile.id}/kernel?v=${profile.kernel.id} ${names.map((n) => `initrd=${n}`).join(' ')} console=ttyS0`]);
    expect(commands(res.text, 'initrd')).toEqual(names.map((n, i) => `initrd --name ${n} /asset/${profile.id}/initrd?v=${profile.initrd.id}&part=${i}`));
    expect(res.text).toContain('\nboot || goto boot_failed\n');
  });

  it('every part comes through the capped gateway with Content-Length, under every cap; together byte-identical', async () => {
    const hash = createHash('sha256');
    const etags = new Set<string>();
    for (let n = 0; n < parts; n++) {
      const res = await fetch(partUrl(n));
      expect(res.status).toBe(200);
      const expected = Math.min(PART, initrd.length - n * PART);
      expect(res.headers.get('content-length')).toBe(String(expected));
      expect(Number(res.headers.get('content-length'))).toBeLessThanOrEqual(Math.min(RESPONSE_MAX, 10_000_000));
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      etags.add(res.headers.get('etag') as string);
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.length).toBe(expected);
      hash.update(body);
    }
    expect(etags.size).toBe(parts);
    expect(hash.digest('hex')).toBe(sha256(initrd));
  }, 120_000);

  it('Range on a part is relative to the part; If-None-Match and If-Range use the part’s ETag', async () => {
    const head = await fetch(partUrl(3), { method: 'HEAD' });
    const etag = head.headers.get('etag') as string;
    const res = await fetch(partUrl(3), { headers: { range: 'bytes=100-199' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 100-199/${PART}`);
    expect(res.headers.get('content-length')).toBe('100');
    expect(Buffer.from(await res.arrayBuffer()).equals(initrd.subarray(3 * PART + 100, 3 * PART + 200))).toBe(true);
    const tail = await fetch(partUrl(parts - 1), { headers: { range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(initrd.subarray(initrd.length - 10))).toBe(true);
    expect((await fetch(partUrl(3), { headers: { 'if-none-match': etag } })).status).toBe(304);
    // The whole blob's ETag is not the part's.
    const whole = await fetch(partUrl(3), { headers: { 'if-none-match': `"${sha256(initrd)}"`, range: 'bytes=0-0' } });
    expect(whole.status).toBe(206);
    await whole.arrayBuffer();
    const stale = await fetch(partUrl(3), { headers: { range: 'bytes=0-9', 'if-range': `"${sha256(initrd)}"` } });
    expect(stale.status).toBe(200);
    await stale.body?.cancel();
    const fresh = await fetch(partUrl(3), { headers: { range: 'bytes=0-9', 'if-range': etag } });
    expect(fresh.status).toBe(206);
    expect(Buffer.from(await fresh.arrayBuffer()).equals(initrd.subarray(3 * PART, 3 * PART + 10))).toBe(true);
    const beyond = await api('GET', `/asset/${profile.id}/initrd?v=${profile.initrd.id}&part=3`, { headers: { range: `bytes=${PART}-` } });
    expectProblem(beyond, 416, 'range-not-satisfiable');
    expect(beyond.headers.get('content-range')).toBe(`bytes */${PART}`);
  });

  it('HEAD on a part gives its headers and no body', async () => {
    const last = await fetch(partUrl(parts - 1), { method: 'HEAD' });
    expect(last.status).toBe(200);
    expect(last.headers.get('content-length')).toBe(String(initrd.length - (parts - 1) * PART));
    expect(last.headers.get('etag')).toMatch(/^"[0-9a-f]{64}:\d+\+\d+"$/);
    expect((await last.arrayBuffer()).byteLength).toBe(0);
  });

  it('the whole initrd is never one response through the function: 302 to Storage; a Range is cut to the cap', async () => {
    for (const path of [`/asset/${profile.id}/initrd`, `/asset/${profile.id}/initrd?v=${profile.initrd.id}`]) {
      const res = await api('GET', path);
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toContain(`/blobs/${profile.initrd.id}?`);
      expect((await api('HEAD', path)).status).toBe(302);
    }
    const ranged = await fetch(`${stack.url}/asset/${profile.id}/initrd`, { headers: { range: 'bytes=1000-' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 1000-${1000 + RESPONSE_MAX - 1}/${initrd.length}`);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(initrd.subarray(1000, 1000 + RESPONSE_MAX))).toBe(true);
  }, 60_000);

  it('400 for a part that does not exist, a part without v, and a malformed part', async () => {
    const missing = expectProblem(await api('GET', `/asset/${profile.id}/initrd?v=${profile.initrd.id}&part=${parts}`), 400, 'validation-error');
    expect(missing.invalid_fields).toEqual([{ field: 'part', reason: `this ${initrd.length}-byte initrd has parts 0 to ${parts - 1} of ${PART} bytes` }]);
    expectProblem(await api('GET', `/asset/${profile.id}/initrd?part=0`), 400, 'validation-error');
    for (const bad of ['-1', '1.5', 'x', '01', '']) expectProblem(await api('GET', `/asset/${profile.id}/initrd?v=${profile.initrd.id}&part=${bad}`), 400, 'validation-error');
  });

  it('redirect mode keeps one URL per asset (Storage serves it whole)', async () => {
    setEnv({ ASSET_DELIVERY: 'redirect' });
    try {
      const res = await api('GET', `/boot.ipxe?mac=${mac}`);
      expect(commands(res.text, 'kernel')).toEqual([`kernel /asset/${profile.id}/kernel?v=${profile.kernel.id} initrd=initrd console=ttyS0`]);
      expect(commands(res.text, 'initrd')).toEqual([`initrd --name initrd /asset/${profile.id}/initrd?v=${profile.initrd.id}`]);
    } finally {
      setEnv({ ASSET_DELIVERY: 'proxy' });
    }
  });
});

describe('the local gateway enforces the platform’s response caps', () => {
  it('a response declaring more than RESPONSE_MAX_BYTES becomes the platform’s 500 (here: parts over a lowered cap)', async () => {
    setEnv({ RESPONSE_MAX_BYTES: String(4 * MiB) });
    try {
      const res = await api('GET', `/asset/${profile.id}/initrd?v=${profile.initrd.id}&part=0`);
      const body = expectProblem(res, 500, 'internal-error');
      expect(body.detail).toMatch(/Content-Length 8388608.*4194304 bytes, RESPONSE_MAX_BYTES/);
      expect(res.headers.get('connection')).toBe('close');
      // Any function: a JSON answer over a tiny cap is refused the same way.
      setEnv({ RESPONSE_MAX_BYTES: '100' });
      expectProblem(await api('GET', `/api/v1/machines?page=1&per_page=20`), 500, 'internal-error');
      expectProblem(await api('GET', `/boot.ipxe?mac=${mac}`), 500, 'internal-error');
    } finally {
      setEnv({ RESPONSE_MAX_BYTES: undefined });
    }
    // Back to the default: served.
    expect((await fetch(partUrl(0), { method: 'HEAD' })).status).toBe(200);
  });

  describe('capResponse', () => {
    const serve = async (handler: (res: http.ServerResponse) => void): Promise<{ url: string; close: () => void }> => {
      const server = http.createServer((req, res) => {
        capResponse(req, res, { declared: 1000, streamed: 5000 }, 'https://api.example.com/errors/');
        handler(res);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`, close: () => server.close() };
    };

    it('passes a response within the cap, and bodiless 304s whatever they declare', async () => {
      const ok = await serve((res) => res.end(Buffer.alloc(1000)));
      expect((await (await fetch(ok.url)).arrayBuffer()).byteLength).toBe(1000);
      ok.close();
      const notModified = await serve((res) => {
        res.writeHead(304, { 'Content-Length': '999999' });
        res.end();
      });
      expect((await fetch(notModified.url)).status).toBe(304);
      notModified.close();
    });

    it('a Content-Length over the cap: 500 problem, whether written in one piece or streamed', async () => {
      for (const handler of [(res: http.ServerResponse) => res.end(Buffer.alloc(1001)), (res: http.ServerResponse) => {
        res.setHeader('Content-Length', '3000');
        res.write(Buffer.alloc(1500));
        res.write(Buffer.alloc(1500));
        res.end();
      }]) {
        const s = await serve(handler);
        const res = await fetch(s.url);
        expect(res.status).toBe(500);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(((await res.json()) as { type: string }).type).toBe('https://api.example.com/errors/internal-error');
        s.close();
      }
    });

    it('a chunked response is cut once it passes the streamed cap; under it, it is whole', async () => {
      // One chunk at a time, as a stream sends them: the headers are out before the cut.
      const chunks = (n: number) => (res: http.ServerResponse) => {
        let i = 0;
        const next = () => {
          if (res.destroyed) return;
          if (i++ === n) return void res.end();
          res.write(Buffer.alloc(1000));
          setTimeout(next, 5);
        };
        next();
      };
      const small = await serve(chunks(5));
      expect((await (await fetch(small.url)).arrayBuffer()).byteLength).toBe(5000);
      small.close();
      const big = await serve(chunks(6));
      const res = await fetch(big.url);
      expect(res.status).toBe(200);
      await expect(res.arrayBuffer()).rejects.toThrow();
      big.close();
    });
  });
});
