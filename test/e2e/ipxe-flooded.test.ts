import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { aMachine } from '../helpers/fixtures';
import { postProfile, profileForm } from '../helpers/profiles';
import { request, useLocalStack } from '../helpers/stack';
import { archAndPlatform, bootBios, prepareE2eAssets } from './qemu';

/**
 * Issue 21 with real iPXE: a `once` machine whose MAC another host is flooding (boot scripts
 * past the per-MAC limit, bogus reports) still boots its profile in QEMU, reports, and turns
 * `once` off. The hostile host speaks through the local gateway with the address the front
 * door would report (TRUSTED_PROXY_HOPS=2 and its own X-Forwarded-For); the guest's requests
 * arrive from loopback.
 */
const prepared = prepareE2eAssets();
if (!prepared.ok) {
  const message = `flooded-MAC boot skipped: ${prepared.reason}`;
  if (process.env.CI) throw new Error(`${message} (CI must run it)`);
  process.stdout.write(`\n${message}\n`);
}

const stack = useLocalStack({
  ASSET_DELIVERY: 'proxy',
  TRUSTED_PROXY_HOPS: '2',
  BOOT_ALLOWED_CIDRS: '127.0.0.0/8,192.0.2.0/24',
  // The production defaults of the boot limits.
  RATE_LIMIT_BOOT_PER_MAC: '10',
  RATE_LIMIT_BOOT_PER_ADDRESS: '600',
  RATE_LIMIT_BOOT_GLOBAL: '30000',
  RATE_LIMIT_DOWNLOADS_PER_PROFILE: '5',
});
const api = <T = Record<string, unknown>>(method: string, p: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, p, init);
const hostile = { 'x-forwarded-for': '192.0.2.66' };
const mac = '52:54:00:e2:21:01';
let flooding = true;
afterAll(() => {
  flooding = false;
});

describe.skipIf(!prepared.ok)('a real iPXE machine whose MAC another host floods', () => {
  it('boots its profile, reports booting and turns once off while the flood is refused', async () => {
    if (!prepared.ok) return;
    const machine = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }], netboot: 'once' }) });
    expect(machine.status).toBe(201);
    const profile = await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel: readFileSync(prepared.assets.kernelPath), initrd: readFileSync(prepared.assets.initrdPath), kernel_args: '["console=ttyS0","panic=-1"]' }));
    expect(profile.status).toBe(201);

    // The flood: the victim's script past its per-MAC limit, and reports with made-up secrets.
    // The limit counts per minute of the clock (fixed windows): the 12 are sent inside one
    // minute, not across a boundary where the count starts again (seen once under CI load).
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 45_000) await new Promise((resolve) => setTimeout(resolve, 60_000 - intoMinute + 100));
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await api('GET', `/boot.ipxe?mac=${mac}`, { headers: hostile })).status);
    expect(statuses.slice(-2)).toEqual([429, 429]);
    const bogus = `${machine.body.id}.${machine.body.id}.${'A'.repeat(43)}`;
    const flood = (async () => {
      let sent = 0;
      while (flooding && sent < 400) {
        await Promise.all([
          api('GET', `/boot.ipxe?mac=${mac}`, { headers: hostile, unchecked: true }),
          api('GET', `/boot/report?token=${bogus}&phase=booting`, { headers: hostile, unchecked: true }),
        ]);
        sent += 2;
        await new Promise((done) => setTimeout(done, 250));
      }
      return sent;
    })();

    const booted = await bootBios({ port: Number(new URL(stack.url).port), mac, chainQuery: archAndPlatform, timeoutMs: 150_000 });
    flooding = false;
    const sent = await flood;
    process.stdout.write(`  flooded boot: ${(booted.durationMs / 1000).toFixed(1)} s, ${sent} hostile requests meanwhile\n`);
    expect(booted.marker, booted.output.slice(-3000)).not.toBeNull();
    expect((await api('GET', `/api/v1/machines/${machine.body.id}`)).body.netboot).toBe('disabled');
    const boots = await api<{ boots: { phases: { phase: string; client_address: string }[] }[] }>('GET', `/api/v1/machines/${machine.body.id}/boots`);
    const real = boots.body.boots.find((b) => b.phases.some((p) => p.phase === 'booting'));
    expect(real?.phases.map((p) => p.phase)).toEqual(['script', 'kernel', 'initrd', 'booting']);
    expect(real?.phases[0]?.client_address).not.toBe('192.0.2.66');
  }, 240_000);
});
