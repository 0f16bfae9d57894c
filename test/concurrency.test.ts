import { describe, expect, it } from 'vitest';
import { aMac, aMachine } from './helpers/fixtures';
import { createMachineId, postProfile, profileForm, randomFile, storedBlobIds } from './helpers/profiles';
import { request, useLocalStack } from './helpers/stack';

/**
 * Invariants under concurrent requests, which rest on Firestore's atomic commits and
 * serialisable transactions. The embedded Firestore has both (emulators/firestore/), so
 * these run everywhere: here, in CI, and under `npm run emulators:official`.
 */
const stack = useLocalStack({ BLOB_SWEEP_GRACE_SECONDS: '1' });
const api = <T = Record<string, unknown>>(method: string, path: string, init?: Parameters<typeof request>[3]) => request<T>(stack.url, method, path, init);

describe('uniqueness under concurrent requests', () => {
  it('one MAC, eight concurrent registrations: exactly one 201, seven 409 naming the winner, one machine', async () => {
    const mac = aMac();
    const results = await Promise.all(Array.from({ length: 8 }, () => api('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) })));
    const created = results.filter((r) => r.status === 201);
    const conflicts = results.filter((r) => r.status === 409);
    expect(created).toHaveLength(1);
    expect(conflicts).toHaveLength(7);
    for (const conflict of conflicts) expect(conflict.body).toMatchObject({ mac_address: mac, existing_machine_id: created[0]?.body.id });
    const listed = await api<{ machines: unknown[] }>('GET', `/api/v1/machines?mac=${mac}`);
    expect(listed.body.machines).toHaveLength(1);
  });

  it('one machine, four concurrent profile uploads: one profile, and after a sweep only its blobs remain', async () => {
    const machineId = await createMachineId(stack.url);
    const before = await storedBlobIds();
    const results = await Promise.all(Array.from({ length: 4 }, () => postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(64 * 1024), initrd: randomFile(64 * 1024) }))));
    const created = results.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(3);
    const winner = created[0]?.body;
    await new Promise((r) => setTimeout(r, 1200));
    expect((await api('POST', '/internal/blobs/sweep')).status).toBe(200);
    expect(await storedBlobIds()).toEqual([...before, winner?.kernel.id, winner?.initrd.id].sort());
  });

  it('concurrent updates moving one MAC between two machines never leave it on both', async () => {
    const [macA, macB, shared] = [aMac(), aMac(), aMac()];
    const a = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac: macA }, { mac: shared }] }) });
    const b = await api<{ id: string }>('POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac: macB }] }) });
    for (let round = 0; round < 3; round++) {
      // Each machine tries to hold the shared MAC while the other lets it go or takes it.
      const results = await Promise.all([
        api('PUT', `/api/v1/machines/${a.body.id}`, { json: aMachine({ nics: [{ mac: macA }, ...(round % 2 ? [{ mac: shared }] : [])] }) }),
        api('PUT', `/api/v1/machines/${b.body.id}`, { json: aMachine({ nics: [{ mac: macB }, { mac: shared }] }) }),
        api('PUT', `/api/v1/machines/${a.body.id}`, { json: aMachine({ nics: [{ mac: macA }, { mac: shared }] }) }),
      ]);
      for (const r of results) expect([200, 409]).toContain(r.status);
      const owners = (await api<{ machines: { id: string }[] }>('GET', `/api/v1/machines?mac=${shared}`)).body.machines.map((m) => m.id);
      expect(owners.length).toBeLessThanOrEqual(1);
      // The MAC index agrees with the machines: the boot lookup and the listing name the same owner (or none).
      const claimed = await api('GET', `/boot.ipxe?mac=${shared}`);
      expect(claimed.status).toBe(404); // neither machine has a profile
      const [ma, mb] = await Promise.all([api<{ nics: { mac: string }[] }>('GET', `/api/v1/machines/${a.body.id}`), api<{ nics: { mac: string }[] }>('GET', `/api/v1/machines/${b.body.id}`)]);
      const holders = [ma, mb].filter((m) => m.body.nics.some((n) => n.mac === shared)).length;
      expect(holders).toBe(owners.length);
      // Whoever does not hold it can take it now: the MAC index has no stale claim.
      if (owners.length === 0) expect((await api('PUT', `/api/v1/machines/${b.body.id}`, { json: aMachine({ nics: [{ mac: macB }, { mac: shared }] }) })).status).toBe(200);
    }
  });
});
