import http from 'node:http';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { localAdminEmail, mintLocalToken } from '../emulators/local-issuer';
import { defaultLeaseTiming, downloadPool, rateLimitCollections, type LeaseTiming, type RateLimitStore } from '../shared/ratelimit';
import { addressKey } from '../shared/ratelimit/keys';
import { loadConfig } from '../shared/config';
import { mostConstraining, shardsFor } from '../shared/ratelimit/policy';
import type { BlobStore } from '../shared/storage/blobs';
import { aMac, aMachine } from './helpers/fixtures';
import { expectProblem } from './helpers/problem';
import { postProfile, profileForm, randomFile, sha256, type ProfileBody } from './helpers/profiles';
import { currentRoot, highRateLimits, request, setEnv, useLocalStack } from './helpers/stack';
import { Switchable, withOverrides } from './helpers/switchable';

/** The limits' clock and lease timing, which the tests move; the store and blobs, which they make misbehave. */
let clockMs = 0;
let leaseTiming: LeaseTiming = defaultLeaseTiming;
const store = new Switchable<RateLimitStore>();
const blobs = new Switchable<BlobStore>();
const stack = useLocalStack(
  { ASSET_DELIVERY: 'proxy' },
  {
    decorate: (parts) => ({
      ...parts,
      clock: () => clockMs,
      leaseTiming: () => leaseTiming,
      rateLimitStore: store.wrap(parts.rateLimitStore),
      blobs: blobs.wrap(parts.blobs),
    }),
  },
);
const rateLimitDb = () => currentRoot().clients.rateLimitFirestore;
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

/** Each test starts 1 s into a minute no other test used, so nobody waits for a window to end. */
let windowsUsed = 0;
function freshWindow(): void {
  windowsUsed += 1;
  clockMs = (Math.floor(Date.now() / 60_000) + 10 * windowsUsed) * 60_000 + 1000;
}
const windowEnd = () => (Math.floor(clockMs / 60_000) + 1) * 60;

const other = 'other-admin@example.org';
const third = 'third-admin@example.org';
const as = (email: string) => ({ authorization: `Bearer ${mintLocalToken({ email })}` });
/** As if the load balancer in front had seen `address` (two trusted hops: it and the gateway). */
const from = (address: string) => ({ 'x-forwarded-for': address });

function expectHeaders(res: { headers: Headers }, limit: number, remaining: number, reset = windowEnd()): void {
  expect({
    limit: res.headers.get('x-ratelimit-limit'),
    remaining: res.headers.get('x-ratelimit-remaining'),
    reset: res.headers.get('x-ratelimit-reset'),
  }).toEqual({ limit: String(limit), remaining: String(remaining), reset: String(reset) });
}

function expect429(res: { status: number; headers: Headers; body: unknown }, limit: number, retryAfter = 59): void {
  const body = expectProblem(res, 429, 'rate-limit-exceeded');
  expect(body).toMatchObject({ title: 'Rate Limit Exceeded', status: 429, detail: `Rate limit exceeded. Try again in ${retryAfter} seconds.`, retry_after: retryAfter });
  expect(res.headers.get('retry-after')).toBe(String(retryAfter));
  expect(res.headers.get('x-ratelimit-limit')).toBe(String(limit));
  expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
}

const mac = aMac();
const kernel = randomFile(256 * 1024 + 3);
let profile: ProfileBody;

beforeAll(async () => {
  freshWindow();
  const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
  const res = await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel, initrd: randomFile(1000) }));
  expect(res.status).toBe(201);
  profile = res.body;
});

beforeEach(() => {
  freshWindow();
});

afterEach(() => {
  setEnv({ ...highRateLimits, ASSET_DELIVERY: 'proxy', ADMIN_PRINCIPALS: localAdminEmail, TRUSTED_PROXY_HOPS: undefined, RATE_LIMIT_FAIL_MODE: undefined, RATE_LIMIT_TIMEOUT_MS: undefined, RATE_LIMIT_MAX_SHARDS: undefined });
  store.reset();
  blobs.reset();
  leaseTiming = defaultLeaseTiming;
});

