import type { BootProfile } from '../domain/profile';

export type NewBlobs = Pick<BootProfile, 'kernel' | 'initrd'>;

/** Boot profiles; one per machine, linked both ways (profile.machine_id, machine.boot_profile_id). */
export interface ProfileRepository {
  get(id: string): Promise<BootProfile | null>;
  getForMachine(machineId: string): Promise<BootProfile | null>;
  /** 422 unknown machine, 409 when the machine already has a profile. */
  create(machineId: string, blobs: NewBlobs): Promise<BootProfile>;
  /** Points the machine's profile at new blobs in one write; returns the profile before and after. 404 when there is none. */
  replaceBlobs(machineId: string, blobs: NewBlobs): Promise<{ before: BootProfile; after: BootProfile }>;
  /** Removes the profile and the machine's link to it; returns what was removed. 404 when there is none. */
  delete(machineId: string): Promise<BootProfile>;
  /** Every blob id some profile references. */
  referencedBlobIds(): Promise<Set<string>>;
}
