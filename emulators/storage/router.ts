// Routes served in front of the firebase-tools storage app; everything else falls through to it.
import type { IncomingMessage, ServerResponse } from "node:http";
import { composeObject } from "./compose";
import { Composites } from "./composites";
import { sendObject } from "./download";
import { allowCors, BodyTooLargeError, header, sendError, type Next } from "./http-util";
import type { StorageEmulatorInternals } from "./internals";
import { oneShotUpload } from "./one-shot";
import type { ResumableSessions } from "./resumable";
import { checkSignedUrl, isSignedRequest, xmlError } from "./signed-url-check";
import type { TrustedSigner } from "./signing-key";

/** Whose V4 signatures the emulator accepts, and the host names it answers to besides a request's Host. */
export interface SignedUrlPolicy {
  signers: ReadonlyMap<string, TrustedSigner>;
  hostAliases: readonly string[];
}

const UPLOAD = /^\/upload\/storage\/v1\/b\/([^/]+)\/o\/?$/;
const JSON_OBJECT = /^\/(?:b|storage\/v1\/b|download\/storage\/v1\/b)\/([^/]+)\/o\/([^/]+)\/?$/;
// GET routes the firebase-tools app matches before its GET /:bucketId/:objectId(**) (apis/gcloud.js).
const FIREBASE_GET_FIRST = [/^\/b\/?$/, /^\/(?:storage\/v1\/)?b\/[^/]+\/o\/?$/, JSON_OBJECT, /^\/v0(?:\/|$)/];
const SIGNED = /^\/([^/]+)\/(.+)$/;
const COMPOSE = /^\/(?:storage\/v1\/)?b\/([^/]+)\/o\/([^/]+)\/compose\/?$/;

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

export function createFrontHandler(emu: StorageEmulatorInternals, sessions: ResumableSessions, signedUrls: SignedUrlPolicy) {
  const download = async (req: IncomingMessage, res: ServerResponse, next: Next, bucket: string, object: string) => {
    const md = emu.adminStorageLayer.getMetadata(bucket, object);
    const key = emu.adminStorageLayer.path(bucket, object);
    const diskFile = md && emu._persistence.getDiskFileName(key);
    if (!md || !diskFile) return next(); // firebase-tools answers the 404 in its own words
    // Opened now, in the same tick as `md` was read: a write that replaces the object (or a delete)
    // unlinks these files, and the download still gets these bytes whole.
    await sendObject(req, res, md, Composites.of(emu).open(key, Number(md.size)));
  };

  const route = async (req: IncomingMessage, res: ServerResponse, next: Next): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://emulator");
    const path = url.pathname;
    const q = url.searchParams;
    const method = req.method ?? "GET";

    const up = UPLOAD.exec(path);
    if (up) {
      const bucket = decode(up[1] as string);
      if (bucket === undefined) return next();
      allowCors(req, res);
      const uploadId = q.get("upload_id");
      const uploadType = q.get("uploadType") ?? header(req, "x-goog-upload-protocol");
      if (method === "POST" && !uploadId && uploadType === "resumable") return sessions.start(req, res, bucket, q);
      if (method === "POST" && (uploadType === "multipart" || uploadType === "media")) return oneShotUpload(emu, req, res, bucket, q, uploadType);
      if (method === "PUT" && uploadId) return sessions.put(req, res, uploadId);
      if (method === "DELETE" && uploadId) return sessions.cancel(res, uploadId);
      return next();
    }
    const compose = method === "POST" ? COMPOSE.exec(path) : null;
    if (compose) {
      const bucket = decode(compose[1] as string);
      const object = decode(compose[2] as string);
      if (bucket === undefined || object === undefined) return next();
      allowCors(req, res);
      return composeObject(emu, req, res, bucket, object, q);
    }
    if (method !== "GET" && method !== "HEAD") return next();

    const obj = JSON_OBJECT.exec(path);
    if (obj) {
      const bucket = decode(obj[1] as string);
      const object = decode(obj[2] as string);
      if (q.get("alt") !== "media" || bucket === undefined || object === undefined) return next();
      return download(req, res, next, bucket, object);
    }
    if (FIREBASE_GET_FIRST.some((re) => re.test(path))) return next();
    const signed = SIGNED.exec(path);
    if (signed) {
      const bucket = decode(signed[1] as string);
      const object = decode(signed[2] as string);
      if (bucket === undefined || object === undefined) return next();
      if (isSignedRequest(q)) {
        const verdict = await checkSignedUrl({ req, query: q, bucket, object, ...signedUrls });
        if (!verdict.ok) {
          const body = xmlError(verdict);
          allowCors(req, res);
          res.writeHead(verdict.status, { "Content-Type": "application/xml; charset=UTF-8", "Content-Length": Buffer.byteLength(body) });
          return void res.end(req.method === "HEAD" ? undefined : body);
        }
      }
      return download(req, res, next, bucket, object);
    }
    return next();
  };

  return (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    route(req, res, next).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof BodyTooLargeError) return sendError(res, 413, err.message);
      sendError(res, 500, `storage emulator: ${(err as Error).message}`, "backendError");
    });
  };
}
