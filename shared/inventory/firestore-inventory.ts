import { FieldValue, Timestamp, type DocumentData, type DocumentSnapshot, type Firestore, type Transaction } from '@google-cloud/firestore';
import {
  BootProfileExists,
  BootProfileNotFound,
  DuplicateMacAddress,
  MachineHasBootProfile,
  MachineNotFound,
  UnknownMachine,
} from '../domain/errors';
import { newId } from '../domain/ids';
import { macsOf, repeatedMac, type Machine, type MachineSpec } from '../domain/machine';
import type { BlobRef, BootProfile } from '../domain/profile';
import { blobIdsInUse, type ProfileRecord, type RetainedVersion } from '../domain/profile-versions';
import type { BootTarget, Inventory, MachineListQuery, MachinePage, MachineRecord, ProfileContent } from './inventory';

/** Firestore collection names, in one place. */
export const collections = {
  machines: 'machines',
  /**
   * One document per MAC (id = canonical MAC), `{ machine_id, boot_profile_id }`: the
   * uniqueness guard, and the boot path's index (one read from MAC to profile).
   */
  machineMacs: 'machine_macs',
  profiles: 'boot_profiles',
} as const;

/** The stored machine: the API's fields plus the internal ones. */
interface MachineDocument extends Machine {
  macs: string[];
  boot_profile_id: string | null;
}

/** The stored profile: the API's fields, the version retained after replaces, and every blob id it holds (for reference queries). */
interface ProfileDocument extends BootProfile {
  /** Changes with every replace: how a retried replace recognises its own commit. */
  version?: string;
  retained?: { kernel: BlobRef; initrd: BlobRef; retained_until: Timestamp }[];
  blob_ids?: string[];
}

function toMachine(doc: MachineDocument): Machine {
  const { id, cpus, memory_modules, accelerators, nics, drives } = doc;
  return { id, cpus, memory_modules, accelerators, nics, drives };
}

function toProfile(data: DocumentData): BootProfile {
  const { id, machine_id, kernel, initrd } = data as ProfileDocument;
  return { id, machine_id, kernel: { id: kernel.id, args: kernel.args, sha256: kernel.sha256, size: kernel.size }, initrd: { id: initrd.id, sha256: initrd.sha256, size: initrd.size } };
}

function toRecord(data: DocumentData): ProfileRecord {
  const doc = data as ProfileDocument;
  const retained: RetainedVersion[] = (doc.retained ?? []).map((v) => ({ kernel: v.kernel, initrd: v.initrd, retainedUntil: v.retained_until.toDate() }));
  return { profile: toProfile(doc), retained };
}

function blobIdsOf(profile: BootProfile, retained: readonly { kernel: BlobRef; initrd: BlobRef }[]): string[] {
  return [...new Set([profile.kernel.id, profile.initrd.id, ...retained.flatMap((v) => [v.kernel.id, v.initrd.id])])];
}

/** `array-contains-any` takes at most 30 values. */
const maxDisjunction = 30;

/**
 * The inventory in Firestore: `machines/{id}`, `machine_macs/{mac}`, `boot_profiles/{id}`.
 * Every change is one transaction that reads every document it depends on before it
 * writes, so Firestore serialises concurrent changes and a refused change writes nothing.
 *
 * The client library runs a transaction's function again when a commit fails with
 * ABORTED, UNAVAILABLE, DEADLINE_EXCEEDED or the like, even if that commit did apply.
 * Each change therefore fixes its new ids before the first attempt and, on a later
 * attempt, takes finding its own earlier write as success.
 */
export class FirestoreInventory implements Inventory {
  constructor(private readonly db: Firestore) {}

  private machineRef(id: string) {
    return this.db.collection(collections.machines).doc(id);
  }

  private macRef(mac: string) {
    return this.db.collection(collections.machineMacs).doc(mac);
  }

  private profileRef(id: string) {
    return this.db.collection(collections.profiles).doc(id);
  }

  // --- machines ---

  async createMachine(spec: MachineSpec): Promise<Machine> {
    const doc: MachineDocument = { id: newId(), ...spec, macs: macsOf(spec), boot_profile_id: null };
    await this.db.runTransaction(async (tx) => {
      const [mine] = await tx.getAll(this.machineRef(doc.id));
      await this.assertMacsFree(tx, spec, doc.id);
      if (mine?.exists) return; // an earlier attempt committed
      tx.create(this.machineRef(doc.id), { ...doc, created_at: FieldValue.serverTimestamp(), updated_at: FieldValue.serverTimestamp() });
      for (const mac of doc.macs) tx.create(this.macRef(mac), { machine_id: doc.id, boot_profile_id: null });
    });
    return toMachine(doc);
  }

