import { firebaseStorageInternals, type StorageEmulatorInternals, type StoredFileMetadata, type StoredFileMetadataOpts } from "./internals";
import type { StagedFile } from "./staging";

/** Request preconditions of the JSON API (query parameters). */
export interface Preconditions {
  ifGenerationMatch?: number;
  ifGenerationNotMatch?: number;
  ifMetagenerationMatch?: number;
  ifMetagenerationNotMatch?: number;
}
const PRECONDITION_KEYS = ["ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch"] as const;

export function parsePreconditions(q: URLSearchParams): Preconditions | { error: string } {
  const p: Preconditions = {};
  for (const k of PRECONDITION_KEYS) {
    const v = q.get(k);
    if (v === null) continue;
    if (!/^\d+$/.test(v)) return { error: `Invalid value for ${k}: ${v}` };
    p[k] = Number(v);
  }
  return p;
}

/** GCS semantics: generation 0 means "no live object"; the NotMatch and metageneration forms need a live object. */
export function preconditionsHold(p: Preconditions, current: StoredFileMetadata | undefined): boolean {
  if (p.ifGenerationMatch !== undefined && (current?.generation ?? 0) !== p.ifGenerationMatch) return false;
  if (p.ifGenerationNotMatch !== undefined && (!current || current.generation === p.ifGenerationNotMatch)) return false;
  if (p.ifMetagenerationMatch !== undefined && current?.metageneration !== p.ifMetagenerationMatch) return false;
  if (p.ifMetagenerationNotMatch !== undefined && (!current || current.metageneration === p.ifMetagenerationNotMatch)) return false;
  return true;
}

/** Object resource fields a client may set at upload (the JSON body of the start/multipart request). */
export interface IncomingResource {
  contentType?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  cacheControl?: string;
  metadata?: Record<string, unknown>;
}

export function pickResource(body: unknown): IncomingResource {
  const b = (body && typeof body === "object" ? body : {}) as Record<string, unknown>;
  const str = (k: string) => (typeof b[k] === "string" ? (b[k] as string) : undefined);
  const meta = b.metadata && typeof b.metadata === "object" ? (b.metadata as Record<string, unknown>) : undefined;
  return {
    contentType: str("contentType"),
    contentDisposition: str("contentDisposition"),
    contentEncoding: str("contentEncoding"),
    contentLanguage: str("contentLanguage"),
    cacheControl: str("cacheControl"),
    metadata: meta,
  };
}

let lastGeneration = 0;
/** GCS generations are microsecond timestamps; strictly increasing here so that two writes never share one. */
function nextGeneration(): number {
  lastGeneration = Math.max(Date.now() * 1000, lastGeneration + 1);
  return lastGeneration;
}

/** What an object's metadata says of its bytes; a composite object has a component count and no MD5. */
export interface ComputedContent {
  size: number;
  crc32c: number;
  md5Hash?: string;
  componentCount?: number;
}

// firebase-tools' StoredFileMetadata insists on an MD5 (its constructor and clone() throw
// without one): composite objects are built with this stand-in, then lose it.
const NO_MD5 = "composite-object-has-no-md5";

function markComposite(md: StoredFileMetadata, componentCount: number): StoredFileMetadata {
  Reflect.deleteProperty(md, "md5Hash");
  md.componentCount = componentCount; // an own field: exported with the metadata, answered by CloudStorageObjectMetadata
  const protoClone = (Object.getPrototypeOf(md) as { clone(this: StoredFileMetadata): StoredFileMetadata }).clone;
  Object.defineProperty(md, "clone", {
    enumerable: false,
    configurable: true,
    value(this: StoredFileMetadata): StoredFileMetadata {
      this.md5Hash = NO_MD5;
      try {
        const c = protoClone.call(this);
        return markComposite(c, this.componentCount ?? componentCount);
      } finally {
        Reflect.deleteProperty(this, "md5Hash");
      }
    },
  });
  return md;
}

