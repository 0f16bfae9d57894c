import { parseUserData, summaryOf, type UserDataSummary } from '../fleet/user-data';
import { z } from 'zod';
import { BlobUnavailable, BootProfileExists, BootProfileNotFound, UnknownMachine, UploadSessionCancelled, UploadSessionExpired, UploadSessionFinalized, UploadSessionNotFound } from '../domain/errors';
import { newId, parseUuidV7 } from '../domain/ids';
import { extraArchitectures, fileName, fileNames, kernelArgsSchema, parseFileName, type AssetKind, type BootProfile, type FileName } from '../domain/profile';
import { ProblemError, validationError, type InvalidField } from '../http/problem';
import { invalidFieldsOf, parseOrThrow } from '../http/validate';
import { defaultProfileOwner, isPartsTarget, type BlobLedger, type Inventory, type PartsProgress, type PartsTarget, type UploadFile, type UploadMode, type UploadSessionRecord } from '../inventory/inventory';
import type { Logger } from '../logging';
import { fileTooLarge, type UploadLimits } from '../profiles/multipart';
import type { BlobStore } from '../storage/blobs';
import type { Meters } from '../telemetry/meters';
import { digestWhole, type Digest } from './digest';
import { hashPartsInOrder, partLayout, PartHashes, type PartsHashed } from './parts';
import { chunkMultiple, type UploadStorage } from './storage';

const sha256Schema = z
  .string({ error: 'must be a string' })
  .regex(/^[0-9a-fA-F]{64}$/, { error: 'must be 64 hexadecimal digits (SHA-256)' })
  .transform((v) => v.toLowerCase());

/** How often a verify that waits asks Storage for the next part until one has landed (a part of 8 MiB takes 70 ms at 1 Gbit/s), and the bounds after. */
const verifyPollMs = 50;
const minVerifyPollMs = 20;
const maxVerifyPollMs = 1000;
/** The longest a verify may wait for parts (its function's timeout is 300 s). */
export const maxVerifyWaitSeconds = 120;