  async getMachine(id: string): Promise<MachineRecord | null> {
    const snap = await this.machineRef(id).get();
    if (!snap.exists) return null;
    const doc = snap.data() as MachineDocument;
    return { ...toMachine(doc), bootProfileId: doc.boot_profile_id ?? null };
  }

  async listMachines({ page, perPage, mac }: MachineListQuery): Promise<MachinePage> {
    const all = this.db.collection(collections.machines);
    const filtered = mac ? all.where('macs', 'array-contains', mac) : all;
    const total = (await filtered.count().get()).data().count;
    const skip = (page - 1) * perPage;
    if (skip >= total) return { machines: [], total };

    // Pages are ranges of the time-ordered `id` field rather than offsets: the last id of
    // the previous pages comes from a keys-only query, the page itself from `id > last`.
    let query = filtered.orderBy('id');
    if (skip > 0) {
      const before = await filtered.orderBy('id').select().limit(skip).get();
      const last = before.docs.at(-1);
      if (!last || before.size < skip) return { machines: [], total };
      query = query.where('id', '>', last.id);
    }
    const snap = await query.limit(perPage).get();
    return { machines: snap.docs.map((d) => toMachine(d.data() as MachineDocument)), total };
  }

  async replaceMachine(id: string, spec: MachineSpec): Promise<Machine> {
    // Idempotent as it stands: a second attempt finds the MACs already moved and writes the same document.
    return this.db.runTransaction(async (tx) => {
      const current = await tx.get(this.machineRef(id));
      if (!current.exists) throw new MachineNotFound(id);
      const before = current.data() as MachineDocument;
      await this.assertMacsFree(tx, spec, id);

      const doc: MachineDocument = { ...spec, id, macs: macsOf(spec), boot_profile_id: before.boot_profile_id ?? null };
      for (const mac of before.macs.filter((m) => !doc.macs.includes(m))) tx.delete(this.macRef(mac));
      for (const mac of doc.macs.filter((m) => !before.macs.includes(m))) tx.create(this.macRef(mac), { machine_id: id, boot_profile_id: doc.boot_profile_id });
      tx.set(this.machineRef(id), { ...doc, updated_at: FieldValue.serverTimestamp() }, { merge: true });
      return toMachine(doc);
    });
  }

  async deleteMachine(id: string): Promise<void> {
    let attempted = false;
    await this.db.runTransaction(async (tx) => {
      const current = await tx.get(this.machineRef(id));
      if (!current.exists) {
        if (attempted) return; // an earlier attempt committed
        throw new MachineNotFound(id);
      }
      const doc = current.data() as MachineDocument;
      if (doc.boot_profile_id) throw new MachineHasBootProfile(id, doc.boot_profile_id);
      attempted = true;
      for (const mac of doc.macs) tx.delete(this.macRef(mac));
      tx.delete(this.machineRef(id));
    });
  }

  /** DuplicateMacAddress when a MAC of `spec` is repeated or claimed by a machine other than `ownerId`. */
  private async assertMacsFree(tx: Transaction, spec: MachineSpec, ownerId: string): Promise<void> {
    const repeated = repeatedMac(spec);
    if (repeated) throw new DuplicateMacAddress(repeated);
    const claims: DocumentSnapshot[] = await tx.getAll(...macsOf(spec).map((mac) => this.macRef(mac)));
    for (const claim of claims) {
      const owner = claim.exists ? (claim.get('machine_id') as string) : undefined;
      if (owner && owner !== ownerId) throw new DuplicateMacAddress(claim.id, owner);
    }
  }

  // --- the boot path's reads ---

  async findBootTarget(mac: string): Promise<BootTarget | null> {
    const claim = await this.macRef(mac).get();
    if (!claim.exists) return null;
    return { machineId: claim.get('machine_id') as string, bootProfileId: (claim.get('boot_profile_id') as string | null | undefined) ?? null };
  }

  async getProfile(id: string): Promise<ProfileRecord | null> {
    const snap = await this.profileRef(id).get();
    return snap.exists ? toRecord(snap.data() ?? {}) : null;
  }

  async getProfileOfMachine(machineId: string): Promise<BootProfile | null> {
    const machine = await this.machineRef(machineId).get();
    const profileId = machine.exists ? (machine.get('boot_profile_id') as string | null) : null;
    if (!profileId) return null;
    return (await this.getProfile(profileId))?.profile ?? null;
  }

  // --- profiles ---

