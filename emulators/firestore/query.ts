// Query evaluation over the document store (the package's engine ignores offset, cursors,
// documentId filters, unary filters, nested fields and collection groups, and compares values
// with instanceof across its bundles). Order: the explicit orderBy, else the first inequality
// field, then __name__ in the direction of the last order, as Firestore orders results.
import type { StructuredQueryFilter as Filter, StructuredQuery, StructuredQueryFieldFilter } from "@firestore-emulator/proto/dist/google/firestore/v1/query";
import type { StoredDoc } from "./apply-write";
import { indexKey } from "./field-index";
import { getPath, parseFieldPath } from "./field-path";
import type { DocumentStore } from "./store";
import { compareValues, fromProtoValue, isNumber, numberOf, typeRank, valuesEqual, type FsValue } from "./values";

// Enum values of google.firestore.v1.StructuredQuery (the proto enums are runtime objects).
const OP = { LT: 1, LTE: 2, GT: 3, GTE: 4, EQ: 5, NE: 6, ARRAY_CONTAINS: 7, IN: 8, ARRAY_CONTAINS_ANY: 9, NOT_IN: 10 } as const;
const UNARY = { IS_NAN: 2, IS_NULL: 3, IS_NOT_NAN: 4, IS_NOT_NULL: 5 } as const;
const AND = 1;
const DESCENDING = 2;
const NAME = "__name__";

interface Order {
  path: string;
  segments: string[];
  desc: boolean;
}

/** Names of the documents a query returns, in order. */
export function runQuery(store: DocumentStore, parent: string, q: StructuredQuery): string[] {
  const from = q.from[0];
  if (!from || q.from.length !== 1) throw new Error("a query needs exactly one collection");
  const collection = `${parent}/${from.collection_id}`;
  const indexed = from.all_descendants || !q.has_where ? undefined : indexedCandidates(store, collection, q.where);
  const candidates = from.all_descendants
    ? store.inCollectionGroup(parent, from.collection_id)
    : indexed
      ? [...indexed].map((name) => [name, store.get(name) as StoredDoc] as const)
      : store.inCollection(collection);
  const orders = orderOf(q);
  let rows = [...candidates]
    .filter(([name, doc]) => (!q.has_where || matches(name, doc, q.where)) && orders.every((o) => fieldValue(name, doc, o.segments) !== undefined))
    .map(([name, doc]) => ({ name, key: orders.map((o) => fieldValue(name, doc, o.segments) as FsValue) }));
  const compareKeys = (a: FsValue[], b: FsValue[]): number => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const c = compareValues(a[i] as FsValue, b[i] as FsValue) * ((orders[i] as Order).desc ? -1 : 1);
      if (c !== 0) return c;
    }
    return 0;
  };
  rows.sort((a, b) => compareKeys(a.key, b.key));
  if (q.has_start_at) {
    const cursor = q.start_at.values.map(fromProtoValue);
    rows = rows.filter((r) => (q.start_at.before ? compareKeys(r.key, cursor) >= 0 : compareKeys(r.key, cursor) > 0));
  }
  if (q.has_end_at) {
    const cursor = q.end_at.values.map(fromProtoValue);
    rows = rows.filter((r) => (q.end_at.before ? compareKeys(r.key, cursor) < 0 : compareKeys(r.key, cursor) <= 0));
  }
  const start = q.offset > 0 ? q.offset : 0;
  const end = q.has_limit ? start + q.limit.value : undefined;
  return rows.slice(start, end).map((r) => r.name);
}

/**
 * The smallest set of names an equality index gives for a filter (an equality, array-contains or
 * `in` field filter, alone or inside an AND), or undefined when none applies and the collection
 * must be scanned. Candidates are a superset of the matches; the filters are still applied.
 */
function indexedCandidates(store: DocumentStore, collection: string, f: Filter): ReadonlySet<string> | undefined {
  if (f.has_composite_filter) {
    if (f.composite_filter.op !== AND) return undefined;
    let best: ReadonlySet<string> | undefined;
    for (const sub of f.composite_filter.filters) {
      const set = indexedCandidates(store, collection, sub);
      if (set && (!best || set.size < best.size)) best = set;
    }
    return best;
  }
  if (!f.has_field_filter || f.field_filter.field.field_path === NAME) return undefined;
  const { op, field } = f.field_filter;
  const operand = fromProtoValue(f.field_filter.value);
  if (op === OP.EQ || op === OP.ARRAY_CONTAINS) {
    const key = indexKey(operand);
    return key === undefined ? undefined : store.index(collection, field.field_path).lookup(op === OP.EQ ? "value" : "element", key);
  }
  if ((op === OP.IN || op === OP.ARRAY_CONTAINS_ANY) && "array_value" in operand) {
    const keys = operand.array_value.values.map(indexKey);
    if (keys.some((k) => k === undefined)) return undefined;
    const index = store.index(collection, field.field_path);
    const union = new Set<string>();
    for (const key of keys as string[]) for (const name of index.lookup(op === OP.IN ? "value" : "element", key)) union.add(name);
    return union;
  }
  return undefined;
}

