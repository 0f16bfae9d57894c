import { Timestamp, type DocumentReference, type Firestore } from "@google-cloud/firestore";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestFirestore, type TestFirestore } from "./test-support";

let emu: TestFirestore;
let db: Firestore;
let other: Firestore; // a second client: another instance of the service

beforeAll(async () => {
  emu = await startTestFirestore();
  db = emu.client();
  other = emu.client();
});
afterAll(() => emu?.stop());

/** A promise with its resolve function, to order two concurrent transactions step by step. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((r) => (fire = r));
  return { promise, fire };
}

async function increment(client: Firestore, ref: DocumentReference): Promise<void> {
  await client.runTransaction(async (tx) => {
    const snap = await tx.get(ref);
    tx.set(ref, { n: ((snap.get("n") as number | undefined) ?? 0) + 1 });
  });
}

describe("embedded Firestore transactions", () => {
  it("(b) 20 concurrent read-increment-write transactions end at exactly 20", async () => {
    const ref = db.doc("tx/counter");
    await ref.set({ n: 0 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => increment(i % 2 ? db : other, ref)));
    expect((await ref.get()).get("n")).toBe(20);
  });

  it("(c) of two transactions that read one doc, the later commit is ABORTED, retried, and sees the new value", async () => {
    const ref = db.doc("tx/race");
    await ref.set({ n: 1 });
    const secondRead = signal();
    const firstCommitted = signal();
    const seen: number[] = [];
    const slow = db.runTransaction(async (tx) => {
      const n = (await tx.get(ref)).get("n") as number;
      seen.push(n);
      if (seen.length === 1) {
        secondRead.fire();
        await firstCommitted.promise; // the other transaction commits between our read and commit
      }
      tx.set(ref, { n: n * 10 });
    });
    await secondRead.promise;
    await increment(other, ref);
    firstCommitted.fire();
    await slow;
    expect(seen).toEqual([1, 2]);
    expect((await ref.get()).get("n")).toBe(20);
  });

  it("the losing commit fails with ABORTED (10) when the client may not retry", async () => {
    const ref = db.doc("tx/abort");
    await ref.set({ n: 1 });
    const tx = db.runTransaction(
      async (t) => {
        await t.get(ref);
        await other.doc("tx/abort").set({ n: 2 });
        t.set(ref, { n: 3 });
      },
      { maxAttempts: 1 },
    );
    await expect(tx).rejects.toMatchObject({ code: 10 });
    expect((await ref.get()).get("n")).toBe(2);
  });

  it("(d) a transaction whose read documents are unchanged commits at once, whatever else is written", async () => {
    const ref = db.doc("tx/quiet");
    await ref.set({ n: 1 });
    let attempts = 0;
    await db.runTransaction(async (tx) => {
      attempts++;
      const n = (await tx.get(ref)).get("n") as number;
      await other.doc("tx/unrelated").set({ at: Date.now() });
      await other.collection("tx-other").add({ x: 1 });
      tx.set(ref, { n: n + 1 });
    });
    expect(attempts).toBe(1);
    expect((await ref.get()).get("n")).toBe(2);
  });

  it("(e) N concurrent claim transactions give exactly one winner; the losers see the claim", async () => {
    const N = 8;
    const claim = db.doc("claims/C");
    const outcomes = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        (i % 2 ? db : other).runTransaction(async (tx) => {
          const c = await tx.get(claim);
          if (c.exists) return { won: false, owner: c.get("owner") as number };
          tx.create(claim, { owner: i });
          tx.create(db.doc(`claimed/own-${i}`), { by: i });
          return { won: true, owner: i };
        }),
      ),
    );
    const winners = outcomes.filter((o) => o.won);
    expect(winners).toHaveLength(1);
    const owner = winners[0]?.owner;
    expect(outcomes.every((o) => o.owner === owner)).toBe(true);
    expect((await claim.get()).get("owner")).toBe(owner);
    const own = await db.collection("claimed").get();
    expect(own.docs.map((d) => d.id)).toEqual([`own-${owner}`]);
  });

  it("(f) a query read in a transaction aborts its commit when another writer adds a matching doc", async () => {
    const pool = db.collection("slots");
    await pool.doc("s1").set({ pool: "p", i: 1 });
    let attempts = 0;
    await db.runTransaction(async (tx) => {
      attempts++;
      const held = await tx.get(pool.where("pool", "==", "p"));
      if (attempts === 1) await other.collection("slots").doc("s2").set({ pool: "p", i: 2 });
      tx.set(db.doc("tx/summary"), { held: held.size });
    });
    expect(attempts).toBe(2);
    expect((await db.doc("tx/summary").get()).get("held")).toBe(2);

    // A non-matching document does not abort it.
    attempts = 0;
    await db.runTransaction(async (tx) => {
      attempts++;
      await tx.get(pool.where("pool", "==", "p"));
      await other.collection("slots").doc("s3").set({ pool: "q", i: 3 });
      tx.set(db.doc("tx/summary"), { held: 0 });
    });
    expect(attempts).toBe(1);
  });

  it("an aggregation read in a transaction is validated like a query", async () => {
    const col = db.collection("agg");
    await col.doc("a").set({ k: 1 });
    await expect(
      db.runTransaction(
        async (tx) => {
          await tx.get(col.count());
          await other.collection("agg").doc("b").set({ k: 2 });
          tx.set(db.doc("tx/agg"), { ok: true });
        },
        { maxAttempts: 1 },
      ),
    ).rejects.toMatchObject({ code: 10 });
  });

  it("a read of a document changed since the transaction's first read aborts at once (no inconsistent view)", async () => {
    const a = db.doc("tx/pair-a");
    const b = db.doc("tx/pair-b");
    await db.batch().set(a, { v: 1 }).set(b, { v: 1 }).commit();
    const views: number[][] = [];
    let attempts = 0;
    await db.runTransaction(async (tx) => {
      attempts++;
      const va = (await tx.get(a)).get("v") as number;
      if (attempts === 1) await other.batch().set(a, { v: 2 }).set(b, { v: 2 }).commit();
      const vb = (await tx.get(b)).get("v") as number; // ABORTED on the first attempt
      views.push([va, vb]);
    });
    expect(attempts).toBe(2);
    expect(views).toEqual([[2, 2]]);
  });

  it("a failing transaction function rolls back; its writes are not applied", async () => {
    const ref = db.doc("tx/rollback");
    await ref.set({ n: 1 });
    await expect(
      db.runTransaction(async (tx) => {
        await tx.get(ref);
        tx.set(ref, { n: 2 });
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect((await ref.get()).get("n")).toBe(1);
    await increment(db, ref); // the document is not held by anything
    expect((await ref.get()).get("n")).toBe(2);
  });

  it("read-only transactions and reads at a readTime work", async () => {
    const ref = db.doc("tx/ro");
    await ref.set({ n: 7 });
    const n = await db.runTransaction(async (tx) => (await tx.get(ref)).get("n") as number, { readOnly: true });
    expect(n).toBe(7);
    const size = await db.runTransaction(async (tx) => (await tx.get(db.collection("tx").where("n", "==", 7))).size, {
      readOnly: true,
      readTime: Timestamp.now(),
    });
    expect(size).toBe(1);
  });
});
