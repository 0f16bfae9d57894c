import { z } from 'zod';

const MiB = 1024 * 1024;

const byteCount = (fallback: number) => z.coerce.number().int().positive().default(fallback);
/** A rate limit: requests per minute, or concurrent downloads; 0 switches it off. */
const limit = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

/** Every environment variable the functions read; Terraform sets the same names. */
/** OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER: the exporters shared/telemetry knows. */
const otelExporters = z
  .string()
  .regex(/^\s*(otlp|console|gcp|none)\s*(,\s*(otlp|console|gcp|none)\s*)*$/, 'must list otlp, console, gcp or none (comma-separated)');

export const configSchema = z.object({
  GOOGLE_CLOUD_PROJECT: z.string().min(1).default('demo-netboot'),
  BLOB_BUCKET: z.string().min(3).default('demo-netboot-blobs'),
  KERNEL_MAX_BYTES: byteCount(100 * MiB),
  INITRD_MAX_BYTES: byteCount(1024 * MiB),
  /** Refused before parsing: Cloud Functions itself stops at 32 MiB. */
  MAX_REQUEST_BYTES: byteCount(32 * MiB),
  BLOB_SWEEP_GRACE_SECONDS: z.coerce.number().int().positive().default(2 * 60 * 60),
  /**
   * How long the kernel and initrd a profile had before a replace stay downloadable under
   * their versioned URLs: longer than the slowest boot that fetched its script before.
   */
  PROFILE_VERSION_RETENTION_SECONDS: z.coerce.number().int().min(0).max(7 * 24 * 3600).default(60 * 60),
  /**
   * How long an upload session (POST /api/v1/uploads) may be finalized. At most 7 days: a
   * GCS resumable session URI lives one week. Open sessions' blobs are references for the sweeper.
   */
  UPLOAD_SESSION_TTL_SECONDS: z.coerce.number().int().positive().max(7 * 24 * 3600).default(24 * 60 * 60),
  ASSET_DELIVERY: z.enum(['redirect', 'proxy']).default('redirect'),
  /**
   * The largest non-streamed response (one with Content-Length) the platform lets through;
   * a larger one becomes a 500. API Gateway: "32 megabytes", Cloud Run: 32 MiB for HTTP/1;
   * the stricter 32,000,000 is the default. The local gateway enforces it; proxy mode never
   * answers more in one response (README, "Large assets").
   */
  RESPONSE_MAX_BYTES: byteCount(32_000_000),
  /**
   * The largest streamed (chunked, no Content-Length) response: the Cloud Functions quotas
   * page gives gen2 "10MB for streaming responses". The local gateway cuts the connection
   * past it. Proxy mode never streams without Content-Length.
   */
  STREAMED_RESPONSE_MAX_BYTES: byteCount(10_000_000),
  /**
   * Proxy mode: an initrd larger than this is listed in the script as parts of this size
   * (`&part=n`), which iPXE loads as consecutive initrds. A multiple of 4096 (iPXE pads each
   * initrd to 4 KiB) and below both response limits.
   */
  ASSET_PART_BYTES: z.coerce.number().int().positive().multipleOf(4096).max(9_998_336).default(8 * MiB),
  SIGNED_URL_TTL_SECONDS: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(15 * 60),
  STORAGE_PUBLIC_URL: z.string().url().optional(),
  BOOT_ALLOWED_CIDRS: z.string().default('127.0.0.0/8,::1/128'),
  /** How many proxies in front append to X-Forwarded-For; the client is that many entries from the right. */
  TRUSTED_PROXY_HOPS: z.coerce.number().int().min(1).max(5).default(1),
  /**
   * Boot functions behind the internal load balancer: the value the load balancer puts in
   * `X-Netboot-Front-Door` (its URL map replaces whatever a client sent). A request with it
   * is read with TRUSTED_PROXY_HOPS; one without came to the function's own URL (a VPC host
   * calling it directly) and is read with 1 hop, so it cannot choose its own address.
   */
  FRONT_DOOR_SECRET: z.string().regex(/^[A-Za-z0-9_-]{32,128}$/, 'must be 32-128 characters of A-Z a-z 0-9 _ -').optional(),
  /** Local stack only: a service-account key to sign URLs with. In production signing goes through IAM signBlob. */
  STORAGE_SIGNING_CREDENTIALS: z.string().optional(),
  /** `token`: verify the bearer ID token here. `gateway`: trust the claims API Gateway forwards (only behind it). */
  ADMIN_AUTH: z.enum(['token', 'gateway']).default('token'),
  /** The `aud` admin ID tokens must carry (the gateway or function URL they were minted for). */
  ADMIN_TOKEN_AUDIENCE: z.string().min(1).default('netboot-admin'),
  /** Who may administer: emails (`alice@example.com`) and domains (`@example.com`), comma-separated. */
  ADMIN_PRINCIPALS: z.string().default(''),
  /** Gateway mode: the API Gateway's service account; admin requests whose `Authorization` is not its ID token are refused (unset: every admin request fails). */
  ADMIN_GATEWAY_SERVICE_ACCOUNT: z.string().email().optional(),
  /** Gateway mode: that account's numeric unique id (the `sub` of its ID tokens), accepted in place of the email claim. */
  ADMIN_GATEWAY_SERVICE_ACCOUNT_ID: z.string().regex(/^\d{1,32}$/).optional(),
  /** Local stack only: PEM public key of the local token issuer (`npm run admin-token`). */
  LOCAL_AUTH_PUBLIC_KEY_FILE: z.string().optional(),
  /** Boot script (and NoCloud metadata) requests per minute per MAC address and client address: one host cannot spend another's (0: no limit). */
  RATE_LIMIT_BOOT_PER_MAC: limit(10),
  /** Requests per minute per client address on every boot route (an IPv6 client by its /64): a flooding host is stopped by its own address. */
  RATE_LIMIT_BOOT_PER_ADDRESS: limit(600),
  /** Requests per minute on every boot route, all clients together (a bound on what a flood costs; far above a boot storm). */
  RATE_LIMIT_BOOT_GLOBAL: limit(30_000),
  /** Admin API requests per minute per administrator (verified email). */
  RATE_LIMIT_ADMIN_PER_PRINCIPAL: limit(100),
  /** Admin API requests per minute per client address (an IPv6 client by its /64). */
  RATE_LIMIT_ADMIN_PER_IP: limit(300),
  /** Admin API requests per minute in total. */
  RATE_LIMIT_ADMIN_GLOBAL: limit(1000),
  /** Concurrent streamed asset downloads per boot profile (proxy mode). */
  RATE_LIMIT_DOWNLOADS_PER_PROFILE: limit(5),
  /** The Firestore database holding rate-limit counters and download leases (its own, so boot functions may write it and nothing else). */
  RATE_LIMIT_DATABASE: z.string().regex(/^(\(default\)|[a-z][a-z0-9-]{2,61}[a-z0-9])$/).default('rate-limits'),
  /** What a request gets when the rate-limit store does not answer in RATE_LIMIT_TIMEOUT_MS: `open` (served, unlimited) or `closed` (503). */
  RATE_LIMIT_FAIL_MODE: z.enum(['open', 'closed']).default('open'),
  RATE_LIMIT_TIMEOUT_MS: z.coerce.number().int().min(50).max(10_000).default(1000),
  /**
   * The most shards one rate-limit counter is spread over (shards: ceil(limit / 30)). The
   * default holds the default RATE_LIMIT_BOOT_GLOBAL (30,000 a minute: 1,000 shards, each at
   * most one write every two seconds at the limit) and keeps reading a total at one billed
   * read (a sum() over at most 1,000 index entries); each further 1,000 costs one more read
   * per counted request (docs/performance.md, "Boot storms").
   */
  RATE_LIMIT_MAX_SHARDS: z.coerce.number().int().min(1).max(10_000).default(1000),
  /** Each Firestore call on the boot routes: past this, 503 service-unavailable with Retry-After (iPXE waits and asks again). */
  BOOT_DB_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(3000),
  /** How long a boot record (GET /api/v1/machines/{id}/boots, the report and callback tokens) lives; TTL on `expire_at`. */
  BOOT_RECORD_TTL_SECONDS: z.coerce.number().int().min(3600).max(90 * 24 * 3600).default(7 * 24 * 3600),
  /** A boot's `booting` report is accepted only this long after its script (a token kept for later cannot end a `once` round). */
  BOOT_REPORT_WINDOW_SECONDS: z.coerce.number().int().min(60).max(24 * 3600).default(900),
  /** A boot's NoCloud metadata URL ({{metadata_url}}) answers this long after its script, and never after `installed`. */
  BOOT_METADATA_WINDOW_SECONDS: z.coerce.number().int().min(60).max(7 * 24 * 3600).default(3600),
  /** How long a discovered MAC's record lives after its last write; TTL on `expire_at`, filtered on read. */
  DISCOVERY_TTL_SECONDS: z.coerce.number().int().min(60).max(90 * 24 * 3600).default(7 * 24 * 3600),
  /** Per instance: a discovered MAC is written at most once per this many seconds (sightings in between are counted). */
  DISCOVERY_COALESCE_SECONDS: z.coerce.number().int().min(1).max(24 * 3600).default(300),
  /** Discovery writes per minute, all MACs and all instances together (a shared counter; 0: discovery off). */
  DISCOVERY_WRITES_PER_MINUTE: z.coerce.number().int().min(0).max(10_000).default(60),
  PROBLEM_TYPE_BASE: z.string().url().default('https://api.example.com/errors/'),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  /**
   * Telemetry (shared/telemetry reads these, with the other OTEL_* variables, from the
   * environment itself; here only so a bad value stops the instance with one line).
   * Where spans / metrics go: comma-separated `otlp`, `console`, `gcp`, `none`.
   */
  OTEL_TRACES_EXPORTER: otelExporters.optional(),
  OTEL_METRICS_EXPORTER: otelExporters.optional(),
  /** Milliseconds a finished span waits for its batch (Cloud Run throttles CPU between requests: keep it short). */
  OTEL_BSP_SCHEDULE_DELAY: z.coerce.number().int().min(0).max(60_000).optional(),
  /** Milliseconds between metric exports (default 60000; Cloud Monitoring takes a point per series every 5 s at most). */
  OTEL_METRIC_EXPORT_INTERVAL: z.coerce.number().int().min(100).max(3_600_000).optional(),
  FIRESTORE_EMULATOR_HOST: z.string().optional(),
  STORAGE_EMULATOR_HOST: z.string().optional(),
});

export type Config = z.infer<typeof configSchema>;

/** A configuration the service cannot run with; the message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * The configuration from an environment (process.env in production). Read once, by the
 * composition root; a bad value fails here, at start-up, with one line per variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '(environment)');
    const value = env[name];
    return `${name}${value === undefined ? '' : `="${value.slice(0, 80)}"`}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
}
