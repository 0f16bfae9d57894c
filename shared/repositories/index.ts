import { getConfig } from '../config';
import { getBucket, getFirestore, getSigningBucket } from '../clients';
import { GcsBlobStore } from '../storage/gcs-blobs';
import type { BlobStore } from '../storage/blobs';
import { FirestoreMachineRepository } from './firestore-machines';
import { FirestoreProfileRepository } from './firestore-profiles';
import type { MachineRepository } from './machines';
import type { ProfileRepository } from './profiles';

/**
 * The adapters every function uses, made on first use. Tests replace one with a
 * wrapper that fails on demand (fault injection) and restore it with `undefined`.
 */
interface Adapters {
  machines?: MachineRepository;
  profiles?: ProfileRepository;
  blobs?: BlobStore;
}

const adapters: Adapters = {};

export function machineRepository(): MachineRepository {
  adapters.machines ??= new FirestoreMachineRepository(getFirestore());
  return adapters.machines;
}

export function profileRepository(): ProfileRepository {
  adapters.profiles ??= new FirestoreProfileRepository(getFirestore());
  return adapters.profiles;
}

export function blobStore(): BlobStore {
  adapters.blobs ??= new GcsBlobStore(getBucket(), getSigningBucket(), getConfig().STORAGE_PUBLIC_URL);
  return adapters.blobs;
}

export function overrideAdapters(next: Adapters): void {
  Object.assign(adapters, next);
}

export function resetAdapters(): void {
  delete adapters.machines;
  delete adapters.profiles;
  delete adapters.blobs;
}
