// POST /storage/v1/b/{bucket}/o/{object}/compose: the destination becomes the concatenation of
// 1 to 32 objects of the same bucket. Its CRC32C is combined from the sources' stored ones, and
// its bytes are the sources' own, linked and not copied (composites.ts), as Cloud Storage keeps a
// composite object.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Composites } from "./composites";
import { crc32cCombine } from "./crc32c";
import { readSmallBody, sendError, sendJson } from "./http-util";
import type { StorageEmulatorInternals } from "./internals";
import { commitObject, parsePreconditions, pickResource, preconditionFailed, preconditionsHold, type ComputedContent } from "./object-store";
import { StagedFile } from "./staging";

export const MAX_COMPOSE_SOURCES = 32;

interface SourceRef {
  name: string;
  generation?: number;
  ifGenerationMatch?: number;
}

type Parsed = { sources: SourceRef[]; destination: unknown } | { status: number; message: string; reason: string };

/** int64 fields arrive as JSON numbers or decimal strings. */
function int64(v: unknown): number | undefined | null {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === "string" && /^\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v);
  return null;
}

function parseRequest(body: unknown): Parsed {
  const invalid = (message: string, reason = "invalid") => ({ status: 400, message, reason });
  if (!body || typeof body !== "object" || Array.isArray(body)) return invalid("Parse Error", "parseError");
  const b = body as Record<string, unknown>;
  if (b.sourceObjects === undefined || (Array.isArray(b.sourceObjects) && b.sourceObjects.length === 0))
    return invalid("Required field: sourceObjects.", "required");
  if (!Array.isArray(b.sourceObjects)) return invalid("Invalid value for sourceObjects.");
  if (b.sourceObjects.length > MAX_COMPOSE_SOURCES)
    return invalid(`The number of source components provided (${b.sourceObjects.length}) exceeds the maximum (${MAX_COMPOSE_SOURCES})`);
  const sources: SourceRef[] = [];
  for (const [i, s] of (b.sourceObjects as unknown[]).entries()) {
    const o = (s && typeof s === "object" ? s : {}) as Record<string, unknown>;
    if (typeof o.name !== "string" || o.name === "") return invalid(`Required field: sourceObjects[${i}].name.`, "required");
    const generation = int64(o.generation);
    const pre = (o.objectPreconditions && typeof o.objectPreconditions === "object" ? o.objectPreconditions : {}) as Record<string, unknown>;
    const ifGenerationMatch = int64(pre.ifGenerationMatch);
    if (generation === null) return invalid(`Invalid value for sourceObjects[${i}].generation: ${String(o.generation)}`);
    if (ifGenerationMatch === null)
      return invalid(`Invalid value for sourceObjects[${i}].objectPreconditions.ifGenerationMatch: ${String(pre.ifGenerationMatch)}`);
    // GCS: "If this value and a generation are both specified, they must be the same value or the call will fail."
    if (generation !== undefined && ifGenerationMatch !== undefined && generation !== ifGenerationMatch)
      return invalid(`sourceObjects[${i}]: generation and objectPreconditions.ifGenerationMatch differ.`);
    sources.push({ name: o.name, generation, ifGenerationMatch });
  }
  return { sources, destination: b.destination };
}

export async function composeObject(emu: StorageEmulatorInternals, req: IncomingMessage, res: ServerResponse, bucket: string, name: string, query: URLSearchParams): Promise<void> {
  const preconditions = parsePreconditions(query);
  if ("error" in preconditions) return sendError(res, 400, preconditions.error);
  const raw = await readSmallBody(req);
  let body: unknown;
  try {
    body = raw.length === 0 ? {} : JSON.parse(raw.toString("utf8"));
  } catch {
    return sendError(res, 400, "Parse Error", "parseError");
  }
  const parsed = parseRequest(body);
  if ("status" in parsed) return sendError(res, parsed.status, parsed.message, parsed.reason);
  const destination = (parsed.destination && typeof parsed.destination === "object" ? parsed.destination : {}) as Record<string, unknown>;
  if (typeof destination.bucket === "string" && destination.bucket !== bucket)
    return sendError(res, 400, "Destination bucket of a compose request must be the bucket of the request path.");
  const resource = pickResource(destination);

  // Sources checked, measured and linked in one synchronous stretch: what is composed is exactly
  // the generations checked, even if they are replaced or deleted right after.
  const layer = emu.adminStorageLayer;
  const composites = Composites.of(emu);
  const content: ComputedContent = { size: 0, crc32c: 0, componentCount: 0 };
  const sources: { diskName: string; diskPath: string; size: number }[] = [];
  for (const s of parsed.sources) {
    const md = layer.getMetadata(bucket, s.name);
    const diskName = md && emu._persistence.getDiskFileName(layer.path(bucket, s.name));
    // A generation names one generation of the source; without versioning only the live one exists.
    if (!md || !diskName || (s.generation !== undefined && md.generation !== s.generation))
      return sendError(res, 404, `No such object: ${bucket}/${s.name}`, "notFound");
    if (s.ifGenerationMatch !== undefined && md.generation !== s.ifGenerationMatch)
      return sendError(res, 412, preconditionFailed().message, "conditionNotMet");
    const size = Number(md.size);
    content.crc32c = crc32cCombine(content.crc32c, Number(md.crc32c), size);
    content.size += size;
    content.componentCount = (content.componentCount ?? 0) + (md.componentCount ?? 1);
    sources.push({ diskName, diskPath: emu._persistence.getDiskPath(layer.path(bucket, s.name)), size });
  }
  // Checked again at commit; failing here links nothing.
  if (!preconditionsHold(preconditions, layer.getMetadata(bucket, name))) return sendError(res, 412, preconditionFailed().message, "conditionNotMet");
  // The composite's own file stays empty: its bytes are the components, registered as they are linked.
  const staged = new StagedFile(emu._persistence.dirPath);
  composites.register(staged.diskName, composites.link(sources));
  let committed = false;
  try {
    await staged.create();
    const r = await commitObject(emu, { bucket, name, resource, preconditions }, staged, content);
    if (!r.ok) return sendError(res, 412, preconditionFailed().message, "conditionNotMet");
    committed = true;
    return sendJson(res, 200, r.resource);
  } finally {
    if (!committed) {
      await staged.discard();
      composites.release(staged.diskName);
    }
  }
}
