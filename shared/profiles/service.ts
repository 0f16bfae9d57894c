import type { Request } from 'express';
import { BootProfileExists, BootProfileNotFound, UnknownMachine } from '../domain/errors';
import { newId } from '../domain/ids';
import { blobRefsOf, type BootProfile } from '../domain/profile';
import { ProblemError } from '../http/problem';
import { defaultProfileOwner, type BlobLedger, type Inventory, type ProfileContent } from '../inventory/inventory';
import type { Logger } from '../logging';
import type { BlobStore } from '../storage/blobs';
import { receiveProfile, type ReceivedProfile, type UploadLimits } from './multipart';

export interface ProfileServiceDeps {
  inventory: Inventory;
  /**
   * The blob index: releases go through it (a transaction that re-checks the references
   * and removes the blob's index entry, so a concurrent reuse by an upload session either
   * commits first and keeps the blob, or finds it gone).
   */
  ledger: BlobLedger;
  blobs: BlobStore;
  limits: UploadLimits;
  /** How long a replaced version stays downloadable (PROFILE_VERSION_RETENTION_SECONDS). */
  retentionMs: number;
  clock: () => number;
}

function rawBodyOf(req: Request): Buffer {
  const body = (req as Request & { rawBody?: Buffer }).rawBody;
  if (!body) throw new ProblemError('unsupported-media-type', 'The request body must be multipart/form-data');
  return body;
}

function contentOf(upload: ReceivedProfile): ProfileContent {
  return {
    kernel: { ...upload.kernel, args: upload.kernelArgs },
    initrd: upload.initrd,
    ...(upload.architectures ? { architectures: upload.architectures } : {}),
    ...(upload.userData ? { userData: upload.userData } : {}),
    ...(upload.vendorData ? { vendorData: upload.vendorData } : {}),
  };
}

/**
 * Boot profiles: the blobs go to Storage first, then one inventory change points the
 * profile at them. Blobs are deleted only where a fresh read proves that no profile
 * needs them (or they were never committed); everything else is left to the sweeper.
 */
export class ProfileService {
  constructor(private readonly deps: ProfileServiceDeps) {}

  /** POST /api/v1/profiles. */
  async create(req: Request, log: Logger): Promise<BootProfile> {
    const { inventory } = this.deps;
    const upload = await this.receive(req, log, undefined, async (machineId) => {
      // Refused before any byte is stored; the transaction checks again.
      const machine = await inventory.getMachine(machineId);
      if (!machine) throw new UnknownMachine(machineId);
      if (machine.bootProfileId) throw new BootProfileExists(machineId, machine.bootProfileId);
    });
    try {
      const { userData, vendorData, ...content } = contentOf(upload);
      return await inventory.createProfile({ id: newId(), machine_id: upload.machineId, ...content }, userData, vendorData);
    } catch (err) {
      await this.releaseBlobs(upload.written, log);
      throw err;
    }
  }

  /**
   * PUT: new blobs first, then one change switches the profile to them. The old version
   * stays downloadable for the retention period (scripts already served link to it);
   * the sweeper removes its blobs after that.
   */
  async replace(req: Request, machineId: string, log: Logger): Promise<BootProfile> {
    const { inventory, retentionMs, clock } = this.deps;
    const upload = await this.receive(req, log, machineId, async () => {
      if (!(await inventory.getProfileOfMachine(machineId))) throw new BootProfileNotFound(machineId);
    });
    const now = clock();
    try {
      return await inventory.replaceProfile(machineId, contentOf(upload), new Date(now), new Date(now + retentionMs));
    } catch (err) {
      await this.releaseBlobs(upload.written, log);
      throw err;
    }
  }

  /** DELETE: the profile first (so nothing points at a missing blob), then the blobs nothing else needs, retained versions' included. */
  async delete(machineId: string, log: Logger): Promise<void> {
    const { profile, retained } = await this.deps.inventory.deleteProfile(machineId);
    // Every architecture's blobs, current and retained.
    const ids = [profile, ...retained].flatMap((v) => blobRefsOf(v).map((b) => b.id));
    await this.releaseBlobs([...new Set(ids)], log);
  }

  /**
   * PUT /api/v1/boot/default/profile: the same form as a machine's PUT; creates the default
   * profile when there is none (`created`), replaces it otherwise (the old version retained,
   * as for a machine). A concurrent create or delete is met by trying the other way once.
   */
  async setDefault(req: Request, log: Logger): Promise<{ profile: BootProfile; created: boolean }> {
    const { inventory, retentionMs, clock } = this.deps;
    const upload = await this.receive(req, log, defaultProfileOwner, async () => undefined);
    const content = contentOf(upload);
    const replace = () => {
      const now = clock();
      return inventory.replaceProfile(defaultProfileOwner, content, new Date(now), new Date(now + retentionMs));
    };
    const create = () => {
      const { userData, vendorData, ...blobs } = content;
      return inventory.createProfile({ id: newId(), machine_id: defaultProfileOwner, ...blobs }, userData, vendorData);
    };
    try {
      const exists = (await inventory.getProfileOfMachine(defaultProfileOwner)) !== null;
      try {
        return exists ? { profile: await replace(), created: false } : { profile: await create(), created: true };
      } catch (err) {
        if (exists && err instanceof BootProfileNotFound) return { profile: await create(), created: true };
        if (!exists && err instanceof BootProfileExists) return { profile: await replace(), created: false };
        throw err;
      }
    } catch (err) {
      await this.releaseBlobs(upload.written, log);
      throw err;
    }
  }

  async get(machineId: string): Promise<BootProfile> {
    const profile = await this.deps.inventory.getProfileOfMachine(machineId);
    if (!profile) throw new BootProfileNotFound(machineId);
    return profile;
  }

  private receive(req: Request, log: Logger, machineId: string | undefined, precheck: (machineId: string) => Promise<void>): Promise<ReceivedProfile> {
    return receiveProfile({ headers: req.headers, body: rawBodyOf(req), ...(machineId ? { machineId } : {}), store: this.deps.blobs, limits: this.deps.limits, precheck, log });
  }

  /**
   * Deletes those of `ids` that a fresh read shows no profile needs. A commit that failed
   * may still have applied (the client reports UNAVAILABLE for a commit that went
   * through): only the read says whether the blobs are referenced. When the read itself
   * fails, nothing is deleted; the sweeper decides later.
   */
  private async releaseBlobs(ids: readonly string[], log: Logger): Promise<void> {
    const { ledger, clock } = this.deps;
    let unreferenced: string[];
    try {
      const released = await ledger.releaseBlobs(ids, new Date(clock()));
      unreferenced = ids.filter((id) => released.has(id));
    } catch (err) {
      log.warn('could not check whether blobs are still referenced; the sweeper will', { blob_ids: ids, err: String(err) });
      return;
    }
    const results = await Promise.allSettled(unreferenced.map((id) => this.deps.blobs.delete(id)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') log.error('could not delete blob; the sweeper will', { blob_id: unreferenced[i], err: String(r.reason) });
    });
  }
}
