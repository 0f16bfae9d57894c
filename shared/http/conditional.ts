/**
 * Conditional requests as RFC 9110 (section 13) has an origin server evaluate them, for
 * representations whose only validator is a strong ETag.
 */

/** The entity tags of an `If-None-Match` / `If-Match` list, or '*'. */
function entityTags(header: string): string[] | '*' {
  if (header.trim() === '*') return '*';
  return [...header.matchAll(/(?:W\/)?"[\x21\x23-\x7e\x80-\xff]*"/g)].map((m) => m[0]);
}

/** Weak comparison (section 8.8.3.2): equal opaque tags, whether or not either is weak. */
function weakMatch(a: string, b: string): boolean {
  return a.replace(/^W\//, '') === b.replace(/^W\//, '');
}

/**
 * True when `If-None-Match` matches `etag`: a GET or HEAD then gets 304 (section 13.1.2).
 * Evaluated whatever the request's `Cache-Control` says: `no-cache` is a directive for
 * caches, not a reason for an origin server to ignore a precondition (section 13.2.1).
 */
export function ifNoneMatchMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const tags = entityTags(header);
  return tags === '*' || tags.some((tag) => weakMatch(tag, etag));
}

/** `If-Range` with an entity tag: the range applies only on a strong match (section 13.1.5). */
export function ifRangeAllows(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  return !value.startsWith('W/') && value === etag;
}