function orderOf(q: StructuredQuery): Order[] {
  const paths = q.order_by.map((o) => ({ path: o.field.field_path, desc: o.direction === DESCENDING }));
  if (paths.length === 0 && q.has_where) {
    const inequality = firstInequality(q.where);
    if (inequality && inequality !== NAME) paths.push({ path: inequality, desc: false });
  }
  if (!paths.some((p) => p.path === NAME)) paths.push({ path: NAME, desc: paths[paths.length - 1]?.desc ?? false });
  return paths.map((p) => ({ ...p, segments: p.path === NAME ? [NAME] : parseFieldPath(p.path) }));
}

function firstInequality(f: Filter): string | undefined {
  if (f.has_field_filter) {
    const op = f.field_filter.op;
    return op !== OP.EQ && op !== OP.ARRAY_CONTAINS && op !== OP.IN && op !== OP.ARRAY_CONTAINS_ANY ? f.field_filter.field.field_path : undefined;
  }
  if (f.has_composite_filter) {
    for (const sub of f.composite_filter.filters) {
      const p = firstInequality(sub);
      if (p) return p;
    }
  }
  return undefined;
}

function fieldValue(name: string, doc: StoredDoc, segments: string[]): FsValue | undefined {
  if (segments.length === 1 && segments[0] === NAME) return { reference_value: name };
  return getPath(doc.fields, segments);
}

function matches(name: string, doc: StoredDoc, f: Filter): boolean {
  if (f.has_composite_filter) {
    const subs = f.composite_filter.filters;
    return f.composite_filter.op === AND ? subs.every((s) => matches(name, doc, s)) : subs.some((s) => matches(name, doc, s));
  }
  if (f.has_field_filter) return fieldMatches(fieldValue(name, doc, segmentsOf(f.field_filter.field.field_path)), f.field_filter);
  if (f.has_unary_filter) {
    const v = fieldValue(name, doc, segmentsOf(f.unary_filter.field.field_path));
    if (v === undefined) return false;
    const isNaN = isNumber(v) && Number.isNaN(numberOf(v));
    const isNull = "null_value" in v;
    switch (f.unary_filter.op) {
      case UNARY.IS_NAN:
        return isNaN;
      case UNARY.IS_NOT_NAN:
        return !isNaN && !isNull;
      case UNARY.IS_NULL:
        return isNull;
      case UNARY.IS_NOT_NULL:
        return !isNull;
    }
  }
  throw new Error("unsupported filter");
}

function segmentsOf(path: string): string[] {
  return path === NAME ? [NAME] : parseFieldPath(path);
}

function fieldMatches(v: FsValue | undefined, f: StructuredQueryFieldFilter): boolean {
  if (v === undefined) return false; // a filter never matches a document without the field
  const operand = fromProtoValue(f.value);
  const list = "array_value" in operand ? operand.array_value.values : [];
  const items = "array_value" in v ? v.array_value.values : [];
  // Range filters compare within one type only (numbers count as one type).
  const sameType = typeRank(v) === typeRank(operand);
  switch (f.op) {
    case OP.EQ:
      return valuesEqual(v, operand);
    case OP.NE:
      return !("null_value" in v) && !valuesEqual(v, operand);
    case OP.LT:
      return sameType && compareValues(v, operand) < 0;
    case OP.LTE:
      return sameType && compareValues(v, operand) <= 0;
    case OP.GT:
      return sameType && compareValues(v, operand) > 0;
    case OP.GTE:
      return sameType && compareValues(v, operand) >= 0;
    case OP.ARRAY_CONTAINS:
      return items.some((e) => valuesEqual(e, operand));
    case OP.ARRAY_CONTAINS_ANY:
      return items.some((e) => list.some((o) => valuesEqual(e, o)));
    case OP.IN:
      return list.some((o) => valuesEqual(v, o));
    case OP.NOT_IN:
      return !("null_value" in v) && !list.some((o) => valuesEqual(v, o));
    default:
      throw new Error(`unsupported filter operator ${f.op}`);
  }
}
