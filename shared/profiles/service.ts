import type { Request } from 'express';
import { getConfig } from '../config';
import type { BootProfile } from '../domain/profile';
import { ProblemError } from '../http/problem';
import type { Logger } from '../logging';
import { blobStore, machineRepository, profileRepository } from '../repositories';
import { profileExists, unknownMachine, bootProfileNotFound } from '../repositories/firestore-profiles';
import { discardBlobs, receiveProfile, type ReceivedProfile } from './multipart';

function rawBodyOf(req: Request): Buffer {
  const body = (req as Request & { rawBody?: Buffer }).rawBody;
  if (!body) throw new ProblemError('unsupported-media-type', 'The request body must be multipart/form-data');
  return body;
}

function receive(req: Request, log: Logger, machineId: string | undefined, precheck: (machineId: string) => Promise<void>): Promise<ReceivedProfile> {
  const config = getConfig();
  return receiveProfile({
    headers: req.headers,
    body: rawBodyOf(req),
    ...(machineId ? { machineId } : {}),
    store: blobStore(),
    limits: { kernel: config.KERNEL_MAX_BYTES, initrd: config.INITRD_MAX_BYTES },
    precheck,
    log,
  });
}

function profileOf(upload: ReceivedProfile) {
  return { kernel: { ...upload.kernel, args: upload.kernelArgs }, initrd: upload.initrd };
}

/** POST /api/v1/profiles: new blobs, then the profile and the machine's link in one transaction. */
export async function createProfile(req: Request, log: Logger): Promise<BootProfile> {
  const upload = await receive(req, log, undefined, async (machineId) => {
    const machine = await machineRepository().findById(machineId);
    if (!machine) throw unknownMachine(machineId);
    if (machine.bootProfileId) throw profileExists(machineId, machine.bootProfileId);
  });
  try {
    return await profileRepository().create(upload.machineId, profileOf(upload));
  } catch (err) {
    await discardBlobs(blobStore(), upload.written, log);
    throw err;
  }
}

/** PUT: new blobs first, then one write switches the profile to them, then the old blobs go. */
export async function replaceProfile(req: Request, machineId: string, log: Logger): Promise<BootProfile> {
  const upload = await receive(req, log, machineId, async () => {
    if (!(await profileRepository().getForMachine(machineId))) throw bootProfileNotFound(machineId);
  });
  let result: { before: BootProfile; after: BootProfile };
  try {
    result = await profileRepository().replaceBlobs(machineId, profileOf(upload));
  } catch (err) {
    await discardBlobs(blobStore(), upload.written, log);
    throw err;
  }
  await discardBlobs(blobStore(), [result.before.kernel.id, result.before.initrd.id], log);
  return result.after;
}

/** DELETE: the profile first (so nothing points at a missing blob), then its blobs. */
export async function deleteProfile(machineId: string, log: Logger): Promise<void> {
  const removed = await profileRepository().delete(machineId);
  await discardBlobs(blobStore(), [removed.kernel.id, removed.initrd.id], log);
}

export async function getProfile(machineId: string): Promise<BootProfile> {
  const profile = await profileRepository().getForMachine(machineId);
  if (!profile) throw bootProfileNotFound(machineId);
  return profile;
}
