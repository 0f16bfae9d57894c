// Field paths as the API spells them ("a.b", "`odd.key`.c") and access to nested map fields.
import type { FsFields, FsValue } from "./values";

/** Splits a field path into segments; backquoted segments may contain dots and \-escapes. */
export function parseFieldPath(path: string): string[] {
  const segments: string[] = [];
  let i = 0;
  while (i <= path.length) {
    let seg = "";
    if (path[i] === "`") {
      i++;
      while (i < path.length && path[i] !== "`") {
        if (path[i] === "\\") i++;
        seg += path[i] ?? "";
        i++;
      }
      i++; // closing backquote
    } else {
      while (i < path.length && path[i] !== ".") seg += path[i++];
    }
    segments.push(seg);
    if (path[i] !== ".") break;
    i++;
  }
  return segments;
}

export function getPath(fields: FsFields, segments: string[]): FsValue | undefined {
  let cur: FsFields | undefined = fields;
  for (let i = 0; i < segments.length; i++) {
    const v: FsValue | undefined = cur?.[segments[i] as string];
    if (i === segments.length - 1) return v;
    cur = v && "map_value" in v ? v.map_value.fields : undefined;
  }
  return undefined;
}

/** Sets a nested field, creating (or replacing non-map values by) maps on the way. Mutates `fields`. */
export function setPath(fields: FsFields, segments: string[], value: FsValue): void {
  let cur = fields;
  for (let i = 0; i < segments.length - 1; i++) {
    const key = segments[i] as string;
    const v = cur[key];
    if (!v || !("map_value" in v)) cur[key] = { map_value: { fields: {} } };
    cur = (cur[key] as { map_value: { fields: FsFields } }).map_value.fields;
  }
  cur[segments[segments.length - 1] as string] = value;
}

export function deletePath(fields: FsFields, segments: string[]): void {
  let cur: FsFields | undefined = fields;
  for (let i = 0; i < segments.length - 1 && cur; i++) {
    const v: FsValue | undefined = cur[segments[i] as string];
    cur = v && "map_value" in v ? v.map_value.fields : undefined;
  }
  if (cur) Reflect.deleteProperty(cur, segments[segments.length - 1] as string);
}

/** Deep copy, so that a staged write never aliases the stored document. */
export function cloneFields(fields: FsFields): FsFields {
  return structuredClone(fields);
}