describe('boot script: per MAC', () => {
  it('answers 10 a minute with the headers, then 429 as the spec shows, then again in the next window', async () => {
    setEnv({ RATE_LIMIT_BOOT_PER_MAC: '10' });
    for (let i = 0; i < 10; i++) {
      const res = await api('GET', `/boot.ipxe?mac=${mac}`);
      expect(res.status).toBe(200);
      expectHeaders(res, 10, 9 - i);
    }
    const refused = await api('GET', `/boot.ipxe?mac=${mac}`);
    expect429(refused, 10);
    expect(refused.body).toMatchObject({ instance: `/boot.ipxe?mac=${mac}` });
    expect(refused.headers.get('x-ratelimit-reset')).toBe(String(windowEnd()));
    expect(refused.headers.get('cache-control')).toBe('no-store');

    // 20 s later the same window says so.
    clockMs += 20_000;
    expect429(await api('GET', `/boot.ipxe?mac=${mac}`), 10, 39);

    freshWindow();
    const next = await api('GET', `/boot.ipxe?mac=${mac}`);
    expect(next.status).toBe(200);
    expectHeaders(next, 10, 9);
  });

  it('counts a MAC in every spelling as one, counts unknown MACs, and keeps MACs apart', async () => {
    setEnv({ RATE_LIMIT_BOOT_PER_MAC: '3' });
    const unknown = aMac();
    const spellings = [unknown, unknown.toUpperCase(), unknown.replaceAll(':', '-')];
    for (const [i, spelling] of spellings.entries()) {
      const res = await api('GET', `/boot.ipxe?mac=${spelling}`);
      expectProblem(res, 404, 'machine-not-configured');
      expectHeaders(res, 3, 2 - i);
    }
    expect429(await api('GET', `/boot.ipxe?mac=${encodeURIComponent(unknown)}`), 3);
    // The configured machine is another key.
    expect((await api('GET', `/boot.ipxe?mac=${mac}`)).status).toBe(200);
  });

  it('rejects a malformed MAC (400) and a client off the boot network (403) before counting', async () => {
    setEnv({ RATE_LIMIT_BOOT_PER_MAC: '1' });
    const bad = await api('GET', '/boot.ipxe?mac=nonsense');
    expectProblem(bad, 400, 'invalid-mac-address');
    expect(bad.headers.get('x-ratelimit-limit')).toBeNull();
    setEnv({ BOOT_ALLOWED_CIDRS: '10.9.0.0/16' });
    expectProblem(await api('GET', `/boot.ipxe?mac=${mac}`), 403, 'forbidden');
    setEnv({ BOOT_ALLOWED_CIDRS: undefined });
    expect((await api('GET', `/boot.ipxe?mac=${mac}`)).status).toBe(200);
    expect429(await api('GET', `/boot.ipxe?mac=${mac}`), 1);
  });
});

