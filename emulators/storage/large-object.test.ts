// A boot-image-sized object through a resumable session in 8 MiB chunks, and back, with the
// memory of this process (which runs the emulator) watched all along.
import { createHash } from "node:crypto";
import { CRC32C, type Storage } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forceGc, MiB, report, rssSampler, seededBody, seededBytes, startStorage, type StorageFixture } from "./test-support";

const TOTAL = 300 * MiB;
const CHUNK = 8 * MiB;
const RSS_BUDGET = 64 * MiB;

let fx: StorageFixture;
let storage: Storage;
beforeAll(async () => {
  fx = await startStorage();
  storage = fx.storage;
});
afterAll(async () => {
  await fx?.emu.stop();
  fx?.restoreEnv();
});

describe("a 300 MiB object", () => {
  const file = () => storage.bucket("demo-netboot-large").file("blobs/initrd-300");
  const sha = createHash("sha256");
  const md5 = createHash("md5");
  const crc = new CRC32C();

  it("uploads in 8 MiB chunks through a resumable session, with flat memory", async () => {
    const [uri] = await file().createResumableUpload({ metadata: { contentType: "application/octet-stream" }, preconditionOpts: { ifGenerationMatch: 0 } });
    // Warm-up: the first fetch loads undici and its parser; neither is the emulator's memory.
    await (await fetch(uri, { method: "PUT", headers: { "Content-Range": "bytes */*" } })).arrayBuffer();
    forceGc();
    const before = process.memoryUsage.rss();
    const rss = rssSampler();
    let last: Response | undefined;
    for (let off = 0; off < TOTAL; off += CHUNK) {
      const len = Math.min(CHUNK, TOTAL - off);
      const body = seededBody("large", off, len, (piece) => {
        sha.update(piece);
        md5.update(piece);
        crc.update(piece);
      });
      const end = off + len - 1;
      const final = end + 1 === TOTAL;
      const init = { method: "PUT", headers: { "Content-Range": `bytes ${off}-${end}/${final ? TOTAL : "*"}` }, body, duplex: "half" };
      last = await fetch(uri, init as RequestInit);
      if (!final) {
        expect(last.status).toBe(308);
        expect(last.headers.get("range")).toBe(`bytes=0-${end}`);
        await last.arrayBuffer();
      }
      if ((off / CHUNK) % 4 === 3) forceGc();
    }
    const peak = rss.stop();
    report(`300 MiB chunked upload: RSS +${((peak - before) / MiB).toFixed(1)} MiB`);
    expect(last?.status).toBe(200);
    const resource = (await last?.json()) as Record<string, string>;
    expect(resource).toMatchObject({ name: "blobs/initrd-300", size: String(TOTAL), md5Hash: md5.copy().digest("base64"), crc32c: crc.toString() });
    expect(Number(resource.generation)).toBeGreaterThan(0);
    expect(Number.isNaN(Date.parse(resource.timeCreated as string))).toBe(false);
    expect(peak - before, `RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB`).toBeLessThan(RSS_BUDGET);

    const [meta] = await file().getMetadata();
    expect(Number(meta.size)).toBe(TOTAL);
    expect(meta.md5Hash).toBe(md5.copy().digest("base64"));
    expect(meta.crc32c).toBe(crc.toString());
    expect(meta.generation).toBe(resource.generation);
  }, 60_000);

  it("reads back whole with equal SHA-256, with flat memory", async () => {
    forceGc();
    const before = process.memoryUsage.rss();
    const rss = rssSampler();
    const got = createHash("sha256");
    let n = 0;
    for await (const c of file().createReadStream({ validation: false })) {
      got.update(c as Buffer);
      n += (c as Buffer).length;
      if (n % (32 * MiB) < (c as Buffer).length) forceGc();
    }
    const peak = rss.stop();
    report(`300 MiB download: RSS +${((peak - before) / MiB).toFixed(1)} MiB`);
    expect(n).toBe(TOTAL);
    expect(got.digest("hex")).toBe(sha.digest("hex"));
    expect(peak - before, `RSS grew by ${((peak - before) / MiB).toFixed(1)} MiB`).toBeLessThan(RSS_BUDGET);
  }, 60_000);

  it("serves a Range of it through a signed URL with the right Content-Length", async () => {
    const [url] = await file().getSignedUrl({ version: "v4", action: "read", expires: Date.now() + 60_000 });
    const start = 200 * MiB + 16;
    const res = await fetch(url, { headers: { Range: `bytes=${start}-${start + MiB - 1}` } });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-length")).toBe(String(MiB));
    expect(res.headers.get("content-range")).toBe(`bytes ${start}-${start + MiB - 1}/${TOTAL}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(seededBytes("large", start, MiB))).toBe(true);

    const head = await fetch(url);
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(TOTAL));
    await head.body?.cancel();
  });
});
