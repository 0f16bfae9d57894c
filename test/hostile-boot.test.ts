import { afterEach, describe, expect, it } from 'vitest';
import { aMac, aMachine } from './helpers/fixtures';
import { expectProblem } from './helpers/problem';
import { postProfile, profileForm, randomFile } from './helpers/profiles';
import { DiscoveryRecorder } from '../shared/lifecycle/discoveries';
import { defaultLeaseTiming, FirestoreRateLimitStore, RateLimiter } from '../shared/ratelimit';
import { currentRoot, request, setEnv, useLocalStack } from './helpers/stack';

/**
 * Issue 21: a hostile host on the boot network. Hosts are told apart by the address the
 * front door reports: with TRUSTED_PROXY_HOPS=2 the local gateway's own entry is the
 * second, so the `X-Forwarded-For` a test writes is the client address the functions see
 * (what the internal load balancer reports in production). Each attack is tried and
 * refused, and the real machine's boot still works.
 */
const hostile = '192.0.2.66';
const victimHost = '192.0.2.10';
let clockOffsetMs = 0;
/**
 * An offset that puts the stack's clock `hours` ahead and 1 s into a minute: rate-limit windows
 * (fixed, one minute of the clock) of the test's own, which its requests cannot straddle (a flood
 * sent across a boundary is counted in two windows, seen once under CI load).
 */
const freshMinuteAhead = (hours: number) => hours * 3_600_000 + (60_000 - (Date.now() % 60_000)) + 1_000;
const stack = useLocalStack(
  // The boot routes' per-address and global limits at their production defaults (the shared test stack turns them off).
  { ASSET_DELIVERY: 'proxy', TRUSTED_PROXY_HOPS: '2', BOOT_ALLOWED_CIDRS: '192.0.2.0/24,127.0.0.0/8', RATE_LIMIT_BOOT_PER_ADDRESS: '600', RATE_LIMIT_BOOT_GLOBAL: '30000' },
  { decorate: (parts) => ({ ...parts, clock: () => Date.now() + clockOffsetMs }) },
);

type Init = Parameters<typeof request>[3];
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Init) => request<T>(stack.url, method, path, init);
/** A request from `host`, as the front door saw it. */
const from = (host: string, method: string, path: string, init: Init = {}) => api(method, path, { ...init, headers: { ...init?.headers, 'x-forwarded-for': host } });

const tokenOf = (script: string): string => /\/boot\/report\?token=([^&\s]+)&phase=booting/.exec(script)?.[1] ?? '';
/** The kernel line's URL, path and query (the script's URLs are relative). */
const kernelUrlOf = (script: string): string => /^kernel (\S+)/m.exec(script)?.[1] ?? '';

async function machineWithProfile(extra: Record<string, unknown> = {}): Promise<{ id: string; mac: string; profileId: string }> {
  const mac = aMac();
  const created = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }], ...extra }) });
  expect(created.status).toBe(201);
  const profile = await postProfile(stack.url, profileForm({ machine_id: created.body.id, kernel: randomFile(2048), initrd: randomFile(1024), kernel_args: '["console=ttyS0"]' }));
  expect(profile.status).toBe(201);
  return { id: created.body.id, mac, profileId: profile.body.id };
}

const netbootOf = async (id: string) => (await api('GET', `/api/v1/machines/${id}`)).body.netboot;
const bootsOf = async (id: string) => (await api<{ boots: { id: string; phases: { phase: string; client_address: string }[] }[] }>('GET', `/api/v1/machines/${id}/boots`)).body.boots;

afterEach(() => {
  clockOffsetMs = 0;
  setEnv({ RATE_LIMIT_BOOT_PER_MAC: undefined, RATE_LIMIT_BOOT_PER_ADDRESS: undefined, RATE_LIMIT_BOOT_GLOBAL: undefined, RATE_LIMIT_DOWNLOADS_PER_PROFILE: undefined });
});

