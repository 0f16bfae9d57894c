// Optimistic transaction isolation: a read-write transaction remembers the version of every
// document it read and the result of every query it ran; its commit (or any later read)
// fails with ABORTED if any of them changed meanwhile. @google-cloud/firestore retries
// ABORTED transactions itself, so this yields serialisable read-modify-write transactions.
import { randomBytes } from "node:crypto";
import { Code, RpcError } from "./errors";
import type { DocumentStore } from "./store";

interface QueryRead {
  rerun: () => string[]; // names of the documents the query returns now
  names: string[];
}

interface Transaction {
  readOnly: boolean;
  docs: Map<string, number>; // name -> version when first read
  queries: QueryRead[];
  lastUsed: number;
}

// Real Firestore expires idle transactions after about a minute; forgetting abandoned ones
// (a client that died between read and commit) only bounds memory here.
const IDLE_EXPIRY_MS = 5 * 60_000;

export class TransactionRegistry {
  private readonly active = new Map<string, Transaction>();

  constructor(private readonly store: DocumentStore) {}

  begin(readOnly: boolean): Uint8Array {
    this.sweep();
    const id = randomBytes(16);
    this.active.set(id.toString("hex"), { readOnly, docs: new Map(), queries: [], lastUsed: Date.now() });
    return id;
  }

  /** The transaction of a request; INVALID_ARGUMENT with the message the client retries on if unknown. */
  get(id: Uint8Array): Transaction {
    const tx = this.active.get(Buffer.from(id).toString("hex"));
    if (!tx) throw new RpcError(Code.INVALID_ARGUMENT, "The referenced transaction has expired or is no longer valid.");
    tx.lastUsed = Date.now();
    return tx;
  }

  end(id: Uint8Array): void {
    this.active.delete(Buffer.from(id).toString("hex"));
  }

  /**
   * Called before a read in `tx` is answered: aborts if an earlier read is already stale, so a
   * transaction never sees an inconsistent set of documents (it would abort at commit anyway,
   * but its function might first act on the inconsistency, e.g. throw a non-retried error).
   */
  beforeRead(tx: Transaction): void {
    if (!tx.readOnly) this.validate(tx);
  }

  recordDocs(tx: Transaction, names: Iterable<string>): void {
    if (tx.readOnly) return;
    for (const name of names) if (!tx.docs.has(name)) tx.docs.set(name, this.store.version(name));
  }

  recordQuery(tx: Transaction, names: string[], rerun: () => string[]): void {
    if (tx.readOnly) return;
    this.recordDocs(tx, names);
    tx.queries.push({ names, rerun });
  }

  /** Throws ABORTED if a document or query result read by `tx` changed since. */
  validate(tx: Transaction): void {
    for (const [name, version] of tx.docs) {
      if (this.store.version(name) !== version) throw aborted(`document ${name} changed since the transaction read it`);
    }
    for (const q of tx.queries) {
      const now = q.rerun();
      if (now.length !== q.names.length || now.some((n, i) => n !== q.names[i])) {
        throw aborted("the result of a query changed since the transaction ran it");
      }
    }
  }

  private sweep(): void {
    const cutoff = Date.now() - IDLE_EXPIRY_MS;
    for (const [id, tx] of this.active) if (tx.lastUsed < cutoff) this.active.delete(id);
  }
}

function aborted(why: string): RpcError {
  return new RpcError(Code.ABORTED, `Transaction lock timeout or contention: ${why}. Please try again.`);
}
