// Mixin over firebase-tools' StorageEmulator (15.34.2): serves resumable sessions, one-shot
// uploads, compose and media downloads streamed to and from disk in front of its own app, and loads/saves
// dataDir/storage. See router.ts for the routes taken over.
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { join } from "node:path";
import { firebaseStorageInternals, type StorageEmulatorInternals, type StorageLayer } from "./internals";
import { exportState, importState } from "./persist";
import { ResumableSessions } from "./resumable";
import { createFrontHandler } from "./router";
import type { TrustedSigner } from "./signing-key";

interface EmulatorBase {
  start(): Promise<void>;
  stop(): Promise<void>;
  getInfo(): { host: string; port: number };
}
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the mixin pattern needs an any[] constructor
type Ctor<T> = new (...args: any[]) => T;

export interface StreamingStorageOptions {
  /** When set, objects are loaded from dataDir/storage at start and saved there at stop. */
  dataDir?: string;
  /** Service accounts whose V4 signed URLs are accepted (GCS checks them against IAM's keys). */
  trustedSigners?: TrustedSigner[];
}

// The names a signer on this machine reaches the emulator by (STORAGE_EMULATOR_HOST, the HTTPS door).
const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"];

/**
 * getObject() of the firebase-tools storage layer reads the whole file even when only metadata is
 * wanted (GET of an object's JSON resource): read the bytes only if a caller touches `data`.
 */
function makeReadsLazy(layer: StorageLayer): void {
  const getObject = layer.getObject;
  layer.getObject = async (request) => {
    const noBytes = Object.create(layer, { getBytes: { value: () => undefined } }) as StorageLayer;
    const { metadata } = await getObject.call(noBytes, request);
    return {
      metadata,
      get data() {
        return layer.getBytes(request.bucketId, request.decodedObjectId);
      },
    };
  };
}

function destroyer(server: Server): () => Promise<void> {
  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  let closing: Promise<void> | undefined;
  return () =>
    (closing ??= new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }));
}

export function withStreamingStorage<B extends Ctor<EmulatorBase>>(Base: B, opts: StreamingStorageOptions = {}) {
  return class StreamingStorageEmulator extends Base {
    private sessions?: ResumableSessions;

    override async start(): Promise<void> {
      const emu = this as unknown as StorageEmulatorInternals;
      makeReadsLazy(emu.storageLayer);
      makeReadsLazy(emu.adminStorageLayer);
      if (opts.dataDir) await importState(emu, join(opts.dataDir, "storage"));
      // The base start() minus its rules runtime: the same app, behind the streaming routes.
      const app = await firebaseStorageInternals().createApp(emu.args.projectId, this);
      emu._app = app;
      const sessions = (this.sessions = new ResumableSessions(emu));
      const { host, port } = this.getInfo();
      const listenName = host.includes(":") ? `[${host}]` : host;
      const front = createFrontHandler(emu, sessions, {
        signers: new Map((opts.trustedSigners ?? []).map((s) => [s.email, s])),
        // The listen address too, a wildcard included: a stack on 0.0.0.0 signs for 0.0.0.0.
        hostAliases: [...new Set([...LOOPBACK_NAMES, listenName])],
      });
      const server = createServer((req, res) => front(req, res, () => app(req, res)));
      // Google's front ends keep idle connections open for minutes; Node's 5 s default closes a
      // pooled socket just as a client reuses it ("socket hang up" on a read, seen under load).
      server.keepAliveTimeout = 620_000;
      server.headersTimeout = 630_000;
      server.requestTimeout = 0; // Node's default 300 s would cut off large uploads on slow links
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
      emu.destroyServer = destroyer(server);
    }

    override async stop(): Promise<void> {
      const emu = this as unknown as StorageEmulatorInternals;
      await emu.destroyServer?.();
      await this.sessions?.closeAll();
      if (opts.dataDir) await exportState(emu, join(opts.dataDir, "storage"));
      await emu._persistence.deleteAll();
    }
  };
}
