import { describe, expect, it } from 'vitest';
import { FirestoreInventory } from '../shared/inventory/firestore-inventory';
import { FirestoreRateLimitStore, rateLimitCollections } from '../shared/ratelimit';
import { spillAfter } from '../shared/ratelimit/firestore-store';
import { BootTimeline } from '../shared/lifecycle/timeline';
import { newBootToken } from '../shared/lifecycle/tokens';
import { aMac, aMachine } from './helpers/fixtures';
import { postProfile, profileForm, randomFile } from './helpers/profiles';
import { request, setEnv, useLocalStackThroughProxy } from './helpers/stack';

/**
 * The boot path batches its database calls per turn of the event loop (shared/batching.ts):
 * concurrent boot scripts share their reads (one BatchGetDocuments) and their counter
 * increments (one Commit). The inventory and the rate-limit store talk to the emulator
 * through a proxy that counts the calls.
 */
const through = useLocalStackThroughProxy({}, (parts, firestore) => {
  const inventory = new FirestoreInventory(firestore);
  return { ...parts, inventory, ledger: inventory, rateLimitStore: new FirestoreRateLimitStore(firestore) };
});
const { stack } = through;
type Fleet = Awaited<ReturnType<typeof machineWithProfile>>[];

const bootScript = async (mac: string) => {
  const res = await fetch(`${stack.url}/boot.ipxe?mac=${encodeURIComponent(mac)}`);
  return { status: res.status, text: await res.text() };
};

