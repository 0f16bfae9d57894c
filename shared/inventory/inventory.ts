import type { Machine, MachineSpec } from '../domain/machine';
import type { BootProfile } from '../domain/profile';
import type { ProfileRecord } from '../domain/profile-versions';

export interface MachinePage {
  machines: Machine[];
  total: number;
}

export interface MachineListQuery {
  page: number;
  perPage: number;
  mac?: string;
}

/** A machine with the internal link to its boot profile. */
export interface MachineRecord extends Machine {
  bootProfileId: string | null;
}

/** Who owns a MAC and which profile boots it. */
export interface BootTarget {
  machineId: string;
  bootProfileId: string | null;
}

/** What a replace changes: the blobs and the arguments; the id and the machine stay. */
export type ProfileContent = Pick<BootProfile, 'kernel' | 'initrd'>;

/**
 * The inventory: machines, the MAC index and the machine <-> profile link, and the
 * profiles. It is the one owner of their invariants:
 * - a MAC belongs to at most one machine;
 * - a machine has at most one profile, and the machine, its MACs and the profile agree on it;
 * - a blob a profile references (current or retained version) stays referenced until
 *   the profile drops it; nothing here deletes blobs.
 * Every change is atomic, and safe to retry after an ambiguous commit (one that applied
 * but reported failure): a retried change recognises its own earlier commit and answers
 * as the first attempt would have. Failures a client can act on are DomainErrors.
 */
export interface Inventory {
  createMachine(spec: MachineSpec): Promise<Machine>;
  getMachine(id: string): Promise<MachineRecord | null>;
  listMachines(query: MachineListQuery): Promise<MachinePage>;
  replaceMachine(id: string, spec: MachineSpec): Promise<Machine>;
  /** MachineHasBootProfile while it has one. */
  deleteMachine(id: string): Promise<void>;

  /** The boot path's lookup: one document read, or null when no machine has the MAC. */
  findBootTarget(mac: string): Promise<BootTarget | null>;
  getProfile(id: string): Promise<ProfileRecord | null>;
  getProfileOfMachine(machineId: string): Promise<BootProfile | null>;
  /** UnknownMachine, BootProfileExists. */
  createProfile(profile: BootProfile): Promise<BootProfile>;
  /** The new content; the old version is retained (downloadable) until `retainUntil`. BootProfileNotFound. */
  replaceProfile(machineId: string, content: ProfileContent, now: Date, retainUntil: Date): Promise<BootProfile>;
  /** Removes the profile and the machine's link to it; returns what was removed, retained versions included. BootProfileNotFound. */
  deleteProfile(machineId: string): Promise<ProfileRecord>;

  /** Every blob id some profile needs at `now` (the sweeper's view). */
  referencedBlobIds(now: Date): Promise<Set<string>>;
  /** Those of `blobIds` that some profile needs at `now`, read fresh: the check before a blob is deleted. */
  blobsInUse(blobIds: readonly string[], now: Date): Promise<Set<string>>;
}
