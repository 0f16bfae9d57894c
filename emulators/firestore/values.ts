// Firestore values as plain objects (the gRPC Value shape with exactly one key set), plus the
// total order Firestore uses to compare them (needed by transforms, cursors and sorting).
import type { Value as ProtoValue } from "@firestore-emulator/proto/dist/google/firestore/v1/document";

export interface Ts {
  seconds: number;
  nanos: number;
}

export type FsValue =
  | { null_value: 0 }
  | { boolean_value: boolean }
  | { integer_value: number }
  | { double_value: number }
  | { timestamp_value: Ts }
  | { string_value: string }
  | { bytes_value: Uint8Array }
  | { reference_value: string }
  | { geo_point_value: { latitude: number; longitude: number } }
  | { array_value: { values: FsValue[] } }
  | { map_value: { fields: FsFields } };

export type FsFields = Record<string, FsValue>;

/** Proto Value -> FsValue. Uses has_* because the generated toObject() fills every oneof member. */
export function fromProtoValue(v: ProtoValue): FsValue {
  if (v.has_null_value) return { null_value: 0 };
  if (v.has_boolean_value) return { boolean_value: v.boolean_value };
  if (v.has_integer_value) return { integer_value: Number(v.integer_value) };
  if (v.has_double_value) return { double_value: v.double_value };
  if (v.has_timestamp_value) return { timestamp_value: { seconds: Number(v.timestamp_value.seconds), nanos: v.timestamp_value.nanos } };
  if (v.has_string_value) return { string_value: v.string_value };
  if (v.has_bytes_value) return { bytes_value: Uint8Array.from(v.bytes_value) };
  if (v.has_reference_value) return { reference_value: v.reference_value };
  if (v.has_geo_point_value) return { geo_point_value: { latitude: v.geo_point_value.latitude, longitude: v.geo_point_value.longitude } };
  if (v.has_array_value) return { array_value: { values: v.array_value.values.map(fromProtoValue) } };
  if (v.has_map_value) return { map_value: { fields: fromProtoFields(v.map_value.fields) } };
  throw new Error("unsupported Firestore value type");
}

export function fromProtoFields(fields: Map<string, ProtoValue>): FsFields {
  const out: FsFields = {};
  for (const [k, v] of fields) out[k] = fromProtoValue(v);
  return out;
}

export function isNumber(v: FsValue | undefined): v is { integer_value: number } | { double_value: number } {
  return v !== undefined && ("integer_value" in v || "double_value" in v);
}

export function numberOf(v: { integer_value: number } | { double_value: number }): number {
  return "integer_value" in v ? v.integer_value : v.double_value;
}

/** Rank of each type in Firestore's cross-type ordering. */
export function typeRank(v: FsValue): number {
  if ("null_value" in v) return 0;
  if ("boolean_value" in v) return 1;
  if ("integer_value" in v || "double_value" in v) return 2;
  if ("timestamp_value" in v) return 3;
  if ("string_value" in v) return 4;
  if ("bytes_value" in v) return 5;
  if ("reference_value" in v) return 6;
  if ("geo_point_value" in v) return 7;
  if ("array_value" in v) return 8;
  return 9;
}

const cmp = (a: number | string, b: number | string): number => (a < b ? -1 : a > b ? 1 : 0);

function compareNumbers(a: number, b: number): number {
  // NaN sorts before every other number and equals itself.
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
  if (Number.isNaN(b)) return 1;
  return cmp(a, b);
}

/** Firestore's total order of values (strings by UTF-16 code unit, close to its UTF-8 order). */
export function compareValues(a: FsValue, b: FsValue): number {
  const r = typeRank(a) - typeRank(b);
  if (r !== 0) return Math.sign(r);
  if ("boolean_value" in a && "boolean_value" in b) return cmp(Number(a.boolean_value), Number(b.boolean_value));
  if (isNumber(a) && isNumber(b)) return compareNumbers(numberOf(a), numberOf(b));
  if ("timestamp_value" in a && "timestamp_value" in b) return compareTs(a.timestamp_value, b.timestamp_value);
  if ("string_value" in a && "string_value" in b) return cmp(a.string_value, b.string_value);
  if ("bytes_value" in a && "bytes_value" in b) return Math.sign(Buffer.compare(a.bytes_value, b.bytes_value));
  if ("reference_value" in a && "reference_value" in b) return compareSegments(a.reference_value.split("/"), b.reference_value.split("/"));
  if ("geo_point_value" in a && "geo_point_value" in b) {
    return (
      compareNumbers(a.geo_point_value.latitude, b.geo_point_value.latitude) ||
      compareNumbers(a.geo_point_value.longitude, b.geo_point_value.longitude)
    );
  }
  if ("array_value" in a && "array_value" in b) return compareLists(a.array_value.values, b.array_value.values);
  if ("map_value" in a && "map_value" in b) return compareMaps(a.map_value.fields, b.map_value.fields);
  return 0; // both null
}

export function compareTs(a: Ts, b: Ts): number {
  return cmp(a.seconds, b.seconds) || cmp(a.nanos, b.nanos);
}

export function compareSegments(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = cmp(a[i] as string, b[i] as string);
    if (c !== 0) return c;
  }
  return cmp(a.length, b.length);
}

function compareLists(a: FsValue[], b: FsValue[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareValues(a[i] as FsValue, b[i] as FsValue);
    if (c !== 0) return c;
  }
  return cmp(a.length, b.length);
}

function compareMaps(a: FsFields, b: FsFields): number {
  const ak = Object.keys(a).sort();
  const bk = Object.keys(b).sort();
  for (let i = 0; i < Math.min(ak.length, bk.length); i++) {
    const ka = ak[i] as string;
    const kb = bk[i] as string;
    const c = cmp(ka, kb) || compareValues(a[ka] as FsValue, b[kb] as FsValue);
    if (c !== 0) return c;
  }
  return cmp(ak.length, bk.length);
}

/** Equality as used by queries and array transforms (1 == 1.0, NaN == NaN). */
export function valuesEqual(a: FsValue, b: FsValue): boolean {
  return compareValues(a, b) === 0;
}
