import { parseUserData, summaryOf, type UserDataSummary } from '../fleet/user-data';
import { z } from 'zod';
import { BlobUnavailable, BootProfileExists, BootProfileNotFound, UnknownMachine, UploadSessionCancelled, UploadSessionExpired, UploadSessionFinalized, UploadSessionNotFound } from '../domain/errors';
import { newId, parseUuidV7 } from '../domain/ids';
import { extraArchitectures, fileName, fileNames, kernelArgsSchema, parseFileName, type AssetKind, type BootProfile, type FileName } from '../domain/profile';
import { ProblemError, validationError, type InvalidField } from '../http/problem';
import { invalidFieldsOf, parseOrThrow } from '../http/validate';
import { defaultProfileOwner, type BlobLedger, type Inventory, type UploadFile, type UploadMode, type UploadSessionRecord } from '../inventory/inventory';
import type { Logger } from '../logging';
import { fileTooLarge, type UploadLimits } from '../profiles/multipart';
import type { BlobStore } from '../storage/blobs';
import type { Meters } from '../telemetry/meters';
import { digestOf, type Digest } from './digest';
import { chunkMultiple, type UploadStorage } from './storage';

const fileSchema = z.strictObject(
  {
    size: z
      .number({ error: 'must be an integer' })
      .int({ error: 'must be an integer' })
      .positive({ error: 'must be a positive integer' })
      .max(Number.MAX_SAFE_INTEGER, { error: 'must be a safe integer' }),
    sha256: z
      .string({ error: 'must be a string' })
      .regex(/^[0-9a-fA-F]{64}$/, { error: 'must be 64 hexadecimal digits (SHA-256)' })
      .transform((v) => v.toLowerCase()),
  },
  { error: 'must be an object with size and sha256' },
);

/** POST /api/v1/uploads. kernel_args is checked apart (422 invalid-kernel-args, as in the multipart form). */
export const uploadRequestSchema = z.strictObject(
  {
    machine_id: z
      .string({ error: 'must be a string' })
      .transform((v, ctx) => {
        // `default`: the default profile (PUT /api/v1/boot/default/profile's, by upload session).
        if (v.trim() === defaultProfileOwner) return defaultProfileOwner;
        const id = parseUuidV7(v.trim());
        if (!id) ctx.addIssue({ code: 'custom', message: 'must be a UUIDv7' });
        return id ?? z.NEVER;
      })
      .meta({ description: 'The machine (UUIDv7), or "default" for the default profile' }),
    mode: z.enum(['create', 'replace'], { error: 'must be "create" or "replace"' }),
    kernel_args: z.unknown().optional(),
    /** cloud-init user-data (shared/fleet/user-data.ts); checked apart (422 invalid-user-data, as in the multipart form). */
    user_data: z.string({ error: 'must be a string' }).optional(),
    /** cloud-init vendor-data, checked like user_data. */
    vendor_data: z.string({ error: 'must be a string' }).optional(),
    kernel: fileSchema.meta({ description: 'The default kernel (i386, x86_64, requests without arch)' }),
    initrd: fileSchema.meta({ description: 'The default initrd' }),
    // An architecture's images, in pairs (checked in `create`): "kernel.arm64", "initrd.arm64", ...
    ...Object.fromEntries(fileNames.filter((name) => name.includes('.')).map((name) => [name, fileSchema.optional().meta({ description: `The ${name.replace('.', ' for ')} (with its pair)` })])),
  },
  { error: 'must be a JSON object' },
);

/** The session as the API answers it (snake_case, the shape the CLI reads). */
export interface UploadSessionView {
  id: string;
  machine_id: string;
  mode: UploadMode;
  state: 'open' | 'finalized' | 'expired' | 'cancelled';
  kernel_args: string[];
  user_data?: UserDataSummary;
  vendor_data?: UserDataSummary;
  created_at: string;
  expires_at: string;
  files: UploadSessionRecord['files'];
  profile?: BootProfile;
}

