import type { Request } from 'express';
import { ProblemError } from '../http/problem';

/** The largest merge-patch body accepted: a machine with every list full is far smaller. */
export const mergePatchMaxBytes = 64 * 1024;

/**
 * RFC 7396 JSON merge patch: objects merge member by member, `null` removes a member,
 * anything else (arrays included) replaces the target's value whole.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const result = new Map<string, unknown>(isObject(target) ? Object.entries(target) : []);
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) result.delete(name);
    else result.set(name, applyMergePatch(result.get(name), value));
  }
  return Object.fromEntries(result);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The body of a PATCH: `application/merge-patch+json` only (else 415). functions-framework
 * parses only `application/json`, so this body arrives as raw bytes (`req.rawBody`): parsed
 * here, refused over `mergePatchMaxBytes` (413) or when it is not JSON (400 invalid-json).
 */
export function mergePatchBody(req: Request, maxBytes = mergePatchMaxBytes): unknown {
  const type = req.header('content-type');
  if (!type || !/^application\/merge-patch\+json\s*(?:;|$)/i.test(type)) {
    throw new ProblemError('unsupported-media-type', 'The request body must be application/merge-patch+json (RFC 7396)');
  }
  const raw = (req as Request & { rawBody?: Buffer }).rawBody ?? (Buffer.isBuffer(req.body) ? req.body : undefined);
  if (!raw || raw.length === 0) throw new ProblemError('invalid-json', 'The request body is empty; a merge patch is a JSON document');
  if (raw.length > maxBytes) throw new ProblemError('payload-too-large', `A merge patch may be at most ${maxBytes} bytes`);
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw new ProblemError('invalid-json', 'The request body is not valid JSON');
  }
}
