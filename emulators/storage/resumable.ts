// Resumable upload sessions of the GCS JSON API, streamed to disk:
// https://cloud.google.com/storage/docs/performing-resumable-uploads
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseContentRange } from "./content-range";
import { header, readSmallBody, sendError, sendJson } from "./http-util";
import type { StorageEmulatorInternals } from "./internals";
import {
  commitObject,
  hashMismatch,
  parsePreconditions,
  pickResource,
  preconditionFailed,
  preconditionsHold,
  type IncomingResource,
  type Preconditions,
} from "./object-store";
import { StagedFile } from "./staging";

interface Session {
  id: string;
  bucket: string;
  name: string;
  resource: IncomingResource;
  preconditions: Preconditions;
  declaredSize?: number; // X-Upload-Content-Length at start
  staged: StagedFile;
  state: "active" | "done" | "cancelled";
  outcome?: { status: number; body: unknown }; // the final answer, repeated to later PUTs
  queue: Promise<void>; // one request at a time per session
}

export class ResumableSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly emu: StorageEmulatorInternals) {}

  /** POST /upload/storage/v1/b/{bucket}/o?uploadType=resumable[&name=...][&ifGenerationMatch=...] */
  async start(req: IncomingMessage, res: ServerResponse, bucket: string, query: URLSearchParams): Promise<void> {
    let body: Record<string, unknown> = {};
    const raw = await readSmallBody(req);
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
      } catch {
        return sendError(res, 400, "Invalid JSON in the object resource of the resumable upload request.", "parseError");
      }
    }
    let name = query.get("name") ?? (typeof body.name === "string" ? body.name : undefined);
    if (!name) return sendError(res, 400, "Required parameter: name", "required");
    if (name.startsWith("/")) name = name.slice(1); // as the firebase-tools routes do
    const preconditions = parsePreconditions(query);
    if ("error" in preconditions) return sendError(res, 400, preconditions.error);
    // Checked at the start too, so that a doomed upload does not send its bytes first.
    if (!preconditionsHold(preconditions, this.emu.adminStorageLayer.getMetadata(bucket, name))) {
      const e = preconditionFailed();
      return sendError(res, e.code, e.message, "conditionNotMet");
    }
    const declared = header(req, "x-upload-content-length");
    const declaredSize = declared === undefined ? undefined : Number(declared);
    if (declaredSize !== undefined && !Number.isSafeInteger(declaredSize)) return sendError(res, 400, `Invalid X-Upload-Content-Length: ${declared}`);
    const resource = pickResource(body);
    resource.contentType ??= header(req, "x-upload-content-type");

    const staged = new StagedFile(this.emu._persistence.dirPath);
    await staged.create();
    this.emu.adminStorageLayer.createBucket(bucket);
    const id = randomUUID().replace(/-/g, "");
    this.sessions.set(id, { id, bucket, name, resource, preconditions, declaredSize, staged, state: "active", queue: Promise.resolve() });

    // Behind the local stack's HTTPS door (emulators/tls/door.ts) the session URI must come back through it.
    const scheme = header(req, "x-forwarded-proto") === "https" ? "https" : "http";
    const location = new URL(`${scheme}://${req.headers.host ?? "localhost"}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o`);
    location.searchParams.set("uploadType", "resumable");
    location.searchParams.set("name", name);
    location.searchParams.set("upload_id", id);
    res.writeHead(200, { Location: location.toString(), "X-GUploader-UploadID": id, "Content-Length": "0" });
    res.end();
  }

  /** PUT to the session URI: a chunk, the whole object, or a status query. */
  put(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) {
      sendError(res, 404, "No such upload session.", "notFound");
      return Promise.resolve();
    }
    const run = s.queue.then(() => this.putLocked(s, req, res));
    s.queue = run.catch(() => undefined);
    return run;
  }

  /** DELETE of the session URI: GCS answers 499 and forgets the bytes. */
  cancel(res: ServerResponse, id: string): Promise<void> {
    const s = this.sessions.get(id);
    if (!s) {
      sendError(res, 404, "No such upload session.", "notFound");
      return Promise.resolve();
    }
    const run = s.queue.then(async () => {
      if (s.state === "done") return sendError(res, 400, "The upload has already completed.");
      if (s.state === "cancelled") return sendError(res, 410, "The upload session was cancelled.", "gone");
      s.state = "cancelled";
      await s.staged.discard();
      res.writeHead(499, "Client Closed Request", { "Content-Length": "0" });
      res.end();
    });
    s.queue = run.catch(() => undefined);
    return run;
  }

  /** Drops the staged bytes of unfinished sessions (emulator stop). */
  async closeAll(): Promise<void> {
    for (const s of this.sessions.values()) if (s.state === "active") await s.staged.discard();
    this.sessions.clear();
  }

  private async putLocked(s: Session, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (s.state === "done" && s.outcome) return sendJson(res, s.outcome.status, s.outcome.body);
    if (s.state === "cancelled") return sendError(res, 410, "The upload session was cancelled.", "gone");

    const put = parseContentRange(header(req, "content-range"));
    if ("error" in put) return sendError(res, 400, put.error);
    const persisted = s.staged.persisted;
    const declared = s.declaredSize;
    if (put.total !== undefined && declared !== undefined && put.total !== declared)
      return sendError(res, 400, `Content-Range total ${put.total} differs from X-Upload-Content-Length ${declared}.`);
    if (put.total !== undefined && put.total < persisted)
      return sendError(res, 400, `Content-Range total ${put.total} is less than the ${persisted} byte(s) already uploaded.`);
    // A length declared at the start fixes the object's size: "*" means it, and no byte may go past it.
    const total = put.total ?? declared;

    if (put.kind === "status") {
      for await (const _ of req); // a status query has no body; ignore one if sent
      if (total === persisted) return this.finalize(s, req, res);
      return resumeIncomplete(res, s.staged.persisted);
    }
    if (put.start > persisted)
      return sendError(
        res,
        400,
        `Invalid request. According to the Content-Range header, the upload offset is ${put.start} byte(s), which exceeds already uploaded size of ${persisted} byte(s).`,
      );
    if (declared !== undefined && put.end !== undefined && put.end >= declared)
      return sendError(res, 400, `Content-Range ${header(req, "content-range")} goes past the X-Upload-Content-Length of ${declared} byte(s).`);
    const { start, end } = put;
    const limit = end !== undefined ? end - start + 1 : declared !== undefined ? declared - start : undefined;
    const result = await s.staged.append(req, start, limit, (n) => {
      if (end !== undefined) return n === limit && total !== undefined && end + 1 === total;
      return total === undefined || start + n === total; // "bytes N-*/*": the object ends with this body
    });
    if (!result.ended || res.destroyed) return; // the client went away; a status query tells it what stayed
    if (result.overflow)
      return sendError(res, 400, end === undefined ? `The request body goes past the X-Upload-Content-Length of ${declared} byte(s).` : "The request body is longer than its Content-Range.");
    if (result.completed || (total !== undefined && s.staged.persisted === total)) return this.finalize(s, req, res);
    return resumeIncomplete(res, s.staged.persisted);
  }

  private async finalize(s: Session, req: IncomingMessage, res: ServerResponse): Promise<void> {
    s.state = "done";
    const mismatch = hashMismatch(header(req, "x-goog-hash"), s.staged.hasher.result());
    if (mismatch) {
      await s.staged.discard();
      s.outcome = { status: 400, body: errorBody(400, mismatch, "invalid") };
    } else {
      const r = await commitObject(this.emu, s, s.staged);
      s.outcome = r.ok ? { status: 200, body: r.resource } : { status: 412, body: errorBody(412, preconditionFailed().message, "conditionNotMet") };
    }
    sendJson(res, s.outcome.status, s.outcome.body);
  }
}

function resumeIncomplete(res: ServerResponse, persisted: number): void {
  // No Range header at all when nothing is persisted (GCS; clients then start from 0).
  const headers: Record<string, string> = { "Content-Length": "0" };
  if (persisted > 0) headers.Range = `bytes=0-${persisted - 1}`;
  res.writeHead(308, "Resume Incomplete", headers);
  res.end();
}

function errorBody(code: number, message: string, reason: string) {
  return { error: { code, message, errors: [{ message, domain: "global", reason }] } };
}
