import { FieldPath, FieldValue, Timestamp, type DocumentData, type DocumentReference, type DocumentSnapshot, type Firestore, type Transaction } from '@google-cloud/firestore';
import { sameTurnBatches } from '../batching';
import {
  BootProfileExists,
  BootProfileNotFound,
  DuplicateMacAddress,
  MachineHasBootProfile,
  BlobUnavailable,
  MachineNotFound,
  UnknownMachine,
  UploadSessionCancelled,
  UploadSessionExpired,
  UploadSessionFinalized,
  UploadSessionNotFound,
} from '../domain/errors';
import { newId } from '../domain/ids';
import { macsOf, repeatedMac, type Machine, type MachineSpec, type NetbootMode } from '../domain/machine';
import { blobRefsOf, extraArchitectures, fileName, fileNames, type ArchitectureImages, type BlobRef, type BootProfile, type FileName, type ImageSet } from '../domain/profile';
import { blobIdsInUse, type ProfileRecord, type RetainedVersion } from '../domain/profile-versions';
import { summaryOf, type UserData } from '../fleet/user-data';
import { defaultProfileOwner, isPartsTarget } from './inventory';
import type {
  BlobLedger,
  BootTarget,
  FinalizedUpload,
  IndexedBlob,
  Inventory,
  MachineListQuery,
  MachinePage,
  MachineChanges,
  MachineRecord,
  PartsProgress,
  ProfileContent,
  UploadFile,
  UploadSessionRecord,
} from './inventory';

/** Firestore collection names, in one place. */
export const collections = {
  machines: 'machines',
  /**
   * One document per MAC (id = canonical MAC), `{ machine_id, boot_profile_id }`: the
   * uniqueness guard, and the boot path's index (one read from MAC to profile).
   */
  machineMacs: 'machine_macs',
  profiles: 'boot_profiles',
  /** `{sha256}-{size}` -> `{ blob_id, sha256, size, verified_at, used_at }`: blobs this service hashed itself, by content. */
  blobIndex: 'blob_index',
  /** Upload sessions (POST /api/v1/uploads), by id. */
  uploadSessions: 'upload_sessions',
  /**
   * Unknown MACs seen on /boot.ipxe (id = canonical MAC; shared/lifecycle/discoveries.ts
   * writes them). The inventory deletes a MAC's record in the transaction that claims it.
   */
  discoveries: 'discoveries',
  /** `boot_defaults/profile`: `{ boot_profile_id }` of the default profile (the owner document of `defaultProfileOwner`). */
  bootDefaults: 'boot_defaults',
} as const;

export const blobIndexKey = (sha256: string, size: number): string => `${sha256}-${size}`;

/** The stored machine: the API's fields plus the internal ones. */
interface MachineDocument extends Omit<Machine, 'netboot'> {
  macs: string[];
  boot_profile_id: string | null;
  /** Absent on machines stored before the field existed: `enabled`. */
  netboot?: NetbootMode;
  /** The current `once` round: a new id each time netboot becomes `once` (only its boots may end it). */
  once_round?: string;
}

/** The stored profile: the API's fields, the version retained after replaces, and every blob id it holds (for reference queries). */
interface ProfileDocument extends BootProfile {
  /** Changes with every replace: how a retried replace recognises its own commit. */
  version?: string;
  retained?: { kernel: BlobRef; initrd: BlobRef; architectures?: ArchitectureImages; retained_until: Timestamp }[];
  blob_ids?: string[];
  /** The cloud-init user-data text (`user_data` holds its summary, as the API shows it). */
  user_data_content?: UserData;
  /** The cloud-init vendor-data text (`vendor_data` holds its summary). */
  vendor_data_content?: UserData;
}

function toMachine(doc: MachineDocument): Machine {
  const { id, cpus, memory_modules, accelerators, nics, drives } = doc;
  return { id, cpus, memory_modules, accelerators, nics, drives, netboot: doc.netboot ?? 'enabled', ...(doc.hostname ? { hostname: doc.hostname } : {}) };
}

