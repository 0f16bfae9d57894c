// StoredDoc -> the API's Document shape, with an optional field mask (projection).
import type { StoredDoc } from "./apply-write";
import { getPath, parseFieldPath, setPath } from "./field-path";
import type { FsFields } from "./values";

export interface DocumentObject {
  name: string;
  fields: FsFields;
  create_time: { seconds: number; nanos: number };
  update_time: { seconds: number; nanos: number };
}

/** `mask` undefined: all fields; otherwise only the given field paths ("__name__" selects none). */
export function toDocumentObject(name: string, doc: StoredDoc, mask?: string[]): DocumentObject {
  let fields = doc.fields;
  if (mask) {
    fields = {};
    for (const path of mask) {
      const segments = parseFieldPath(path);
      const value = getPath(doc.fields, segments);
      if (value !== undefined) setPath(fields, segments, value);
    }
  }
  return { name, fields, create_time: doc.createTime, update_time: doc.updateTime };
}
