// dataDir: the Storage emulator's objects outlive a stop/start.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MiB, seededBytes, startStorage } from "./test-support";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("Storage persistence in dataDir", () => {
  it("keeps objects and metadata across a restart, and forgets deleted ones", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "netboot-datadir-"));
    dirs.push(dataDir);
    const body = seededBytes("p", 0, 2 * MiB);

    const a = await startStorage({ dataDir });
    const b1 = a.storage.bucket("demo-netboot-persist");
    await b1.file("blobs/kept").save(body, { resumable: false, contentType: "application/x-kernel" });
    await b1.file("blobs/gone").save("x", { resumable: false });
    const [before] = await b1.file("blobs/kept").getMetadata();
    await a.emu.stop();
    a.restoreEnv();

    const b = await startStorage({ dataDir });
    const b2 = b.storage.bucket("demo-netboot-persist");
    const [after] = await b2.file("blobs/kept").getMetadata();
    expect(after).toMatchObject({ size: before.size, md5Hash: before.md5Hash, crc32c: before.crc32c, generation: before.generation, contentType: "application/x-kernel" });
    const [back] = await b2.file("blobs/kept").download();
    expect(back.equals(body)).toBe(true);
    await b2.file("blobs/gone").delete();
    await b.emu.stop();
    b.restoreEnv();

    const c = await startStorage({ dataDir });
    const [files] = await c.storage.bucket("demo-netboot-persist").getFiles();
    expect(files.map((f) => f.name)).toEqual(["blobs/kept"]);
    await c.emu.stop();
    c.restoreEnv();
  });

  it("stays in memory / temp without dataDir", async () => {
    const a = await startStorage();
    await a.storage.bucket("demo-netboot-persist").file("blobs/t").save("t", { resumable: false });
    await a.emu.stop();
    a.restoreEnv();
    const b = await startStorage();
    const [exists] = await b.storage.bucket("demo-netboot-persist").file("blobs/t").exists();
    expect(exists).toBe(false);
    await b.emu.stop();
    b.restoreEnv();
  });
});
