// One Write of a Commit applied to one document, as a pure function: preconditions, field
// mask, then field transforms. Nothing is stored here, so a Commit can stage all its writes
// first and apply them only if every one succeeds.
import type { DocumentTransformFieldTransform, Write } from "@firestore-emulator/proto/dist/google/firestore/v1/write";
import { Code, RpcError } from "./errors";
import { cloneFields, deletePath, getPath, parseFieldPath, setPath } from "./field-path";
import { compareTs, fromProtoFields, fromProtoValue, isNumber, numberOf, valuesEqual, type FsFields, type FsValue, type Ts } from "./values";

export interface StoredDoc {
  fields: FsFields;
  createTime: Ts;
  updateTime: Ts;
}

export interface AppliedWrite {
  name: string;
  next: StoredDoc | undefined; // undefined: the document does not exist after the write
  updateTime: Ts | undefined; // unset after a delete, as in the API
  transformResults: FsValue[];
}

const REQUEST_TIME = 1; // DocumentTransform.FieldTransform.ServerValue.REQUEST_TIME

export function writeTarget(write: Write): string {
  if (write.has_update) return write.update.name;
  if (write.has_delete) return write.delete;
  throw new RpcError(Code.INVALID_ARGUMENT, "only update and delete writes are supported by the embedded emulator");
}

export function applyWrite(current: StoredDoc | undefined, write: Write, commitTime: Ts): AppliedWrite {
  const name = writeTarget(write);
  if (write.has_current_document) checkPrecondition(name, current, write);
  if (write.has_delete) return { name, next: undefined, updateTime: undefined, transformResults: [] };

  const given = fromProtoFields(write.update.fields);
  let fields: FsFields;
  if (write.has_update_mask) {
    // Only masked paths change: set from the write where given, deleted where not.
    fields = current ? cloneFields(current.fields) : {};
    for (const path of write.update_mask.field_paths) {
      const segments = parseFieldPath(path);
      const value = getPath(given, segments);
      if (value === undefined) deletePath(fields, segments);
      else setPath(fields, segments, structuredClone(value));
    }
  } else {
    fields = given; // no mask: the document is replaced
  }
  const transformResults = write.update_transforms.map((t) => applyTransform(fields, t, commitTime));
  return {
    name,
    next: { fields, createTime: current?.createTime ?? commitTime, updateTime: commitTime },
    updateTime: commitTime,
    transformResults,
  };
}

function checkPrecondition(name: string, current: StoredDoc | undefined, write: Write): void {
  const pre = write.current_document;
  if (pre.has_exists) {
    if (pre.exists && !current) throw new RpcError(Code.NOT_FOUND, `no entity to update: ${name}`);
    if (!pre.exists && current) throw new RpcError(Code.ALREADY_EXISTS, `entity already exists: ${name}`);
  }
  if (pre.has_update_time) {
    const want = { seconds: Number(pre.update_time.seconds), nanos: pre.update_time.nanos };
    if (!current || compareTs(current.updateTime, want) !== 0) {
      throw new RpcError(Code.FAILED_PRECONDITION, `the document ${name} has a different update time than the precondition`);
    }
  }
}

/** Applies one field transform in place and returns its result value (as the API reports it). */
function applyTransform(fields: FsFields, t: DocumentTransformFieldTransform, commitTime: Ts): FsValue {
  const segments = parseFieldPath(t.field_path);
  const old = getPath(fields, segments);
  let next: FsValue;
  if (t.has_set_to_server_value) {
    if (t.set_to_server_value !== REQUEST_TIME) throw new RpcError(Code.INVALID_ARGUMENT, "unknown server value");
    next = { timestamp_value: { ...commitTime } };
  } else if (t.has_increment) {
    next = numeric(old, fromProtoValue(t.increment), (a, b) => a + b);
  } else if (t.has_maximum) {
    next = extremum(old, fromProtoValue(t.maximum), 1);
  } else if (t.has_minimum) {
    next = extremum(old, fromProtoValue(t.minimum), -1);
  } else if (t.has_append_missing_elements) {
    const values = old && "array_value" in old ? [...old.array_value.values] : [];
    for (const v of t.append_missing_elements.values.map(fromProtoValue)) {
      if (!values.some((e) => valuesEqual(e, v))) values.push(v);
    }
    next = { array_value: { values } };
  } else if (t.has_remove_all_from_array) {
    const remove = t.remove_all_from_array.values.map(fromProtoValue);
    const values = old && "array_value" in old ? old.array_value.values.filter((e) => !remove.some((r) => valuesEqual(e, r))) : [];
    next = { array_value: { values } };
  } else {
    throw new RpcError(Code.INVALID_ARGUMENT, `field transform on ${t.field_path} has no operation`);
  }
  setPath(fields, segments, next);
  return next;
}

/** increment: a non-number field is replaced by the operand; integer + integer stays integer. */
function numeric(old: FsValue | undefined, operand: FsValue, op: (a: number, b: number) => number): FsValue {
  if (!isNumber(operand)) throw new RpcError(Code.INVALID_ARGUMENT, "increment operand must be a number");
  if (!isNumber(old)) return operand;
  const sum = op(numberOf(old), numberOf(operand));
  return "integer_value" in old && "integer_value" in operand ? { integer_value: sum } : { double_value: sum };
}

/** maximum (sign 1) / minimum (sign -1): a non-number field is replaced by the operand. */
function extremum(old: FsValue | undefined, operand: FsValue, sign: 1 | -1): FsValue {
  if (!isNumber(operand)) throw new RpcError(Code.INVALID_ARGUMENT, "maximum/minimum operand must be a number");
  if (!isNumber(old)) return operand;
  const a = numberOf(old);
  const b = numberOf(operand);
  if (Number.isNaN(a) || Number.isNaN(b)) return { double_value: NaN };
  return (b - a) * sign > 0 ? operand : old;
}