const fileSchema = z.strictObject(
  {
    size: z
      .number({ error: 'must be an integer' })
      .int({ error: 'must be an integer' })
      .positive({ error: 'must be a positive integer' })
      .max(Number.MAX_SAFE_INTEGER, { error: 'must be a safe integer' }),
    // Optional only with transfer "parts" (checked in `create`): such a file may be declared at finalize.
    sha256: sha256Schema.optional(),
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
    transfer: z
      .enum(['resumable', 'parts'], { error: 'must be "resumable" or "parts"' })
      .default('resumable')
      .meta({ description: 'resumable (default): one GCS resumable session per file, hashed by finalize; parts: the file in parts the service hashes as they land (POST .../verify), composed at finalize' }),
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

/** POST /api/v1/uploads/{id}/finalize's optional body: SHA-256 of parts files not declared at open. */
export const finalizeRequestSchema = z.strictObject(
  {
    files: z
      .record(z.string(), z.strictObject({ sha256: sha256Schema }, { error: 'must be an object with sha256' }), { error: 'must be an object of files' })
      .meta({ description: 'Per file name (kernel, initrd, kernel.arm64, ...): its SHA-256, for files sent in parts whose SHA-256 was not declared at open' }),
  },
  { error: 'must be a JSON object' },
);

/** A session file as the API answers it: a parts file shows how far the service has hashed it. */
export type UploadFileView = Omit<UploadFile, 'verified'> & { verified_bytes?: number };

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
  files: Partial<Record<FileName, UploadFileView>>;
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
  /** verify's running hashes, per file, in this instance. */
  private readonly partHashes = new PartHashes();
  /** When this instance last recorded each file's progress. */
  private readonly recordedAt = new Map<string, number>();

  constructor(private readonly deps: UploadServiceDeps) {}

  /** POST /api/v1/uploads; `origin`: the browser page's (its Origin header), for the Storage sessions' CORS. */
  async create(body: unknown, log: Logger, origin?: string): Promise<UploadSessionView> {
    const { inventory, ledger, storage, limits, ttlMs, clock } = this.deps;
    assertFileNames(body);
    const request = parseOrThrow(uploadRequestSchema, body);
    // The file members by name (the schema's per-architecture keys are built from fileNames).
    const digests = request as unknown as Partial<Record<FileName, { size: number; sha256?: string }>>;
    const declared = fileNames.filter((name) => digests[name] !== undefined);
    if (request.transfer === 'resumable') {
      const unhashed = declared.filter((name) => digests[name]?.sha256 === undefined);
      if (unhashed.length > 0) throw validationError(unhashed.map((name) => ({ field: `${name}.sha256`, reason: 'required field is missing: transfer "resumable" declares every file\'s SHA-256 at open (transfer "parts" may declare it at finalize)' })));
    }

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
        const { size, sha256 } = digests[name] as { size: number; sha256?: string };
        if (sha256 !== undefined) {
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
        }
        if (request.transfer === 'parts') {
          files[name] = { blob_id: newId(), size, sha256: sha256 ?? null, upload: await this.startParts(size, started, origin) };
          continue;
        }
        if (sha256 === undefined) throw new Error('unreachable: resumable files are declared with their SHA-256');
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

  /** A GCS resumable session per part (all at once: they are independent requests); their URIs join `started`. */
  private async startParts(size: number, started: string[], origin?: string): Promise<PartsTarget> {
    const { partSize, parts } = partLayout(size);
    const targets = await Promise.all(parts.map(async (part) => {
      const blobId = newId();
      const url = await this.deps.storage.startSession(blobId, part.size, origin);
      started.push(url);
      return { ...part, blob_id: blobId, url };
    }));
    return { transfer: 'parts', method: 'PUT', part_size: partSize, parts: targets };
  }

  /**
   * POST /api/v1/uploads/{id}/verify: hashes the parts that have landed since the last call, in
   * order, so that finalize has nothing left to hash. With `waitMs`, goes on hashing parts as they
   * land until every part is hashed or the time is up: one call can follow a whole upload.
   * Answers the session (`verified_bytes` per parts file).
   */
  async verify(id: string, log: Logger, waitMs = 0): Promise<UploadSessionView> {
    const session = await this.deps.ledger.getUploadSession(id);
    if (!session) throw new UploadSessionNotFound(id);
    if (session.state === 'finalized') throw new UploadSessionFinalized(id, session.profile?.id ?? '');
    if (session.state === 'cancelled') throw new UploadSessionCancelled(id);
    if (this.deps.clock() >= session.expiresAt.getTime()) throw new UploadSessionExpired(id, session.expiresAt);
    const names = namesOf(session).filter((name) => isPartsTarget(session.files[name]?.upload ?? null));
    const until = Date.now() + waitMs;
    const bytesOf = (all: PartsHashed[]) => all.reduce((n, h) => n + h.progress.bytes, 0);
    let hashed = await Promise.all(names.map((name) => this.landedParts(session, name)));
    // Asked again at a quarter of the time the last part took to land: often on a fast link (the
    // last part is hashed soon after it lands), rarely on a slow one (each ask is a Storage request).
    let landedAt = Date.now();
    let gapMs: number | undefined;
    while (hashed.some((h) => !h.complete && h.wrongSize === undefined) && Date.now() < until) {
      const pollMs = gapMs === undefined ? verifyPollMs : Math.min(maxVerifyPollMs, Math.max(minVerifyPollMs, gapMs / 4));
      await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, until - Date.now())));
      const before = bytesOf(hashed);
      hashed = await Promise.all(names.map((name, i) => (hashed[i]?.complete ? (hashed[i] as PartsHashed) : this.landedParts(session, name))));
      if (bytesOf(hashed) > before) {
        gapMs = Date.now() - landedAt;
        landedAt = Date.now();
      }
    }
    const files = { ...session.files };
    names.forEach((name, i) => {
      const progress = hashed[i]?.progress;
      if (progress) files[name] = { ...(files[name] as UploadFile), verified: progress };
    });
    log.debug('upload parts verified', { upload_id: id, verified: Object.fromEntries(names.map((name, i) => [name, hashed[i]?.progress?.bytes ?? 0])) });
    return this.view({ ...session, files });
  }

  /**
   * A parts file's landed parts, hashed: verify continues this instance's running hash; finalize
   * (`fresh`, another function and so another instance in production) takes a SHA-256 verify
   * finished, or else hashes every part itself.
   */
  private async landedParts(session: UploadSessionRecord, name: FileName, fresh = false): Promise<PartsHashed> {
    const file = session.files[name] as UploadFile;
    const target = file.upload as PartsTarget;
    const finished = file.verified?.sha256;
    if (finished && file.verified?.parts === target.parts.length) return { complete: true, progress: file.verified as PartsProgress, sha256: finished };
    const record = (progress: PartsProgress) => this.recordProgress(session.id, name, progress);
    return fresh ? hashPartsInOrder(target, undefined, this.deps.blobs, record) : this.partHashes.advance(`${session.id}/${name}`, target, this.deps.blobs, record);
  }

  /**
   * Progress is for the view and survives instances; the finished SHA-256 is what finalize relies
   * on. A call that follows an upload would otherwise write once per part: at most once a second
   * per file, and always the finished hash.
   */
  private async recordProgress(id: string, name: FileName, progress: PartsProgress): Promise<void> {
    const key = `${id}/${name}`;
    const now = Date.now();
    if (progress.sha256 === undefined && now - (this.recordedAt.get(key) ?? 0) < 1000) return;
    this.recordedAt.set(key, now);
    if (this.recordedAt.size > 1024) this.recordedAt.delete(this.recordedAt.keys().next().value as string);
    await this.deps.ledger.recordPartsProgress(id, name, progress);
  }

  /** GET /api/v1/uploads/{id}. */
  async get(id: string): Promise<UploadSessionView> {
    const session = await this.deps.ledger.getUploadSession(id);
    if (!session) throw new UploadSessionNotFound(id);
    return this.view(session);
  }

  /**
   * POST /api/v1/uploads/{id}/finalize: every uploaded file is hashed from Storage (a parts file:
   * the SHA-256 verify stored once it had hashed every part, or else all its parts, here); only
   * when size and SHA-256 of every file match what was declared (at open, or for parts files in
   * `body`) is the profile committed.
   * `created`: this call created the profile (201), rather than replaced it or repeated an earlier finalize.
   */
  async finalize(id: string, log: Logger, body?: unknown): Promise<{ profile: BootProfile; created: boolean }> {
    const { ledger, storage, blobs, clock, retentionMs } = this.deps;
    const session = await ledger.getUploadSession(id);
    if (!session) throw new UploadSessionNotFound(id);
    if (session.state === 'finalized' && session.profile) return { profile: session.profile, created: false };
    if (session.state === 'cancelled') throw new UploadSessionCancelled(id);
    if (clock() >= session.expiresAt.getTime()) {
      this.deps.meters?.uploadSession('expired');
      throw new UploadSessionExpired(id, session.expiresAt);
    }
    const lateDigests = declaredAtFinalize(session, body);

    // 1. Is every byte there (every architecture's file)? Ask Storage, never the client. Parts
    // files have their landed parts hashed on the way.
    const names = namesOf(session);
    const fileOf = (name: FileName) => session.files[name] as UploadFile;
    const whole = names.filter((name) => !isPartsTarget(fileOf(name).upload));
    const parted = names.filter((name) => isPartsTarget(fileOf(name).upload));
    const [sizes, partsHashed] = await Promise.all([Promise.all(whole.map((name) => storage.stat(fileOf(name).blob_id))), Promise.all(parted.map((name) => this.landedParts(session, name, true)))]);
    const sizeOf = new Map(whole.map((name, i) => [name, sizes[i] as number | null]));
    const hashedOf = new Map(parted.map((name, i) => [name, partsHashed[i] as PartsHashed]));
    for (const name of whole) {
      // A reused blob's object is gone only if it was released meanwhile (the index goes first).
      if (!fileOf(name).upload && sizeOf.get(name) !== fileOf(name).size) throw new BlobUnavailable(name, fileOf(name).blob_id);
    }
    // A stored object of another size can never become the declared file: refused before any
    // byte is hashed (sessions are opened with the declared length, so only an object written
    // some other way gets here).
    const wrongSize: Mismatch[] = [
      ...whole.flatMap((name) => {
        const file = fileOf(name);
        const stored = sizeOf.get(name);
        return file.upload && stored !== null && stored !== undefined && stored !== file.size ? [{ field: name, declared: declaredOf(file), actual: { size: stored } }] : [];
      }),
      ...parted.flatMap((name) => {
        const hashed = hashedOf.get(name) as PartsHashed;
        return !hashed.complete && hashed.wrongSize !== undefined ? [{ field: name, declared: declaredOf(fileOf(name)), actual: { size: (hashed.progress?.bytes ?? 0) + hashed.wrongSize } }] : [];
      }),
    ];
    if (wrongSize.length > 0) return this.refuseMismatches(session, wrongSize, log);
    const missing = [...whole.filter((name) => fileOf(name).upload && sizeOf.get(name) === null), ...parted.filter((name) => !hashedOf.get(name)?.complete)];
    if (missing.length > 0) {
      const received = await Promise.all(names.map((name) => this.bytesReceived(fileOf(name), missing.includes(name) ? null : fileOf(name).size)));
      const files = Object.fromEntries(names.map((name, i) => [name, { size: fileOf(name).size, bytes_received: received[i], complete: !missing.includes(name) }]));
      throw new ProblemError('upload-incomplete', `Not every file has been uploaded completely: ${names.filter((name) => missing.includes(name)).join(' and ')} missing`, { upload_id: id, files });
    }

    // 2. Are they the declared bytes? Uploaded files are hashed here (each blob once); reused ones were hashed when indexed (see README).
    const mismatches: Mismatch[] = [];
    const actualOf = new Map<FileName, Digest>();
    const hashed = new Map<string, Digest>();
    for (const name of names) {
      const file = fileOf(name);
      if (!file.upload) continue;
      const parts = hashedOf.get(name);
      let actual = parts?.complete ? { size: parts.progress.bytes, sha256: parts.sha256 } : hashed.get(file.blob_id);
      if (!actual) {
        const stored = await digestWhole((onPiece) => blobs.readWhole(file.blob_id, onPiece));
        if (!stored) throw new BlobUnavailable(name, file.blob_id); // gone since its size was asked above
        actual = stored;
      }
      hashed.set(file.blob_id, actual);
      actualOf.set(name, actual);
      const declared = file.sha256 ?? lateDigests[name];
      if (actual.size !== file.size || (declared !== undefined && actual.sha256 !== declared)) mismatches.push({ field: name, declared: { size: file.size, sha256: declared ?? null }, actual });
    }
    if (mismatches.length > 0) return this.refuseMismatches(session, mismatches, log);

    // 3. Parts files become one blob: one the service already holds with this content, or their parts composed.
    const settled: Partial<Record<FileName, UploadFile>> = {};
    for (const name of parted) {
      const file = fileOf(name);
      const actual = actualOf.get(name) as Digest;
      const hashedParts = hashedOf.get(name) as Extract<PartsHashed, { complete: true }>;
      settled[name] = await this.settleParts(file, actual, hashedParts.progress);
    }

    // 4. One transaction: profile, blob index, session. Composed parts are spent already (a
    // finalize again finds the composed blob and the stored SHA-256), so they go meanwhile;
    // the parts of a file that reuses a held blob only after the commit (should that blob be
    // released before it, a finalize again composes them after all).
    const composed = parted.filter((name) => settled[name]?.upload);
    const deletingComposed = this.deleteParts(composed.map(fileOf), log);
    const now = clock();
    const { profile, first } = await ledger.finalizeUpload(id, new Date(now), new Date(now + retentionMs), settled).finally(() => deletingComposed);
    if (first) {
      log.info('upload session finalized', { upload_id: id, boot_profile_id: profile.id, mode: session.mode, parts_files: parted.length });
      this.deps.meters?.uploadSession('finalized');
    }
    await this.deleteParts(parted.filter((name) => !composed.includes(name)).map(fileOf), log);
    return { profile, created: first && session.mode === 'create' };
  }

  /** A verified parts file's entry at commit: a held blob with its content (reuse), or its parts composed into its own blob. */
  private async settleParts(file: UploadFile, actual: Digest, progress: PartsProgress): Promise<UploadFile> {
    const { ledger, storage } = this.deps;
    const held = await ledger.findBlob(actual.sha256, actual.size);
    if (held && held.blobId !== file.blob_id && (await storage.stat(held.blobId)) === actual.size) return { blob_id: held.blobId, size: actual.size, sha256: actual.sha256, upload: null };
    const { parts } = file.upload as PartsTarget;
    // Parts are immutable (each written once through its own session, ifGenerationMatch=0), so the composed bytes are the hashed ones.
    if (!(await storage.compose(parts.map((part) => part.blob_id), file.blob_id)) && (await storage.stat(file.blob_id)) !== actual.size) {
      throw new Error(`blob ${file.blob_id} exists with another size than its composed parts`);
    }
    return { ...file, sha256: actual.sha256, verified: progress };
  }

  /** Bytes Storage holds for a file: `known` when it is complete, else per object the session's status query. */
  private async bytesReceived(file: UploadFile, known: number | null): Promise<number> {
    if (known !== null) return known;
    const { storage } = this.deps;
    if (!isPartsTarget(file.upload)) return storage.received(file.upload?.url ?? '');
    const perPart = await Promise.all(file.upload.parts.map(async (part) => (await storage.stat(part.blob_id)) ?? (await storage.received(part.url))));
    return perPart.reduce((a, b) => a + b, 0);
  }

  private async deleteParts(files: readonly UploadFile[], log: Logger): Promise<void> {
    const ids = files.flatMap((file) => (isPartsTarget(file.upload) ? file.upload.parts.map((part) => part.blob_id) : []));
    const results = await Promise.allSettled(ids.map((blobId) => this.deps.blobs.delete(blobId)));
    const failed = results.filter((r) => r.status === 'rejected' && (r.reason as { code?: number }).code !== 404).length;
    if (failed > 0) log.warn('could not delete every upload part; the sweeper will', { parts: ids.length, failed });
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
    // A parts file's own blob was never composed: its parts are what Storage holds.
    const wrong = [...new Set(mismatches.flatMap((m) => storedObjectsOf(session.files[m.field] as UploadFile)))];
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
    await this.cancelSessions([...new Set(namesOf(session).flatMap((name) => sessionsOf(session.files[name] as UploadFile).map(([url]) => url)))], log);
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
      const uploads = new Map(namesOf(session).flatMap((name) => sessionsOf(session.files[name] as UploadFile)));
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
    const file = ({ verified, ...f }: UploadFile): UploadFileView => ({
      ...f,
      ...(isPartsTarget(f.upload) ? { verified_bytes: verified?.bytes ?? 0 } : {}),
      ...(state === 'open' ? {} : { upload: null }),
    });
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
      files: Object.fromEntries(namesOf(session).map((name) => [name, file(session.files[name] as UploadFile)])),
      ...(session.profile ? { profile: session.profile } : {}),
    };
  }
}

