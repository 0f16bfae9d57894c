import { FieldValue, Timestamp, type Firestore } from "@google-cloud/firestore";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestFirestore, type TestFirestore } from "./test-support";

let emu: TestFirestore;
let db: Firestore;

beforeAll(async () => {
  emu = await startTestFirestore();
  db = emu.client();
});
afterAll(() => emu?.stop());

describe("embedded Firestore commits", () => {
  it("(a) a batch [set A, create B-which-exists] fails with ALREADY_EXISTS and leaves A untouched", async () => {
    const a = db.doc("atomic/a");
    const b = db.doc("atomic/b");
    await a.set({ v: "before" });
    await b.set({ v: "exists" });
    const batch = db.batch().set(a, { v: "after" }).create(b, { v: "new" });
    await expect(batch.commit()).rejects.toMatchObject({ code: 6 });
    expect((await a.get()).data()).toEqual({ v: "before" });
    expect((await b.get()).data()).toEqual({ v: "exists" });
  });

  it("a batch whose last write fails a precondition applies none of its writes", async () => {
    const x = db.doc("atomic/x");
    const missing = db.doc("atomic/missing");
    await expect(db.batch().create(x, { n: 1 }).update(missing, { n: 1 }).commit()).rejects.toMatchObject({ code: 5 });
    expect((await x.get()).exists).toBe(false);
    await expect(db.batch().set(x, { n: 1 }).delete(missing, { exists: true }).commit()).rejects.toMatchObject({ code: 5 });
    expect((await x.get()).exists).toBe(false);
  });

  it("checks lastUpdateTime preconditions (FAILED_PRECONDITION, 9)", async () => {
    const ref = db.doc("atomic/time");
    const first = await ref.set({ n: 1 });
    const second = await ref.update({ n: 2 });
    await expect(ref.update({ n: 3 }, { lastUpdateTime: first.writeTime })).rejects.toMatchObject({ code: 9 });
    await ref.update({ n: 4 }, { lastUpdateTime: second.writeTime });
    await expect(ref.delete({ lastUpdateTime: second.writeTime })).rejects.toMatchObject({ code: 9 });
    expect((await ref.get()).get("n")).toBe(4);
    expect((await ref.get()).updateTime?.isEqual(second.writeTime)).toBe(false);
  });

  it("set replaces the document, set-merge and update change only the given fields", async () => {
    const ref = db.doc("atomic/fields");
    await ref.set({ a: 1, b: { c: 2, d: 3 }, e: 4 });
    await ref.set({ a: 10 });
    expect((await ref.get()).data()).toEqual({ a: 10 });
    await ref.set({ b: { c: 5 } }, { merge: true });
    await ref.update({ "b.d": 6, a: FieldValue.delete() });
    expect((await ref.get()).data()).toEqual({ b: { c: 5, d: 6 } });
  });

  it("applies every field transform of a write", async () => {
    const ref = db.doc("atomic/transforms");
    const res = await ref.create({ n: 1, created: FieldValue.serverTimestamp(), updated: FieldValue.serverTimestamp(), tags: ["a"] });
    await ref.update({ n: FieldValue.increment(2), tags: FieldValue.arrayUnion("b", "a"), more: FieldValue.arrayUnion("x"), f: FieldValue.increment(0.5) });
    const snap = await ref.get();
    expect(snap.get("created")).toBeInstanceOf(Timestamp);
    expect((snap.get("created") as Timestamp).isEqual(res.writeTime)).toBe(true);
    expect((snap.get("updated") as Timestamp).isEqual(res.writeTime)).toBe(true);
    expect(snap.get("n")).toBe(3);
    expect(snap.get("f")).toBe(0.5);
    expect(snap.get("tags")).toEqual(["a", "b"]);
    expect(snap.get("more")).toEqual(["x"]);
    await ref.update({ tags: FieldValue.arrayRemove("a") });
    expect((await ref.get()).get("tags")).toEqual(["b"]);
    // Blind increments in a merge-set batch, as the rate limiter does.
    const counter = db.doc("atomic/counter");
    await Promise.all(Array.from({ length: 10 }, () => db.batch().set(counter, { n: FieldValue.increment(1) }, { merge: true }).commit()));
    expect((await counter.get()).get("n")).toBe(10);
  });
});
