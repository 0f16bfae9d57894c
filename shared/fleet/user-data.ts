import { createHash } from 'node:crypto';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ProblemError } from '../http/problem';

/**
 * cloud-init user-data a profile may carry (multipart field `user_data`, upload sessions'
 * `user_data`), served to the machine at `GET /metadata/{mac}/user-data` (NoCloud layout).
 * Accepted, as cloud-init itself tells them apart by their first line:
 * - `#cloud-config`: must parse as YAML (the `yaml` package) into a mapping (or be empty);
 *   served as `text/cloud-config`;
 * - `#!`: a script, accepted as it is; served as `text/x-shellscript`;
 * - `Content-Type: multipart/...`: a MIME multi-part archive, accepted as it is; served as
 *   `multipart/mixed`.
 * Anything else is 422 `invalid-user-data`. At most `userDataMaxBytes` bytes of UTF-8 (a
 * profile is one Firestore document: 1 MiB), kept and served byte for byte.
 */
export const userDataMaxBytes = 64 * 1024;

export const userDataFormats = ['cloud-config', 'script', 'multipart'] as const;
export type UserDataFormat = (typeof userDataFormats)[number];

/** What a profile keeps: the text, and how it is served. */
export interface UserData {
  format: UserDataFormat;
  text: string;
}

/** How it shows in a BootProfile (the text itself only at /metadata/{mac}/user-data). */
export interface UserDataSummary {
  format: UserDataFormat;
  size: number;
  sha256: string;
}

export const userDataSummarySchema = z.strictObject({
  format: z.enum(userDataFormats),
  size: z.number().int().min(1).max(userDataMaxBytes),
  sha256: z.string().regex(/^[\da-f]{64}$/),
});

export const userDataMediaTypes: Readonly<Record<UserDataFormat, string>> = {
  'cloud-config': 'text/cloud-config',
  script: 'text/x-shellscript',
  multipart: 'multipart/mixed',
};

export function summaryOf({ format, text }: UserData): UserDataSummary {
  const bytes = Buffer.from(text, 'utf8');
  return { format, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** Which member carried it: `user_data`, or `vendor_data` (validated by the same rules). */
export type CloudInitField = 'user_data' | 'vendor_data';

/**
 * Validates user-data (or vendor-data, `field`) as uploaded (bytes, or text from a JSON
 * member); 422 invalid-user-data naming the field.
 */
export function parseUserData(raw: Buffer | string, field: CloudInitField = 'user_data'): UserData {
  const invalid = (detail: string) => new ProblemError('invalid-user-data', detail, { field });
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  if (bytes.length === 0) throw invalid(`${field} is empty`);
  if (bytes.length > userDataMaxBytes) throw invalid(`${field} must be at most ${userDataMaxBytes} bytes; it is ${bytes.length}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid(`${field} must be UTF-8 text`);
  }
  const firstLine = (text.split('\n', 1)[0] ?? '').replace(/\r$/, '');
  if (/^#cloud-config\s*$/.test(firstLine)) {
    const doc = parseDocument(text, { uniqueKeys: true });
    if (doc.errors.length > 0) throw invalid(`#cloud-config is not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? 'parse error'}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined && (typeof value !== 'object' || Array.isArray(value))) throw invalid('#cloud-config must be a YAML mapping (keys such as users, packages, runcmd)');
    return { format: 'cloud-config', text };
  }
  if (firstLine.startsWith('#!')) return { format: 'script', text };
  if (/^content-type:\s*multipart\//i.test(firstLine) || /^mime-version:/i.test(firstLine)) {
    if (!/^content-type:\s*multipart\//im.test(text)) throw invalid('a MIME archive must have a multipart Content-Type');
    return { format: 'multipart', text };
  }
  throw invalid(`${field} must start with #cloud-config (YAML), #! (a script) or Content-Type: multipart/... (a MIME archive)`);
}
