import { FieldPath, type Firestore } from "@google-cloud/firestore";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestFirestore, type TestFirestore } from "./test-support";

let emu: TestFirestore;
let db: Firestore;

beforeAll(async () => {
  emu = await startTestFirestore();
  db = emu.client();
  const batch = db.batch();
  for (const [id, n] of [["d", 4], ["a", 1], ["c", 3], ["b", 2], ["e", 5]] as const) batch.set(db.doc(`q/${id}`), { n, tags: [`t${n % 2}`], m: { k: n } });
  await batch.commit();
});
afterAll(() => emu?.stop());

const ids = (s: { docs: { id: string }[] }) => s.docs.map((d) => d.id);

describe("embedded Firestore queries", () => {
  it("orders by name without orderBy, and honours offset, limit and cursors", async () => {
    const col = db.collection("q");
    expect(ids(await col.get())).toEqual(["a", "b", "c", "d", "e"]);
    expect(ids(await col.orderBy("n", "desc").offset(1).limit(2).get())).toEqual(["d", "c"]);
    expect(ids(await col.orderBy("n").startAfter(2).get())).toEqual(["c", "d", "e"]);
    const b = await col.doc("b").get();
    expect(ids(await col.orderBy("n").startAt(b).endBefore(4).get())).toEqual(["b", "c"]);
  });

  it("filters on documentId ranges, nested fields, and counts", async () => {
    const col = db.collection("q");
    expect(ids(await col.where(FieldPath.documentId(), ">", "b").where(FieldPath.documentId(), "<=", "d").get())).toEqual(["c", "d"]);
    expect(ids(await col.where("m.k", ">=", 4).get())).toEqual(["d", "e"]);
    expect(ids(await col.where("tags", "array-contains", "t0").get())).toEqual(["b", "d"]);
    expect((await col.where("n", "in", [1, 5, 9]).count().get()).data().count).toBe(2);
    expect(ids(await col.select().limit(1).get())).toEqual(["a"]);
    expect((await col.select().limit(1).get()).docs[0]?.data()).toEqual({});
  });

  // Equality, array-contains and `in` filters are answered from indexes kept by the store
  // (field-index.ts): the answers must follow every write, as a scan's would.
  it("equality filters follow updates, deletes, number types and array changes", async () => {
    const col = db.collection("ix");
    await Promise.all([col.doc("a").set({ k: "x", n: 1, arr: ["p", "q"] }), col.doc("b").set({ k: "x", n: 2.0, arr: ["q"] }), col.doc("c").set({ k: "y", n: 1.0 })]);
    expect(ids(await col.where("k", "==", "x").get())).toEqual(["a", "b"]);
    expect(ids(await col.where("n", "==", 1).get())).toEqual(["a", "c"]); // 1 == 1.0
    expect(ids(await col.where("arr", "array-contains", "q").get())).toEqual(["a", "b"]);
    expect(ids(await col.where("k", "in", ["y", "z"]).get())).toEqual(["c"]);

    await col.doc("a").update({ k: "y", arr: ["p"] });
    await col.doc("b").delete();
    await col.doc("d").set({ k: "x", n: 3, arr: ["q"] });
    expect(ids(await col.where("k", "==", "x").get())).toEqual(["d"]);
    expect(ids(await col.where("k", "==", "y").get())).toEqual(["a", "c"]);
    expect(ids(await col.where("arr", "array-contains", "q").get())).toEqual(["d"]);
    expect(ids(await col.where("arr", "array-contains-any", ["p", "q"]).get())).toEqual(["a", "d"]);
    // Several filters: the smallest index narrows, every filter still applies.
    expect(ids(await col.where("k", "==", "y").where("n", "==", 1).get())).toEqual(["a", "c"]);
    expect(ids(await col.where("k", "==", "y").where("arr", "array-contains", "p").get())).toEqual(["a"]);
    expect(ids(await col.where("k", "==", "y").where("n", ">", 1).get())).toEqual([]);
    // Values kept out of the index (maps, arrays as operands) are found by scanning.
    await col.doc("e").set({ k: { deep: 1 }, n: [1] });
    expect(ids(await col.where("k", "==", { deep: 1 }).get())).toEqual(["e"]);
    expect(ids(await col.where("n", "==", [1]).get())).toEqual(["e"]);
    expect((await col.where("k", "==", "y").count().get()).data().count).toBe(2);
  });

  it("a transaction's query is re-checked at commit against the index", async () => {
    const col = db.collection("ixtx");
    await col.doc("a").set({ pool: "p" });
    let attempts = 0;
    await db.runTransaction(async (tx) => {
      attempts++;
      const held = await tx.get(col.where("pool", "==", "p"));
      if (attempts === 1) await col.doc("b").set({ pool: "p" }); // changes the query's result
      tx.set(col.doc(`n${held.size}`), { seen: held.size });
    });
    expect(attempts).toBe(2);
    expect((await col.doc("n2").get()).exists).toBe(true);
  });
});
