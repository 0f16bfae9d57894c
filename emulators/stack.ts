import type http from 'node:http';
import tls from 'node:tls';
import { loadConfig, type Config } from '../shared/config';
import { createRoot, type Root, type RootParts } from '../shared/root';
import { telemetryFromEnvironment, type Telemetry } from '../shared/telemetry';
import { createSigningCredentials, startEmbeddedEmulators, type EmbeddedEmulators } from './embedded';
import { createGateway, listen } from './gateway';
import { ensureLocalKeyPair, localAdminEmail } from './local-issuer';
import { defaultLeafNames, ensureLocalCa, issueCertificate, localTlsDir, type KeyType } from './tls/ca';
import { openTlsDoor, urlHost, type TlsDoor } from './tls/door';

export interface LocalStack {
  url: string;
  port: number;
  /** Where Storage answers clients (signed URLs, upload sessions): the HTTPS door under TLS, else the emulator. */
  storageUrl: string;
  /** Under TLS: the local CA (what clients trust) and its SHA-256 fingerprint. */
  ca?: { certPath: string; fingerprintSha256: string };
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
  /**
   * Serve HTTPS under the local CA (emulators/tls/ca.ts), with a leaf of this key type, and open
   * an HTTPS door in front of the Storage emulator that signed URLs and upload sessions name.
   */
  tls?: KeyType;
  /** Names and addresses the leaf carries besides localhost, 127.0.0.1, 10.0.2.2 and `host`. */
  tlsNames?: string[];
  /** Port of the Storage HTTPS door (default: a free one). */
  storageTlsPort?: number;
  /** Where the local CA is kept (default .cache/local-tls). */
  tlsDir?: string;
}

/**
 * Emulators (embedded unless the environment already names running ones), the blob
 * bucket, and every function behind the local gateway on `port`, served from one
 * composition root built from the environment plus the local stack's own settings.
 */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  let emulators: EmbeddedEmulators | undefined;
  const host = opts.host ?? '127.0.0.1';
  if (!process.env.FIRESTORE_EMULATOR_HOST || !process.env.STORAGE_EMULATOR_HOST) {
    // Storage listens where the gateway does: machines that reach one reach the other.
    emulators = await startEmbeddedEmulators({ dataDir: opts.dataDir, host });
    process.env.FIRESTORE_EMULATOR_HOST ??= emulators.firestoreHost;
    process.env.STORAGE_EMULATOR_HOST ??= emulators.storageHost;
  }
  const secure = opts.tls ? await openSecureDoors(opts.tls, host, opts) : undefined;
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

  const server: http.Server = createGateway(() => root, { tls: secure?.credentials });
  const port = await listen(server, opts.port ?? 0, host);
  const url = `${secure ? 'https' : 'http'}://${urlHost(host)}:${port}`;

  return {
    url,
    port,
    storageUrl: process.env.STORAGE_EMULATOR_HOST ?? '',
    ...(secure ? { ca: { certPath: secure.ca.certPath, fingerprintSha256: secure.ca.fingerprintSha256 } } : {}),
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
      await secure?.close();
      await emulators?.stop();
    },
  };
}

/**
 * The local stack's HTTPS: a leaf from the local CA for the gateway, and the Storage emulator's
 * HTTPS door under the same leaf. From here on this process reaches Storage through the door (as
 * a function reaches Cloud Storage over HTTPS), so the upload session URIs it hands out and the
 * URLs it signs are https too, and it trusts the local CA for that (added to Node's default CAs,
 * as a machine's system store holds Google's roots). stop() puts STORAGE_EMULATOR_HOST back.
 */
async function openSecureDoors(keyType: KeyType, host: string, opts: LocalStackOptions) {
  const ca = await ensureLocalCa(opts.tlsDir ?? localTlsDir);
  const wildcard = host === '0.0.0.0' || host === '::';
  const names = [...new Set([...defaultLeafNames, ...(wildcard ? [] : [host]), ...(opts.tlsNames ?? [])])];
  const leaf = await issueCertificate({ issuer: ca, names, keyType });
  const credentials = { certPem: leaf.certPem + ca.certPem, keyPem: leaf.keyPem };
  tls.setDefaultCACertificates([...new Set([...tls.getCACertificates('default'), ca.certPem])]);
  const plainStorage = process.env.STORAGE_EMULATOR_HOST as string;
  // Storage already behind HTTPS (another TLS stack of this process opened a door): use it as it is.
  if (plainStorage.startsWith('https://')) return { ca, credentials, close: async () => {} };
  const door: TlsDoor = await openTlsDoor({ target: plainStorage.includes('://') ? plainStorage : `http://${plainStorage}`, ...credentials, host, port: opts.storageTlsPort });
  process.env.STORAGE_EMULATOR_HOST = door.url;
  return {
    ca,
    credentials,
    async close() {
      if (process.env.STORAGE_EMULATOR_HOST === door.url) process.env.STORAGE_EMULATOR_HOST = plainStorage;
      await door.close();
    },
  };
}