describe('admin API', () => {
  beforeEach(() => {
    setEnv({ ADMIN_PRINCIPALS: `${localAdminEmail},${other},${third}`, TRUSTED_PROXY_HOPS: '2' });
  });

  it('per principal: each administrator has a budget of their own', async () => {
    setEnv({ RATE_LIMIT_ADMIN_PER_PRINCIPAL: '3' });
    for (let i = 0; i < 3; i++) {
      const res = await api('GET', '/api/v1/machines');
      expect(res.status).toBe(200);
      expectHeaders(res, 3, 2 - i);
    }
    const refused = await api('GET', '/api/v1/machines');
    expect429(refused, 3);
    expect(refused.headers.get('x-api-version')).toBe('v1');
    // Any admin route, any method: the same budget.
    expect429(await api('POST', '/api/v1/machines', { json: aMachine() }), 3);
    const another = await api('GET', '/api/v1/machines', { headers: as(other) });
    expect(another.status).toBe(200);
    expectHeaders(another, 3, 2);
  });

  it('per client address: administrators behind one address share it; an IPv6 client counts by its /64', async () => {
    setEnv({ RATE_LIMIT_ADMIN_PER_IP: '3' });
    expect((await api('GET', '/api/v1/machines', { headers: from('198.51.100.7') })).status).toBe(200);
    expect((await api('GET', '/api/v1/machines', { headers: { ...from('198.51.100.7'), ...as(other) } })).status).toBe(200);
    expectHeaders(await api('GET', '/api/v1/machines', { headers: { ...from('198.51.100.7'), ...as(third) } }), 3, 0);
    expect429(await api('GET', '/api/v1/machines', { headers: { ...from('198.51.100.7'), ...as(third) } }), 3);
    // What the client writes left of the trusted entry changes nothing.
    expect429(await api('GET', '/api/v1/machines', { headers: from('203.0.113.1, 198.51.100.7') }), 3);
    expect((await api('GET', '/api/v1/machines', { headers: from('198.51.100.8') })).status).toBe(200);

    for (const address of ['2001:db8:1:2::1', '2001:DB8:1:2:ffff::9', '2001:db8:1:2:0:0:0:3']) {
      expect((await api('GET', '/api/v1/machines', { headers: from(address) })).status).toBe(200);
    }
    expect429(await api('GET', '/api/v1/machines', { headers: from('2001:db8:1:2::42') }), 3);
    expect((await api('GET', '/api/v1/machines', { headers: from('2001:db8:1:3::1') })).status).toBe(200);
  });

  it('global: every administrator from every address together', async () => {
    setEnv({ RATE_LIMIT_ADMIN_GLOBAL: '4' });
    const callers = [{}, as(other), from('198.51.100.20'), { ...as(third), ...from('198.51.100.21') }];
    for (const [i, headers] of callers.entries()) {
      const res = await api('GET', '/api/v1/machines', { headers });
      expect(res.status).toBe(200);
      expectHeaders(res, 4, 3 - i);
    }
    expect429(await api('GET', '/api/v1/machines', { headers: { ...as(other), ...from('198.51.100.22') } }), 4);
  });

  it('a sharded counter (61/min: 3 shards) still allows exactly its limit', async () => {
    expect(shardsFor(61, 1000)).toBe(3);
    expect(shardsFor(1000, 1000)).toBe(34);
    setEnv({ RATE_LIMIT_ADMIN_GLOBAL: '61' });
    for (let i = 0; i < 61; i++) {
      const res = await api('GET', '/api/v1/machines', { headers: from(`198.51.100.${i}`) });
      expect(res.status, `request ${i + 1}`).toBe(200);
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(60 - i));
    }
    expect429(await api('GET', '/api/v1/machines'), 61);
    const shards = await rateLimitDb().collection(rateLimitCollections.counters).where('n', '>', 0).get();
    const global = shards.docs.filter((d) => String(d.get('counter')).startsWith('admin-global:') && String(d.get('counter')).endsWith(`:${Math.floor(clockMs / 60_000)}`));
    expect(global.length).toBeGreaterThan(1);
    expect(global.reduce((sum, d) => sum + (d.get('n') as number), 0)).toBe(62);
    // Document ids carry a digest, never the key (an email, an address) itself.
    expect(shards.docs.map((d) => d.id).join(' ')).not.toMatch(/@|198\.51|netboot\.local/);
  });

  /** This window's shard documents of the admin-global counter: `{counter}:{shard}` -> n. */
  async function adminGlobalShards(): Promise<Map<number, number>> {
    const docs = await rateLimitDb().collection(rateLimitCollections.counters).where('n', '>', 0).get();
    const window = `:${Math.floor(clockMs / 60_000)}`;
    const shards = new Map<number, number>();
    for (const d of docs.docs) {
      const counter = String(d.get('counter'));
      if (counter.startsWith('admin-global:') && counter.endsWith(window)) shards.set(Number(d.id.slice(counter.length + 1)), d.get('n') as number);
    }
    return shards;
  }

  it('RATE_LIMIT_MAX_SHARDS caps the shards (61/min over 2) and the limit stays exact', async () => {
    expect(shardsFor(61, 2)).toBe(2);
    setEnv({ RATE_LIMIT_ADMIN_GLOBAL: '61', RATE_LIMIT_MAX_SHARDS: '2' });
    for (let i = 0; i < 61; i++) {
      const res = await api('GET', '/api/v1/machines', { headers: from(`198.51.100.${i}`) });
      expect(res.status, `request ${i + 1}`).toBe(200);
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(60 - i));
    }
    expect429(await api('GET', '/api/v1/machines'), 61);
    const shards = await adminGlobalShards();
    expect([...shards.keys()].sort()).toEqual([0, 1]);
    expect([...shards.values()].reduce((a, b) => a + b, 0)).toBe(62);
  });

  it('RATE_LIMIT_MAX_SHARDS is validated at start-up (1 to 10,000), naming the variable', () => {
    expect(loadConfig({}).RATE_LIMIT_MAX_SHARDS).toBe(1000);
    for (const bad of ['0', '10001', '2.5', 'many']) expect(() => loadConfig({ RATE_LIMIT_MAX_SHARDS: bad })).toThrow(new RegExp(`^invalid configuration: RATE_LIMIT_MAX_SHARDS="${bad}": `));
    expect(loadConfig({ RATE_LIMIT_MAX_SHARDS: '10000' }).RATE_LIMIT_MAX_SHARDS).toBe(10_000);
  });

  it('a limit of 30,000 a minute is spread over 1,000 shards by default (no cap at 100), and stays exact', async () => {
    expect(shardsFor(30_000, 1000)).toBe(1000);
    // Only the 40 allowed requests matter; the large limit decides the shard count.
    setEnv({ RATE_LIMIT_ADMIN_GLOBAL: '30000' });
    for (let i = 0; i < 40; i++) {
      const res = await api('GET', '/api/v1/machines', { headers: from(`198.51.100.${i}`) });
      expect(res.status, `request ${i + 1}`).toBe(200);
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(29_999 - i));
    }
    const shards = await adminGlobalShards();
    // 40 hits on random shards of 1,000: all below 100 has a chance of 0.1^40.
    expect(Math.max(...shards.keys())).toBeGreaterThanOrEqual(100);
    expect(Math.max(...shards.keys())).toBeLessThan(1000);
    expect([...shards.values()].reduce((a, b) => a + b, 0)).toBe(40);
  });

  it('reports the most constraining limit, and refuses on whichever runs out first', async () => {
    setEnv({ RATE_LIMIT_ADMIN_PER_PRINCIPAL: '5', RATE_LIMIT_ADMIN_PER_IP: '3', RATE_LIMIT_ADMIN_GLOBAL: '50' });
    const first = await api('GET', '/api/v1/machines', { headers: from('198.51.100.30') });
    expectHeaders(first, 3, 2);
    const elsewhere = await api('GET', '/api/v1/machines', { headers: from('198.51.100.31') });
    expectHeaders(elsewhere, 3, 2);
    await api('GET', '/api/v1/machines', { headers: from('198.51.100.31') });
    // Four requests: the administrator has 1 left, this address none.
    expectHeaders(await api('GET', '/api/v1/machines', { headers: from('198.51.100.31') }), 3, 0);
    expectHeaders(await api('GET', '/api/v1/machines', { headers: from('198.51.100.32') }), 5, 0);
    expect429(await api('GET', '/api/v1/machines', { headers: from('198.51.100.33') }), 5);
  });

  it('carries the headers on every admin answer after authentication, not on 401 or on health', async () => {
    setEnv({ RATE_LIMIT_ADMIN_PER_PRINCIPAL: '10' });
    const missing = await api('GET', '/api/v1/machines/018c7dbd-c000-7000-8000-fedcba987654');
    expectProblem(missing, 404, 'machine-not-found');
    expectHeaders(missing, 10, 9);
    const anonymous = await api('GET', '/api/v1/machines', { anonymous: true });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('x-ratelimit-limit')).toBeNull();
    expect((await api('GET', '/health/liveness')).headers.get('x-ratelimit-limit')).toBeNull();
  });

  it('0 switches a limit off', async () => {
    setEnv({ RATE_LIMIT_ADMIN_PER_PRINCIPAL: '0', RATE_LIMIT_ADMIN_PER_IP: '0', RATE_LIMIT_ADMIN_GLOBAL: '0' });
    const res = await api('GET', '/api/v1/machines');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
  });
});