/** A MAC's document: who owns it, and what the boot path needs of the machine without another read. */
function macDocument(machineId: string, bootProfileId: string | null, spec: Pick<MachineSpec, 'netboot' | 'hostname'>, onceRound: string | undefined): DocumentData {
  return { machine_id: machineId, boot_profile_id: bootProfileId, netboot: spec.netboot, ...(spec.hostname ? { hostname: spec.hostname } : {}), ...(onceRound ? { once_round: onceRound } : {}) };
}

/** Only the architectures with images, in the fixed order; undefined when none. */
function archImagesOf(stored: ArchitectureImages | undefined): ArchitectureImages | undefined {
  const entries = extraArchitectures.flatMap((arch) => {
    const images = stored?.[arch];
    return images ? [[arch, { kernel: blobOf(images.kernel), initrd: blobOf(images.initrd) }] as const] : [];
  });
  return entries.length ? (Object.fromEntries(entries) as ArchitectureImages) : undefined;
}

function toProfile(data: DocumentData): BootProfile {
  const { id, machine_id, kernel, initrd, architectures, user_data, vendor_data } = data as ProfileDocument;
  const archs = archImagesOf(architectures);
  return {
    id,
    machine_id,
    kernel: { id: kernel.id, args: kernel.args, sha256: kernel.sha256, size: kernel.size },
    initrd: { id: initrd.id, sha256: initrd.sha256, size: initrd.size },
    ...(archs ? { architectures: archs } : {}),
    ...(user_data ? { user_data: { format: user_data.format, size: user_data.size, sha256: user_data.sha256 } } : {}),
    ...(vendor_data ? { vendor_data: { format: vendor_data.format, size: vendor_data.size, sha256: vendor_data.sha256 } } : {}),
  };
}

function toRecord(data: DocumentData): ProfileRecord {
  const doc = data as ProfileDocument;
  const retained: RetainedVersion[] = (doc.retained ?? []).map((v) => {
    const archs = archImagesOf(v.architectures);
    return { kernel: v.kernel, initrd: v.initrd, ...(archs ? { architectures: archs } : {}), retainedUntil: v.retained_until.toDate() };
  });
  const content = doc.user_data_content;
  const vendor = doc.vendor_data_content;
  return {
    profile: toProfile(doc),
    retained,
    ...(content ? { userData: { format: content.format, text: content.text } } : {}),
    ...(vendor ? { vendorData: { format: vendor.format, text: vendor.text } } : {}),
  };
}