export interface UploadServiceDeps {
  inventory: Inventory;
  ledger: BlobLedger;
  blobs: BlobStore;
  storage: UploadStorage;
  limits: UploadLimits;
  /** UPLOAD_SESSION_TTL_SECONDS. */
  ttlMs: number;
  /** PROFILE_VERSION_RETENTION_SECONDS, for mode replace. */
  retentionMs: number;
  clock: () => number;
  /** Counts sessions by outcome (telemetry). */
  meters?: Meters;
}

/**
 * Upload sessions: large kernels and initrds go from the client straight to Cloud Storage
 * through GCS resumable sessions this service starts (one per file still needed, on a new
 * `blobs/{uuidv7}` with ifGenerationMatch=0); finalize hashes what Storage holds and
 * commits the profile through the inventory, exactly as the multipart routes would.
 */
export class UploadService {
  constructor(private readonly deps: UploadServiceDeps) {}

  /** POST /api/v1/uploads; `origin`: the browser page's (its Origin header), for the Storage sessions' CORS. */
  async create(body: unknown, log: Logger, origin?: string): Promise<UploadSessionView> {
    const { inventory, ledger, storage, limits, ttlMs, clock } = this.deps;
    assertFileNames(body);
    const request = parseOrThrow(uploadRequestSchema, body);
    // The file members by name (the schema's per-architecture keys are built from fileNames).
    const digests = request as unknown as Partial<Record<FileName, Digest>>;
    const declared = fileNames.filter((name) => digests[name] !== undefined);

    // The checks of the multipart routes, in their order; finalize's transaction checks again.
    if (request.machine_id === defaultProfileOwner) {
      const current = await inventory.getProfileOfMachine(defaultProfileOwner);
      if (request.mode === 'create' && current) throw new BootProfileExists(defaultProfileOwner, current.id);
      if (request.mode === 'replace' && !current) throw new BootProfileNotFound(defaultProfileOwner);
    } else {
      const machine = await inventory.getMachine(request.machine_id);
      if (request.mode === 'create') {
        if (!machine) throw new UnknownMachine(request.machine_id);
        if (machine.bootProfileId) throw new BootProfileExists(request.machine_id, machine.bootProfileId);
      } else if (!machine?.bootProfileId) {
        throw new BootProfileNotFound(request.machine_id);
      }
    }
    for (const name of declared) {
      const kind = kindOf(name);
      const size = digests[name]?.size ?? 0;
      if (size > limits[kind]) throw fileTooLarge(name, kind, size, limits[kind]);
    }
    const kernelArgs = parseKernelArgs(request.kernel_args);
    const userData = request.user_data === undefined ? undefined : parseUserData(request.user_data);
    const vendorData = request.vendor_data === undefined ? undefined : parseUserData(request.vendor_data, 'vendor_data');

    const started: string[] = [];
    const files = {} as UploadSessionRecord['files'];
    try {
      for (const name of declared) {
        const { size, sha256 } = digests[name] as Digest;
        const held = await ledger.findBlob(sha256, size);
        // Reused only when the bytes are really there (the index is written after they were hashed).
        if (held && (await storage.stat(held.blobId)) === size) {
          files[name] = { blob_id: held.blobId, size, sha256, upload: null };
          continue;
        }
        // The same content twice in one session (e.g. one initrd for two architectures): one upload.
        const twin = Object.values(files).find((f) => f.upload && f.sha256 === sha256 && f.size === size);
        if (twin) {
          files[name] = twin;
          continue;
        }
        const blobId = newId();
        const url = await storage.startSession(blobId, size, origin);
        started.push(url);
        files[name] = { blob_id: blobId, size, sha256, upload: { url, method: 'PUT', chunk_multiple: chunkMultiple } };
      }
      const now = clock();
      const session: UploadSessionRecord = {
        id: newId(),
        machineId: request.machine_id,
        mode: request.mode,
        kernelArgs,
        ...(userData ? { userData } : {}),
        ...(vendorData ? { vendorData } : {}),
        state: 'open',
        createdAt: new Date(now),
        expiresAt: new Date(now + ttlMs),
        files,
        profile: null,
      };
      await ledger.createUploadSession(session);
      log.info('upload session opened', { upload_id: session.id, machine_id: session.machineId, mode: session.mode, uploads: started.length });
      this.deps.meters?.uploadSession('created');
      return this.view(session);
    } catch (err) {
      await this.cancelSessions(started, log);
      throw err;
    }
  }

