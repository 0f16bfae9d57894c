import { AdminAuthenticator } from './auth/admins';
import { AssetService } from './boot/assets';
import { BootNetwork } from './boot/network';
import { BootScripts } from './boot/service';
import { SignedUrlCache } from './boot/signed-urls';
import { createClients, type Clients } from './clients';
import type { Config } from './config';
import { FirestoreInventory } from './inventory/firestore-inventory';
import type { BlobLedger, Inventory, MachineChanges } from './inventory/inventory';
import { NocloudMetadata } from './fleet/metadata';
import { DiscoveryRecorder } from './lifecycle/discoveries';
import { BootReports } from './lifecycle/reports';
import { BootTimeline } from './lifecycle/timeline';
import { createLogger, type Logger } from './logging';
import { ProfileService } from './profiles/service';
import { defaultLeaseTiming, FirestoreRateLimitStore, RateLimiter, type LeaseTiming, type RateLimitStore } from './ratelimit';
import { GcsBlobStore } from './storage/gcs-blobs';
import { noopTelemetry, tracedBlobStore, tracedUploadStorage, type Telemetry } from './telemetry';
import type { BlobStore } from './storage/blobs';
import { FirestoreIpxeRepository } from './ipxe/repository';
import { IpxeService } from './ipxe/service';
import { GcsIpxeObjects } from './ipxe/storage';
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
  /** Spans and metrics (shared/telemetry); the no-op one unless the caller gives one. */
  telemetry: Telemetry;
}

/** Everything a function needs, built once per process (per configuration, locally). */
export interface Root {
  config: Config;
  clients: Clients;
  logger: Logger;
  clock: () => number;
  telemetry: Telemetry;
  inventory: Inventory;
  /** The blob index and upload sessions (the same Firestore store as `inventory`). */
  ledger: BlobLedger;
  blobs: BlobStore;
  limiter: RateLimiter;
  admins: AdminAuthenticator;
  bootNetwork: BootNetwork;
  bootScripts: BootScripts;
  /** Boot records: GET /api/v1/machines/{id}/boots, the boot reports (shared/lifecycle). */
  timeline: BootTimeline;
  /** Unknown MACs seen on /boot.ipxe (shared/lifecycle). */
  discoveries: DiscoveryRecorder;
  /** PATCH and the netboot `once` switch (the inventory's; a port of its own). */
  machineChanges: MachineChanges;
  /** The boot script's `booting` report and the installed OS's callback. */
  bootReports: BootReports;
  assets: AssetService;
  profiles: ProfileService;
  uploads: UploadService;
  /** Published iPXE binaries: their upload sessions and GET /ipxe/{file} (shared/ipxe). */
  ipxe: IpxeService;
  /** cloud-init NoCloud metadata (/metadata/{mac}/...; shared/fleet). */
  metadata: NocloudMetadata;
}

export interface RootOptions {
  /** Clients to reuse (the local stack keeps its clients when it rebuilds the root with a new configuration). */
  clients?: Clients;
  /** Telemetry of this process (built once from OTEL_* by the entry point or the local stack; kept across reconfigurations); default: off. */
  telemetry?: Telemetry;
  decorate?: (parts: RootParts) => RootParts;
}

/**
 * The composition root: config in, the whole object graph out. Constructors only; no
 * connection is opened and nothing is read until the first request. Throws ConfigError
 * for a configuration the service cannot run with.
 */
