// dataDir persistence of the Storage emulator, in firebase-tools' own export layout
// (buckets.json, blobs/<disk name>, metadata/<disk name>.json), which `firebase emulators:start
// --import` reads too. Not its StorageLayer.export/import: import copies every blob synchronously
// and both report analytics; here blobs are hard-linked (copied across filesystems; a composite's
// components concatenated into one file) and the export replaces the previous one whole, so
// objects deleted meanwhile do not come back.
import { randomUUID } from "node:crypto";
import { closeSync, existsSync, openSync } from "node:fs";
import { copyFile, link, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Composites, type Component } from "./composites";
import { firebaseStorageInternals, type StorageEmulatorInternals } from "./internals";
import { kernelConcat } from "./kernel-copy";
import { storedMetadataFromJSON } from "./object-store";

async function linkOrCopy(src: string, dst: string): Promise<void> {
  try {
    await link(src, dst);
  } catch {
    await copyFile(src, dst); // another filesystem, or no hard links there
  }
}

async function concatenate(components: readonly Component[], dst: string): Promise<void> {
  const out = openSync(dst, "w");
  const fds: number[] = [];
  try {
    for (const c of components) fds.push(openSync(c.path, "r"));
    await kernelConcat(out, fds);
  } finally {
    for (const fd of [...fds, out]) closeSync(fd);
  }
}

/** Loads the objects saved in `dir` (dataDir/storage); nothing if it holds no export. */
export async function importState(emu: StorageEmulatorInternals, dir: string): Promise<void> {
  if (!existsSync(join(dir, "buckets.json"))) return;
  const { StoredFile } = firebaseStorageInternals();
  const layer = emu.adminStorageLayer;
  const { buckets } = JSON.parse(await readFile(join(dir, "buckets.json"), "utf8")) as { buckets: { id: string }[] };
  for (const b of buckets) layer.createBucket(b.id);
  const metadataDir = join(dir, "metadata");
  const entries = existsSync(metadataDir) ? await readdir(metadataDir) : [];
  for (const entry of entries) {
    if (!entry.endsWith(".json")) continue;
    const md = storedMetadataFromJSON(emu, await readFile(join(metadataDir, entry), "utf8"));
    const blob = join(dir, "blobs", decodeURIComponent(entry.slice(0, -".json".length)));
    if (!existsSync(blob)) continue; // metadata without bytes: not an object
    const diskName = randomUUID();
    await linkOrCopy(blob, join(emu._persistence.dirPath, diskName));
    const key = layer.path(md.bucket, md.name);
    layer.createBucket(md.bucket);
    emu._persistence._diskPathMap.set(key, diskName);
    emu._files.set(key, new StoredFile(md));
  }
}

/** Writes all objects to `dir`, replacing what was there. */
export async function exportState(emu: StorageEmulatorInternals, dir: string): Promise<void> {
  const { StoredFileMetadata } = firebaseStorageInternals();
  const next = `${dir}.next`;
  const old = `${dir}.old`;
  await rm(next, { recursive: true, force: true });
  await mkdir(join(next, "blobs"), { recursive: true });
  await mkdir(join(next, "metadata"));
  await writeFile(join(next, "buckets.json"), JSON.stringify({ buckets: [...emu._buckets.keys()].map((id) => ({ id })) }, undefined, 2));
  for (const [key, file] of emu._files) {
    const diskName = emu._persistence.getDiskFileName(key);
    if (!diskName) continue;
    const components = Composites.of(emu).componentsOf(diskName);
    if (components) await concatenate(components, join(next, "blobs", diskName)); // saved as one file: an import knows no components
    else await linkOrCopy(emu._persistence.getDiskPath(key), join(next, "blobs", diskName));
    await writeFile(join(next, "metadata", `${encodeURIComponent(diskName)}.json`), StoredFileMetadata.toJSON(file.metadata));
  }
  await rm(old, { recursive: true, force: true });
  if (existsSync(dir)) await rename(dir, old);
  await rename(next, dir);
  await rm(old, { recursive: true, force: true });
}
