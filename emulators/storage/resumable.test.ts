// The resumable-upload protocol of the GCS JSON API, as the embedded emulator answers it:
// the server side through @google-cloud/storage, the client side with plain fetch.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {KiB, MiB, report, seededBody, seededBytes } from "./test-support";
import { useStorageEmulator } from "./test-fixture";

const fx = useStorageEmulator();

const bucket = () => fx.storage.bucket("demo-netboot-resumable");
let n = 0;
async function session(name = `blobs/s${++n}`) {
  const [uri] = await bucket().file(name).createResumableUpload({ metadata: { contentType: "application/octet-stream" }, preconditionOpts: { ifGenerationMatch: 0 } });
  return { uri, name };
}
const put = (uri: string, contentRange: string | undefined, body?: Uint8Array | ReadableStream<Uint8Array>, signal?: AbortSignal) =>
  fetch(uri, { method: "PUT", headers: contentRange ? { "Content-Range": contentRange } : {}, body, signal, ...(body instanceof ReadableStream ? { duplex: "half" } : {}) } as RequestInit);
const md5 = (b: Buffer) => createHash("md5").update(b).digest("base64");

describe("resumable upload sessions", () => {
  it("answers a status query with no Range header before any byte, and 308 + Range after each chunk", async () => {
    const { uri } = await session();
    const empty = await put(uri, "bytes */*");
    expect(empty.status).toBe(308);
    expect(empty.headers.get("range")).toBeNull();

    const r1 = await put(uri, `bytes 0-${MiB - 1}/*`, seededBytes("q", 0, MiB));
    expect(r1.status).toBe(308);
    expect(r1.headers.get("range")).toBe(`bytes=0-${MiB - 1}`);
    const q = await put(uri, `bytes */${3 * MiB}`);
    expect(q.status).toBe(308);
    expect(q.headers.get("range")).toBe(`bytes=0-${MiB - 1}`);
  });

  it("persists only whole 256 KiB units of a chunk that is not a multiple of them", async () => {
    const { uri } = await session();
    const r = await put(uri, `bytes 0-${300 * KiB - 1}/*`, seededBytes("u", 0, 300 * KiB));
    expect(r.status).toBe(308);
    expect(r.headers.get("range")).toBe(`bytes=0-${256 * KiB - 1}`);
  });

  it("resumes after the client loses its connection mid-chunk, from what the status query reports", async () => {
    const total = 12 * MiB;
    const { uri, name } = await session();
    expect((await put(uri, `bytes 0-${4 * MiB - 1}/*`, seededBody("r", 0, 4 * MiB))).status).toBe(308);

    // Second chunk: 3 MiB + 100 KiB of its 8 MiB are sent, then the connection is dropped.
    const abort = new AbortController();
    const sent = 3 * MiB + 100 * KiB;
    const partial = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(seededBytes("r", 4 * MiB, sent));
      },
    });
    const pending = put(uri, `bytes ${4 * MiB}-${total - 1}/${total}`, partial, abort.signal).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 300));
    abort.abort();
    await pending;

    const status = await put(uri, "bytes */*");
    expect(status.status).toBe(308);
    const kept = Number(/^bytes=0-(\d+)$/.exec(status.headers.get("range") ?? "")?.[1]) + 1;
    report(`aborted chunk: ${sent} bytes sent, ${kept - 4 * MiB} kept (session at ${kept})`);
    expect(kept % (256 * KiB)).toBe(0);
    expect(kept).toBeGreaterThanOrEqual(4 * MiB);
    expect(kept).toBeLessThanOrEqual(4 * MiB + sent);

    // The rest, from there, in two requests; a final status query with the total completes it.
    const mid = 8 * MiB;
    expect((await put(uri, `bytes ${kept}-${mid - 1}/*`, seededBody("r", kept, mid - kept))).status).toBe(308);
    expect((await put(uri, `bytes ${mid}-${total - 1}/*`, seededBody("r", mid, total - mid))).status).toBe(308);
    const done = await put(uri, `bytes */${total}`);
    expect(done.status).toBe(200);
    const resource = (await done.json()) as Record<string, string>;
    const all = seededBytes("r", 0, total);
    expect(resource).toMatchObject({ name, size: String(total), md5Hash: md5(all) });
    const [back] = await bucket().file(name).download();
    expect(back.equals(all)).toBe(true);

    // A finished session answers every later PUT with the object.
    const again = await put(uri, "bytes */*");
    expect(again.status).toBe(200);
    expect(((await again.json()) as Record<string, string>).generation).toBe(resource.generation);
  });

  it("takes the whole object in one PUT without Content-Range", async () => {
    const { uri, name } = await session();
    const body = seededBytes("one", 0, 3 * MiB + 5);
    const r = await put(uri, undefined, body);
    expect(r.status).toBe(200);
    const [meta] = await bucket().file(name).getMetadata();
    expect(Number(meta.size)).toBe(body.length);
    expect(meta.md5Hash).toBe(md5(body));
  });

  it("fails at finalization with 412 when the object appeared meanwhile (ifGenerationMatch=0)", async () => {
    const { uri, name } = await session();
    expect((await put(uri, `bytes 0-${MiB - 1}/*`, seededBytes("g", 0, MiB))).status).toBe(308);
    await bucket().file(name).save("someone else", { resumable: false });
    const r = await put(uri, `bytes ${MiB}-${2 * MiB - 1}/${2 * MiB}`, seededBytes("g", MiB, MiB));
    expect(r.status).toBe(412);
    const [content] = await bucket().file(name).download();
    expect(content.toString()).toBe("someone else");
    // Starting a session for an existing object with ifGenerationMatch=0 fails at once.
    await expect(session(name)).rejects.toMatchObject({ response: { status: 412 } });
  });

  it("cancels a session with DELETE (499); the session then accepts nothing and no object exists", async () => {
    const { uri, name } = await session();
    expect((await put(uri, `bytes 0-${MiB - 1}/*`, seededBytes("c", 0, MiB))).status).toBe(308);
    const del = await fetch(uri, { method: "DELETE" });
    expect(del.status).toBe(499);
    const after = await put(uri, `bytes ${MiB}-${2 * MiB - 1}/${2 * MiB}`, seededBytes("c", MiB, MiB));
    expect(after.status).toBe(410);
    const [exists] = await bucket().file(name).exists();
    expect(exists).toBe(false);
  });

  it("refuses malformed or inconsistent Content-Range headers with 400", async () => {
    const { uri } = await session();
    expect((await put(uri, "bytes 0-9", Buffer.alloc(10))).status).toBe(400);
    expect((await put(uri, "bytes 9-0/*", Buffer.alloc(10))).status).toBe(400);
    expect((await put(uri, "bytes 0-9/5", Buffer.alloc(10))).status).toBe(400);
    // A gap: the offset is past what the server has.
    const gap = await put(uri, `bytes ${256 * KiB}-${512 * KiB - 1}/*`, Buffer.alloc(256 * KiB));
    expect(gap.status).toBe(400);
    expect(await gap.text()).toContain("exceeds already uploaded size of 0 byte(s)");
    // The session is still usable after those.
    expect((await put(uri, "bytes */*")).status).toBe(308);
  });

  it("answers 404 for an unknown session", async () => {
    const { uri } = await session();
    const unknown = uri.replace(/upload_id=[^&]+/, "upload_id=nope");
    expect((await put(unknown, "bytes */*")).status).toBe(404);
  });
});

