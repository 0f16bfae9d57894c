// Shared by this directory's tests: an embedded Firestore on a free port and clients for it.
import { createServer } from "node:net";
import { Firestore } from "@google-cloud/firestore";
import { createEmbeddedFirestore, type EmbeddedFirestoreOptions } from "./server";

export interface TestFirestore {
  host: string;
  client(): Firestore; // a new client (each one has its own channel)
  stop(): Promise<void>; // terminates the clients made here, then the server
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export async function startTestFirestore(opts: EmbeddedFirestoreOptions = {}): Promise<TestFirestore> {
  // The client prefers FIRESTORE_EMULATOR_HOST over its settings: these tests are about the
  // embedded server, never an emulator named by the environment.
  Reflect.deleteProperty(process.env, "FIRESTORE_EMULATOR_HOST");
  process.env.METADATA_SERVER_DETECTION = "none"; // no GCE metadata probe (offline warning)
  const server = createEmbeddedFirestore(opts);
  const port = await freePort();
  await server.start(port);
  const host = `127.0.0.1:${port}`;
  const clients: Firestore[] = [];
  return {
    host,
    client() {
      const db = new Firestore({ projectId: "demo-embedded-test", host, ssl: false });
      clients.push(db);
      return db;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.terminate()));
      await server.stop();
    },
  };
}
