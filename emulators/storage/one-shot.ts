// Single-request uploads (uploadType=multipart and uploadType=media), streamed to disk.
import type { IncomingMessage, ServerResponse } from "node:http";
import { ByteReader } from "./byte-reader";
import { header, sendError, sendJson } from "./http-util";
import type { StorageEmulatorInternals } from "./internals";
import { commitObject, hashMismatch, parsePreconditions, pickResource, preconditionFailed, type IncomingResource } from "./object-store";
import { StagedFile } from "./staging";

const MAX_METADATA = 1 << 20;

function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? "");
  return m ? (m[1] ?? m[2]) : undefined;
}

async function readPartHeaders(r: ByteReader): Promise<Map<string, string>> {
  const headers = new Map<string, string>();
  for (;;) {
    const line = (await r.readUntil("\r\n", 8192)).toString("latin1");
    if (line === "") return headers;
    const i = line.indexOf(":");
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
}

/** POST /upload/storage/v1/b/{bucket}/o?uploadType=multipart|media */
export async function oneShotUpload(emu: StorageEmulatorInternals, req: IncomingMessage, res: ServerResponse, bucket: string, query: URLSearchParams, type: "multipart" | "media"): Promise<void> {
  const preconditions = parsePreconditions(query);
  if ("error" in preconditions) return sendError(res, 400, preconditions.error);
  const staged = new StagedFile(emu._persistence.dirPath);
  await staged.create();
  let committed = false;
  try {
    let name = query.get("name") ?? undefined;
    let resource: IncomingResource;
    let body: AsyncIterable<Buffer> = req;
    let reader: ByteReader | undefined;
    if (type === "multipart") {
      const boundary = boundaryOf(header(req, "content-type"));
      if (!boundary) return sendError(res, 400, "multipart upload without a boundary");
      reader = new ByteReader(req);
      let meta: Record<string, unknown>;
      try {
        await reader.readUntil(`--${boundary}`, MAX_METADATA); // preamble
        await reader.readUntil("\r\n", 1024);
        await readPartHeaders(reader);
        meta = JSON.parse((await reader.readUntil(`\r\n--${boundary}`, MAX_METADATA)).toString("utf8")) as Record<string, unknown>;
        await reader.readUntil("\r\n", 1024);
        const mediaHeaders = await readPartHeaders(reader);
        resource = pickResource(meta);
        resource.contentType ??= mediaHeaders.get("content-type") ?? header(req, "x-upload-content-type");
      } catch (err) {
        await reader.drain().catch(() => undefined);
        return sendError(res, 400, `Bad multipart request: ${(err as Error).message}`);
      }
      name ??= typeof meta.name === "string" ? meta.name : undefined;
      body = reader.streamUntil(`\r\n--${boundary}`);
    } else {
      resource = { contentType: header(req, "content-type") };
    }
    if (name?.startsWith("/")) name = name.slice(1);
    if (!name) {
      await (reader ? reader.drain() : drain(req)).catch(() => undefined);
      return sendError(res, 400, "Required parameter: name", "required");
    }

    const result = await staged.append(body, 0, undefined, () => true);
    if (!result.completed) {
      if (!req.complete || res.destroyed) return; // the client went away
      return sendError(res, 400, "Bad multipart request: the body ended inside the media part");
    }
    await reader?.drain(); // the closing delimiter
    const mismatch = hashMismatch(header(req, "x-goog-hash"), staged.hasher.result());
    if (mismatch) return sendError(res, 400, mismatch);
    const r = await commitObject(emu, { bucket, name, resource, preconditions }, staged);
    if (!r.ok) return sendError(res, 412, preconditionFailed().message, "conditionNotMet");
    committed = true;
    return sendJson(res, 200, r.resource);
  } finally {
    if (!committed) await staged.discard(); // once committed, the file is the object's
  }
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req);
}
