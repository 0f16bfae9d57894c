import { parseUserData, summaryOf, type UserDataSummary } from '../fleet/user-data';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BlobUnavailable, BootProfileExists, BootProfileNotFound, UnknownMachine, UploadSessionCancelled, UploadSessionExpired, UploadSessionNotFound } from '../domain/errors';
import { newId, parseUuidV7 } from '../domain/ids';
import { kernelArgsSchema, type AssetKind, type BootProfile } from '../domain/profile';
import { ProblemError } from '../http/problem';
import { invalidFieldsOf, parseOrThrow } from '../http/validate';
import type { BlobLedger, Inventory, UploadFile, UploadMode, UploadSessionRecord } from '../inventory/inventory';
import type { Logger } from '../logging';
import type { UploadLimits } from '../profiles/multipart';
import type { BlobStore } from '../storage/blobs';
import type { Meters } from '../telemetry/meters';
import { chunkMultiple, type UploadStorage } from './storage';

const kinds: readonly AssetKind[] = ['kernel', 'initrd'];

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
    machine_id: z.string({ error: 'must be a string' }).transform((v, ctx) => {
      const id = parseUuidV7(v.trim());
      if (!id) ctx.addIssue({ code: 'custom', message: 'must be a UUIDv7' });
      return id ?? z.NEVER;
    }),
    mode: z.enum(['create', 'replace'], { error: 'must be "create" or "replace"' }),
    kernel_args: z.unknown().optional(),
    /** cloud-init user-data (shared/fleet/user-data.ts); checked apart (422 invalid-user-data, as in the multipart form). */
    user_data: z.string({ error: 'must be a string' }).optional(),
    kernel: fileSchema,
    initrd: fileSchema,
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
  created_at: string;
  expires_at: string;
  files: { kernel: UploadFile; initrd: UploadFile };
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

interface Digest {
  size: number;
  sha256: string;
}

/**
 * Upload sessions: large kernels and initrds go from the client straight to Cloud Storage
 * through GCS resumable sessions this service starts (one per file still needed, on a new
 * `blobs/{uuidv7}` with ifGenerationMatch=0); finalize hashes what Storage holds and
 * commits the profile through the inventory, exactly as the multipart routes would.
 */
export class UploadService {
  constructor(private readonly deps: UploadServiceDeps) {}

