import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';
import { FirestoreRateLimitStore, rateLimitCollections } from '../shared/ratelimit';
import { firestoreThrough, startFaultyGrpcProxy, type FaultyGrpcProxy } from './helpers/faulty-grpc';

/**
 * Download-slot leases in the real store (the embedded emulator, through a proxy that counts
 * calls): renew and release are one conditional write each while the lease is as this holder
 * last wrote it, and fall back to a transaction that checks the holder when it is not.
 */
let proxy: FaultyGrpcProxy;
let db: Firestore;
let store: FirestoreRateLimitStore;
beforeAll(async () => {
  proxy = await startFaultyGrpcProxy(inject('firestoreHost'));
  db = firestoreThrough(proxy.host, `demo-slots-${randomUUID().slice(0, 8)}`);
  store = new FirestoreRateLimitStore(db);
});
afterAll(async () => {
  await db?.terminate();
  await proxy?.close();
});

const later = (ms: number) => new Date(Date.now() + ms);
const slotDoc = (pool: string, index: number) => db.collection(rateLimitCollections.slots).doc(`${pool}:${index}`);

async function acquire(pool: string) {
  const got = await store.acquireSlot(pool, 1, randomUUID(), new Date(), later(60_000));
  if (!got.lease) throw new Error('no slot');
  return got.lease;
}

describe('download slot leases', () => {
  it('renew and release are one Commit each, no read', async () => {
    const pool = `download:${randomUUID()}`;
    const lease = await acquire(pool);
    const [commits, reads] = [proxy.calls('Commit'), proxy.calls('BatchGetDocuments')];
    expect(await store.renewSlot(lease, later(120_000))).toBe(true);
    await store.releaseSlot(lease);
    expect(proxy.calls('Commit') - commits).toBe(2);
    expect(proxy.calls('BatchGetDocuments') - reads).toBe(0);
    expect((await slotDoc(pool, lease.index).get()).exists).toBe(false);
  });

  it("a lease rewritten by its own holder (a renewal whose answer was lost) is still released", async () => {
    const pool = `download:${randomUUID()}`;
    const lease = await acquire(pool);
    await slotDoc(pool, lease.index).update({ expire_at: later(90_000) }); // applied, answer lost: the stamp is stale
    await store.releaseSlot(lease);
    expect((await slotDoc(pool, lease.index).get()).exists).toBe(false);
  });

  it('a lease taken over by another holder is neither renewed nor released', async () => {
    const pool = `download:${randomUUID()}`;
    const lease = await acquire(pool);
    await slotDoc(pool, lease.index).set({ pool, index: lease.index, holder: 'someone-else', expire_at: later(60_000) });
    expect(await store.renewSlot(lease, later(120_000))).toBe(false);
    await store.releaseSlot(lease);
    expect((await slotDoc(pool, lease.index).get()).get('holder')).toBe('someone-else');
  });
});