describe("the single-request paths the service uses", () => {
  it("multipart createWriteStream with ifGenerationMatch=0: writes once, then 412", async () => {
    const file = bucket().file("blobs/multipart");
    const body = seededBytes("m", 0, 5 * MiB);
    const write = () =>
      new Promise<void>((resolve, reject) => {
        const s = file.createWriteStream({ resumable: false, contentType: "application/octet-stream", preconditionOpts: { ifGenerationMatch: 0 } });
        s.on("error", reject).on("finish", resolve);
        s.end(body);
      });
    await write();
    const [meta] = await file.getMetadata();
    expect(meta).toMatchObject({ size: String(body.length), md5Hash: md5(body), contentType: "application/octet-stream" });
    await expect(write()).rejects.toMatchObject({ code: 412 });
  });

  it("resumable createWriteStream, single request and in chunks", async () => {
    for (const chunkSize of [undefined, MiB]) {
      const file = bucket().file(`blobs/stream-${chunkSize ?? "whole"}`);
      const body = seededBytes("w", 0, 3 * MiB + 1000);
      await new Promise<void>((resolve, reject) => {
        const s = file.createWriteStream({ resumable: true, chunkSize, preconditionOpts: { ifGenerationMatch: 0 } });
        s.on("error", reject).on("finish", resolve);
        s.end(body);
      });
      const [meta] = await file.getMetadata();
      expect(Number(meta.size)).toBe(body.length);
      expect(meta.md5Hash).toBe(md5(body));
      const chunks: Buffer[] = [];
      for await (const c of file.createReadStream({ start: 10, end: 19 })) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(body.subarray(10, 20))).toBe(true);
    }
  });

  it("lists and deletes objects written here", async () => {
    const [files] = await bucket().getFiles({ prefix: "blobs/stream-" });
    expect(files.map((f) => f.name).sort()).toEqual(["blobs/stream-1048576", "blobs/stream-whole"]);
    await files[0]?.delete();
    const [left] = await bucket().getFiles({ prefix: "blobs/stream-" });
    expect(left).toHaveLength(1);
  });

  it("answers 416 for an unsatisfiable Range", async () => {
    const file = bucket().file("blobs/small");
    await file.save("0123456789", { resumable: false });
    const [url] = await file.getSignedUrl({ version: "v4", action: "read", expires: Date.now() + 60_000 });
    const r = await fetch(url, { headers: { Range: "bytes=100-200" } });
    expect(r.status).toBe(416);
    expect(r.headers.get("content-range")).toBe("bytes */10");
    const tail = await fetch(url, { headers: { Range: "bytes=-3" } });
    expect(tail.status).toBe(206);
    expect(await tail.text()).toBe("789");
  });
});

