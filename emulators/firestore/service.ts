// The gRPC Firestore service: the package's handlers, with the ones that read or write
// documents replaced, so that commits are atomic and transactions isolated (see
// transactions.ts). Listen and the rest stay the package's own.
import type { ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation, sendUnaryData } from "@grpc/grpc-js";
import type { FirestoreState } from "@firestore-emulator/server";
import type { Document } from "@firestore-emulator/proto/dist/google/firestore/v1/document";
import type * as F from "@firestore-emulator/proto/dist/google/firestore/v1/firestore";
import type { TransactionOptions } from "@firestore-emulator/proto/dist/google/firestore/v1/common";
import type { Empty } from "@firestore-emulator/proto/dist/google/protobuf/empty";
import type { StructuredAggregationQueryAggregation } from "@firestore-emulator/proto/dist/google/firestore/v1/query";
import { applyWrite, writeTarget, type AppliedWrite, type StoredDoc } from "./apply-write";
import { toDocumentObject } from "./documents";
import { Code, RpcError, toServiceError } from "./errors";
import { getPath, parseFieldPath } from "./field-path";
import { firestoreOperations } from "./operations";
import { runQuery } from "./query";
import { BaseService, documentProto, emptyProto, firestoreProto as P } from "./runtime";
import type { DocumentStore } from "./store";
import type { TransactionRegistry } from "./transactions";
import { isNumber, numberOf, type FsValue, type Ts } from "./values";

type Tx = ReturnType<TransactionRegistry["get"]>;

/** What the read RPCs have in common: a transaction, a transaction to begin, or neither. */
interface ReadSelector {
  consistency_selector: string;
  transaction: Uint8Array;
  new_transaction?: TransactionOptions;
}

