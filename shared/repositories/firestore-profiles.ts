import { FieldValue, type Firestore, type Transaction } from '@google-cloud/firestore';
import { newId } from '../domain/ids';
import type { BootProfile } from '../domain/profile';
import { ProblemError } from '../http/problem';
import { collections } from './collections';
import type { NewBlobs, ProfileRepository } from './profiles';

export function bootProfileNotFound(machineId: string): ProblemError {
  return new ProblemError('boot-profile-not-found', `No boot profile found for machine ${machineId}`, { machine_id: machineId });
}

export function unknownMachine(machineId: string): ProblemError {
  return new ProblemError('unknown-machine', `Machine ${machineId} does not exist`, { field: 'machine_id', machine_id: machineId });
}

function toProfile(data: FirebaseFirestore.DocumentData): BootProfile {
  const { id, machine_id, kernel, initrd } = data as BootProfile;
  return { id, machine_id, kernel: { id: kernel.id, args: kernel.args, sha256: kernel.sha256, size: kernel.size }, initrd: { id: initrd.id, sha256: initrd.sha256, size: initrd.size } };
}

/**
 * Profiles in `boot_profiles/{id}`; the machine document's `boot_profile_id` is the
 * one-profile-per-machine guard. Each change is one transaction that reads the
 * machine (and profile) before writing, so concurrent creates for one machine
 * serialise on real Firestore and a rejected change writes nothing.
 */
export class FirestoreProfileRepository implements ProfileRepository {
  constructor(private readonly db: Firestore) {}

  private machineRef(id: string) {
    return this.db.collection(collections.machines).doc(id);
  }

  private macRef(mac: string) {
    return this.db.collection(collections.machineMacs).doc(mac);
  }

  /** Keeps the boot index on each of the machine's MAC documents in step with its profile link. */
  private linkMacs(tx: Transaction, macs: readonly string[], profileId: string | null): void {
    for (const mac of macs) tx.update(this.macRef(mac), { boot_profile_id: profileId });
  }

  private profileRef(id: string) {
    return this.db.collection(collections.profiles).doc(id);
  }

  async get(id: string): Promise<BootProfile | null> {
    const snap = await this.profileRef(id).get();
    return snap.exists ? toProfile(snap.data() ?? {}) : null;
  }

  async getForMachine(machineId: string): Promise<BootProfile | null> {
    const machine = await this.machineRef(machineId).get();
    const profileId = machine.exists ? (machine.get('boot_profile_id') as string | null) : null;
    return profileId ? this.get(profileId) : null;
  }

  async create(machineId: string, blobs: NewBlobs): Promise<BootProfile> {
    const profile: BootProfile = { id: newId(), machine_id: machineId, ...blobs };
    await this.db.runTransaction(async (tx) => {
      const machine = await tx.get(this.machineRef(machineId));
      if (!machine.exists) throw unknownMachine(machineId);
      const existing = machine.get('boot_profile_id') as string | null;
      if (existing) throw profileExists(machineId, existing);
      tx.create(this.profileRef(profile.id), { ...profile, created_at: FieldValue.serverTimestamp(), updated_at: FieldValue.serverTimestamp() });
      tx.update(this.machineRef(machineId), { boot_profile_id: profile.id });
      this.linkMacs(tx, machine.get('macs') as string[], profile.id);
    });
    return profile;
  }

  async replaceBlobs(machineId: string, blobs: NewBlobs): Promise<{ before: BootProfile; after: BootProfile }> {
    return this.db.runTransaction(async (tx) => {
      const { profile: before } = await this.currentProfile(tx, machineId);
      const after: BootProfile = { ...before, ...blobs };
      tx.update(this.profileRef(before.id), { kernel: after.kernel, initrd: after.initrd, updated_at: FieldValue.serverTimestamp() });
      return { before, after };
    });
  }

  async delete(machineId: string): Promise<BootProfile> {
    return this.db.runTransaction(async (tx) => {
      const { profile, macs } = await this.currentProfile(tx, machineId);
      tx.delete(this.profileRef(profile.id));
      tx.update(this.machineRef(machineId), { boot_profile_id: null });
      this.linkMacs(tx, macs, null);
      return profile;
    });
  }

  async referencedBlobIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    const snap = await this.db.collection(collections.profiles).select('kernel.id', 'initrd.id').get();
    for (const doc of snap.docs) {
      ids.add(doc.get('kernel.id') as string);
      ids.add(doc.get('initrd.id') as string);
    }
    return ids;
  }

  private async currentProfile(tx: Transaction, machineId: string): Promise<{ profile: BootProfile; macs: string[] }> {
    const machine = await tx.get(this.machineRef(machineId));
    const profileId = machine.exists ? (machine.get('boot_profile_id') as string | null) : null;
    if (!profileId) throw bootProfileNotFound(machineId);
    const profile = await tx.get(this.profileRef(profileId));
    if (!profile.exists) throw bootProfileNotFound(machineId);
    return { profile: toProfile(profile.data() ?? {}), macs: machine.get('macs') as string[] };
  }
}

export function profileExists(machineId: string, existingProfileId: string): ProblemError {
  return new ProblemError('boot-profile-exists', `Machine ${machineId} already has a boot profile`, { machine_id: machineId, existing_profile_id: existingProfileId });
}
