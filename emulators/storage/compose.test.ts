// The JSON API's objects.compose, through @google-cloud/storage (bucket.combine) and as raw requests.
import { createHash } from "node:crypto";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { CRC32C, type File } from "@google-cloud/storage";
import { describe, expect, it } from "vitest";
import {MiB, seededBytes } from "./test-support";
import { useStorageEmulator } from "./test-fixture";

const fx = useStorageEmulator();

const BUCKET = "demo-netboot-compose";
const bucket = () => fx.storage.bucket(BUCKET);
const crc32cOf = (...bufs: Buffer[]) => {
  const c = new CRC32C();
  for (const b of bufs) c.update(b);
  return c.toString();
};
async function put(name: string, data: Buffer) {
  const f = bucket().file(name);
  await f.save(data, { resumable: false, contentType: "application/octet-stream" });
  return f;
}
interface ObjectResource {
  size: string;
  crc32c: string;
  md5Hash?: string;
  componentCount?: number;
  generation: string;
}
/** bucket.combine(), with the object resource it answered (the File it returns carries no metadata). */
async function combine(sources: File[], dest: string, opts: { ifGenerationMatch?: number } = {}): Promise<[File, ObjectResource]> {
  const [file, resource] = await bucket().combine(sources, dest, opts);
  return [file, resource as ObjectResource];
}
const status = (e: unknown) => (e as { code?: number }).code;
/** Bytes the emulator stores on disk: every regular file under its directory, each inode once (hard links share theirs). */
function storedBytes(): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const st = statSync(path);
        if (seen.has(`${st.dev}:${st.ino}`)) continue;
        seen.add(`${st.dev}:${st.ino}`);
        total += st.size;
      }
    }
  };
  walk(fx.emu.storageDir);
  return total;
}
const rangeOf = async (name: string, range: string) => {
  const res = await fetch(`${fx.emu.storageHost}/storage/v1/b/${BUCKET}/o/${encodeURIComponent(name)}?alt=media`, { headers: { Range: range } });
  return { status: res.status, contentRange: res.headers.get("content-range"), body: Buffer.from(await res.arrayBuffer()) };
};
const composeUrl = (dest: string, prefix = "/storage/v1") => `${fx.emu.storageHost}${prefix}/b/${BUCKET}/o/${encodeURIComponent(dest)}/compose`;
const postJson = (url: string, body: unknown) => fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

