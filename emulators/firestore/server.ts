// The embedded Firestore: the package's state and gRPC service, with atomic commits and
// isolated transactions (service.ts), optionally persisted in a directory.
import type { Server } from "@grpc/grpc-js";
import { exportDocuments, importDocuments } from "./persistence";
import { BaseService, grpc, serverPkg } from "./runtime";
import { createService } from "./service";
import { DocumentStore } from "./store";
import { TransactionRegistry } from "./transactions";

export interface EmbeddedFirestoreOptions {
  /** Documents are imported from here at start (if exported before) and exported here at stop. */
  dataDir?: string;
}

export interface EmbeddedFirestore {
  /** Binds 0.0.0.0:port (as the package's own server does). */
  start(port: number): Promise<void>;
  /** Stops serving, then exports if a dataDir was given. Idempotent. */
  stop(): Promise<void>;
}

export function createEmbeddedFirestore(opts: EmbeddedFirestoreOptions = {}): EmbeddedFirestore {
  const state = new serverPkg.FirestoreState();
  const store = new DocumentStore(state);
  const server: Server = new grpc.Server();
  server.addService(BaseService.definition, createService(state, store, new TransactionRegistry(store)));
  let started = false;
  let stopping: Promise<void> | undefined;

  return {
    async start(port) {
      if (opts.dataDir) await importDocuments(opts.dataDir, store);
      await new Promise<void>((resolve, reject) =>
        server.bindAsync(`0.0.0.0:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
      );
      started = true;
    },
    stop() {
      return (stopping ??= (async () => {
        server.forceShutdown();
        // Only export what was served: a start that failed before loading must not overwrite the data.
        if (opts.dataDir && started) await exportDocuments(opts.dataDir, store);
      })());
    },
  };
}