/** A file whose stored bytes are not the declared ones; `actual.sha256` is absent when the size alone told. */
interface Mismatch {
  field: FileName;
  /** `sha256` null: a parts file nobody declared, refused for its size alone. */
  declared: { size: number; sha256: string | null };
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

function declaredOf(file: UploadFile): Mismatch['declared'] {
  return { size: file.size, sha256: file.sha256 };
}

/** The objects a file's upload writes: its blob, or its parts' objects. */
function storedObjectsOf(file: UploadFile): string[] {
  return isPartsTarget(file.upload) ? file.upload.parts.map((part) => part.blob_id) : [file.blob_id];
}

/** The GCS resumable sessions of a file, each with the object it writes. */
function sessionsOf(file: UploadFile): (readonly [string, string])[] {
  if (!file.upload) return [];
  if (isPartsTarget(file.upload)) return file.upload.parts.map((part) => [part.url, part.blob_id] as const);
  return [[file.upload.url, file.blob_id] as const];
}

/**
 * Finalize's optional body: SHA-256 of parts files that were not declared at open. A name the
 * session has no parts file under, or a value other than one declared at open, is a 400.
 */
function declaredAtFinalize(session: UploadSessionRecord, body: unknown): Partial<Record<FileName, string>> {
  if (body === undefined || body === null || (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0)) return {};
  const { files } = parseOrThrow(finalizeRequestSchema, body);
  const invalid: InvalidField[] = [];
  const out: Partial<Record<FileName, string>> = {};
  for (const [key, { sha256 }] of Object.entries(files)) {
    const file = session.files[key as FileName];
    if (!file || !isPartsTarget(file.upload)) invalid.push({ field: `files.${key.slice(0, 64)}`, reason: 'not a file this session sends in parts' });
    else if (file.sha256 !== null && file.sha256 !== sha256) invalid.push({ field: `files.${key}.sha256`, reason: `differs from the SHA-256 declared at open (${file.sha256})` });
    else out[key as FileName] = sha256;
  }
  if (invalid.length > 0) throw validationError(invalid);
  return out;
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