describe("objects.compose", () => {
  it("concatenates the sources; crc32c combined, no md5Hash, componentCount summed over composite sources", async () => {
    const parts = [Buffer.from("a"), Buffer.alloc(0), seededBytes("c1", 0, 100_003), Buffer.from("odd-sized tail\n")];
    const files = await Promise.all(parts.map((p, i) => put(`parts/p${i}`, p)));
    const [dest, md] = await combine(files, "out/whole.bin", { ifGenerationMatch: 0 });
    expect(Number(md.size)).toBe(parts.reduce((n, p) => n + p.length, 0));
    expect(md.componentCount).toBe(4);
    expect(md.md5Hash).toBeUndefined();
    expect(md.crc32c).toBe(crc32cOf(...parts));
    const [bytes] = await dest.download({ validation: "crc32c" });
    expect(bytes.equals(Buffer.concat(parts))).toBe(true);

    // The stored resource says the same (GET through firebase-tools' own handler).
    const again = (await bucket().file("out/whole.bin").getMetadata())[0] as unknown as ObjectResource;
    expect(again.componentCount).toBe(4);
    expect(again.md5Hash).toBeUndefined();
    expect(again.crc32c).toBe(md.crc32c);

    // A composite source counts its own components.
    const [nested, nestedMd] = await combine([dest, files[2] as (typeof files)[number]], "out/nested.bin", { ifGenerationMatch: 0 });
    expect(nestedMd.componentCount).toBe(5);
    const [nb] = await nested.download({ validation: "crc32c" });
    expect(nb.equals(Buffer.concat([...parts, parts[2] as Buffer]))).toBe(true);
  });

  it("refuses ifGenerationMatch=0 on an existing destination (412) and leaves it intact", async () => {
    const a = await put("pre/a", Buffer.from("new bytes"));
    const old = await put("pre/dest", Buffer.from("old object"));
    const err = await combine([a], "pre/dest", { ifGenerationMatch: 0 }).catch((e: unknown) => e);
    expect(status(err)).toBe(412);
    const [bytes] = await bucket().file("pre/dest").download();
    expect(bytes.toString()).toBe("old object");
    const [md] = await bucket().file("pre/dest").getMetadata();
    expect(md.generation).toBe(old.metadata.generation);
  });

  it("answers 404 for a missing source and for a generation that is no longer live, 412 for a failed source precondition", async () => {
    const a = await put("src/a", Buffer.from("a"));
    expect(status(await combine([a, bucket().file("src/missing")], "src/out1", { ifGenerationMatch: 0 }).catch((e: unknown) => e))).toBe(404);

    const oldGen = Number(a.metadata.generation);
    await put("src/a", Buffer.from("a, rewritten"));
    const stale = bucket().file("src/a", { generation: oldGen });
    expect(status(await combine([stale], "src/out2", { ifGenerationMatch: 0 }).catch((e: unknown) => e))).toBe(404);

    const r = await postJson(composeUrl("src/out3"), { sourceObjects: [{ name: "src/a", objectPreconditions: { ifGenerationMatch: String(oldGen) } }] });
    expect(r.status).toBe(412);
    expect(((await r.json()) as { error: { errors: { reason: string }[] } }).error.errors[0]?.reason).toBe("conditionNotMet");
    const [exists] = await bucket().file("src/out3").exists();
    expect(exists).toBe(false);
  });

  it("takes 1 to 32 sources (33: 400)", async () => {
    const one = await put("n/one", Buffer.from("x"));
    const err = await combine(Array.from({ length: 33 }, () => one), "n/out", { ifGenerationMatch: 0 }).catch((e: unknown) => e);
    expect(status(err)).toBe(400);
    const [, ok] = await combine(Array.from({ length: 32 }, () => one), "n/out", { ifGenerationMatch: 0 });
    expect(ok.size).toBe("32");
    expect(ok.componentCount).toBe(32);
  });

  it("answers raw requests in the JSON API's shapes, with and without /storage/v1", async () => {
    await put("raw/x", Buffer.from("hello, "));
    await put("raw/y", Buffer.from("world"));
    const r = await postJson(`${composeUrl("raw/xy", "")}?ifGenerationMatch=0`, {
      kind: "storage#composeRequest",
      sourceObjects: [{ name: "raw/x" }, { name: "raw/y" }],
      destination: { contentType: "text/plain", metadata: { origin: "compose-test" } },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^application\/json/);
    const o = (await r.json()) as Record<string, unknown>;
    expect(o).toMatchObject({
      kind: "storage#object",
      bucket: BUCKET,
      name: "raw/xy",
      size: "12",
      componentCount: 2,
      contentType: "text/plain",
      metadata: { origin: "compose-test" },
      crc32c: crc32cOf(Buffer.from("hello, world")),
      metageneration: "1",
    });
    expect(o.generation).toMatch(/^\d+$/);
    expect(o).not.toHaveProperty("md5Hash");
    const media = await fetch(`${fx.emu.storageHost}/storage/v1/b/${BUCKET}/o/${encodeURIComponent("raw/xy")}?alt=media`);
    expect(await media.text()).toBe("hello, world");
    expect(media.headers.get("x-goog-hash")).toBe(`crc32c=${crc32cOf(Buffer.from("hello, world"))}`);

    const none = await postJson(composeUrl("raw/none"), { sourceObjects: [] });
    expect(none.status).toBe(400);
    const e = (await none.json()) as { error: { code: number; message: string; errors: { domain: string; reason: string; message: string }[] } };
    expect(e.error.code).toBe(400);
    expect(e.error.errors[0]).toMatchObject({ domain: "global", reason: "required" });
    expect((await postJson(composeUrl("raw/bad"), { sourceObjects: [{ name: "raw/x" }], destination: { bucket: "other" } })).status).toBe(400);
    const missing = await postJson(composeUrl("raw/m"), { sourceObjects: [{ name: "raw/nope" }] });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { errors: { reason: string }[] } }).error.errors[0]?.reason).toBe("notFound");
  });

  it("copies no byte, as Cloud Storage keeps a composite: its bytes are its sources', outlive them, read across them in any range, and go with it", async () => {
    const parts = [seededBytes("link-a", 0, 2 * MiB), seededBytes("link-b", 0, MiB + 5), Buffer.alloc(0), seededBytes("link-c", 0, 3 * MiB)];
    const whole = Buffer.concat(parts);
    const start = storedBytes();
    const files = await Promise.all(parts.map((p, i) => put(`linked/p${i}`, p)));
    const sources = storedBytes();
    expect(sources - start).toBe(whole.length);
    const [dest] = await combine(files, "linked/whole", { ifGenerationMatch: 0 });
    expect(storedBytes()).toBe(sources); // linked, not copied
    await Promise.all(files.map((f) => f.delete()));
    expect(storedBytes()).toBe(sources); // the composite holds the sources' bytes now
    const [all] = await dest.download({ validation: "crc32c" });
    expect(all.equals(whole)).toBe(true);
    // Ranges inside a component, across the first boundary, across the empty source, open-ended, a suffix.
    const edge = 2 * MiB;
    for (const [range, from, to] of [
      [`bytes=10-99`, 10, 99],
      [`bytes=${edge - 7}-${edge + 7}`, edge - 7, edge + 7],
      [`bytes=${edge + MiB}-${edge + MiB + 20}`, edge + MiB, edge + MiB + 20],
      [`bytes=${whole.length - 100}-`, whole.length - 100, whole.length - 1],
      [`bytes=-3`, whole.length - 3, whole.length - 1],
    ] as const) {
      const got = await rangeOf("linked/whole", range);
      expect(got.status).toBe(206);
      expect(got.contentRange).toBe(`bytes ${from}-${to}/${whole.length}`);
      expect(got.body.equals(whole.subarray(from, to + 1))).toBe(true);
    }
    // A composite of a composite links the first one's components: still no copy.
    const [twice] = await combine([dest, dest], "linked/twice", { ifGenerationMatch: 0 });
    expect(storedBytes()).toBe(sources);
    const [tb] = await twice.download({ validation: "crc32c" });
    expect(tb.equals(Buffer.concat([whole, whole]))).toBe(true);
    // firebase-tools' own readers (here its copy, through rewriteTo) read the components too.
    const [copy] = await dest.copy(bucket().file("linked/copy"));
    const [cb] = await copy.download({ validation: "crc32c" });
    expect(cb.equals(whole)).toBe(true);
    await Promise.all([dest.delete(), twice.delete(), copy.delete()]);
    expect(storedBytes()).toBe(start); // deleting the composites unlinked their components
  });

  it("appends to a source in place, and a download under way keeps reading the replaced generation whole", async () => {
    const old = seededBytes("reader-old", 0, 24 * MiB);
    const tail = Buffer.from("appended");
    const log = await put("app/log", old);
    await put("app/tail", tail);
    const url = `${fx.emu.storageHost}/storage/v1/b/${BUCKET}/o/${encodeURIComponent("app/log")}?alt=media`;
    const reading = await fetch(url);
    const reader = (reading.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read(); // the download has begun; most of it is still on disk

    const [, md] = await combine([log, bucket().file("app/tail")], "app/log", { ifGenerationMatch: Number(log.metadata.generation) });
    expect(Number(md.size)).toBe(old.length + tail.length);
    const pieces = [Buffer.from(first.value ?? [])];
    for (let r = await reader.read(); !r.done; r = await reader.read()) pieces.push(Buffer.from(r.value));
    expect(Buffer.concat(pieces).equals(old)).toBe(true);
    const [now] = await bucket().file("app/log").download({ validation: "crc32c" });
    expect(now.equals(Buffer.concat([old, tail]))).toBe(true);
  });

  it("composes 151 MiB of 19 parts", { timeout: 180_000 }, async () => {
    const sizes = [...Array.from({ length: 18 }, () => 8 * MiB), 7 * MiB];
    const sha = createHash("sha256");
    const crc = new CRC32C();
    const files = [];
    let off = 0;
    for (const [i, size] of sizes.entries()) {
      const data = seededBytes("big", off, size);
      off += size;
      sha.update(data);
      crc.update(data);
      files.push(await put(`big/part-${String(i).padStart(2, "0")}`, data));
    }
    const t0 = performance.now();
    const [dest, md] = await combine(files, "big/whole", { ifGenerationMatch: 0 });
    const viaClient = performance.now() - t0;
    // The same compose as one plain request: the emulator's part without the client's own overhead.
    const t1 = performance.now();
    const raw = await postJson(`${composeUrl("big/whole-2")}?ifGenerationMatch=0`, { sourceObjects: files.map((f) => ({ name: f.name })) });
    const viaFetch = performance.now() - t1;
    expect(raw.status).toBe(200);
    // eslint-disable-next-line no-console -- the one figure this test reads out (no time is asserted)
    console.log(`compose of ${off / MiB} MiB from ${files.length} parts: ${viaFetch.toFixed(1)} ms as a plain request, ${viaClient.toFixed(1)} ms through bucket.combine()`);
    expect(Number(md.size)).toBe(off);
    expect(md.componentCount).toBe(19);
    expect(md.crc32c).toBe(crc.toString());
    expect(((await raw.json()) as { crc32c: string }).crc32c).toBe(crc.toString());
    const got = createHash("sha256");
    for await (const piece of dest.createReadStream({ validation: "crc32c" })) got.update(piece as Buffer);
    expect(got.digest("hex")).toBe(sha.digest("hex"));
  });
});