  /** GET /api/v1/uploads/{id}. */
  async get(id: string): Promise<UploadSessionView> {
    const session = await this.deps.ledger.getUploadSession(id);
    if (!session) throw new UploadSessionNotFound(id);
    return this.view(session);
  }

  /**
   * POST /api/v1/uploads/{id}/finalize: every uploaded file is hashed from Storage; only
   * when size and SHA-256 of both match what was declared is the profile committed.
   * `created`: this call created the profile (201), rather than replaced it or repeated an earlier finalize.
   */
  async finalize(id: string, log: Logger): Promise<{ profile: BootProfile; created: boolean }> {
    const { ledger, storage, blobs, clock, retentionMs } = this.deps;
    const session = await ledger.getUploadSession(id);
    if (!session) throw new UploadSessionNotFound(id);
    if (session.state === 'finalized' && session.profile) return { profile: session.profile, created: false };
    if (session.state === 'cancelled') throw new UploadSessionCancelled(id);
    if (clock() >= session.expiresAt.getTime()) {
      this.deps.meters?.uploadSession('expired');
      throw new UploadSessionExpired(id, session.expiresAt);
    }

    // 1. Is every byte there (every architecture's file)? Ask Storage, never the client.
    const names = namesOf(session);
    const fileOf = (name: FileName) => session.files[name] as UploadFile;
    const sizes = await Promise.all(names.map((name) => storage.stat(fileOf(name).blob_id)));
    for (const [i, name] of names.entries()) {
      // A reused blob's object is gone only if it was released meanwhile (the index goes first).
      if (!fileOf(name).upload && sizes[i] !== fileOf(name).size) throw new BlobUnavailable(name, fileOf(name).blob_id);
    }
    // A stored object of another size can never become the declared file: refused before any
    // byte is hashed (sessions are opened with the declared length, so only an object written
    // some other way gets here).
    const wrongSize: Mismatch[] = names.flatMap((name, i) => {
      const file = fileOf(name);
      const stored = sizes[i];
      return file.upload && stored !== null && stored !== undefined && stored !== file.size ? [{ field: name, declared: { size: file.size, sha256: file.sha256 }, actual: { size: stored } }] : [];
    });
    if (wrongSize.length > 0) return this.refuseMismatches(session, wrongSize, log);
    if (names.some((name, i) => fileOf(name).upload && sizes[i] === null)) {
      const received = await Promise.all(names.map((name, i) => {
        const file = fileOf(name);
        return sizes[i] !== null ? Promise.resolve(sizes[i] as number) : storage.received(file.upload?.url ?? '');
      }));
      const files = Object.fromEntries(names.map((name, i) => [name, { size: fileOf(name).size, bytes_received: received[i], complete: sizes[i] !== null }]));
      throw new ProblemError('upload-incomplete', `Not every file has been uploaded completely: ${names.filter((_, i) => sizes[i] === null).join(' and ')} missing`, { upload_id: id, files });
    }

    // 2. Are they the declared bytes? Uploaded files are hashed here (each blob once); reused ones were hashed when indexed (see README).
    const mismatches: Mismatch[] = [];
    const hashed = new Map<string, Digest>();
    for (const name of names) {
      const file = fileOf(name);
      if (!file.upload) continue;
      const actual = hashed.get(file.blob_id) ?? (await digestOf((range) => blobs.read(file.blob_id, range)));
      hashed.set(file.blob_id, actual);
      if (actual.size !== file.size || actual.sha256 !== file.sha256) mismatches.push({ field: name, declared: { size: file.size, sha256: file.sha256 }, actual });
    }
    if (mismatches.length > 0) return this.refuseMismatches(session, mismatches, log);

    // 3. One transaction: profile, blob index, session.
    const now = clock();
    const { profile, first } = await ledger.finalizeUpload(id, new Date(now), new Date(now + retentionMs));
    if (first) {
      log.info('upload session finalized', { upload_id: id, boot_profile_id: profile.id, mode: session.mode });
      this.deps.meters?.uploadSession('finalized');
    }
    return { profile, created: first && session.mode === 'create' };
  }

