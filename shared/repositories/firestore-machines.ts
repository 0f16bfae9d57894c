import { FieldValue, type DocumentSnapshot, type Firestore, type Transaction } from '@google-cloud/firestore';
import { macsOf, repeatedMac, type Machine, type MachineSpec } from '../domain/machine';
import { newId } from '../domain/ids';
import { ProblemError } from '../http/problem';
import { collections } from './collections';
import type { BootTarget, MachineListQuery, MachinePage, MachineRecord, MachineRepository } from './machines';

/** The stored form: the API's fields plus the internal ones. */
interface MachineDocument extends Machine {
  macs: string[];
  boot_profile_id: string | null;
}

export function machineNotFound(id: string): ProblemError {
  return new ProblemError('machine-not-found', `Machine with ID ${id} not found`, { machine_id: id });
}

function duplicateMac(mac: string, existingMachineId?: string): ProblemError {
  return existingMachineId
    ? new ProblemError('duplicate-mac-address', `A machine with MAC address ${mac} already exists`, { mac_address: mac, existing_machine_id: existingMachineId })
    : new ProblemError('duplicate-mac-address', `MAC address ${mac} appears more than once in the request`, { mac_address: mac });
}

function toMachine(doc: MachineDocument): Machine {
  const { id, cpus, memory_modules, accelerators, nics, drives } = doc;
  return { id, cpus, memory_modules, accelerators, nics, drives };
}

function toRecord(doc: MachineDocument): MachineRecord {
  return { ...toMachine(doc), bootProfileId: doc.boot_profile_id ?? null };
}

/**
 * Machines in `machines/{id}`, each MAC claimed by `machine_macs/{mac}`. Every write
 * is one transaction that reads all the documents it depends on before writing, so
 * real Firestore serialises concurrent claims of a MAC, and a rejected request
 * writes nothing at all.
 */
export class FirestoreMachineRepository implements MachineRepository {
  constructor(private readonly db: Firestore) {}

  private machineRef(id: string) {
    return this.db.collection(collections.machines).doc(id);
  }

  private macRef(mac: string) {
    return this.db.collection(collections.machineMacs).doc(mac);
  }

  async create(spec: MachineSpec): Promise<Machine> {
    const doc: MachineDocument = { id: newId(), ...spec, macs: macsOf(spec), boot_profile_id: null };
    await this.db.runTransaction(async (tx) => {
      await this.assertMacsFree(tx, spec, doc.id);
      tx.create(this.machineRef(doc.id), { ...doc, created_at: FieldValue.serverTimestamp(), updated_at: FieldValue.serverTimestamp() });
      for (const mac of doc.macs) tx.create(this.macRef(mac), { machine_id: doc.id, boot_profile_id: null });
    });
    return toMachine(doc);
  }

  async get(id: string): Promise<Machine | null> {
    const snap = await this.machineRef(id).get();
    return snap.exists ? toMachine(snap.data() as MachineDocument) : null;
  }

  async findById(id: string): Promise<MachineRecord | null> {
    const snap = await this.machineRef(id).get();
    return snap.exists ? toRecord(snap.data() as MachineDocument) : null;
  }

  async findBootTarget(mac: string): Promise<BootTarget | null> {
    const claim = await this.macRef(mac).get();
    if (!claim.exists) return null;
    return { machineId: claim.get('machine_id') as string, bootProfileId: (claim.get('boot_profile_id') as string | null | undefined) ?? null };
  }

  async list({ page, perPage, mac }: MachineListQuery): Promise<MachinePage> {
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

  async replace(id: string, spec: MachineSpec): Promise<Machine> {
    return this.db.runTransaction(async (tx) => {
      const current = await tx.get(this.machineRef(id));
      if (!current.exists) throw machineNotFound(id);
      const before = current.data() as MachineDocument;
      await this.assertMacsFree(tx, spec, id);

      const doc: MachineDocument = { ...spec, id, macs: macsOf(spec), boot_profile_id: before.boot_profile_id ?? null };
      for (const mac of before.macs.filter((m) => !doc.macs.includes(m))) tx.delete(this.macRef(mac));
      for (const mac of doc.macs.filter((m) => !before.macs.includes(m))) tx.create(this.macRef(mac), { machine_id: id, boot_profile_id: doc.boot_profile_id });
      tx.set(this.machineRef(id), { ...doc, updated_at: FieldValue.serverTimestamp() }, { merge: true });
      return toMachine(doc);
    });
  }

  async delete(id: string): Promise<void> {
    await this.db.runTransaction(async (tx) => {
      const current = await tx.get(this.machineRef(id));
      if (!current.exists) throw machineNotFound(id);
      const doc = current.data() as MachineDocument;
      if (doc.boot_profile_id) {
        throw new ProblemError(
          'machine-has-boot-profile',
          `Machine ${id} has boot profile ${doc.boot_profile_id}; delete the profile first (DELETE /api/v1/boot/${id}/profile)`,
          { machine_id: id, boot_profile_id: doc.boot_profile_id },
        );
      }
      for (const mac of doc.macs) tx.delete(this.macRef(mac));
      tx.delete(this.machineRef(id));
    });
  }

  /** Throws 409 when a MAC of `spec` is repeated or claimed by a machine other than `ownerId`. */
  private async assertMacsFree(tx: Transaction, spec: MachineSpec, ownerId: string): Promise<void> {
    const repeated = repeatedMac(spec);
    if (repeated) throw duplicateMac(repeated);
    const macs = macsOf(spec);
    const claims: DocumentSnapshot[] = await tx.getAll(...macs.map((mac) => this.macRef(mac)));
    for (const claim of claims) {
      const owner = claim.exists ? (claim.get('machine_id') as string) : undefined;
      if (owner && owner !== ownerId) throw duplicateMac(claim.id, owner);
    }
  }
}
