// Equality indexes over one collection's field, as Firestore keeps a single-field index of every
// field automatically (https://firebase.google.com/docs/firestore/query-data/index-overview):
// a query served from an index costs in proportion to what it returns, not to the collection.
// Without them every `where('counter', '==', id)` here scanned the whole collection, and a boot
// storm's rate-limit counters (thousands of documents) made each counted request slower than the
// last, a cost production does not have. Built on first use per (collection, field) and kept
// current by the store; a query still checks every candidate against all its filters.
import type { StoredDoc } from "./apply-write";
import { getPath } from "./field-path";
import type { FsValue } from "./values";

/**
 * The key under which a value is indexed, or undefined for types kept out of the index (they are
 * found by scanning). Equal values get equal keys as `valuesEqual` defines equality: 1 == 1.0,
 * -0 == 0, NaN == NaN.
 */
export function indexKey(v: FsValue): string | undefined {
  if ("string_value" in v) return `s${v.string_value}`;
  if ("integer_value" in v) return `n${String(v.integer_value)}`;
  if ("double_value" in v) return `n${String(v.double_value)}`;
  if ("boolean_value" in v) return v.boolean_value ? "t" : "f";
  if ("reference_value" in v) return `r${v.reference_value}`;
  if ("null_value" in v) return "0";
  return undefined;
}

export class FieldIndex {
  /** Value key -> names whose field equals it. */
  private readonly values = new Map<string, Set<string>>();
  /** Element key -> names whose field is an array holding it (array-contains). */
  private readonly elements = new Map<string, Set<string>>();

  constructor(private readonly segments: string[]) {}

  add(name: string, doc: StoredDoc): void {
    this.each(doc, (map, key) => {
      let names = map.get(key);
      if (!names) map.set(key, (names = new Set()));
      names.add(name);
    });
  }

  remove(name: string, doc: StoredDoc): void {
    this.each(doc, (map, key) => {
      const names = map.get(key);
      names?.delete(name);
      if (names?.size === 0) map.delete(key);
    });
  }

  /** Names whose field equals `key` (kind "value") or is an array holding it (kind "element"). */
  lookup(kind: "value" | "element", key: string): ReadonlySet<string> {
    return (kind === "value" ? this.values : this.elements).get(key) ?? new Set();
  }

  private each(doc: StoredDoc, visit: (map: Map<string, Set<string>>, key: string) => void): void {
    const v = getPath(doc.fields, this.segments);
    if (v === undefined) return;
    const key = indexKey(v);
    if (key !== undefined) visit(this.values, key);
    if ("array_value" in v) {
      for (const e of v.array_value.values) {
        const k = indexKey(e);
        if (k !== undefined) visit(this.elements, k);
      }
    }
  }
}
