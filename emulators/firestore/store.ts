// The documents, keyed by full resource name. This map is the source of truth for reads,
// queries and writes; every change is mirrored into the package's FirestoreState only for
// the package's Listen (onSnapshot) streams, which keep working on it.
import type { FirestoreState, FirestoreStateDocument } from "@firestore-emulator/server";
import type { StoredDoc } from "./apply-write";
import { FieldIndex } from "./field-index";
import { parseFieldPath } from "./field-path";
import { documentProto, toStateField } from "./runtime";
import type { Ts } from "./values";

/** The parts of the package's document that it keeps private but a mirror must set. */
interface MirrorDocument {
  metadata: { hasExist: false; createdAt: null; updatedAt: null } | { hasExist: true; createdAt: Date; updatedAt: Date };
  fields: Record<string, unknown>;
}

export class DocumentStore {
  private readonly docs = new Map<string, StoredDoc>();
  private readonly byCollection = new Map<string, Set<string>>(); // collection path -> names
  private readonly indexes = new Map<string, Map<string, FieldIndex>>(); // collection path -> field path -> index
  // Bumped on every write of a name (delete included), so that a transaction can tell whether
  // a document it read changed since, even when it was deleted and re-created meanwhile.
  private readonly versions = new Map<string, number>();
  private sequence = 0;
  private lastMicros = 0;

  constructor(private readonly mirror: FirestoreState) {}

  get(name: string): StoredDoc | undefined {
    return this.docs.get(name);
  }

  version(name: string): number {
    return this.versions.get(name) ?? 0;
  }

  /** Strictly increasing commit times (microseconds), so update times identify versions. */
  nextCommitTime(): Ts {
    const micros = Math.max(Date.now() * 1000, this.lastMicros + 1);
    this.lastMicros = micros;
    return { seconds: Math.floor(micros / 1e6), nanos: (micros % 1e6) * 1000 };
  }

  /** Installs the results of one commit; called only after every write of it succeeded. */
  apply(changes: Map<string, StoredDoc | undefined>): void {
    for (const [name, next] of changes) {
      this.versions.set(name, ++this.sequence);
      if (next) this.put(name, next);
      else this.remove(name);
      this.mirrorDocument(name, next);
    }
  }

  /** Loads a document as is (persistence import), keeping its times. */
  load(name: string, doc: StoredDoc): void {
    this.put(name, doc);
    const t = doc.updateTime;
    this.lastMicros = Math.max(this.lastMicros, t.seconds * 1e6 + Math.floor(t.nanos / 1000));
    this.mirrorDocument(name, doc);
  }

  entries(): IterableIterator<[string, StoredDoc]> {
    return this.docs.entries();
  }

  /** Documents directly in the collection `path` (".../documents/a/x/b"). */
  *inCollection(path: string): Generator<[string, StoredDoc]> {
    for (const name of this.byCollection.get(path) ?? []) yield [name, this.docs.get(name) as StoredDoc];
  }

  /** Documents under `parent` in any collection named `id` (a collection group query). */
  *inCollectionGroup(parent: string, id: string): Generator<[string, StoredDoc]> {
    for (const [path, names] of this.byCollection) {
      if (!path.startsWith(`${parent}/`) || path.slice(path.lastIndexOf("/") + 1) !== id) continue;
      for (const name of names) yield [name, this.docs.get(name) as StoredDoc];
    }
  }

  /** The equality index of `fieldPath` in collection `path`, built on first use. */
  index(path: string, fieldPath: string): FieldIndex {
    let byField = this.indexes.get(path);
    if (!byField) this.indexes.set(path, (byField = new Map()));
    let index = byField.get(fieldPath);
    if (!index) {
      index = new FieldIndex(parseFieldPath(fieldPath));
      for (const [name, doc] of this.inCollection(path)) index.add(name, doc);
      byField.set(fieldPath, index);
    }
    return index;
  }

  private put(name: string, doc: StoredDoc): void {
    const collection = name.slice(0, name.lastIndexOf("/"));
    const previous = this.docs.get(name);
    for (const index of this.indexes.get(collection)?.values() ?? []) {
      if (previous) index.remove(name, previous);
      index.add(name, doc);
    }
    this.docs.set(name, doc);
    let names = this.byCollection.get(collection);
    if (!names) this.byCollection.set(collection, (names = new Set()));
    names.add(name);
  }

  private remove(name: string): void {
    const collection = name.slice(0, name.lastIndexOf("/"));
    const previous = this.docs.get(name);
    if (previous) for (const index of this.indexes.get(collection)?.values() ?? []) index.remove(name, previous);
    this.docs.delete(name);
    this.byCollection.get(collection)?.delete(name);
  }

  private mirrorDocument(name: string, next: StoredDoc | undefined): void {
    const target = this.mirror.getDocument(name);
    const doc = target as unknown as MirrorDocument;
    const existed = doc.metadata.hasExist;
    if (next) {
      doc.metadata = { hasExist: true, createdAt: toDate(next.createTime), updatedAt: toDate(next.updateTime) };
      doc.fields = Object.fromEntries(Object.entries(next.fields).map(([k, v]) => [k, toStateField(documentProto.Value.fromObject(v))]));
    } else {
      if (!existed) return;
      doc.metadata = { hasExist: false, createdAt: null, updatedAt: null };
      doc.fields = {};
    }
    const event = !next ? "delete-document" : existed ? "update-document" : "create-document";
    this.mirror.emitter.emit(event, { document: target as FirestoreStateDocument });
  }
}

function toDate(t: Ts): Date {
  return new Date(t.seconds * 1000 + Math.floor(t.nanos / 1e6));
}