  async createProfile(profile: BootProfile): Promise<BootProfile> {
    await this.db.runTransaction(async (tx) => {
      const machine = await tx.get(this.machineRef(profile.machine_id));
      if (!machine.exists) throw new UnknownMachine(profile.machine_id);
      const existing = machine.get('boot_profile_id') as string | null;
      if (existing === profile.id) return; // an earlier attempt committed
      if (existing) throw new BootProfileExists(profile.machine_id, existing);
      const doc: ProfileDocument = { ...profile, version: newId(), retained: [], blob_ids: blobIdsOf(profile, []) };
      tx.create(this.profileRef(profile.id), { ...doc, created_at: FieldValue.serverTimestamp(), updated_at: FieldValue.serverTimestamp() });
      tx.update(this.machineRef(profile.machine_id), { boot_profile_id: profile.id });
      this.linkMacs(tx, machine.get('macs') as string[], profile.id);
    });
    return profile;
  }

  async replaceProfile(machineId: string, content: ProfileContent, now: Date, retainUntil: Date): Promise<BootProfile> {
    const version = newId();
    return this.db.runTransaction(async (tx) => {
      const { doc } = await this.currentProfile(tx, machineId);
      const current = toProfile(doc);
      if (doc.version === version) return current; // an earlier attempt committed
      const after: BootProfile = { ...current, ...content };
      // The version replaced stays downloadable; versions past their time are dropped.
      const retained = [
        ...(doc.retained ?? []).filter((v) => v.retained_until.toMillis() > now.getTime()),
        { kernel: blobOf(current.kernel), initrd: current.initrd, retained_until: Timestamp.fromDate(retainUntil) },
      ];
      tx.update(this.profileRef(current.id), { kernel: after.kernel, initrd: after.initrd, version, retained, blob_ids: blobIdsOf(after, retained), updated_at: FieldValue.serverTimestamp() });
      return after;
    });
  }

  async deleteProfile(machineId: string): Promise<ProfileRecord> {
    let attempted: ProfileRecord | undefined;
    return this.db.runTransaction(async (tx) => {
      const machine = await tx.get(this.machineRef(machineId));
      const profileId = machine.exists ? (machine.get('boot_profile_id') as string | null) : null;
      if (!profileId) {
        if (attempted) return attempted; // an earlier attempt committed
        throw new BootProfileNotFound(machineId);
      }
      const { doc } = await this.currentProfile(tx, machineId, machine);
      attempted = toRecord(doc);
      tx.delete(this.profileRef(profileId));
      tx.update(this.machineRef(machineId), { boot_profile_id: null });
      this.linkMacs(tx, machine.get('macs') as string[], null);
      return attempted;
    });
  }

  async referencedBlobIds(now: Date): Promise<Set<string>> {
    const ids = new Set<string>();
    const snap = await this.db.collection(collections.profiles).select('kernel', 'initrd', 'retained').get();
    for (const doc of snap.docs) for (const id of blobIdsInUse(toRecord(doc.data()), now)) ids.add(id);
    return ids;
  }

  async blobsInUse(blobIds: readonly string[], now: Date): Promise<Set<string>> {
    const wanted = new Set(blobIds);
    const inUse = new Set<string>();
    for (let i = 0; i < blobIds.length; i += maxDisjunction) {
      const snap = await this.db.collection(collections.profiles).where('blob_ids', 'array-contains-any', blobIds.slice(i, i + maxDisjunction)).get();
      for (const doc of snap.docs) for (const id of blobIdsInUse(toRecord(doc.data()), now)) if (wanted.has(id)) inUse.add(id);
    }
    return inUse;
  }

  /** Keeps the boot index on each of the machine's MAC documents in step with its profile link. */
  private linkMacs(tx: Transaction, macs: readonly string[], profileId: string | null): void {
    for (const mac of macs) tx.update(this.macRef(mac), { boot_profile_id: profileId });
  }

  private async currentProfile(tx: Transaction, machineId: string, machineSnap?: DocumentSnapshot): Promise<{ doc: ProfileDocument }> {
    const machine = machineSnap ?? (await tx.get(this.machineRef(machineId)));
    const profileId = machine.exists ? (machine.get('boot_profile_id') as string | null) : null;
    if (!profileId) throw new BootProfileNotFound(machineId);
    const profile = await tx.get(this.profileRef(profileId));
    if (!profile.exists) throw new BootProfileNotFound(machineId);
    return { doc: profile.data() as ProfileDocument };
  }
}

/** A kernel reference without its arguments (a retained version keeps the bytes; its arguments live in the scripts already served). */
function blobOf({ id, sha256, size }: BlobRef): BlobRef {
  return { id, sha256, size };
}