describe('when the store does not answer', () => {
  /** The real store, except that counting hangs forever. */
  const hanging = (): RateLimitStore => {
    const real = store.real;
    return {
      increment: () => new Promise<number[]>(() => undefined),
      acquireSlot: () => new Promise(() => undefined),
      renewSlot: (lease, expireAt) => real.renewSlot(lease, expireAt),
      releaseSlot: (lease) => real.releaseSlot(lease),
    };
  };

  it('fails open by default: served after RATE_LIMIT_TIMEOUT_MS, without rate-limit headers', async () => {
    setEnv({ RATE_LIMIT_ADMIN_PER_PRINCIPAL: '1', RATE_LIMIT_BOOT_PER_MAC: '1', RATE_LIMIT_DOWNLOADS_PER_PROFILE: '1', RATE_LIMIT_TIMEOUT_MS: '200' });
    expect((await api('GET', '/api/v1/machines')).status).toBe(200); // warm: the first call of a process gets longer
    store.use(hanging());
    for (const path of ['/api/v1/machines', `/boot.ipxe?mac=${mac}`, `/asset/${profile.id}/kernel`]) {
      const started = Date.now();
      const res = await api('GET', path);
      expect(res.status, path).toBe(200);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(res.headers.get('x-ratelimit-limit')).toBeNull();
    }
  });

  it('fails closed when configured: 503', async () => {
    setEnv({ RATE_LIMIT_FAIL_MODE: 'closed', RATE_LIMIT_TIMEOUT_MS: '200' });
    expect((await api('GET', '/api/v1/machines')).status).toBe(200);
    store.use(hanging());
    for (const path of ['/api/v1/machines', `/boot.ipxe?mac=${mac}`, `/asset/${profile.id}/kernel`]) {
      const res = await api('GET', path);
      expectProblem(res, 503, 'service-unavailable');
      expect(res.headers.get('retry-after')).toBe('5');
    }
  });
});