async function machineWithProfile(args: string): Promise<{ id: string; mac: string; profileId: string }> {
  const mac = aMac();
  const machine = await request<{ id: string }>(stack.url, 'POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) });
  expect(machine.status).toBe(201);
  const profile = await postProfile(stack.url, profileForm({ machine_id: machine.body.id, kernel: randomFile(512), initrd: randomFile(512), kernel_args: JSON.stringify(args.split(' ')) }));
  expect(profile.status).toBe(201);
  return { id: machine.body.id, mac, profileId: profile.body.id };
}

describe('boot scripts asked for at once', () => {
  it('each machine still gets its own script', async () => {
    const fleet: Fleet = [];
    for (let i = 0; i < 12; i++) fleet.push(await machineWithProfile(`console=ttyS0 fleet.index=${i}`));
    const answers = await Promise.all(fleet.map((m) => bootScript(m.mac)));
    answers.forEach((answer, i) => {
      expect(answer.status).toBe(200);
      expect(answer.text).toContain(`# Boot configuration for ${fleet[i]?.id}`);
      expect(answer.text).toContain(`# Boot Profile ID: ${fleet[i]?.profileId}`);
      expect(answer.text).toContain(`fleet.index=${i} `);
    });
  });

  it('one turn of the event loop: one BatchGetDocuments for every MAC and profile, one Commit and one read for every counter, one Commit for every boot record', async () => {
    const fleet: Fleet = [];
    for (let i = 0; i < 6; i++) fleet.push(await machineWithProfile('console=ttyS0'));
    const inventory = new FirestoreInventory(through.firestore);
    let reads = through.proxy.calls('BatchGetDocuments');
    const targets = await Promise.all([...fleet.map((m) => inventory.findBootTarget(m.mac)), inventory.findBootTarget(aMac()), ...fleet.map((m) => inventory.getProfile(m.profileId))]);
    expect(through.proxy.calls('BatchGetDocuments') - reads).toBe(1);
    expect(targets.slice(0, 6).map((t) => (t as { machineId: string }).machineId)).toEqual(fleet.map((m) => m.id));
    expect(targets[6]).toBeNull();
    expect(targets.slice(7).map((p) => (p as { profile: { id: string } }).profile.id)).toEqual(fleet.map((m) => m.profileId));

    const store = new FirestoreRateLimitStore(through.firestore);
    const expireAt = new Date(Date.now() + 120_000);
    const key = `boot-mac:batch-${aMac()}`;
    reads = through.proxy.calls('BatchGetDocuments');
    let commits = through.proxy.calls('Commit');
    const totals = await Promise.all([
      ...Array.from({ length: 5 }, () => store.increment([{ id: key, shards: 1, expireAt }])),
      store.increment([{ id: `${key}-other`, shards: 1, expireAt }]),
    ]);
    expect(through.proxy.calls('Commit') - commits).toBe(1);
    expect(through.proxy.calls('BatchGetDocuments') - reads).toBe(1);
    // Numbered in order, as if counted one after another.
    expect(totals).toEqual([[1], [2], [3], [4], [5], [1]]);

    const timeline = new BootTimeline(through.firestore, 3_600_000, () => Date.now());
    commits = through.proxy.calls('Commit');
    const tokens = fleet.map((m) => newBootToken(m.id));
    await Promise.all(tokens.map((token, i) => timeline.start(token, { mac: fleet[i]?.mac ?? '', action: 'profile', profile_id: fleet[i]?.profileId ?? null, netboot: 'enabled', once_round: null }, { at: new Date(), client_address: '10.0.0.1' })));
    expect(through.proxy.calls('Commit') - commits).toBe(1);
    for (const token of tokens) expect((await timeline.verify(token)).machine_id).toBe(token.machineId);
  });

  it('sharded counters below spillAfter (a fleet of addresses) are read in the same BatchGetDocuments, with no aggregation per counter; past it they spread and stay exact', async () => {
    const store = new FirestoreRateLimitStore(through.firestore);
    const expireAt = new Date(Date.now() + 120_000);
    // A turn of 40 machines, each from its own address: 40 per-address counters of 20 shards (600 a minute).
    const perAddress = Array.from({ length: 40 }, (_, i) => `boot-ip:spill-${aMac()}-${i}`);
    let reads = through.proxy.calls('BatchGetDocuments');
    let aggregations = through.proxy.calls('RunAggregationQuery');
    const commits = through.proxy.calls('Commit');
    const first = await Promise.all(perAddress.map((id) => store.increment([{ id, shards: 20, expireAt }])));
    expect(first).toEqual(perAddress.map(() => [1]));
    expect(through.proxy.calls('Commit') - commits).toBe(1);
    expect(through.proxy.calls('BatchGetDocuments') - reads).toBe(1);
    expect(through.proxy.calls('RunAggregationQuery') - aggregations).toBe(0);

    // One counter taken past spillAfter, turn by turn, by this store and by another instance in
    // turns of its own (a store of its own, which learns of the spill only from what it reads):
    // every total exact.
    const other = new FirestoreRateLimitStore(through.firestore);
    const [id] = perAddress as [string];
    const totals: number[] = [1];
    for (let turn = 0; turn < 10; turn++) {
      const counted = await Promise.all(Array.from({ length: 5 }, () => (turn % 2 === 0 ? store : other).increment([{ id, shards: 20, expireAt }])));
      totals.push(...counted.map(([t]) => t as number));
    }
    expect(totals.sort((a, b) => a - b)).toEqual(Array.from({ length: 51 }, (_, i) => i + 1));
    const shards = await through.firestore.collection(rateLimitCollections.counters).where('counter', '==', id).get();
    const byShard = new Map(shards.docs.map((d) => [Number(d.id.slice(id.length + 1)), d.get('n') as number]));
    expect([...byShard.values()].reduce((a, b) => a + b, 0)).toBe(51);
    // Shard 0 stopped near spillAfter (each instance writes it at most once after the count got there); the rest spread.
    expect(byShard.get(0)).toBeGreaterThanOrEqual(spillAfter);
    expect(byShard.get(0)).toBeLessThan(spillAfter + 10);
    expect(byShard.size).toBeGreaterThan(2);

    // Once spilled, a turn reads that counter with one aggregation; the others stay in the one BatchGetDocuments.
    reads = through.proxy.calls('BatchGetDocuments');
    aggregations = through.proxy.calls('RunAggregationQuery');
    const again = await Promise.all(perAddress.map((c) => store.increment([{ id: c, shards: 20, expireAt }])));
    expect(again).toEqual(perAddress.map((c) => [c === id ? 52 : 2]));
    expect(through.proxy.calls('BatchGetDocuments') - reads).toBe(1);
    expect(through.proxy.calls('RunAggregationQuery') - aggregations).toBe(1);
  });

  it('a counter that spilled in the last window spreads from the first hit of the next (no burst on shard 0), and its totals stay exact across instances', async () => {
    const store = new FirestoreRateLimitStore(through.firestore);
    const other = new FirestoreRateLimitStore(through.firestore); // knows nothing of the last window
    const expireAt = new Date(Date.now() + 120_000);
    const family = `boot-global:storm-${aMac()}`;
    // Window 7: past spillAfter, so this store has seen the family spill.
    for (let turn = 0; turn < 8; turn++) await Promise.all(Array.from({ length: 5 }, () => store.increment([{ id: `${family}:7`, shards: 50, expireAt }])));
    // Window 8: both instances count, turn by turn; only `store` spreads at once.
    const id = `${family}:8`;
    const totals: number[] = [];
    for (let turn = 0; turn < 6; turn++) {
      const counted = await Promise.all(Array.from({ length: 5 }, () => (turn % 2 === 0 ? store : other).increment([{ id, shards: 50, expireAt }])));
      totals.push(...counted.map(([t]) => t as number));
    }
    expect(totals.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const shards = await through.firestore.collection(rateLimitCollections.counters).where('counter', '==', id).get();
    const zero = shards.docs.find((d) => d.id === `${id}:0`);
    // Shard 0 holds the mark and only the first batch of the instance that did not know (5
    // hits); reading the mark, it spread from its next batch on. Without the rule shard 0 would
    // hold spillAfter (30) here: every hit of this window.
    expect(zero?.get('spread')).toBe(true);
    expect(Number(zero?.get('n') ?? 0)).toBe(5);
    expect(shards.docs.reduce((sum, d) => sum + Number(d.get('n') ?? 0), 0)).toBe(30);
  });

  it('never admit more than the per-MAC limit, and count every request (no overshoot)', async () => {
    setEnv({ RATE_LIMIT_BOOT_PER_MAC: '5' });
    const { mac } = await machineWithProfile('console=ttyS0');
    const answers = await Promise.all(Array.from({ length: 12 }, () => bootScript(mac)));
    const served = answers.filter((a) => a.status === 200).length;
    // One instance numbers its batch's hits in order: with the 12 in one turn exactly the limit
    // is served. A loaded machine can split them over turns whose reads see each other's
    // increments: then fewer are served (refused early), never more.
    expect(served).toBeLessThanOrEqual(5);
    expect(served).toBeGreaterThanOrEqual(1);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(12 - served);
    // Every request counted, in the window's counter document(s).
    const counters = await through.firestore.collection(rateLimitCollections.counters).get();
    const total = counters.docs.filter((d) => String(d.get('counter')).startsWith('boot-mac:')).reduce((sum, d) => sum + Number(d.get('n')), 0);
    expect(total).toBeGreaterThanOrEqual(12);
    setEnv({ RATE_LIMIT_BOOT_PER_MAC: undefined });
  });

  it('see every admin change at the next boot: no cache between requests', async () => {
    const machine = await machineWithProfile('console=ttyS0 stage=one');
    expect((await bootScript(machine.mac)).text).toContain('stage=one');
    const form = profileForm({ kernel: randomFile(256), initrd: randomFile(256), kernel_args: JSON.stringify(['console=ttyS0', 'stage=two']) });
    const replaced = await request(stack.url, 'PUT', `/api/v1/boot/${machine.id}/profile`, { body: form });
    expect(replaced.status).toBe(200);
    const next = await bootScript(machine.mac);
    expect(next.text).toContain('stage=two');
    expect(next.text).not.toContain('stage=one');
  });
});