function newStoredMetadata(emu: StorageEmulatorInternals, opts: Omit<StoredFileMetadataOpts, "md5Hash">, content: ComputedContent): StoredFileMetadata {
  const { StoredFileMetadata } = firebaseStorageInternals();
  if (content.md5Hash) return new StoredFileMetadata({ ...opts, md5Hash: content.md5Hash }, emu._cloudFunctions);
  const md = new StoredFileMetadata({ ...opts, md5Hash: NO_MD5 }, emu._cloudFunctions);
  return markComposite(md, content.componentCount ?? 1);
}

/** StoredFileMetadata.fromJSON, which also takes the saved metadata of a composite object (no md5Hash). */
export function storedMetadataFromJSON(emu: StorageEmulatorInternals, json: string): StoredFileMetadata {
  const { StoredFileMetadata } = firebaseStorageInternals();
  const opts = JSON.parse(json) as StoredFileMetadataOpts & { componentCount?: number };
  if (opts.md5Hash || typeof opts.componentCount !== "number") return StoredFileMetadata.fromJSON(json, emu._cloudFunctions);
  return markComposite(new StoredFileMetadata({ ...opts, md5Hash: NO_MD5 }, emu._cloudFunctions), opts.componentCount);
}

export type CommitResult = { ok: true; metadata: StoredFileMetadata; resource: Record<string, unknown> } | { ok: false; status: 412 };

/**
 * Makes a fully staged file the live object: checks the preconditions against the object as it is
 * now (synchronously, so no other write can slip in between), then registers the file under the
 * object's key in the emulator's own maps. Metadata comes from the running hashes (or, for a
 * composed object, from `given`: combined from the sources'), never from re-reading the bytes.
 */
export async function commitObject(
  emu: StorageEmulatorInternals,
  target: { bucket: string; name: string; resource: IncomingResource; preconditions: Preconditions },
  staged: StagedFile,
  given?: ComputedContent,
): Promise<CommitResult> {
  await staged.close();
  const { StoredFile, CloudStorageObjectMetadata } = firebaseStorageInternals();
  const layer = emu.adminStorageLayer;
  if (!preconditionsHold(target.preconditions, layer.getMetadata(target.bucket, target.name))) {
    await staged.discard();
    return { ok: false, status: 412 };
  }
  const hash = given ?? staged.hasher.result();
  const r = target.resource;
  const metadata = newStoredMetadata(
    emu,
    {
      name: target.name,
      bucket: target.bucket,
      generation: nextGeneration(),
      contentType: r.contentType,
      contentDisposition: r.contentDisposition,
      contentEncoding: r.contentEncoding,
      contentLanguage: r.contentLanguage,
      cacheControl: r.cacheControl,
      customMetadata: r.metadata,
      size: hash.size,
      crc32c: String(hash.crc32c),
    },
    hash,
  );
  const key = layer.path(target.bucket, target.name);
  layer.createBucket(target.bucket);
  emu._persistence.deleteFile(key, true); // the replaced generation's bytes (open readers keep theirs)
  emu._persistence._diskPathMap.set(key, staged.diskName);
  emu._files.set(key, new StoredFile(metadata));
  void emu._cloudFunctions.dispatch("finalize", new CloudStorageObjectMetadata(metadata));
  return { ok: true, metadata, resource: new CloudStorageObjectMetadata(metadata) };
}

export function preconditionFailed(): { code: 412; message: string } {
  return { code: 412, message: "At least one of the pre-conditions you specified did not hold." };
}

/** The X-Goog-Hash a client may send with the final bytes ("crc32c=<b64>,md5=<b64>"): GCS refuses the object on a mismatch. */
export function hashMismatch(xGoogHash: string | undefined, got: { md5Hash: string; crc32c: number }): string | undefined {
  if (!xGoogHash) return undefined;
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(got.crc32c);
  for (const part of xGoogHash.split(",")) {
    const i = part.indexOf("=");
    const alg = part.slice(0, i).trim().toLowerCase();
    const value = part.slice(i + 1).trim();
    if (alg === "md5" && value !== got.md5Hash) return `Provided MD5 hash "${value}" doesn't match calculated MD5 hash "${got.md5Hash}".`;
    if (alg === "crc32c" && value !== crc.toString("base64"))
      return `Provided CRC32C "${value}" doesn't match calculated CRC32C "${crc.toString("base64")}".`;
  }
  return undefined;
}
