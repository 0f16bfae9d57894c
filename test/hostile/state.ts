import { collections } from '../../shared/inventory/firestore-inventory';
import { currentRoot } from '../helpers/stack';

export interface StateSnapshot {
  /** Every object in the blob bucket: name, size, content hash and generation (a rewrite changes it). */
  objects: { name: string; size: string; md5: string; generation: string }[];
  /** Every document of the inventory collections, by collection, as `{ id, data }` sorted by id. */
  documents: Record<string, { id: string; data: unknown }[]>;
}

/** What a rejected request must not change: the whole bucket and the machines, MAC claims and profiles. */
export async function snapshotState(): Promise<StateSnapshot> {
  const [files] = await currentRoot().clients.bucket.getFiles();
  const objects = files
    .map((f) => ({ name: f.name, size: String(f.metadata.size ?? ''), md5: String(f.metadata.md5Hash ?? ''), generation: String(f.metadata.generation ?? '') }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const documents: StateSnapshot['documents'] = {};
  for (const name of [collections.machines, collections.machineMacs, collections.profiles]) {
    const snap = await currentRoot().clients.firestore.collection(name).get();
    // Timestamps become `{_seconds, _nanoseconds}`: compared by value like everything else.
    documents[name] = snap.docs.map((d) => ({ id: d.id, data: JSON.parse(JSON.stringify(d.data())) as unknown })).sort((a, b) => a.id.localeCompare(b.id));
  }
  return { objects, documents };
}
