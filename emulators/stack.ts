import type http from 'node:http';
import { resetConfig } from '../shared/config';
import { getBucket, resetClients } from '../shared/clients';
import { resetAdapters } from '../shared/repositories';
import { createSigningCredentials, startEmbeddedEmulators, type EmbeddedEmulators } from './embedded';
import { createGateway, listen } from './gateway';
import { ensureLocalKeyPair, localAdminEmail } from './local-issuer';

export interface LocalStack {
  url: string;
  port: number;
  /** Started here, or undefined when FIRESTORE_EMULATOR_HOST / STORAGE_EMULATOR_HOST were given. */
  emulators: EmbeddedEmulators | undefined;
  stop(): Promise<void>;
}

/**
 * Emulators (embedded unless the environment already names running ones), the blob
 * bucket, and every function behind the local gateway on `port`.
 */
export async function startLocalStack(opts: { port?: number; host?: string } = {}): Promise<LocalStack> {
  let emulators: EmbeddedEmulators | undefined;
  if (!process.env.FIRESTORE_EMULATOR_HOST || !process.env.STORAGE_EMULATOR_HOST) {
    emulators = await startEmbeddedEmulators();
    process.env.FIRESTORE_EMULATOR_HOST ??= emulators.firestoreHost;
    process.env.STORAGE_EMULATOR_HOST ??= emulators.storageHost;
  }
  // Emulators need no Google credentials: skip the metadata-server probe (and its warning).
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  // Admin tokens come from the local issuer (`npm run admin-token`), verified like Google's.
  process.env.LOCAL_AUTH_PUBLIC_KEY_FILE ??= ensureLocalKeyPair().publicKeyFile;
  process.env.ADMIN_PRINCIPALS ??= localAdminEmail;
  // URLs are signed with a key made now; production signs through IAM instead.
  process.env.STORAGE_SIGNING_CREDENTIALS ??= JSON.stringify(createSigningCredentials());
  resetConfig();
  resetAdapters();
  await resetClients();
  await ensureBucket();

  const server: http.Server = createGateway();
  const port = await listen(server, opts.port ?? 0, opts.host);
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;

  return {
    url,
    port,
    emulators,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await resetClients();
      await emulators?.stop();
    },
  };
}

/** The Storage emulator creates a bucket on first use of any object path under it. */
async function ensureBucket(): Promise<void> {
  await getBucket().getFiles({ maxResults: 1 });
}
