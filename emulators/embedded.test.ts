import { createHash } from "node:crypto";
import { Firestore } from "@google-cloud/firestore";
import { Storage } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigningCredentials, startEmbeddedEmulators, type EmbeddedEmulators } from "./embedded";

const ENV_KEYS = ["FIRESTORE_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "METADATA_SERVER_DETECTION"] as const;
const savedEnv: Partial<Record<(typeof ENV_KEYS)[number], string>> = {};

let emu: EmbeddedEmulators;
let firestore: Firestore;
let storage: Storage;

beforeAll(async () => {
  for (const k of ENV_KEYS) savedEnv[k] = process.env[k];
  emu = await startEmbeddedEmulators({ firestorePort: 0, storagePort: 0 });
  process.env.FIRESTORE_EMULATOR_HOST = emu.firestoreHost;
  // Read by @google-cloud/storage at construction: its base URL becomes the emulator root,
  // whose /b/... routes the emulator serves (apiEndpoint alone gives /storage/v1/b/..., only partly served).
  process.env.STORAGE_EMULATOR_HOST = emu.storageHost;
  // Else @google-cloud/firestore probes the GCE metadata server (offline: a MetadataLookupWarning).
  process.env.METADATA_SERVER_DETECTION = "none";
  firestore = new Firestore({ projectId: "demo-netboot" });
  storage = new Storage({ projectId: "demo-netboot", apiEndpoint: emu.storageHost, credentials: createSigningCredentials() });
}, 30_000);

afterAll(async () => {
  await firestore?.terminate();
  await emu?.stop();
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) Reflect.deleteProperty(process.env, k);
    else process.env[k] = savedEnv[k];
  }
});

describe("embedded Firestore", () => {
  it("sets and gets a document", async () => {
    const ref = firestore.collection("machines").doc("m1");
    await ref.set({ mac: "52:54:00:12:34:56", n: 1 });
    const snap = await ref.get();
    expect(snap.exists).toBe(true);
    expect(snap.data()).toEqual({ mac: "52:54:00:12:34:56", n: 1 });
  });

  it("create() on an existing document fails with ALREADY_EXISTS (6)", async () => {
    const ref = firestore.collection("machines").doc("m2");
    await ref.create({ n: 1 });
    await expect(ref.create({ n: 2 })).rejects.toMatchObject({ code: 6 });
  });
});

describe("embedded Storage", () => {
  const bucketName = "demo-netboot-test";
  const content = Buffer.from("hello, netboot world");

  it("creates a bucket (implicitly, on first use)", async () => {
    // The emulator has no bucket-insert endpoint; any /b/{bucket}/... request creates it.
    const [files] = await storage.bucket(bucketName).getFiles();
    expect(files).toEqual([]);
    const [buckets] = await storage.getBuckets();
    expect(buckets.map((b) => b.name)).toContain(bucketName);
  });

  it("saves, range-reads, describes and deletes an object", async () => {
    const file = storage.bucket(bucketName).file("images/a.bin");
    await file.save(content, { resumable: false, contentType: "application/octet-stream" });

    const chunks: Buffer[] = [];
    for await (const c of file.createReadStream({ start: 0, end: 4 })) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe("hello");

    const [meta] = await file.getMetadata();
    expect(Number(meta.size)).toBe(content.length);
    expect(meta.md5Hash).toBe(createHash("md5").update(content).digest("base64"));

    await file.delete();
    const [exists] = await file.exists();
    expect(exists).toBe(false);
    await expect(file.delete()).rejects.toMatchObject({ code: 404 });
  });

  it("serves a locally signed V4 URL to plain fetch, with Range support", async () => {
    const file = storage.bucket(bucketName).file("images/signed.bin");
    await file.save(content, { resumable: false });
    const [url] = await file.getSignedUrl({ version: "v4", action: "read", expires: Date.now() + 60_000 });
    expect(url.startsWith(emu.storageHost)).toBe(true);

    const full = await fetch(url);
    expect(full.status).toBe(200);
    expect(Buffer.from(await full.arrayBuffer())).toEqual(content);

    const part = await fetch(url, { headers: { Range: "bytes=0-4" } });
    expect(part.status).toBe(206);
    expect(await part.text()).toBe("hello");
  });
});
