// Content-Range of a PUT to a resumable session (GCS JSON API):
//   bytes */TOTAL, bytes */*        status query (empty body); */TOTAL also finalizes when all is there
//   bytes START-END/TOTAL|*          a chunk with its inclusive end
//   bytes START-*/TOTAL|*            the rest of the object, until the body ends (@google-cloud/storage)
//   (absent)                         the whole object in this request
export type SessionPut =
  | { kind: "status"; total?: number }
  | { kind: "data"; start: number; end?: number; total?: number };

const RE = /^bytes (?:(\*)|(\d+)-(\d+|\*))\/(\d+|\*)$/;

export function parseContentRange(value: string | undefined): SessionPut | { error: string } {
  if (value === undefined) return { kind: "data", start: 0 };
  const m = RE.exec(value.trim());
  if (!m) return { error: `Failed to parse Content-Range header: ${value}` };
  const total = m[4] === "*" ? undefined : Number(m[4]);
  if (total !== undefined && !Number.isSafeInteger(total)) return { error: `Bad total in Content-Range: ${value}` };
  if (m[1]) return { kind: "status", total };
  const start = Number(m[2]);
  const end = m[3] === "*" ? undefined : Number(m[3]);
  if (!Number.isSafeInteger(start) || (end !== undefined && !Number.isSafeInteger(end))) return { error: `Bad Content-Range: ${value}` };
  if (end !== undefined && end < start) return { error: `Content-Range end before start: ${value}` };
  if (total !== undefined && end !== undefined && end >= total) return { error: `Content-Range end beyond total size: ${value}` };
  if (total !== undefined && start > total) return { error: `Content-Range start beyond total size: ${value}` };
  return { kind: "data", start, end, total };
}