describe('secrets go only to the machine’s own boot', () => {
  const userData = '#cloud-config\nchpasswd: { list: "root:hunter2" }\n';
  async function machineWithSecrets(): Promise<{ id: string; mac: string }> {
    const mac = aMac();
    const created = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
    const form = profileForm({ machine_id: created.body.id, kernel: randomFile(1024), initrd: randomFile(1024), kernel_args: '["ds=nocloud;s={{metadata_url}}"]', extra: [['user_data', new TextEncoder().encode(userData)], ['vendor_data', new TextEncoder().encode('#cloud-config\npackages: [htop]\n')]] });
    expect((await postProfile(stack.url, form)).status).toBe(201);
    return { id: created.body.id, mac };
  }
  /** The seed path of a boot script fetched by `host`. */
  const seedOf = (script: string) => new URL(/ds=nocloud;s=(\S+)/.exec(script)?.[1] ?? 'http://missing/').pathname;

  it('by MAC: meta-data only; user-data and vendor-data empty, for anyone', async () => {
    const m = await machineWithSecrets();
    expect((await from(hostile, 'GET', `/metadata/${m.mac}/user-data`)).text).toBe('');
    expect((await from(hostile, 'GET', `/metadata/${m.mac}/vendor-data`)).text).toBe('');
    expect((await from(hostile, 'GET', `/metadata/${m.mac}/meta-data`)).text).toBe(`instance-id: ${m.id}\nlocal-hostname: ${m.id}\n`);
  });

  it('the boot’s own {{metadata_url}} answers only its script’s client, within its window, not after installed; every fetch is in the timeline', async () => {
    const m = await machineWithSecrets();
    const script = (await from(victimHost, 'GET', `/boot.ipxe?mac=${m.mac}`)).text;
    const seed = seedOf(script);
    expect(seed).toMatch(/^\/nocloud\/[^/]+\/$/);
    // Another host, with the URL (read from a log or the wire): nothing, and the same answer as for a made-up key.
    for (const file of ['user-data', 'vendor-data', 'meta-data']) expectProblem(await from(hostile, 'GET', `${seed}${file}`), 404, 'boot-not-found');
    expectProblem(await from(victimHost, 'GET', `${seed.replace(/.{4}\/$/, 'AAAA/')}user-data`), 404, 'boot-not-found');
    // The report token is not the metadata key.
    expectProblem(await from(victimHost, 'GET', `/nocloud/${tokenOf(script)}/user-data`), 404, 'boot-not-found');
    // The machine itself.
    const got = await from(victimHost, 'GET', `${seed}user-data`);
    expect(got.status).toBe(200);
    expect(got.text).toBe(userData);
    expect((await from(victimHost, 'GET', `${seed}user-data`)).status).toBe(200);
    const [boot] = (await api<{ boots: { metadata_fetches: { file: string; count: number; client_address: string }[] }[] }>('GET', `/api/v1/machines/${m.id}/boots`)).body.boots;
    expect(boot?.metadata_fetches).toEqual([{ file: 'user-data', count: 2, client_address: victimHost, last_at: expect.any(String) }]);
    // Past the window (BOOT_METADATA_WINDOW_SECONDS, 1 hour).
    clockOffsetMs = 61 * 60_000;
    expectProblem(await from(victimHost, 'GET', `${seed}user-data`), 404, 'boot-not-found');
    clockOffsetMs = 0;
    // After installed: over.
    expect((await from(victimHost, 'POST', `/boot/installed?token=${tokenOf(script)}`)).status).toBe(200);
    expectProblem(await from(victimHost, 'GET', `${seed}user-data`), 404, 'boot-not-found');
  });

  it('a hostile host that asks for the victim’s script gets a seed for its own address only: the victim’s own boot is unaffected', async () => {
    const m = await machineWithSecrets();
    // What stays out of reach without hardware identity: the hostile host's own request is a boot like any other.
    const stolen = seedOf((await from(hostile, 'GET', `/boot.ipxe?mac=${m.mac}`)).text);
    const mine = seedOf((await from(victimHost, 'GET', `/boot.ipxe?mac=${m.mac}`)).text);
    expect(stolen).not.toBe(mine);
    expectProblem(await from(hostile, 'GET', `${mine}user-data`), 404, 'boot-not-found');
    expect((await from(victimHost, 'GET', `${mine}user-data`)).text).toBe(userData);
  });
});

