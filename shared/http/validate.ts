import type { z } from 'zod';
import { ProblemError, validationError, type InvalidField } from './problem';

/** `nics[0].mac` style names for the offending member of a body. */
function fieldName(path: readonly PropertyKey[]): string {
  let name = '';
  for (const key of path) name += typeof key === 'number' ? `[${key}]` : `${name ? '.' : ''}${String(key)}`;
  return name || '(body)';
}

/** True when the member at `path` is absent from `input` (as opposed to present but wrong). */
function isAbsent(input: unknown, path: readonly PropertyKey[]): boolean {
  let node: unknown = input;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return true;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node === undefined;
}

export function invalidFieldsOf(error: z.ZodError, input: unknown): InvalidField[] {
  const fields: InvalidField[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) fields.push({ field: fieldName([...issue.path, key]), reason: 'unknown field' });
    } else {
      fields.push({ field: fieldName(issue.path), reason: issue.code === 'invalid_type' && issue.path.length > 0 && isAbsent(input, issue.path) ? 'required field is missing' : issue.message });
    }
  }
  return fields;
}

/** Parses with `schema` or throws a 400 listing every invalid field. */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, detail?: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(invalidFieldsOf(result.error, value), detail);
  return result.data;
}

/**
 * Admin write endpoints take JSON only, as `application/json`: the only type the
 * framework's body parser parses as JSON. A `+json` type would arrive as raw bytes.
 */
export function requireJsonBody(contentType: string | undefined): void {
  if (!contentType || !/^application\/json\s*(?:;|$)/i.test(contentType)) {
    throw new ProblemError('unsupported-media-type', 'The request body must be application/json');
  }
}