/** Every blob id of the profile and its retained versions, every architecture's (`blob_ids`, what releases query). */
function blobIdsOf(profile: BootProfile, retained: readonly ImageSet[]): string[] {
  return [...new Set([profile, ...retained].flatMap((v) => blobRefsOf(v).map((b) => b.id)))];
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
export class FirestoreInventory implements Inventory, BlobLedger, MachineChanges {
  /**
   * The boot path's reads: every MAC document and profile asked for in one turn of the event
   * loop (one request's MAC, another's profile), one BatchGetDocuments (shared/batching.ts).
   */
  private readonly bootReads = sameTurnBatches((refs: readonly DocumentReference[]) => this.readAll(refs));

  constructor(private readonly db: Firestore) {}

  /** One read of the distinct documents of `refs`, each answered with its snapshot. */
  private async readAll(refs: readonly DocumentReference[]): Promise<DocumentSnapshot[]> {
    const distinct = [...new Map(refs.map((ref) => [ref.path, ref])).values()];
    const snaps = await this.db.getAll(...distinct);
    const byPath = new Map(snaps.map((snap) => [snap.ref.path, snap]));
    return refs.map((ref) => byPath.get(ref.path) as DocumentSnapshot);
  }

  private machineRef(id: string) {
    return this.db.collection(collections.machines).doc(id);
  }

  /** The document holding `boot_profile_id` for a profile owner: a machine, or the default profile's. */
  private ownerRef(owner: string) {
    return owner === defaultProfileOwner ? this.db.collection(collections.bootDefaults).doc('profile') : this.machineRef(owner);
  }

  private macRef(mac: string) {
    return this.db.collection(collections.machineMacs).doc(mac);
  }

  private profileRef(id: string) {
    return this.db.collection(collections.profiles).doc(id);
  }

  private indexRef(key: string) {
    return this.db.collection(collections.blobIndex).doc(key);
  }

  private sessionRef(id: string) {
    return this.db.collection(collections.uploadSessions).doc(id);
  }

  private discoveryRef(mac: string) {
    return this.db.collection(collections.discoveries).doc(mac);
  }

  // --- machines ---

  async createMachine(spec: MachineSpec): Promise<Machine> {
    const doc: MachineDocument = { id: newId(), ...spec, macs: macsOf(spec), boot_profile_id: null, ...(spec.netboot === 'once' ? { once_round: newId() } : {}) };
    await this.db.runTransaction(async (tx) => {
      const [mine] = await tx.getAll(this.machineRef(doc.id));
      await this.assertMacsFree(tx, spec, doc.id);
      if (mine?.exists) return; // an earlier attempt committed
      tx.create(this.machineRef(doc.id), { ...doc, created_at: FieldValue.serverTimestamp(), updated_at: FieldValue.serverTimestamp() });
      for (const mac of doc.macs) {
        tx.create(this.macRef(mac), macDocument(doc.id, null, spec, doc.once_round));
        tx.delete(this.discoveryRef(mac)); // a claimed MAC is no longer unknown
      }
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
    return this.updateMachine(id, () => spec);
  }

  async patchMachine(id: string, patch: (current: MachineSpec) => MachineSpec): Promise<Machine> {
    return this.updateMachine(id, patch);
  }

  /**
   * Replaces the machine with `next(current)`, under the same MAC-claim rules as a create.
   * Idempotent as it stands: a second attempt finds the MACs already moved and writes the
   * same document (`next` runs again on what it reads: a merge patch gives the same result).
   */
  private updateMachine(id: string, next: (current: MachineSpec) => MachineSpec): Promise<Machine> {
    return this.db.runTransaction(async (tx) => {
      const current = await tx.get(this.machineRef(id));
      if (!current.exists) throw new MachineNotFound(id);
      const before = current.data() as MachineDocument;
      const { id: _id, ...currentSpec } = toMachine(before);
      const spec = next(currentSpec);
      await this.assertMacsFree(tx, spec, id);

      const netbootChanged = (before.netboot ?? 'enabled') !== spec.netboot;
      // Becoming `once` opens a new round: tokens of earlier rounds can no longer end it.
      const onceRound = spec.netboot !== 'once' ? undefined : netbootChanged ? newId() : before.once_round;
      const doc: MachineDocument = { ...spec, id, macs: macsOf(spec), boot_profile_id: before.boot_profile_id ?? null, ...(onceRound ? { once_round: onceRound } : {}) };
      const hostnameChanged = (before.hostname ?? null) !== (spec.hostname ?? null);
      for (const mac of before.macs.filter((m) => !doc.macs.includes(m))) tx.delete(this.macRef(mac));
      for (const mac of doc.macs.filter((m) => !before.macs.includes(m))) {
        tx.create(this.macRef(mac), macDocument(id, doc.boot_profile_id, spec, onceRound));
        tx.delete(this.discoveryRef(mac));
      }
      if (netbootChanged || hostnameChanged) {
        const change = { ...(netbootChanged ? { netboot: spec.netboot, once_round: onceRound ?? FieldValue.delete() } : {}), ...(hostnameChanged ? { hostname: spec.hostname ?? FieldValue.delete() } : {}) };
        for (const mac of doc.macs.filter((m) => before.macs.includes(m))) tx.update(this.macRef(mac), change);
      }
      tx.set(this.machineRef(id), { ...doc, hostname: spec.hostname ?? FieldValue.delete(), once_round: onceRound ?? FieldValue.delete(), updated_at: FieldValue.serverTimestamp() }, { merge: true });
      return toMachine(doc);
    });
  }

  async finishOnceBoot(machineId: string, onceRound: string | null): Promise<boolean> {
    return this.db.runTransaction(async (tx) => {
      const current = await tx.get(this.machineRef(machineId));
      if (!current.exists || current.get('netboot') !== 'once') return false;
      // A token of an earlier round (the machine was set to `once` again since) ends nothing.
      if (((current.get('once_round') as string | undefined) ?? null) !== onceRound) return false;
      const macs = current.get('macs') as string[];
      tx.update(this.machineRef(machineId), { netboot: 'disabled', once_round: FieldValue.delete(), updated_at: FieldValue.serverTimestamp() });
      for (const mac of macs) tx.update(this.macRef(mac), { netboot: 'disabled', once_round: FieldValue.delete() });
      return true;
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
    const claim = await this.bootReads.load(this.macRef(mac));
    if (!claim.exists) return null;
    return {
      machineId: claim.get('machine_id') as string,
      bootProfileId: (claim.get('boot_profile_id') as string | null | undefined) ?? null,
      netboot: (claim.get('netboot') as NetbootMode | undefined) ?? 'enabled',
      hostname: (claim.get('hostname') as string | undefined) ?? null,
      onceRound: (claim.get('once_round') as string | undefined) ?? null,
    };
  }

  async getProfile(id: string): Promise<ProfileRecord | null> {
    const snap = await this.bootReads.load(this.profileRef(id));
    return snap.exists ? toRecord(snap.data() ?? {}) : null;
  }

  async getProfileOfMachine(machineId: string): Promise<BootProfile | null> {
    const machine = await this.ownerRef(machineId).get();
    const profileId = machine.exists ? (machine.get('boot_profile_id') as string | null) : null;
    if (!profileId) return null;
    return (await this.getProfile(profileId))?.profile ?? null;
  }

  // --- profiles ---

  async createProfile(given: BootProfile, userData?: UserData, vendorData?: UserData): Promise<BootProfile> {
    const profile = withUserData(given, userData, vendorData);
    await this.db.runTransaction(async (tx) => {
      const write = await this.planCreate(tx, profile, userData, vendorData);
      if (!write) return; // an earlier attempt committed
      const index = await this.planIndex(tx, blobRefsOf(profile));
      write();
      index();
    });
    return profile;
  }

  async replaceProfile(machineId: string, content: ProfileContent, now: Date, retainUntil: Date): Promise<BootProfile> {
    const version = newId();
    return this.db.runTransaction(async (tx) => {
      const { result, write } = await this.planReplace(tx, machineId, content, version, now, retainUntil);
      if (!write) return result; // an earlier attempt committed
      const index = await this.planIndex(tx, blobRefsOf(content));
      write();
      index();
      return result;
    });
  }

  /** Reads what a create depends on; the writes, or null when an earlier attempt committed. UnknownMachine, BootProfileExists. */
  private async planCreate(tx: Transaction, profile: BootProfile, userData?: UserData, vendorData?: UserData): Promise<(() => void) | null> {
    const isDefault = profile.machine_id === defaultProfileOwner;
    const machine = await tx.get(this.ownerRef(profile.machine_id));
    if (!machine.exists && !isDefault) throw new UnknownMachine(profile.machine_id);
    const existing = machine.exists ? ((machine.get('boot_profile_id') as string | null | undefined) ?? null) : null;
    if (existing === profile.id) return null;
    if (existing) throw new BootProfileExists(profile.machine_id, existing);
    return () => {
      const doc: ProfileDocument = { ...profile, version: newId(), retained: [], blob_ids: blobIdsOf(profile, []), ...(userData ? { user_data_content: userData } : {}), ...(vendorData ? { vendor_data_content: vendorData } : {}) };
      tx.create(this.profileRef(profile.id), { ...doc, created_at: FieldValue.serverTimestamp(), updated_at: FieldValue.serverTimestamp() });
      if (isDefault) {
        tx.set(this.ownerRef(profile.machine_id), { boot_profile_id: profile.id, updated_at: FieldValue.serverTimestamp() }, { merge: true });
        return;
      }
      tx.update(this.machineRef(profile.machine_id), { boot_profile_id: profile.id });
      this.linkMacs(tx, machine.get('macs') as string[], profile.id);
    };
  }

  /** Reads what a replace depends on; the profile after it and its writes (null when an earlier attempt with `version` committed). BootProfileNotFound. */
  private async planReplace(
    tx: Transaction,
    machineId: string,
    content: ProfileContent,
    version: string,
    now: Date,
    retainUntil: Date,
  ): Promise<{ result: BootProfile; write: (() => void) | null }> {
    const { doc } = await this.currentProfile(tx, machineId);
    const current = toProfile(doc);
    if (doc.version === version) return { result: current, write: null };
    const { userData, vendorData, kernel, initrd, architectures } = content;
    // Every architecture's images are replaced: one the new content lacks is dropped (retained below).
    const { architectures: _old, ...kept } = current;
    const after: BootProfile = withUserData({ ...kept, kernel, initrd, ...(architectures ? { architectures } : {}) }, userData, vendorData);
    // The version replaced stays downloadable (every architecture's); versions past their time are dropped.
    const retained = [
      ...(doc.retained ?? []).filter((v) => v.retained_until.toMillis() > now.getTime()),
      { kernel: blobOf(current.kernel), initrd: current.initrd, ...(current.architectures ? { architectures: current.architectures } : {}), retained_until: Timestamp.fromDate(retainUntil) },
    ];
    return {
      result: after,
      write: () =>
        tx.update(this.profileRef(current.id), {
          kernel: after.kernel,
          initrd: after.initrd,
          architectures: after.architectures ?? FieldValue.delete(),
          user_data: after.user_data ?? FieldValue.delete(),
          user_data_content: userData ?? FieldValue.delete(),
          vendor_data: after.vendor_data ?? FieldValue.delete(),
          vendor_data_content: vendorData ?? FieldValue.delete(),
          version,
          retained,
          blob_ids: blobIdsOf(after, retained),
          updated_at: FieldValue.serverTimestamp(),
        }),
    };
  }

  /**
   * Reads the index documents of blobs about to be referenced; the writes: an absent one
   * is created (the bytes were hashed by this service), one naming this blob is touched
   * (the write that serialises this commit with a release of the blob), one naming another
   * blob with the same content is left as it is.
   */
  private async planIndex(tx: Transaction, refs: readonly BlobRef[]): Promise<() => void> {
    const unique = [...new Map(refs.map((r) => [blobIndexKey(r.sha256, r.size), r])).entries()];
    const snaps = unique.length ? await tx.getAll(...unique.map(([key]) => this.indexRef(key))) : [];
    return () => {
      unique.forEach(([key, ref], i) => {
        const snap = snaps[i];
        if (!snap?.exists) tx.create(this.indexRef(key), { blob_id: ref.id, sha256: ref.sha256, size: ref.size, verified_at: FieldValue.serverTimestamp(), used_at: FieldValue.serverTimestamp() });
        else if (snap.get('blob_id') === ref.id) tx.update(this.indexRef(key), { used_at: FieldValue.serverTimestamp() });
      });
    };
  }

  async deleteProfile(machineId: string): Promise<ProfileRecord> {
    let attempted: ProfileRecord | undefined;
    return this.db.runTransaction(async (tx) => {
      const machine = await tx.get(this.ownerRef(machineId));
      const profileId = machine.exists ? ((machine.get('boot_profile_id') as string | null | undefined) ?? null) : null;
      if (!profileId) {
        if (attempted) return attempted; // an earlier attempt committed
        throw new BootProfileNotFound(machineId);
      }
      const { doc } = await this.currentProfile(tx, machineId, machine);
      attempted = toRecord(doc);
      tx.delete(this.profileRef(profileId));
      tx.update(this.ownerRef(machineId), { boot_profile_id: null });
      this.linkMacs(tx, (machine.get('macs') as string[] | undefined) ?? [], null);
      return attempted;
    });
  }

  async referencedBlobIds(now: Date): Promise<Set<string>> {
    const ids = new Set<string>();
    const snap = await this.db.collection(collections.profiles).select('kernel', 'initrd', 'architectures', 'retained').get();
    for (const doc of snap.docs) for (const id of blobIdsInUse(toRecord(doc.data()), now)) ids.add(id);
    return ids;
  }

  // --- the blob index and upload sessions (BlobLedger) ---

  async findBlob(sha256: string, size: number): Promise<IndexedBlob | null> {
    const snap = await this.indexRef(blobIndexKey(sha256, size)).get();
    return snap.exists ? { blobId: snap.get('blob_id') as string, sha256, size } : null;
  }

  async createUploadSession(session: UploadSessionRecord): Promise<void> {
    await this.sessionRef(session.id).create(toSessionDocument(session));
  }

  async getUploadSession(id: string): Promise<UploadSessionRecord | null> {
    const snap = await this.sessionRef(id).get();
    return snap.exists ? toSessionRecord(snap.data() as SessionDocument) : null;
  }

  async cancelUploadSession(id: string): Promise<UploadSessionRecord> {
    return this.db.runTransaction(async (tx) => {
      const snap = await tx.get(this.sessionRef(id));
      if (!snap.exists) throw new UploadSessionNotFound(id);
      const session = toSessionRecord(snap.data() as SessionDocument);
      if (session.state === 'finalized') throw new UploadSessionFinalized(id, session.profile?.id ?? '');
      if (session.state === 'open') tx.update(this.sessionRef(id), { state: 'cancelled', updated_at: FieldValue.serverTimestamp() });
      return { ...session, state: 'cancelled' };
    });
  }

  async finalizeUpload(id: string, now: Date, retainUntil: Date, settled: Partial<Record<FileName, UploadFile>> = {}): Promise<FinalizedUpload> {
    // Fixed before the first attempt: a retried attempt recognises its own commit.
    const profileId = newId();
    const version = newId();
    let attempted = false;
    return this.db.runTransaction(async (tx) => {
      const snap = await tx.get(this.sessionRef(id));
      if (!snap.exists) throw new UploadSessionNotFound(id);
      const stored = toSessionRecord(snap.data() as SessionDocument);
      if (stored.state === 'finalized' && stored.profile) return { profile: stored.profile, first: attempted };
      if (stored.state === 'cancelled') throw new UploadSessionCancelled(id);
      if (now.getTime() >= stored.expiresAt.getTime()) throw new UploadSessionExpired(id, stored.expiresAt);
      const session: UploadSessionRecord = { ...stored, files: { ...stored.files, ...settled } };

      // Reused files (every architecture's): the blob their index document names now; gone means released.
      const names = sessionFileNames(session);
      const reused = names.filter((name) => !session.files[name]?.upload);
      const sha256Of = (name: FileName, file: UploadFile): string => {
        if (file.sha256 === null) throw new Error(`upload session ${id}: ${name} reached the commit without a verified SHA-256`);
        return file.sha256;
      };
      const indexSnaps = reused.length ? await tx.getAll(...reused.map((name) => { const f = session.files[name] as UploadFile; return this.indexRef(blobIndexKey(sha256Of(name, f), f.size)); })) : [];
      const refs = {} as Record<FileName, BlobRef>;
      for (const name of names) {
        const file = session.files[name] as UploadFile;
        refs[name] = { id: file.blob_id, sha256: sha256Of(name, file), size: file.size };
        const i = reused.indexOf(name);
        if (i >= 0) {
          const index = indexSnaps[i];
          if (!index?.exists) throw new BlobUnavailable(name, file.blob_id);
          refs[name].id = index.get('blob_id') as string;
        }
      }
      const archs = archImagesOf(Object.fromEntries(extraArchitectures.flatMap((arch) => {
        const kernel = refs[fileName('kernel', arch)];
        const initrd = refs[fileName('initrd', arch)];
        return kernel && initrd ? [[arch, { kernel, initrd }]] : [];
      })) as ArchitectureImages);
      const content: ProfileContent = {
        kernel: { ...refs.kernel, args: session.kernelArgs },
        initrd: refs.initrd,
        ...(archs ? { architectures: archs } : {}),
        ...(session.userData ? { userData: session.userData } : {}),
        ...(session.vendorData ? { vendorData: session.vendorData } : {}),
      };

      let profile: BootProfile;
      let write: (() => void) | null;
      if (session.mode === 'create') {
        const { userData, vendorData, ...blobs } = content;
        profile = withUserData({ id: profileId, machine_id: session.machineId, ...blobs }, userData, vendorData);
        write = await this.planCreate(tx, profile, userData, vendorData);
      } else {
        ({ result: profile, write } = await this.planReplace(tx, session.machineId, content, version, now, retainUntil));
      }
      const index = await this.planIndex(tx, names.map((name) => refs[name]));
      attempted = true;
      write?.();
      index();
      tx.update(this.sessionRef(id), { state: 'finalized', profile, files: session.files, finalized_at: FieldValue.serverTimestamp(), updated_at: FieldValue.serverTimestamp() });
      return { profile, first: true };
    });
  }

  async recordPartsProgress(id: string, name: FileName, to: PartsProgress): Promise<void> {
    await this.db.runTransaction(async (tx) => {
      const snap = await tx.get(this.sessionRef(id));
      if (!snap.exists) throw new UploadSessionNotFound(id);
      const session = toSessionRecord(snap.data() as SessionDocument);
      const current = session.files[name]?.verified;
      const forward = (current?.parts ?? 0) < to.parts || (to.sha256 !== undefined && current?.sha256 === undefined);
      if (session.state !== 'open' || !forward) return;
      // A file name may hold a dot (kernel.arm64): a FieldPath, not a dotted string.
      tx.update(this.sessionRef(id), new FieldPath('files', name, 'verified'), to, 'updated_at', FieldValue.serverTimestamp());
    });
  }

  async openSessionBlobIds(since: Date): Promise<Set<string>> {
    const ids = new Set<string>();
    const snap = await this.db.collection(collections.uploadSessions).where('state', '==', 'open').get();
    for (const doc of snap.docs) {
      const session = toSessionRecord(doc.data() as SessionDocument);
      if (session.expiresAt.getTime() <= since.getTime()) continue;
      for (const file of Object.values(session.files)) {
        ids.add(file.blob_id);
        if (isPartsTarget(file.upload)) for (const part of file.upload.parts) ids.add(part.blob_id);
      }
    }
    return ids;
  }

  async expiredSessionsWithLiveUploads(now: Date): Promise<UploadSessionRecord[]> {
    // Open sessions are few (one per upload in progress): filtered here rather than by a composite index.
    const snap = await this.db.collection(collections.uploadSessions).where('state', '==', 'open').get();
    return snap.docs
      .filter((doc) => doc.get('uploads_cancelled') !== true)
      .map((doc) => toSessionRecord(doc.data() as SessionDocument))
      .filter((session) => session.expiresAt.getTime() <= now.getTime());
  }

  async markUploadsCancelled(id: string): Promise<void> {
    await this.sessionRef(id).update({ uploads_cancelled: true, updated_at: FieldValue.serverTimestamp() });
  }

  async releaseBlobs(blobIds: readonly string[], now: Date): Promise<Set<string>> {
    const ids = [...new Set(blobIds)];
    if (ids.length === 0) return new Set();
    // One transaction per batch of 30 (the largest `in` / `array-contains-any`).
    const released = new Set<string>();
    for (let i = 0; i < ids.length; i += maxDisjunction) {
      const batch = ids.slice(i, i + maxDisjunction);
      const free = await this.db.runTransaction(async (tx) => {
        const wanted = new Set(batch);
        const inUse = new Set<string>();
        const profiles = await tx.get(this.db.collection(collections.profiles).where('blob_ids', 'array-contains-any', batch));
        for (const doc of profiles.docs) for (const id of blobIdsInUse(toRecord(doc.data()), now)) if (wanted.has(id)) inUse.add(id);
        const free = batch.filter((id) => !inUse.has(id));
        if (free.length === 0) return free;
        const index = await tx.get(this.db.collection(collections.blobIndex).where('blob_id', 'in', free));
        for (const doc of index.docs) tx.delete(doc.ref);
        return free;
      });
      for (const id of free) released.add(id);
    }
    return released;
  }

  /** Keeps the boot index on each of the machine's MAC documents in step with its profile link. */
  private linkMacs(tx: Transaction, macs: readonly string[], profileId: string | null): void {
    for (const mac of macs) tx.update(this.macRef(mac), { boot_profile_id: profileId });
  }

  private async currentProfile(tx: Transaction, machineId: string, machineSnap?: DocumentSnapshot): Promise<{ doc: ProfileDocument }> {
    const machine = machineSnap ?? (await tx.get(this.ownerRef(machineId)));
    const profileId = machine.exists ? ((machine.get('boot_profile_id') as string | null | undefined) ?? null) : null;
    if (!profileId) throw new BootProfileNotFound(machineId);
    const profile = await tx.get(this.profileRef(profileId));
    if (!profile.exists) throw new BootProfileNotFound(machineId);
    return { doc: profile.data() as ProfileDocument };
  }
}

/** The profile with the summaries of `userData` and `vendorData` (or without them). */
function withUserData(profile: BootProfile, userData: UserData | undefined, vendorData?: UserData): BootProfile {
  const { user_data: _old, vendor_data: _oldVendor, ...rest } = profile;
  return { ...rest, ...(userData ? { user_data: summaryOf(userData) } : {}), ...(vendorData ? { vendor_data: summaryOf(vendorData) } : {}) };
}

/** The session's file names in the fixed order (kernel, initrd, then each architecture's pair). */
function sessionFileNames(session: UploadSessionRecord): FileName[] {
  return fileNames.filter((name) => session.files[name] !== undefined);
}

/** A kernel reference without its arguments (a retained version keeps the bytes; its arguments live in the scripts already served). */
function blobOf({ id, sha256, size }: BlobRef): BlobRef {
  return { id, sha256, size };
}

/** The stored upload session (snake_case, timestamps as Firestore Timestamps). */
interface SessionDocument {
  id: string;
  machine_id: string;
  mode: 'create' | 'replace';
  kernel_args: string[];
  user_data?: UserData;
  vendor_data?: UserData;
  state: 'open' | 'finalized' | 'cancelled';
  created_at: Timestamp;
  expires_at: Timestamp;
  files: UploadSessionRecord['files'];
  profile: BootProfile | null;
}

function toSessionDocument(s: UploadSessionRecord): SessionDocument {
  return {
    id: s.id,
    machine_id: s.machineId,
    mode: s.mode,
    kernel_args: s.kernelArgs,
    ...(s.userData ? { user_data: s.userData } : {}),
    ...(s.vendorData ? { vendor_data: s.vendorData } : {}),
    state: s.state,
    created_at: Timestamp.fromDate(s.createdAt),
    expires_at: Timestamp.fromDate(s.expiresAt),
    files: s.files,
    profile: s.profile,
  };
}

function toSessionRecord(d: SessionDocument): UploadSessionRecord {
  return {
    id: d.id,
    machineId: d.machine_id,
    mode: d.mode,
    kernelArgs: d.kernel_args ?? [],
    ...(d.user_data ? { userData: { format: d.user_data.format, text: d.user_data.text } } : {}),
    ...(d.vendor_data ? { vendorData: { format: d.vendor_data.format, text: d.vendor_data.text } } : {}),
    state: d.state,
    createdAt: d.created_at.toDate(),
    expiresAt: d.expires_at.toDate(),
    files: d.files,
    profile: d.profile ? toProfile(d.profile) : null,
  };
}