describe('reports mean what they say', () => {
  it('a bogus token is refused before anything is counted against the machine: the real report still lands', async () => {
    setEnv({ RATE_LIMIT_BOOT_PER_ADDRESS: '1000' });
    const m = await machineWithProfile({ netboot: 'once' });
    const script = await from(victimHost, 'GET', `/boot.ipxe?mac=${m.mac}`);
    const token = tokenOf(script.text);
    const [machineId, bootId] = token.split('.');
    const forged = `${machineId}.${bootId}.${'A'.repeat(43)}`;
    // Far more than the old per-machine report limit (10 a minute).
    for (let i = 0; i < 15; i++) expectProblem(await from(hostile, 'GET', `/boot/report?token=${forged}&phase=booting`), 404, 'boot-not-found');
    expect((await from(victimHost, 'GET', `/boot/report?token=${token}&phase=booting`)).status).toBe(200);
    expect(await netbootOf(m.id)).toBe('disabled');
  });

  it('each phase is accepted once per boot: a replayed report or callback is 409 and records nothing more', async () => {
    const m = await machineWithProfile();
    const script = await from(victimHost, 'GET', `/boot.ipxe?mac=${m.mac}`);
    const token = tokenOf(script.text);
    expect((await from(victimHost, 'GET', `/boot/report?token=${token}&phase=booting`)).status).toBe(200);
    expectProblem(await from(victimHost, 'GET', `/boot/report?token=${token}&phase=booting`), 409, 'boot-phase-recorded');
    expect((await from(victimHost, 'POST', `/boot/installed?token=${token}`)).status).toBe(200);
    const again = expectProblem(await from(victimHost, 'POST', `/boot/installed?token=${token}`), 409, 'boot-phase-recorded');
    expect(again.phase).toBe('installed');
    const [boot] = await bootsOf(m.id);
    expect(boot?.phases.map((p) => p.phase)).toEqual(['script', 'booting', 'installed']);
  });

  it('booting is accepted only from the address that fetched the script, and only within BOOT_REPORT_WINDOW_SECONDS of it', async () => {
    const m = await machineWithProfile({ netboot: 'once' });
    const token = tokenOf((await from(victimHost, 'GET', `/boot.ipxe?mac=${m.mac}`)).text);
    // A token read elsewhere (a log, a shoulder) and sent from another host.
    expectProblem(await from(hostile, 'GET', `/boot/report?token=${token}&phase=booting`), 404, 'boot-not-found');
    clockOffsetMs = 16 * 60_000;
    expectProblem(await from(victimHost, 'GET', `/boot/report?token=${token}&phase=booting`), 404, 'boot-not-found');
    expect(await netbootOf(m.id)).toBe('once');
    clockOffsetMs = 0;
    expect((await from(victimHost, 'GET', `/boot/report?token=${token}&phase=booting`)).status).toBe(200);
    expect(await netbootOf(m.id)).toBe('disabled');
  });

  it('a once round has a generation: a token of an earlier round ends nothing', async () => {
    const m = await machineWithProfile({ netboot: 'once' });
    const old = tokenOf((await from(victimHost, 'GET', `/boot.ipxe?mac=${m.mac}`)).text);
    // The administrator switches it off and on again: a new round.
    const patch = (netboot: string) => api('PATCH', `/api/v1/machines/${m.id}`, { body: JSON.stringify({ netboot }), headers: { 'content-type': 'application/merge-patch+json' } });
    expect((await patch('enabled')).status).toBe(200);
    expect((await patch('once')).status).toBe(200);
    const res = await from(victimHost, 'POST', `/boot/installed?token=${old}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ recorded: 'installed', netboot_disabled: false });
    expect(await netbootOf(m.id)).toBe('once');
    // The current round's own boot ends it.
    const current = tokenOf((await from(victimHost, 'GET', `/boot.ipxe?mac=${m.mac}`)).text);
    expect((await from(victimHost, 'GET', `/boot/report?token=${current}&phase=booting`)).status).toBe(200);
    expect(await netbootOf(m.id)).toBe('disabled');
  });

  it('the boot= of an asset URL cannot write another boot, another profile or another host into a timeline', async () => {
    const m = await machineWithProfile();
    const other = await machineWithProfile();
    const script = (await from(victimHost, 'GET', `/boot.ipxe?mac=${m.mac}`)).text;
    const kernelUrl = new URL(kernelUrlOf(script), stack.url);
    const boot = kernelUrl.searchParams.get('boot') ?? '';
    expect(boot).not.toBe('');
    // The same boot= from another host, and on another profile's kernel: served (assets are not secret) but not recorded.
    expect((await from(hostile, 'GET', `${kernelUrl.pathname}${kernelUrl.search}`)).status).toBe(200);
    expect((await from(victimHost, 'GET', `/asset/${other.profileId}/kernel?boot=${boot}`)).status).toBe(200);
    expect((await bootsOf(m.id))[0]?.phases.map((p) => p.phase)).toEqual(['script']);
    expect((await from(victimHost, 'GET', `${kernelUrl.pathname}${kernelUrl.search}`)).status).toBe(200);
    const phases = (await bootsOf(m.id))[0]?.phases ?? [];
    expect(phases.map((p) => [p.phase, p.client_address])).toEqual([['script', victimHost], ['kernel', victimHost]]);
  });
});

describe('no host can spend another machine’s budget', () => {
  it('a host asking for the victim’s MAC eleven times a minute spends only its own (MAC, address) budget', async () => {
    setEnv({ RATE_LIMIT_BOOT_PER_MAC: '10', RATE_LIMIT_BOOT_PER_ADDRESS: '1000' });
    clockOffsetMs = freshMinuteAhead(4);
    const m = await machineWithProfile();
    // One after another: concurrent batches may refuse early (never late), which would only blur the count.
    const flood: number[] = [];
    for (let i = 0; i < 12; i++) flood.push((await from(hostile, 'GET', `/boot.ipxe?mac=${m.mac}`)).status);
    expect(flood).toEqual([...Array<number>(10).fill(200), 429, 429]);
    const real = await from(victimHost, 'GET', `/boot.ipxe?mac=${m.mac}`);
    expect(real.status).toBe(200);
    expect(real.headers.get('x-ratelimit-remaining')).not.toBe('0');
  });

  it('a flooding host is stopped by its own address limit on every boot route; the machine boots, downloads and reports meanwhile', async () => {
    setEnv({ RATE_LIMIT_BOOT_PER_ADDRESS: '5' });
    // A window of its own: the victim's address asked earlier in this minute, and a counter's first shard keeps those counts.
    clockOffsetMs = freshMinuteAhead(5);
    const m = await machineWithProfile();
    const bogusToken = `${m.id}.${m.id}.${'A'.repeat(43)}`;
    const paths = [`/boot.ipxe?mac=${aMac()}`, `/asset/${m.profileId}/kernel`, `/boot/report?token=${bogusToken}&phase=booting`];
    for (const path of paths) {
      const answers = await Promise.all(Array.from({ length: 3 }, () => from(hostile, 'GET', path, { unchecked: true })));
      expect(answers.every((r) => r.status !== 500)).toBe(true);
    }
    // 9 requests so far from the hostile address, over its 5.
    for (const path of paths) expectProblem(await from(hostile, 'GET', path), 429, 'rate-limit-exceeded');
    const script = await from(victimHost, 'GET', `/boot.ipxe?mac=${m.mac}`);
    expect(script.status).toBe(200);
    expect((await from(victimHost, 'GET', kernelUrlOf(script.text))).status).toBe(200);
    expect((await from(victimHost, 'GET', `/boot/report?token=${tokenOf(script.text)}&phase=booting`)).status).toBe(200);
  });

  it('a flooding host’s served scripts do not push the machine’s own boots out of the 10-boot timeline', async () => {
    setEnv({ RATE_LIMIT_BOOT_PER_MAC: '10' });
    const m = await machineWithProfile();
    for (let i = 0; i < 2; i++) expect((await from(victimHost, 'GET', `/boot.ipxe?mac=${m.mac}`)).status).toBe(200);
    // The hostile host spends its whole (MAC, address) budget on the victim's MAC: ten boot records.
    for (let i = 0; i < 10; i++) expect((await from(hostile, 'GET', `/boot.ipxe?mac=${m.mac}`)).status).toBe(200);
    const boots = await bootsOf(m.id);
    expect(boots).toHaveLength(10);
    const addresses = boots.map((b) => b.phases[0]?.client_address);
    expect(addresses.filter((a) => a === victimHost)).toHaveLength(2);
    // Newest first, as before.
    expect(boots.map((b) => b.id)).toEqual([...boots.map((b) => b.id)].sort().reverse());
  });

  it('the global limit bounds what many hosts together can cost (shared by every instance)', async () => {
    setEnv({ RATE_LIMIT_BOOT_GLOBAL: '4' });
    // A window of its own: the global counter's first shard holds every boot of this file in this minute.
    clockOffsetMs = freshMinuteAhead(6);
    const answers: number[] = [];
    for (let i = 1; i <= 5; i++) answers.push((await from(`192.0.2.${100 + i}`, 'GET', `/boot.ipxe?mac=${aMac()}`)).status);
    expect(answers).toEqual([404, 404, 404, 404, 429]);
  });

  it('the discovery cap is global: two instances flooded with random MACs write DISCOVERY_WRITES_PER_MINUTE records between them, not each', async () => {
    const root = currentRoot();
    const limit = 12;
    // One fixed instant in the middle of a window: no window boundary can blur the count.
    const now = Math.floor(Date.now() / 60_000) * 60_000 + 30_000;
    const runId = aMac();
    // Two instances: each its own limiter (refusal memory) and recorder (coalescing memory), one shared store.
    const instance = () => {
      const limiter = new RateLimiter({ store: new FirestoreRateLimitStore(root.clients.rateLimitFirestore), config: root.config, clock: () => now, leaseTiming: () => defaultLeaseTiming });
      return new DiscoveryRecorder(root.clients.firestore, { coalesceMs: 300_000, writesPerMinute: limit, ttlMs: 3_600_000 }, () => now, (log) => limiter.withinBudget('discovery-global', `test-${runId}`, limit, log));
    };
    const [a, b] = [instance(), instance()];
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      for (const recorder of [a, b]) outcomes.push(await recorder.sighted({ mac: aMac(), clientAddress: hostile, arch: null, platform: null }, root.logger));
    }
    // Per instance alone it would have been 2 x 12.
    expect(outcomes.filter((o) => o === 'written')).toHaveLength(limit);
    expect(outcomes.filter((o) => o === 'capped')).toHaveLength(40 - limit);
  });

  it('download slots are per profile and client address: another host holding them cannot refuse the machine’s download', async () => {
    setEnv({ RATE_LIMIT_DOWNLOADS_PER_PROFILE: '1' });
    const mac = aMac();
    const created = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
    // Large enough that a response nobody reads stalls in the socket buffers, holding its slot.
    const profile = await postProfile(stack.url, profileForm({ machine_id: created.body.id, kernel: randomFile(8 * 1024 * 1024), initrd: randomFile(1024) }));
    expect(profile.status).toBe(201);
    const held = await fetch(`${stack.url}/asset/${profile.body.id}/kernel`, { headers: { 'x-forwarded-for': hostile } });
    expect(held.status).toBe(200);
    try {
      // The slot is really held: the same host's second download is refused...
      expectProblem(await from(hostile, 'GET', `/asset/${profile.body.id}/kernel`, { headers: { range: 'bytes=0-0' } }), 429, 'rate-limit-exceeded');
      // ...and the machine's own is not.
      expect((await from(victimHost, 'GET', `/asset/${profile.body.id}/kernel`, { headers: { range: 'bytes=0-0' } })).status).toBe(206);
    } finally {
      await held.body?.cancel();
    }
  });
});

describe('the client address is the one the front door saw', () => {
  it('with FRONT_DOOR_SECRET, a request without the load balancer’s mark is read with 1 hop: a written X-Forwarded-For is not believed', async () => {
    const secret = 's'.repeat(40);
    setEnv({ FRONT_DOOR_SECRET: secret, BOOT_ALLOWED_CIDRS: '192.0.2.0/24' });
    try {
      const mac = aMac();
      // "Direct": the local gateway's entry (127.0.0.1) is the one counted, outside the boot network.
      const direct = expectProblem(await from(victimHost, 'GET', `/boot.ipxe?mac=${mac}`), 403, 'forbidden');
      expect(direct.client_address).toBe('127.0.0.1');
      // Through the "load balancer" (marked): the address it saw.
      const marked = await api('GET', `/boot.ipxe?mac=${mac}`, { headers: { 'x-forwarded-for': victimHost, 'x-netboot-front-door': secret } });
      expect(marked.status).toBe(404); // an unknown MAC, admitted from the boot network
      expectProblem(await api('GET', `/boot.ipxe?mac=${mac}`, { headers: { 'x-forwarded-for': victimHost, 'x-netboot-front-door': 'x'.repeat(40) } }), 403, 'forbidden');
    } finally {
      setEnv({ FRONT_DOOR_SECRET: undefined, BOOT_ALLOWED_CIDRS: undefined });
    }
  });
});

