import { AdminAuthenticator } from './auth/admins';
import { AssetService } from './boot/assets';
import { BootNetwork } from './boot/network';
import { BootScripts } from './boot/service';
import { SignedUrlCache } from './boot/signed-urls';
import { createClients, type Clients } from './clients';
import type { Config } from './config';
import { FirestoreInventory } from './inventory/firestore-inventory';
import type { BlobLedger, Inventory } from './inventory/inventory';
import { createLogger, type Logger } from './logging';
import { ProfileService } from './profiles/service';
import { defaultLeaseTiming, FirestoreRateLimitStore, RateLimiter, type LeaseTiming, type RateLimitStore } from './ratelimit';
import { GcsBlobStore } from './storage/gcs-blobs';
import type { BlobStore } from './storage/blobs';
import { UploadService } from './uploads/service';
import { GcsUploadStorage, type UploadStorage } from './uploads/storage';

/**
 * The parts everything else is built from: the adapters to the outside world and the
 * clock. Tests (and the benchmarks) hand `createRoot` a `decorate` that wraps or replaces
 * some of them (a store that fails on demand, a clock they move); nothing is swapped
 * behind a running service's back.
 */
export interface RootParts {
  clients: Clients;
  logger: Logger;
  inventory: Inventory;
  /** The blob index and upload sessions; the same store as `inventory` (one owner of reference invariants). */
  ledger: BlobLedger;
  blobs: BlobStore;
  /** GCS resumable sessions for upload sessions. */
  uploadStorage: UploadStorage;
  rateLimitStore: RateLimitStore;
  /** Milliseconds since the epoch. */
  clock: () => number;
  leaseTiming: () => LeaseTiming;
}

/** Everything a function needs, built once per process (per configuration, locally). */
export interface Root {
  config: Config;
  clients: Clients;
  logger: Logger;
  clock: () => number;
  inventory: Inventory;
  /** The blob index and upload sessions (the same Firestore store as `inventory`). */
  ledger: BlobLedger;
  blobs: BlobStore;
  limiter: RateLimiter;
  admins: AdminAuthenticator;
  bootNetwork: BootNetwork;
  bootScripts: BootScripts;
  assets: AssetService;
  profiles: ProfileService;
  uploads: UploadService;
}

export interface RootOptions {
  /** Clients to reuse (the local stack keeps its clients when it rebuilds the root with a new configuration). */
  clients?: Clients;
  decorate?: (parts: RootParts) => RootParts;
}

/**
 * The composition root: config in, the whole object graph out. Constructors only; no
 * connection is opened and nothing is read until the first request. Throws ConfigError
 * for a configuration the service cannot run with.
 */
export function createRoot(config: Config, { clients: given, decorate = (parts) => parts }: RootOptions = {}): Root {
  const clients = given ?? createClients(config);
  const firestoreInventory = new FirestoreInventory(clients.firestore);
  const parts = decorate({
    clients,
    logger: createLogger(config),
    inventory: firestoreInventory,
    ledger: firestoreInventory,
    blobs: new GcsBlobStore(clients.bucket, clients.signingBucket, config.STORAGE_PUBLIC_URL),
    uploadStorage: new GcsUploadStorage(clients.bucket),
    rateLimitStore: new FirestoreRateLimitStore(clients.rateLimitFirestore),
    clock: () => Date.now(),
    leaseTiming: () => defaultLeaseTiming,
  });
  const { inventory, ledger, blobs, clock } = parts;
  const limits = { kernel: config.KERNEL_MAX_BYTES, initrd: config.INITRD_MAX_BYTES };
  const limiter = new RateLimiter({ store: parts.rateLimitStore, config, clock, leaseTiming: parts.leaseTiming });
  return {
    config,
    clients,
    logger: parts.logger,
    clock,
    inventory,
    ledger,
    blobs,
    limiter,
    admins: new AdminAuthenticator(config),
    bootNetwork: new BootNetwork(config.BOOT_ALLOWED_CIDRS, config.TRUSTED_PROXY_HOPS),
    bootScripts: new BootScripts(inventory, clock),
    assets: new AssetService({ inventory, blobs, limiter, signedUrls: new SignedUrlCache(config.SIGNED_URL_TTL_SECONDS * 1000), delivery: config.ASSET_DELIVERY, clock }),
    profiles: new ProfileService({
      inventory,
      ledger,
      blobs,
      limits,
      retentionMs: config.PROFILE_VERSION_RETENTION_SECONDS * 1000,
      clock,
    }),
    uploads: new UploadService({
      inventory,
      ledger,
      blobs,
      storage: parts.uploadStorage,
      limits,
      ttlMs: config.UPLOAD_SESSION_TTL_SECONDS * 1000,
      retentionMs: config.PROFILE_VERSION_RETENTION_SECONDS * 1000,
      clock,
    }),
  };
}