describe('asset downloads in proxy mode: concurrent slots per boot profile', () => {
  /** Downloads whose bytes the test releases: each read sends the first KiB, then waits. */
  let downloads: PassThrough[] = [];
  beforeEach(() => {
    downloads = [];
    blobs.use(
      withOverrides(blobs.real, {
        read: () => {
          const source = new PassThrough();
          source.write(kernel.subarray(0, 1024));
          downloads.push(source);
          return source;
        },
      }),
    );
    setEnv({ RATE_LIMIT_DOWNLOADS_PER_PROFILE: '5' });
  });

  afterEach(async () => {
    for (const d of downloads) d.destroy();
    await until(async () => (await liveLeases()).length === 0);
  });

  const kernelPath = () => `/asset/${profile.id}/kernel`;
  const start = (init: RequestInit = {}) => fetch(stack.url + kernelPath(), init);
  const finish = (i: number) => downloads[i]?.end(kernel.subarray(1024));

  async function liveLeases(): Promise<{ id: string; expireAt: number; holder: string }[]> {
    const snap = await rateLimitDb().collection(rateLimitCollections.slots).where('pool', '==', downloadPool(profile.id, '127.0.0.1')).get();
    return snap.docs.map((d) => ({ id: d.id, expireAt: (d.get('expire_at') as { toMillis(): number }).toMillis(), holder: d.get('holder') as string })).filter((l) => l.expireAt > clockMs);
  }

  async function holdFive(): Promise<Response[]> {
    const held: Response[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await start();
      expect(res.status).toBe(200);
      expectHeaders(res, 5, 4 - i, Math.ceil(clockMs / 1000) + 5);
      held.push(res);
    }
    return held;
  }

  it('a sixth concurrent download is 429 with Retry-After; HEAD, 304 and redirect mode need no slot', async () => {
    const held = await holdFive();
    const refused = await api('GET', kernelPath());
    expect429(refused, 5, 5);
    expect(refused.headers.get('etag')).toBeNull();
    expect(refused.headers.get('cache-control')).toBe('no-store');

    expect((await start({ method: 'HEAD' })).status).toBe(200);
    // (node:http: fetch() adds Cache-Control: no-cache to conditional requests, which rules out 304.)
    expect(await statusOf(kernelPath(), { 'if-none-match': `"${profile.kernel.sha256}"` })).toBe(304);
    setEnv({ ASSET_DELIVERY: 'redirect' });
    expect((await api('GET', kernelPath())).status).toBe(302);
    setEnv({ ASSET_DELIVERY: 'proxy' });

    // Other profiles have their own slots; the held ones complete intact.
    finish(0);
    expect(sha256(Buffer.from(await (held[0] as Response).arrayBuffer()))).toBe(sha256(kernel));
  });

  it('a download that ends gives its slot back', async () => {
    const held = await holdFive();
    finish(2);
    expect(Buffer.from(await (held[2] as Response).arrayBuffer()).length).toBe(kernel.length);
    await until(async () => (await liveLeases()).length === 4);
    expect((await start()).status).toBe(200);
  });

  it('the slot is free by the time the last byte arrives: released before the response ends, not after', async () => {
    // Once a response has ended the platform may throttle the instance's CPU, so a release
    // still pending then would hold the slot until its lease runs out (false 429s).
    const held = await holdFive();
    finish(3);
    expect(Buffer.from(await (held[3] as Response).arrayBuffer()).length).toBe(kernel.length);
    // No waiting: the lease is already gone when the client has the whole body.
    expect(await liveLeases()).toHaveLength(4);
    expect((await start()).status).toBe(200);
  });

  it('a download that fails part-way gives its slot back', async () => {
    const held = await holdFive();
    downloads[1]?.destroy(new Error('storage read broke'));
    await expect((held[1] as Response).arrayBuffer()).rejects.toThrow();
    await until(async () => (await liveLeases()).length === 4);
    expect((await start()).status).toBe(200);
  });

  it('a client that disconnects gives its slot back', async () => {
    const abort = new AbortController();
    const first = await start({ signal: abort.signal });
    expect(first.status).toBe(200);
    for (let i = 1; i < 5; i++) expect((await start()).status).toBe(200);
    expect((await api('GET', kernelPath())).status).toBe(429);
    abort.abort();
    await until(async () => (await liveLeases()).length === 4);
    expect((await start()).status).toBe(200);
  });

  it('takes over leases that expired (their instance died), not live ones', async () => {
    const slots = rateLimitDb().collection(rateLimitCollections.slots);
    const pool = downloadPool(profile.id, '127.0.0.1');
    const lease = (index: number, expireAt: number) => slots.doc(`${pool}:${index}`).set({ pool, index, holder: 'a-dead-instance', expire_at: new Date(expireAt) });
    for (let i = 0; i < 5; i++) await lease(i, clockMs + 30_000);
    expect429(await api('GET', kernelPath()), 5, 5);

    clockMs += 30_001; // their leases ran out without renewal
    const took = await start();
    expect(took.status).toBe(200);
    expectHeaders(took, 5, 4, Math.ceil(clockMs / 1000) + 5);
    const leases = await liveLeases();
    expect(leases).toHaveLength(1);
    expect(leases[0]?.holder).not.toBe('a-dead-instance');
    finish(downloads.length - 1); // the refused request opened (and dropped) a read of its own first
    expect(downloads).toHaveLength(2);
    expect(downloads[0]?.destroyed).toBe(true);
    await took.arrayBuffer();
    await until(async () => (await liveLeases()).length === 0);
    await Promise.all([0, 1, 2, 3, 4].map((i) => slots.doc(`${pool}:${i}`).delete()));
  });

  it('renews the lease while a long download runs, so it is not taken over', async () => {
    leaseTiming = { leaseMs: 60_000, renewMs: 50 };
    const long = await start();
    expect(long.status).toBe(200);
    const [before] = await liveLeases();
    clockMs += 10 * 60_000; // far past the first expiry
    await until(async () => ((await liveLeases())[0]?.expireAt ?? 0) > clockMs);
    const [after] = await liveLeases();
    expect(after?.id).toBe(before?.id);
    expect(after?.holder).toBe(before?.holder);
    for (let i = 1; i < 5; i++) expect((await start()).status).toBe(200);
    expect((await api('GET', kernelPath())).status).toBe(429);
  });

  it('a lower limit applies at once; 0 switches it off', async () => {
    setEnv({ RATE_LIMIT_DOWNLOADS_PER_PROFILE: '1' });
    expect((await start()).status).toBe(200);
    expect429(await api('GET', kernelPath()), 1, 5);
    setEnv({ RATE_LIMIT_DOWNLOADS_PER_PROFILE: '0' });
    const free = await start();
    expect(free.status).toBe(200);
    expect(free.headers.get('x-ratelimit-limit')).toBeNull();
  });
});

describe('policy', () => {
  it('reports a refusing limit first, else the one with the fewest requests left', () => {
    const s = (limit: number, remaining: number, exceeded = false, reset = 60) => ({ limit, remaining, reset, exceeded });
    expect(mostConstraining([s(100, 40), s(300, 12), s(1000, 500)])).toEqual(s(300, 12));
    expect(mostConstraining([s(100, 0, true), s(300, 0), s(1000, 500)])).toEqual(s(100, 0, true));
    expect(mostConstraining([s(100, 0), s(3, 0)])).toEqual(s(3, 0));
  });

  it('keys an address by itself (IPv4) or its /64 (IPv6)', () => {
    expect(addressKey('198.51.100.7')).toBe('198.51.100.7');
    expect(addressKey('2001:DB8:0:1::5')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('not an address')).toBe('unknown');
  });
});

function statusOf(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(stack.url + path, { headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}
