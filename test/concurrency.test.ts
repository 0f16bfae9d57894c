import { describe, expect, it } from 'vitest';
import { aMac, aMachine } from './helpers/fixtures';
import { createMachineId, postProfile, profileForm, randomFile, storedBlobIds } from './helpers/profiles';
import { request, useLocalStack } from './helpers/stack';

/**
 * Uniqueness under concurrent requests depends on Firestore's serialisable
 * transactions. The embedded emulator does not isolate transactions, so these run
 * only under the official emulator (`npm run emulators:official`) or real Firestore.
 */
const stack = useLocalStack();
const embeddedReason = 'the embedded Firestore emulator does not isolate transactions (see ../shared/notes/emulators.md); run `npm run emulators:official`';

describe('uniqueness under concurrent requests', () => {
  it('one MAC, twelve concurrent registrations: exactly one wins', async (ctx) => {
    if (stack.emulatorKind === 'embedded') {
      process.stdout.write(`\nskipped: ${ctx.task.name}: ${embeddedReason}\n`);
      ctx.skip(embeddedReason);
    }
    const mac = aMac();
    const results = await Promise.all(Array.from({ length: 12 }, () => request(stack.url, 'POST', '/api/v1/machines', { json: aMachine({ nics: [{ mac }] }) })));
    const created = results.filter((r) => r.status === 201);
    const conflicts = results.filter((r) => r.status === 409);
    expect(created).toHaveLength(1);
    expect(conflicts).toHaveLength(11);
    for (const conflict of conflicts) expect(conflict.body.existing_machine_id).toBe(created[0]?.body.id);
    const listed = await request<{ machines: unknown[] }>(stack.url, 'GET', `/api/v1/machines?mac=${mac}`);
    expect(listed.body.machines).toHaveLength(1);
  });

  it('one machine, eight concurrent profile uploads: one profile, and only its blobs remain', async (ctx) => {
    if (stack.emulatorKind === 'embedded') {
      process.stdout.write(`\nskipped: ${ctx.task.name}: ${embeddedReason}\n`);
      ctx.skip(embeddedReason);
    }
    const machineId = await createMachineId(stack.url);
    const before = await storedBlobIds();
    const results = await Promise.all(Array.from({ length: 8 }, () => postProfile(stack.url, profileForm({ machine_id: machineId, kernel: randomFile(64 * 1024), initrd: randomFile(64 * 1024) }))));
    const created = results.filter((r) => r.status === 201);
    expect(created).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(7);
    const winner = created[0]?.body;
    expect(await storedBlobIds()).toEqual([...before, winner?.kernel.id, winner?.initrd.id].sort());
  });
});
