// Java-free, download-free stand-ins for the Firebase emulators, run in process:
// - Firestore: @firestore-emulator/server (gRPC, in memory), made atomic and transactional by
//   emulators/firestore/ (optionally persisted under dataDir/firestore/).
// - Cloud Storage: the Firebase Storage emulator's own Node server from firebase-tools.
//
// The Storage part uses firebase-tools INTERNAL modules (lib/emulator/...), which have no
// type declarations and no stability promise. Written against firebase-tools 15.34.2;
// re-check this file whenever that version changes. No other file may import them.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEmbeddedFirestore } from "./firestore/server";
import type * as Winston from "winston";
import { withStreamingStorage } from "./storage/emulator";
import { localSigningCredentials, trustedSigner, type SigningCredentials } from "./storage/signing-key";

export interface EmbeddedEmulators {
  firestoreHost: string; // "127.0.0.1:PORT" (value for FIRESTORE_EMULATOR_HOST)
  storageHost: string; // "http://127.0.0.1:PORT" (value for STORAGE_EMULATOR_HOST)
  storageDir: string; // where the Storage emulator keeps object bytes (a temporary directory): what tests look at
  stop(): Promise<void>; // stops both servers, idempotent, leaves no handles open
}

export interface EmbeddedEmulatorOptions {
  firestorePort?: number; // 0 / undefined: a free port
  storagePort?: number; // 0 / undefined: a free port
  projectId?: string;
  host?: string;
  dataDir?: string; // state kept across runs (Firestore: dataDir/firestore/, Storage: dataDir/storage/); undefined: in memory / temp only
}

// --- minimal shapes of the firebase-tools internals used below ---
interface StorageEmulatorLike {
  start(): Promise<void>;
  stop(): Promise<void>;
  getInfo(): { name: string; host: string; port: number };
}
interface StorageEmulatorArgs {
  projectId: string;
  host: string;
  port: number;
  rules: unknown;
  auto_download?: boolean;
}
type StorageEmulatorCtor = new (args: StorageEmulatorArgs) => StorageEmulatorLike;
interface RegistryLike {
  start(instance: StorageEmulatorLike): Promise<void>;
  stop(name: string): Promise<void>;
  get(name: string): StorageEmulatorLike | undefined;
  clear(name: string): void;
}

let loggingConfigured = false;

// Loaded with require(), as internals without type declarations (the same reason for
// @firestore-emulator/* is in firestore/runtime.ts).
function loadModules() {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const winston = require("winston") as typeof Winston;
  const { StorageEmulator } = require("firebase-tools/lib/emulator/storage") as { StorageEmulator: StorageEmulatorCtor };
  const { EmulatorRegistry } = require("firebase-tools/lib/emulator/registry") as { EmulatorRegistry: RegistryLike };
  const { EmulatorLogger, Verbosity } = require("firebase-tools/lib/emulator/emulatorLogger") as {
    EmulatorLogger: { setVerbosity(v: number): void };
    Verbosity: { QUIET: number };
  };
  const { logger } = require("firebase-tools/lib/logger") as { logger: Winston.Logger };
  /* eslint-enable @typescript-eslint/no-require-imports */

  if (!loggingConfigured) {
    loggingConfigured = true;
    // QUIET turns info/bullet/success lines into debug lines. firebase-tools' own logger has
    // only a silent console transport outside its CLI, so add one for warnings and errors.
    EmulatorLogger.setVerbosity(Verbosity.QUIET);
    logger.add(
      new winston.transports.Console({
        level: "warn",
        stderrLevels: ["error", "warn"],
        format: winston.format.printf((info) => {
          const splat = (info[Symbol.for("splat")] as unknown[] | undefined) ?? [];
          const text = [info.message, ...splat].filter((s) => typeof s === "string").join(" ");
          return `[storage emulator] ${text}`;
        }),
      }),
    );
  }
  return { StorageEmulator, EmulatorRegistry };
}

/**
 * Listens briefly on host:port and returns the port (0 picks a free one); rejects with
 * EADDRINUSE if taken. Neither server reports a port chosen by 0, and the Storage server
 * would crash the process with an unhandled 'error' event on a busy port.
 */
function probePort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(port, host, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * The server of `firebase emulators:start --only storage`, minus the Java rules runtime (the
 * GCS JSON API routes use the admin storage layer, which never consults rules), blobs in blobDir.
 */
function createStorageEmulator(Base: StorageEmulatorCtor, args: StorageEmulatorArgs, blobDir: string, dataDir?: string): StorageEmulatorLike {
  // Streaming uploads/downloads and resumable sessions (emulators/storage/); dataDir/storage persistence.
  // V4 signed URLs are checked against the local signing key, the one createSigningCredentials() hands out.
  class EmbeddedStorageEmulator extends withStreamingStorage(Base, { dataDir, trustedSigners: [trustedSigner(localSigningCredentials())] }) {
    _rulesRuntime = { start: async () => {}, stop: async () => {} };
    createRulesManager() {
      return { start: async () => {}, stop: async () => {}, getRuleset: () => undefined };
    }
    getPersistenceTmpDir() {
      return blobDir; // called from the base constructor
    }
  }
  return new EmbeddedStorageEmulator(args);
}

export async function startEmbeddedEmulators(opts: EmbeddedEmulatorOptions = {}): Promise<EmbeddedEmulators> {
  const host = opts.host ?? "127.0.0.1";
  const projectId = opts.projectId ?? "demo-netboot";
  const { StorageEmulator, EmulatorRegistry } = loadModules();

  const firestore = createEmbeddedFirestore({ dataDir: opts.dataDir && join(opts.dataDir, "firestore") });
  let storage: StorageEmulatorLike | undefined;
  let blobDir: string | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await firestore.stop(); // exports to dataDir/firestore/ if given
      // The registry is process-global and holds at most one Storage emulator: only touch ours.
      if (storage && EmulatorRegistry.get("storage") === storage) {
        await EmulatorRegistry.stop("storage");
        if (EmulatorRegistry.get("storage") === storage) EmulatorRegistry.clear("storage");
      }
      if (blobDir) await rm(blobDir, { recursive: true, force: true });
    })());

  let firestorePort: number;
  let storagePort: number;
  try {
    // @firestore-emulator/server always binds 0.0.0.0, whatever `host` is.
    firestorePort = await probePort("0.0.0.0", opts.firestorePort ?? 0);
    await firestore.start(firestorePort);
    // Probed only now, so that a free-port pick cannot land on Firestore's port.
    storagePort = await probePort(host, opts.storagePort ?? 0);
    blobDir = await mkdtemp(join(tmpdir(), "netboot-storage-emulator-"));
    storage = createStorageEmulator(StorageEmulator, { projectId, host, port: storagePort, rules: undefined, auto_download: false }, blobDir, opts.dataDir);
    // Must go through the registry: bucket handling looks the emulator's address up there.
    await EmulatorRegistry.start(storage);
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }

  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    firestoreHost: `${hostPart}:${firestorePort}`,
    storageHost: `http://${hostPart}:${storagePort}`,
    storageDir: blobDir,
    stop,
  };
}

/**
 * Service-account credentials so @google-cloud/storage can sign V4 URLs locally: the local
 * signing key (emulators/storage/signing-key.ts), whose signatures the embedded Storage emulator
 * accepts, in this process or another one of this checkout.
 */
export function createSigningCredentials(): SigningCredentials {
  return localSigningCredentials();
}
