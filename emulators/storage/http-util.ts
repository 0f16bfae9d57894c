import type { IncomingMessage, ServerResponse } from "node:http";

export type Next = () => void;

/** A JSON API error body, in the shape GCS sends ({error:{code,message,errors:[...]}}). */
export function sendError(res: ServerResponse, code: number, message: string, reason = "invalid"): void {
  const body = JSON.stringify({ error: { code, message, errors: [{ message, domain: "global", reason }] } });
  res.writeHead(code, { "Content-Type": "application/json; charset=UTF-8", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

export function sendJson(res: ServerResponse, code: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(code, { ...headers, "Content-Type": "application/json; charset=UTF-8", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

export class BodyTooLargeError extends Error {}

/** Reads a small body (session-start metadata) whole; larger bodies are never buffered here. */
export async function readSmallBody(req: IncomingMessage, limit = 1 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) throw new BodyTooLargeError(`request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** CORS for the routes served here (the firebase-tools app answers preflights; these answers bypass its cors()). */
export function allowCors(req: IncomingMessage, res: ServerResponse): void {
  const origin = req.headers.origin;
  if (!origin) return;
  res.setHeader("Access-Control-Allow-Origin", origin);
  res.setHeader("Vary", "Origin");
  res.setHeader("Access-Control-Expose-Headers", "Content-Type, Content-Length, Content-Range, Range, Location, ETag, X-GUploader-UploadID, x-goog-hash, x-goog-generation, x-goog-metageneration");
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}