export function createRoot(config: Config, { clients: given, telemetry: givenTelemetry, decorate = (parts) => parts }: RootOptions = {}): Root {
  const clients = given ?? createClients(config);
  // Every part below is built on its first read (`onDemand`), so an instance builds, and
  // (in the built code, scripts/build.ts) loads, only what its function's requests use.
  const firestoreInventory = once(() => new FirestoreInventory(clients.firestore));
  const parts = decorate(
    onDemand<RootParts>({
      clients: () => clients,
      logger: () => createLogger(config),
      inventory: firestoreInventory,
      ledger: firestoreInventory,
      blobs: () => new GcsBlobStore(clients.bucket, clients.media, clients.signingBucket, config.STORAGE_PUBLIC_URL),
      uploadStorage: () => new GcsUploadStorage(clients.bucket),
      rateLimitStore: () => new FirestoreRateLimitStore(clients.rateLimitFirestore),
      clock: () => () => Date.now(),
      leaseTiming: () => () => defaultLeaseTiming,
      telemetry: () => givenTelemetry ?? noopTelemetry(),
    }),
  );
  const { clock, telemetry } = parts;
  const { meters } = telemetry;
  const limits = { kernel: config.KERNEL_MAX_BYTES, initrd: config.INITRD_MAX_BYTES };
  // Built now: a bad BOOT_ALLOWED_CIDRS stops the instance at start-up (ConfigError).
  const bootNetwork = new BootNetwork(config.BOOT_ALLOWED_CIDRS, config.TRUSTED_PROXY_HOPS, config.FRONT_DOOR_SECRET);
  const root: Root = onDemand<Root>({
    config: () => config,
    // The decorated clients (a test swaps them for unreachable ones); the stores were built on the given ones.
    clients: () => parts.clients,
    logger: () => parts.logger,
    clock: () => clock,
    telemetry: () => telemetry,
    inventory: () => parts.inventory,
    ledger: () => parts.ledger,
    // Every Storage call in a span (telemetry on; otherwise the stores themselves).
    blobs: () => tracedBlobStore(parts.blobs, telemetry, config.BLOB_BUCKET),
    limiter: () => new RateLimiter({ store: parts.rateLimitStore, config, clock, leaseTiming: parts.leaseTiming, meters }),
    admins: () => new AdminAuthenticator(config),
    bootNetwork: () => bootNetwork,
    // Proxy mode lists large initrds as parts (shared/boot/parts.ts); redirect mode never does.
    bootScripts: () =>
      new BootScripts(root.inventory, clock, { timeline: root.timeline, discoveries: root.discoveries, dbTimeoutMs: config.BOOT_DB_TIMEOUT_MS }, config.ASSET_DELIVERY === 'proxy' ? config.ASSET_PART_BYTES : undefined),
    // The fleet lifecycle (shared/lifecycle): boot records and discovered MACs, in the inventory's database.
    // Through the decorated clients: a test can put a faulty network under the boot records alone.
    timeline: () => new BootTimeline(parts.clients.firestore, config.BOOT_RECORD_TTL_SECONDS * 1000, clock),
    discoveries: () =>
      new DiscoveryRecorder(
        clients.firestore,
        { coalesceMs: config.DISCOVERY_COALESCE_SECONDS * 1000, writesPerMinute: config.DISCOVERY_WRITES_PER_MINUTE, ttlMs: config.DISCOVERY_TTL_SECONDS * 1000 },
        clock,
        // The cap is global: every instance draws on one shared counter (issue 21).
        (log) => root.limiter.withinBudget('discovery-global', 'all', config.DISCOVERY_WRITES_PER_MINUTE, log),
      ),
    machineChanges: firestoreInventory,
    bootReports: () => new BootReports({
      timeline: root.timeline,
      machineChanges: firestoreInventory(),
      limiter: root.limiter,
      bootingWindowMs: config.BOOT_REPORT_WINDOW_SECONDS * 1000,
      dbTimeoutMs: config.BOOT_DB_TIMEOUT_MS,
      clock,
    }),
    assets: () => new AssetService({ inventory: root.inventory, blobs: root.blobs, limiter: root.limiter, signedUrls: new SignedUrlCache(config.SIGNED_URL_TTL_SECONDS * 1000), delivery: config.ASSET_DELIVERY, sizing: { partBytes: config.ASSET_PART_BYTES, maxResponseBytes: config.RESPONSE_MAX_BYTES }, clock, meters, timeline: root.timeline, clientAddress: (req) => bootNetwork.clientAddress(req) }),
    profiles: () => new ProfileService({
      inventory: root.inventory,
      ledger: root.ledger,
      blobs: root.blobs,
      limits,
      retentionMs: config.PROFILE_VERSION_RETENTION_SECONDS * 1000,
      clock,
    }),
    metadata: () =>
      new NocloudMetadata({ inventory: root.inventory, bootNetwork, limiter: root.limiter, dbTimeoutMs: config.BOOT_DB_TIMEOUT_MS, timeline: root.timeline, windowMs: config.BOOT_METADATA_WINDOW_SECONDS * 1000, clock }),
    ipxe: () =>
      new IpxeService({
        repository: new FirestoreIpxeRepository(clients.firestore),
        objects: new GcsIpxeObjects(clients.bucket),
        limiter: root.limiter,
        clientAddress: (req) => bootNetwork.clientAddress(req),
        ttlMs: config.UPLOAD_SESSION_TTL_SECONDS * 1000,
        clock,
      }),
    uploads: () => new UploadService({
      inventory: root.inventory,
      ledger: root.ledger,
      blobs: root.blobs,
      storage: tracedUploadStorage(parts.uploadStorage, telemetry),
      limits,
      ttlMs: config.UPLOAD_SESSION_TTL_SECONDS * 1000,
      retentionMs: config.PROFILE_VERSION_RETENTION_SECONDS * 1000,
      clock,
      meters,
    }),
  });
  return root;
}

/** `make()` on the first call, the same value after. */
function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => (made ??= { value: make() }).value;
}

/**
 * An object whose members are each built by their function on first read, then kept as
 * plain data properties. Enumerable, so `{ ...parts }` (a test's `decorate`) still works,
 * building them all.
 */
function onDemand<T extends object>(build: { [K in keyof T]: () => T[K] }): T {
  const target = {} as T;
  for (const key of Object.keys(build) as (keyof T)[]) {
    const settle = (value: T[typeof key]) => {
      Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
      return value;
    };
    Object.defineProperty(target, key, { enumerable: true, configurable: true, get: () => settle(build[key]()), set: settle });
  }
  return target;
}