export function createService(state: FirestoreState, store: DocumentStore, txs: TransactionRegistry): UntypedServiceImplementation {
  const base = new BaseService(state);

  /** The transaction a read runs in (beginning it if asked), after checking it is not already stale. */
  function readContext(req: ReadSelector): { tx?: Tx; newId?: Uint8Array } {
    if (req.consistency_selector === "transaction") {
      const tx = txs.get(req.transaction);
      txs.beforeRead(tx);
      return { tx };
    }
    if (req.consistency_selector === "new_transaction") {
      const newId = txs.begin(req.new_transaction?.has_read_only ?? false);
      return { tx: txs.get(newId), newId };
    }
    return {}; // plain read, or read_time: served from the current state (no history is kept)
  }

  /**
   * Ends a read stream with an error. A failed read that began its transaction must not leave
   * it behind. An error before any message makes the client's stream layer (retry-request in
   * google-gax) retry the call for seconds before giving up, even for ABORTED, so an empty
   * message (read_time only, which clients ignore) goes first, as after a partial result.
   */
  function failRead(call: ServerWritableStream<unknown, unknown>, empty: object, err: unknown, newId?: Uint8Array): void {
    if (newId) txs.end(newId);
    call.write(empty);
    call.emit("error", toServiceError(err));
  }

  const now = (): Ts => {
    const ms = Date.now();
    return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
  };

  function aggregate(names: string[], agg: StructuredAggregationQueryAggregation): FsValue {
    if (agg.has_count) {
      const upTo = agg.count.has_up_to ? Number(agg.count.up_to.value) : Infinity;
      return { integer_value: Math.min(names.length, upTo) };
    }
    const field = agg.has_sum ? agg.sum.field.field_path : agg.avg.field.field_path;
    const segments = parseFieldPath(field);
    const values = names
      .map((n) => store.get(n))
      .map((d) => (d ? getPath(d.fields, segments) : undefined))
      .filter(isNumber);
    const total = values.reduce((s, v) => s + numberOf(v), 0);
    if (agg.has_sum) {
      const allInts = values.every((v) => "integer_value" in v);
      return allInts && Number.isSafeInteger(total) ? { integer_value: total } : { double_value: total };
    }
    return values.length === 0 ? { null_value: 0 } : { double_value: total / values.length };
  }

  const handlers: UntypedServiceImplementation = {
    BeginTransaction(call: ServerUnaryCall<F.BeginTransactionRequest, F.BeginTransactionResponse>, callback: sendUnaryData<F.BeginTransactionResponse>) {
      const transaction = txs.begin(call.request.has_options && call.request.options.has_read_only);
      callback(null, P.BeginTransactionResponse.fromObject({ transaction }));
    },

    Rollback(call: ServerUnaryCall<F.RollbackRequest, Empty>, callback: sendUnaryData<Empty>) {
      txs.end(call.request.transaction);
      callback(null, emptyProto.Empty.fromObject({}));
    },

    Commit(call: ServerUnaryCall<F.CommitRequest, F.CommitResponse>, callback: sendUnaryData<F.CommitResponse>) {
      const req = call.request;
      const inTx = req.transaction.length > 0;
      try {
        if (inTx) {
          const tx = txs.get(req.transaction);
          if (tx.readOnly && req.writes.length > 0) throw new RpcError(Code.INVALID_ARGUMENT, "Cannot modify entities in a read-only transaction.");
          txs.validate(tx);
        }
        // Stage every write (later writes to a name see earlier ones), store only if all pass.
        const commitTime = store.nextCommitTime();
        const staged = new Map<string, StoredDoc | undefined>();
        const results: AppliedWrite[] = [];
        for (const write of req.writes) {
          const name = writeTarget(write);
          const applied = applyWrite(staged.has(name) ? staged.get(name) : store.get(name), write, commitTime);
          staged.set(name, applied.next);
          results.push(applied);
        }
        store.apply(staged);
        firestoreOperations.commit(req.writes.map(writeTarget));
        callback(
          null,
          P.CommitResponse.fromObject({
            commit_time: commitTime,
            write_results: results.map((r) => ({ update_time: r.updateTime, transform_results: r.transformResults })),
          }),
        );
      } catch (err) {
        callback(toServiceError(err), null);
      } finally {
        if (inTx) txs.end(req.transaction); // a commit ends its transaction, failed or not
      }
    },

    GetDocument(call: ServerUnaryCall<F.GetDocumentRequest, Document>, callback: sendUnaryData<Document>) {
      const req = call.request;
      try {
        const { tx } = readContext(req);
        if (tx) txs.recordDocs(tx, [req.name]);
        const doc = store.get(req.name);
        firestoreOperations.read(1);
        if (!doc) throw new RpcError(Code.NOT_FOUND, `Document "${req.name}" not found`);
        const mask = req.has_mask ? req.mask.field_paths : undefined;
        callback(null, documentProto.Document.fromObject(toDocumentObject(req.name, doc, mask)));
      } catch (err) {
        callback(toServiceError(err), null);
      }
    },

    BatchGetDocuments(call: ServerWritableStream<F.BatchGetDocumentsRequest, F.BatchGetDocumentsResponse>) {
      const req = call.request;
      let newId: Uint8Array | undefined;
      try {
        const ctx = readContext(req);
        newId = ctx.newId;
        if (ctx.tx) txs.recordDocs(ctx.tx, req.documents);
        const mask = req.has_mask ? req.mask.field_paths : undefined;
        const readTime = now();
        // Firestore bills a read per document asked for, found or not.
        firestoreOperations.read(req.documents.length);
        req.documents.forEach((name, i) => {
          const doc = store.get(name);
          call.write(
            P.BatchGetDocumentsResponse.fromObject({
              ...(doc ? { found: toDocumentObject(name, doc, mask) } : { missing: name }),
              read_time: readTime,
              ...(i === 0 && newId ? { transaction: newId } : {}),
            }),
          );
        });
        if (req.documents.length === 0 && newId) call.write(P.BatchGetDocumentsResponse.fromObject({ transaction: newId, read_time: readTime }));
        call.end();
      } catch (err) {
        failRead(call, P.BatchGetDocumentsResponse.fromObject({ read_time: now() }), err, newId);
      }
    },

    RunQuery(call: ServerWritableStream<F.RunQueryRequest, F.RunQueryResponse>) {
      const req = call.request;
      let newId: Uint8Array | undefined;
      try {
        const ctx = readContext(req);
        newId = ctx.newId;
        const query = req.structured_query;
        const names = runQuery(store, req.parent, query);
        if (ctx.tx) txs.recordQuery(ctx.tx, names, () => runQuery(store, req.parent, query));
        const mask = query.has_select ? query.select.fields.map((f) => f.field_path) : undefined;
        const readTime = now();
        const docs = names.map((n) => [n, store.get(n)] as const).filter((e): e is [string, StoredDoc] => e[1] !== undefined);
        // A query is billed a read per document returned, and one when it returns none.
        firestoreOperations.read(Math.max(1, docs.length));
        docs.forEach(([name, doc], i) => {
          call.write(
            P.RunQueryResponse.fromObject({
              document: toDocumentObject(name, doc, mask && mask.length > 0 ? mask : undefined),
              read_time: readTime,
              ...(i === 0 && newId ? { transaction: newId } : {}),
            }),
          );
        });
        call.write(P.RunQueryResponse.fromObject({ read_time: readTime, done: true, ...(docs.length === 0 && newId ? { transaction: newId } : {}) }));
        call.end();
      } catch (err) {
        failRead(call, P.RunQueryResponse.fromObject({ read_time: now() }), err, newId);
      }
    },

    RunAggregationQuery(call: ServerWritableStream<F.RunAggregationQueryRequest, F.RunAggregationQueryResponse>) {
      const req = call.request;
      let newId: Uint8Array | undefined;
      try {
        if (req.has_explain_options) throw new RpcError(Code.INVALID_ARGUMENT, "explain is not supported by the embedded emulator");
        const ctx = readContext(req);
        newId = ctx.newId;
        const agg = req.structured_aggregation_query;
        const names = runQuery(store, req.parent, agg.structured_query);
        if (ctx.tx) txs.recordQuery(ctx.tx, names, () => runQuery(store, req.parent, agg.structured_query));
        const fields = Object.fromEntries(agg.aggregations.map((a) => [a.alias, aggregate(names, a)]));
        // An aggregation is billed a read per 1,000 index entries it reads, at least one.
        firestoreOperations.read(Math.max(1, Math.ceil(names.length / 1000)));
        call.write(
          P.RunAggregationQueryResponse.fromObject({
            result: { aggregate_fields: fields },
            read_time: now(),
            ...(newId ? { transaction: newId } : {}),
          }),
        );
        call.end();
      } catch (err) {
        failRead(call, P.RunAggregationQueryResponse.fromObject({ read_time: now() }), err, newId);
      }
    },
  };

  // Every other method (Listen, ...) is the package's.
  const service: UntypedServiceImplementation = {};
  for (const name of Object.keys(BaseService.definition)) {
    const own = handlers[name];
    const inherited = (base as unknown as Record<string, unknown>)[name];
    if (own) service[name] = own;
    else if (typeof inherited === "function") service[name] = inherited.bind(base);
  }
  return service;
}
