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
});