  /**
   * The session cannot deliver its declared content any more (its GCS sessions are spent): it is
   * cancelled, and only then are the wrong bytes removed, those the ledger releases (no profile
   * references them). A cancel that fails because a concurrent finalize committed the session
   * deletes nothing: that finalize verified the bytes, and its answer is this one's too.
   */
  private async refuseMismatches(session: UploadSessionRecord, mismatches: Mismatch[], log: Logger): Promise<{ profile: BootProfile; created: boolean }> {
    const { ledger, blobs, clock } = this.deps;
    const id = session.id;
    try {
      await ledger.cancelUploadSession(id);
    } catch (err) {
      if (err instanceof UploadSessionFinalized) {
        const committed = await ledger.getUploadSession(id);
        if (committed?.profile) return { profile: committed.profile, created: false };
      }
      log.warn('could not cancel the session after a checksum mismatch; its blobs are left to the sweeper', { upload_id: id, err: String(err) });
      throw mismatchProblem(id, mismatches);
    }
    const wrong = [...new Set(mismatches.map((m) => (session.files[m.field] as UploadFile).blob_id))];
    const released = await ledger.releaseBlobs(wrong, new Date(clock())).catch((err: unknown) => {
      log.warn('could not release mismatched blobs; the sweeper will', { upload_id: id, err: String(err) });
      return new Set<string>();
    });
    const doomed = wrong.filter((blobId) => released.has(blobId));
    const results = await Promise.allSettled(doomed.map((blobId) => blobs.delete(blobId)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') log.error('could not delete mismatched blob; the sweeper will', { blob_id: doomed[i], err: String(r.reason) });
    });
    this.deps.meters?.uploadSession('mismatch');
    throw mismatchProblem(id, mismatches);
  }

  /** DELETE /api/v1/uploads/{id}: the session is cancelled, then its GCS sessions; stored bytes are left to the sweeper. */
  async cancel(id: string, log: Logger): Promise<void> {
    const session = await this.deps.ledger.cancelUploadSession(id);
    this.deps.meters?.uploadSession('cancelled');
    await this.cancelSessions([...new Set(namesOf(session).flatMap((name) => session.files[name]?.upload?.url ?? []))], log);
  }

  /**
   * The sweeper's part: the GCS upload sessions of expired sessions are cancelled (DELETE of the
   * session URI), so a URI handed out can write nothing once its session has expired (GCS would
   * keep it open for a week). A session whose cancels did not all succeed is tried again next time.
   * Returns how many sessions were closed.
   */
  async cancelExpiredUploads(log: Logger): Promise<number> {
    const { ledger, storage, clock } = this.deps;
    let closed = 0;
    for (const session of await ledger.expiredSessionsWithLiveUploads(new Date(clock()))) {
      const uploads = new Map(namesOf(session).flatMap((name) => {
        const file = session.files[name] as UploadFile;
        return file.upload ? [[file.upload.url, file.blob_id] as const] : [];
      }));
      // A finished upload (its object exists) can write nothing more: only unfinished ones are cancelled.
      const results = await Promise.allSettled([...uploads].map(async ([url, blobId]) => ((await storage.stat(blobId)) === null ? storage.cancel(url) : undefined)));
      if (results.some((r) => r.status === 'rejected')) {
        log.warn('could not cancel every upload session of an expired session; the next sweep retries', { upload_id: session.id });
        continue;
      }
      await ledger.markUploadsCancelled(session.id);
      closed++;
    }
    if (closed > 0) log.info('expired upload sessions cancelled', { sessions: closed });
    return closed;
  }

