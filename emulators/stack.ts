import type http from 'node:http';
import { loadConfig, type Config } from '../shared/config';
import { createRoot, type Root, type RootParts } from '../shared/root';
import { telemetryFromEnvironment, type Telemetry } from '../shared/telemetry';
import { createSigningCredentials, startEmbeddedEmulators, type EmbeddedEmulators } from './embedded';
import { createGateway, listen } from './gateway';
import { ensureLocalKeyPair, localAdminEmail } from './local-issuer';

export interface LocalStack {
  url: string;
  port: number;
  /** Started here, or undefined when FIRESTORE_EMULATOR_HOST / STORAGE_EMULATOR_HOST were given. */
  emulators: EmbeddedEmulators | undefined;
  /** The composition root serving requests now. */
  root(): Root;
  /** Serves from now on with the environment changed by `env` (undefined removes a variable); the clients stay. */
  reconfigure(env: Record<string, string | undefined>): void;
  stop(): Promise<void>;
}

export interface LocalStackOptions {
  port?: number;
  host?: string;
  /** Wraps or replaces parts of the composition root (tests: faults, a clock of their own). */
  decorate?: (parts: RootParts) => RootParts;
  /** Embedded emulators only: keep their data in this directory across restarts (default: in memory). */
  dataDir?: string;
  /**
   * Telemetry of the stack (default: from the OTEL_* variables, plus metrics collected for the
   * gateway's GET /metrics); kept across reconfigure, shut down (flushed) by stop().
   */
  telemetry?: Telemetry;
}

/**
 * Emulators (embedded unless the environment already names running ones), the blob
 * bucket, and every function behind the local gateway on `port`, served from one
 * composition root built from the environment plus the local stack's own settings.
 */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  let emulators: EmbeddedEmulators | undefined;
  if (!process.env.FIRESTORE_EMULATOR_HOST || !process.env.STORAGE_EMULATOR_HOST) {
    emulators = await startEmbeddedEmulators({ dataDir: opts.dataDir });
    process.env.FIRESTORE_EMULATOR_HOST ??= emulators.firestoreHost;
    process.env.STORAGE_EMULATOR_HOST ??= emulators.storageHost;
  }
  // The Google clients read these from the environment themselves.
  // Emulators need no Google credentials: skip the metadata-server probe (and its warning).
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  const localDefaults = {
    // Admin tokens come from the local issuer (`npm run admin-token`), verified like Google's.
    LOCAL_AUTH_PUBLIC_KEY_FILE: ensureLocalKeyPair().publicKeyFile,
    ADMIN_PRINCIPALS: localAdminEmail,
    // URLs are signed with a key made now; production signs through IAM instead.
    STORAGE_SIGNING_CREDENTIALS: JSON.stringify(createSigningCredentials()),
  };
  let env: Record<string, string | undefined> = { ...localDefaults, ...process.env };
  const config: Config = loadConfig(env);
  const telemetry = opts.telemetry ?? telemetryFromEnvironment(env, { prometheus: true });
  let root = createRoot(config, { telemetry, decorate: opts.decorate });
  const { clients } = root;
  await clients.bucket.getFiles({ maxResults: 1 }); // the Storage emulator creates a bucket on first use of any object path

  const server: http.Server = createGateway(() => root);
  const port = await listen(server, opts.port ?? 0, opts.host);
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;

  return {
    url,
    port,
    emulators,
    root: () => root,
    reconfigure(changes) {
      env = { ...env, ...changes };
      for (const [name, value] of Object.entries(changes)) if (value === undefined) Reflect.deleteProperty(env, name);
      root = createRoot(loadConfig(env), { clients, telemetry, decorate: opts.decorate });
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await clients.close();
      await telemetry.shutdown();
      await emulators?.stop();
    },
  };
}