  /** POST /api/v1/uploads. */
  async create(body: unknown, log: Logger): Promise<UploadSessionView> {
    const { inventory, ledger, storage, limits, ttlMs, clock } = this.deps;
    const request = parseOrThrow(uploadRequestSchema, body);

    // The checks of the multipart routes, in their order; finalize's transaction checks again.
    const machine = await inventory.getMachine(request.machine_id);
    if (request.mode === 'create') {
      if (!machine) throw new UnknownMachine(request.machine_id);
      if (machine.bootProfileId) throw new BootProfileExists(request.machine_id, machine.bootProfileId);
    } else if (!machine?.bootProfileId) {
      throw new BootProfileNotFound(request.machine_id);
    }
    for (const kind of kinds) if (request[kind].size > limits[kind]) throw fileTooLarge(kind, request[kind].size, limits[kind]);
    const kernelArgs = parseKernelArgs(request.kernel_args);
    const userData = request.user_data === undefined ? undefined : parseUserData(request.user_data);

    const started: string[] = [];
    const files = {} as Record<AssetKind, UploadFile>;
    try {
      for (const kind of kinds) {
        const { size, sha256 } = request[kind];
        const held = await ledger.findBlob(sha256, size);
        // Reused only when the bytes are really there (the index is written after they were hashed).
        if (held && (await storage.stat(held.blobId)) === size) {
          files[kind] = { blob_id: held.blobId, size, sha256, upload: null };
          continue;
        }
        const blobId = newId();
        const url = await storage.startSession(blobId);
        started.push(url);
        files[kind] = { blob_id: blobId, size, sha256, upload: { url, method: 'PUT', chunk_multiple: chunkMultiple } };
      }
      const now = clock();
      const session: UploadSessionRecord = {
        id: newId(),
        machineId: request.machine_id,
        mode: request.mode,
        kernelArgs,
        ...(userData ? { userData } : {}),
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

    // 1. Is every byte there? Ask Storage, never the client.
    const sizes = await Promise.all(kinds.map((kind) => storage.stat(session.files[kind].blob_id)));
    for (const [i, kind] of kinds.entries()) {
      // A reused blob's object is gone only if it was released meanwhile (the index goes first).
      if (!session.files[kind].upload && sizes[i] !== session.files[kind].size) throw new BlobUnavailable(kind, session.files[kind].blob_id);
    }
    if (kinds.some((kind, i) => session.files[kind].upload && sizes[i] === null)) {
      const received = await Promise.all(kinds.map((kind, i) => {
        const file = session.files[kind];
        return sizes[i] !== null ? Promise.resolve(sizes[i] as number) : storage.received(file.upload?.url ?? '');
      }));
      const files = Object.fromEntries(kinds.map((kind, i) => [kind, { size: session.files[kind].size, bytes_received: received[i], complete: sizes[i] !== null }]));
      throw new ProblemError('upload-incomplete', `Not every file has been uploaded completely: ${kinds.filter((_, i) => sizes[i] === null).join(' and ')} missing`, { upload_id: id, files });
    }

    // 2. Are they the declared bytes? Uploaded files are hashed here; reused ones were hashed when indexed (see README).
    const mismatches: { field: AssetKind; declared: Digest; actual: Digest }[] = [];
    for (const kind of kinds) {
      const file = session.files[kind];
      if (!file.upload) continue;
      const actual = await digestOf(blobs, file.blob_id);
      if (actual.size !== file.size || actual.sha256 !== file.sha256) mismatches.push({ field: kind, declared: { size: file.size, sha256: file.sha256 }, actual });
    }
    if (mismatches.length > 0) {
      // The session cannot deliver its declared content any more (its GCS sessions are spent): cancelled, wrong bytes removed.
      await ledger.cancelUploadSession(id).catch((err: unknown) => log.warn('could not cancel the session after a checksum mismatch', { upload_id: id, err: String(err) }));
      const results = await Promise.allSettled(mismatches.map((m) => blobs.delete(session.files[m.field].blob_id)));
      results.forEach((r, i) => {
        if (r.status === 'rejected') log.error('could not delete mismatched blob; the sweeper will', { blob_id: session.files[mismatches[i]?.field ?? 'kernel'].blob_id, err: String(r.reason) });
      });
      this.deps.meters?.uploadSession('mismatch');
      const [first] = mismatches as [(typeof mismatches)[number]];
      throw new ProblemError('checksum-mismatch', `The stored ${first.field} does not match its declared size and SHA-256; the session is cancelled, start a new one`, {
        upload_id: id,
        field: first.field,
        declared: first.declared,
        actual: first.actual,
        mismatches,
      });
    }

    // 3. One transaction: profile, blob index, session.
    const now = clock();
    const { profile, first } = await ledger.finalizeUpload(id, new Date(now), new Date(now + retentionMs));
    if (first) {
      log.info('upload session finalized', { upload_id: id, boot_profile_id: profile.id, mode: session.mode });
      this.deps.meters?.uploadSession('finalized');
    }
    return { profile, created: first && session.mode === 'create' };
  }

  /** DELETE /api/v1/uploads/{id}: the session is cancelled, then its GCS sessions; stored bytes are left to the sweeper. */
  async cancel(id: string, log: Logger): Promise<void> {
    const session = await this.deps.ledger.cancelUploadSession(id);
    this.deps.meters?.uploadSession('cancelled');
    await this.cancelSessions(kinds.flatMap((kind) => session.files[kind].upload?.url ?? []), log);
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
      created_at: session.createdAt.toISOString(),
      expires_at: session.expiresAt.toISOString(),
      files: { kernel: file(session.files.kernel), initrd: file(session.files.initrd) },
      ...(session.profile ? { profile: session.profile } : {}),
    };
  }
}

/** Size and SHA-256 of a stored blob, streamed (never held in memory). */
async function digestOf(blobs: BlobStore, blobId: string): Promise<Digest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of blobs.read(blobId) as AsyncIterable<Buffer>) {
    size += chunk.length;
    hash.update(chunk);
  }
  return { size, sha256: hash.digest('hex') };
}

/** The multipart route's 422, with the same members. */
function fileTooLarge(kind: AssetKind, size: number, max: number): ProblemError {
  const name = kind === 'kernel' ? 'Kernel' : 'Initrd';
  const mib = max / (1024 * 1024);
  return new ProblemError('file-too-large', `${name} file exceeds maximum allowed size of ${Number.isInteger(mib) ? `${mib}MB` : `${max} bytes`}`, { field: kind, file_size: size, max_size: max });
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