  private async cancelSessions(urls: readonly string[], log: Logger): Promise<void> {
    const results = await Promise.allSettled(urls.map((url) => this.deps.storage.cancel(url)));
    results.forEach((r) => {
      if (r.status === 'rejected') log.warn('could not cancel a GCS upload session; its bytes are left to the sweeper', { err: String(r.reason) });
    });
  }

  private view(session: UploadSessionRecord): UploadSessionView {
    const expired = session.state === 'open' && this.deps.clock() >= session.expiresAt.getTime();
    const state = expired ? 'expired' : session.state;
    // Upload URLs are credentials: handed out only while they can still lead somewhere.
    const file = (f: UploadFile): UploadFile => (state === 'open' ? f : { ...f, upload: null });
    return {
      id: session.id,
      machine_id: session.machineId,
      mode: session.mode,
      state,
      kernel_args: session.kernelArgs,
      ...(session.userData ? { user_data: summaryOf(session.userData) } : {}),
      ...(session.vendorData ? { vendor_data: summaryOf(session.vendorData) } : {}),
      created_at: session.createdAt.toISOString(),
      expires_at: session.expiresAt.toISOString(),
      files: Object.fromEntries(namesOf(session).map((name) => [name, file(session.files[name] as UploadFile)])) as UploadSessionRecord['files'],
      ...(session.profile ? { profile: session.profile } : {}),
    };
  }
}

/** A file whose stored bytes are not the declared ones; `actual.sha256` is absent when the size alone told. */
interface Mismatch {
  field: FileName;
  declared: Digest;
  actual: { size: number; sha256?: string };
}

function mismatchProblem(uploadId: string, mismatches: Mismatch[]): ProblemError {
  const [first] = mismatches as [Mismatch];
  return new ProblemError('checksum-mismatch', `The stored ${first.field} does not match its declared size and SHA-256; the session is cancelled, start a new one`, {
    upload_id: uploadId,
    field: first.field,
    declared: first.declared,
    actual: first.actual,
    mismatches,
  });
}

function kindOf(name: FileName): AssetKind {
  return name.startsWith('kernel') ? 'kernel' : 'initrd';
}

/** A session's file names in the fixed order (kernel, initrd, then each architecture's pair). */
function namesOf(session: UploadSessionRecord): FileName[] {
  return fileNames.filter((name) => session.files[name] !== undefined);
}

/**
 * Before the schema: file members with an architecture that is not allowed, and half pairs,
 * get a reason that says which architectures exist (the schema alone would say "unknown field").
 */
function assertFileNames(body: unknown): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const invalid: InvalidField[] = [];
  for (const key of Object.keys(body)) {
    const file = parseFileName(key);
    if (file && 'reason' in file) invalid.push({ field: key.slice(0, 64), reason: file.reason });
  }
  for (const arch of extraArchitectures) {
    const [k, i] = [fileName('kernel', arch), fileName('initrd', arch)];
    if (Object.hasOwn(body, k) !== Object.hasOwn(body, i)) invalid.push({ field: Object.hasOwn(body, k) ? i : k, reason: `required field is missing: ${arch} needs both ${k} and ${i}` });
  }
  if (invalid.length > 0) throw validationError(invalid);
}

/** Absent means no arguments; otherwise the multipart field's rules (a JSON array of safe strings), 422 otherwise. */
function parseKernelArgs(value: unknown): string[] {
  if (value === undefined) return [];
  const parsed = kernelArgsSchema.safeParse(value);
  if (!parsed.success) {
    const invalid = invalidFieldsOf(parsed.error, value).map((f) => ({ field: f.field === '(body)' ? 'kernel_args' : `kernel_args${f.field}`, reason: f.reason }));
    throw new ProblemError('invalid-kernel-args', 'kernel_args must be a JSON array of safe strings', { field: 'kernel_args', invalid_fields: invalid });
  }
  return parsed.data;
}