// GCS fixes a session's object size to the X-Upload-Content-Length sent when it is opened
// (https://cloud.google.com/storage/docs/performing-resumable-uploads): the session URI can then
// write that many bytes and no more, whatever the client's Content-Range says.
describe("a session opened with X-Upload-Content-Length", () => {
  const SIZE = 512 * KiB;
  async function fixed(size = SIZE) {
    const name = `blobs/fixed${++n}`;
    const [uri] = await bucket().file(name).createResumableUpload({ metadata: { contentType: "application/octet-stream", contentLength: size }, preconditionOpts: { ifGenerationMatch: 0 } });
    return { uri, name };
  }
  const exists = async (name: string) => (await bucket().file(name).exists())[0];

  it("completes with exactly the declared bytes, whole or in chunks with total *", async () => {
    const whole = await fixed();
    expect((await put(whole.uri, undefined, seededBytes("f", 0, SIZE))).status).toBe(200);
    const chunked = await fixed();
    expect((await put(chunked.uri, `bytes 0-${256 * KiB - 1}/*`, seededBytes("f", 0, 256 * KiB))).status).toBe(308);
    // The last chunk need not name the total: the declared length says where the object ends.
    const last = await put(chunked.uri, `bytes ${256 * KiB}-${SIZE - 1}/*`, seededBytes("f", 256 * KiB, 256 * KiB));
    expect(last.status).toBe(200);
    expect(((await last.json()) as { size: string }).size).toBe(String(SIZE));
  });

  it("refuses a body past the declared length and keeps nothing past it", async () => {
    for (const contentRange of [undefined, "bytes 0-*/*"]) {
      const { uri, name } = await fixed();
      const over = await put(uri, contentRange, seededBytes("f", 0, SIZE + 256 * KiB));
      expect(over.status).toBe(400);
      expect(((await over.json()) as { error: { message: string } }).error.message).toContain(`X-Upload-Content-Length of ${SIZE}`);
      expect(await exists(name)).toBe(false);
      // The bytes within the declared length may stay (whole 256 KiB units, as after any chunk);
      // what the session can ever make is an object of exactly that length.
      const status = await put(uri, "bytes */*");
      expect(status.status).toBe(200);
      expect(((await status.json()) as { size: string }).size).toBe(String(SIZE));
    }
  });

  it("refuses a chunk that ends past the declared length, or a total that differs from it", async () => {
    const { uri, name } = await fixed();
    expect((await put(uri, `bytes 0-${SIZE}/*`, seededBytes("f", 0, SIZE + 16))).status).toBe(400);
    expect((await put(uri, `bytes 0-${2 * SIZE - 1}/${2 * SIZE}`, seededBytes("f", 0, 2 * SIZE))).status).toBe(400);
    expect((await put(uri, `bytes */${SIZE + 1}`)).status).toBe(400);
    const status = await put(uri, "bytes */*");
    expect(status.status).toBe(308);
    expect(status.headers.get("range")).toBeNull();
    expect(await exists(name)).toBe(false);
  });
});
