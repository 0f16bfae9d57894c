// Import at start / export at stop of all documents, like `firebase emulators:start --import
// DIR --export-on-exit`, in a format of our own: one JSON file of documents whose values keep
// the gRPC Value shape (so integer vs double, timestamps, bytes, references... survive).
// JSON lacks bytes and non-finite numbers: bytes are base64, NaN/±Infinity/-0 are strings.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { StoredDoc } from "./apply-write";
import type { DocumentStore } from "./store";
import type { FsFields, FsValue } from "./values";

const FORMAT = "netboot-embedded-firestore/1";
const FILE = "documents.json";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

interface ExportFile {
  format: string;
  documents: { name: string; createTime: StoredDoc["createTime"]; updateTime: StoredDoc["updateTime"]; fields: Record<string, Json> }[];
}

export async function importDocuments(dir: string, store: DocumentStore): Promise<number> {
  let text: string;
  try {
    text = await readFile(join(dir, FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0; // nothing exported yet
    throw err;
  }
  const data = JSON.parse(text) as ExportFile;
  if (data.format !== FORMAT) throw new Error(`${join(dir, FILE)}: unknown format ${String(data.format)}`);
  for (const d of data.documents) {
    store.load(d.name, { createTime: d.createTime, updateTime: d.updateTime, fields: decodeFields(d.fields) });
  }
  return data.documents.length;
}

/** Written to a temporary file and renamed, so an interrupted export never leaves half a file. */
export async function exportDocuments(dir: string, store: DocumentStore): Promise<void> {
  const documents = [...store.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, d]) => ({ name, createTime: d.createTime, updateTime: d.updateTime, fields: encodeFields(d.fields) }));
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${FILE}.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify({ format: FORMAT, documents } satisfies ExportFile, null, 1));
  await rename(tmp, join(dir, FILE));
}

function encodeFields(fields: FsFields): Record<string, Json> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, encodeValue(v)]));
}

function encodeValue(v: FsValue): Json {
  if ("bytes_value" in v) return { bytes_value: Buffer.from(v.bytes_value).toString("base64") };
  if ("double_value" in v) {
    const d = v.double_value;
    return { double_value: Number.isFinite(d) && !Object.is(d, -0) ? d : String(Object.is(d, -0) ? "-0" : d) };
  }
  if ("array_value" in v) return { array_value: { values: v.array_value.values.map(encodeValue) } };
  if ("map_value" in v) return { map_value: { fields: encodeFields(v.map_value.fields) } };
  return v as Json;
}

function decodeFields(fields: Record<string, Json>): FsFields {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, decodeValue(v)]));
}

function decodeValue(j: Json): FsValue {
  const v = j as Record<string, Json>;
  if ("bytes_value" in v) return { bytes_value: Uint8Array.from(Buffer.from(v.bytes_value as string, "base64")) };
  if ("double_value" in v) return { double_value: Number(v.double_value) };
  if ("array_value" in v) return { array_value: { values: ((v.array_value as { values: Json[] }).values ?? []).map(decodeValue) } };
  if ("map_value" in v) return { map_value: { fields: decodeFields((v.map_value as { fields: Record<string, Json> }).fields ?? {}) } };
  return v as unknown as FsValue;
}
