import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Firestore, GeoPoint, Timestamp } from "@google-cloud/firestore";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedEmulators } from "../embedded";
import { startTestFirestore } from "./test-support";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "embedded-firestore-test-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("embedded Firestore persistence", () => {
  it("(g) documents of every value type survive stop and start with the same dataDir", async () => {
    const first = await startTestFirestore({ dataDir: dir });
    let db = first.client();
    const ref = db.doc("persist/all-types");
    const data = {
      str: "héllo",
      int: 42,
      big: Number.MAX_SAFE_INTEGER,
      dbl: 1.5,
      whole: 2.0, // stored as an integer by the client, like any whole number
      nan: NaN,
      inf: -Infinity,
      yes: true,
      nil: null,
      ts: new Timestamp(1_700_000_000, 123_456_000),
      bytes: Buffer.from([0, 1, 2, 255]),
      ref: db.doc("persist/other"),
      geo: new GeoPoint(48.85, 2.35),
      arr: [1, "two", [3], { four: 4 }],
      map: { nested: { deep: ["x"] }, empty: {} },
    };
    await ref.set(data);
    await db.doc("persist/sub/child/c1").set({ n: 1 });
    const before = await ref.get();
    await first.stop();

    const second = await startTestFirestore({ dataDir: dir });
    db = second.client();
    const after = await db.doc("persist/all-types").get();
    expect(after.exists).toBe(true);
    expect(after.createTime?.isEqual(before.createTime as Timestamp)).toBe(true);
    expect(after.updateTime?.isEqual(before.updateTime as Timestamp)).toBe(true);
    expect(after.isEqual(before)).toBe(false); // different Firestore instances
    const got = after.data() as Record<string, unknown>;
    expect(Object.keys(got).sort()).toEqual(Object.keys(data).sort());
    expect(got.nan).toBeNaN();
    expect(got.inf).toBe(-Infinity);
    expect((got.ts as Timestamp).isEqual(data.ts)).toBe(true);
    expect(Buffer.compare(got.bytes as Buffer, data.bytes)).toBe(0);
    expect((got.ref as { path: string }).path).toBe("persist/other");
    expect((got.geo as GeoPoint).isEqual(data.geo)).toBe(true);
    for (const k of ["str", "int", "big", "dbl", "whole", "yes", "nil", "arr", "map"] as const) expect(got[k]).toEqual(data[k]);
    expect((await db.doc("persist/sub/child/c1").get()).get("n")).toBe(1);
    // Integer vs double is kept (the JSON shows the gRPC value types).
    const json = await readFile(join(dir, "documents.json"), "utf8");
    expect(json).toContain('"integer_value": 42');
    expect(json).toContain('"double_value": 1.5');
    // Writes after the restart get later update times than the imported ones.
    const w = await db.doc("persist/all-types").update({ int: 43 });
    expect(w.writeTime.toMillis()).toBeGreaterThanOrEqual((before.updateTime as Timestamp).toMillis());
    await second.stop();
  });

  it("startEmbeddedEmulators({ dataDir }) keeps Firestore under dataDir/firestore", async () => {
    const root = await mkdtemp(join(tmpdir(), "embedded-emulators-test-"));
    const saved = process.env.FIRESTORE_EMULATOR_HOST;
    try {
      for (const value of [1, 2]) {
        const emu = await startEmbeddedEmulators({ dataDir: root });
        const db = new Firestore({ projectId: "demo-netboot", host: emu.firestoreHost, ssl: false });
        const prev = (await db.doc("runs/r").get()).get("value") as number | undefined;
        expect(prev).toBe(value === 1 ? undefined : 1);
        await db.doc("runs/r").set({ value });
        await db.terminate();
        await emu.stop();
      }
      await readFile(join(root, "firestore", "documents.json"), "utf8");
    } finally {
      if (saved !== undefined) process.env.FIRESTORE_EMULATOR_HOST = saved;
      await rm(root, { recursive: true, force: true });
    }
  });
});
