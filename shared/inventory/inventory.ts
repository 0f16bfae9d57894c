import type { UserData } from '../fleet/user-data';
import type { Machine, MachineSpec, NetbootMode } from '../domain/machine';
import type { BootProfile, FileName } from '../domain/profile';
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

/**
 * The owner id of the default profile (`/api/v1/boot/default/profile`): the profile machines
 * with no registration boot. Everywhere the inventory takes a machine id for a profile
 * (get, create, replace, delete) this id names it; it is never a machine (machine ids are UUIDv7).
 */
export const defaultProfileOwner = 'default';

/** Who owns a MAC and which profile boots it. */
export interface BootTarget {
  machineId: string;
  bootProfileId: string | null;
  /** The machine's netboot mode, kept on the MAC's document too so the boot path needs no other read. */
  netboot: NetbootMode;
  /** The machine's host name, kept on the MAC's document too (`{{hostname}}`, NoCloud meta-data); null when it has none. */
  hostname: string | null;
  /** The current `once` round (netboot `once` only; null otherwise or for machines stored before rounds). */
  onceRound: string | null;
}

/** What a replace changes: the blobs and the arguments; the id and the machine stay. */
export type ProfileContent = Pick<BootProfile, 'kernel' | 'initrd' | 'architectures'> & {
  /** cloud-init user-data of the new version; absent: none (a replace drops the old one). */
  userData?: UserData;
  /** cloud-init vendor-data of the new version; absent: none (a replace drops the old one). */
  vendorData?: UserData;
};

/**
 * The inventory: machines, the MAC index and the machine <-> profile link, and the
 * profiles. It is the one owner of their invariants:
 * - a MAC belongs to at most one machine, and a claimed MAC has no discovery record (the
 *   transaction that claims it deletes that record);
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
  createProfile(profile: BootProfile, userData?: UserData, vendorData?: UserData): Promise<BootProfile>;
  /** The new content; the old version is retained (downloadable) until `retainUntil`. BootProfileNotFound. */
  replaceProfile(machineId: string, content: ProfileContent, now: Date, retainUntil: Date): Promise<BootProfile>;
  /** Removes the profile and the machine's link to it; returns what was removed, retained versions included. BootProfileNotFound. */
  deleteProfile(machineId: string): Promise<ProfileRecord>;

  /** Every blob id some profile needs at `now` (the sweeper's view). */
  referencedBlobIds(now: Date): Promise<Set<string>>;
}

/**
 * Machine changes of the fleet lifecycle (PATCH, netboot `once`), owned by the same store
 * as the machines and their MACs. A separate port so existing stand-ins of Inventory stay
 * complete.
 */
export interface MachineChanges {
  /**
   * Replaces the machine with `patch(current)` in one transaction (a JSON merge patch; `patch`
   * validates and may throw), under the MAC-claim rules of replaceMachine. MachineNotFound,
   * DuplicateMacAddress.
   */
  patchMachine(id: string, patch: (current: MachineSpec) => MachineSpec): Promise<Machine>;
  /** `once` -> `disabled`, atomically (machine and its MACs); false when the machine is not (or no longer) `once`, or in another round. */
  finishOnceBoot(machineId: string, onceRound: string | null): Promise<boolean>;
}

/** How a finalized upload session changes the machine's profile: like POST /api/v1/profiles, or like PUT .../profile. */
export type UploadMode = 'create' | 'replace';

/**
 * One file of an upload session. `upload` null: an already held, verified blob with this content is reused.
 * A session's `files` are keyed by file name (shared/domain/profile.ts `FileName`: kernel, initrd, kernel.arm64, ...).
 */
export interface UploadFile {
  blob_id: string;
  size: number;
  /** Declared at open; null for a file sent in parts whose client declares it at finalize, or not at all (the service's own hash then names it). */
  sha256: string | null;
  upload: ResumableTarget | PartsTarget | null;
  /** Parts only: how far the service has hashed the parts, in order (the view shows `verified_bytes`). */
  verified?: PartsProgress;
}

/** `transfer: "resumable"`: one GCS resumable session for the whole `blobs/{blob_id}`. */
export interface ResumableTarget {
  url: string;
  method: 'PUT';
  chunk_multiple: number;
}

/**
 * `transfer: "parts"`: the file in consecutive parts, each its own object (`blobs/{part.blob_id}`,
 * a GCS resumable session of exactly `size` bytes), hashed by the service as they land and
 * composed into `blobs/{blob_id}` at finalize.
 */
export interface PartsTarget {
  transfer: 'parts';
  method: 'PUT';
  part_size: number;
  parts: UploadPart[];
}

export interface UploadPart {
  number: number;
  offset: number;
  size: number;
  blob_id: string;
  url: string;
}

/** The hashed prefix of a parts file: `parts` parts, `bytes` bytes; `sha256` once every part is hashed. */
export interface PartsProgress {
  parts: number;
  bytes: number;
  sha256?: string;
}

export const isPartsTarget = (upload: UploadFile['upload']): upload is PartsTarget => upload !== null && 'transfer' in upload && upload.transfer === 'parts';

/** An upload session as stored; `expired` is never stored, it is `open` past `expiresAt`. */
export interface UploadSessionRecord {
  id: string;
  machineId: string;
  mode: UploadMode;
  kernelArgs: string[];
  /** cloud-init user-data the finalized profile will carry. */
  userData?: UserData;
  /** cloud-init vendor-data the finalized profile will carry. */
  vendorData?: UserData;
  state: 'open' | 'finalized' | 'cancelled';
  createdAt: Date;
  expiresAt: Date;
  /** Always kernel and initrd; `kernel.<arch>` and `initrd.<arch>` in pairs for each extra architecture. */
  files: { kernel: UploadFile; initrd: UploadFile } & Partial<Record<FileName, UploadFile>>;
  /** The profile the finalize committed (as it answered then). */
  profile: BootProfile | null;
}

/** A blob whose bytes this service hashed itself, found by content. */
export interface IndexedBlob {
  blobId: string;
  sha256: string;
  size: number;
}

/** What a finalize committed; `first` false when the session had been finalized before (a repeated finalize). */
export interface FinalizedUpload {
  profile: BootProfile;
  first: boolean;
}

/**
 * The blob index (content -> verified blob, for content-addressed reuse) and upload
 * sessions: the other half of the reference invariants, owned by the same store as the
 * profiles (FirestoreInventory implements both ports) so that one transaction covers a
 * profile, its session and the index documents of its blobs:
 * - a blob is reused only through its index document, read and written in the
 *   transaction that commits the reference;
 * - a blob is released (may be deleted) only by a transaction that finds no profile
 *   needing it and deletes its index document: so a release and a reuse of the same blob
 *   serialise on that document, and a profile never points at a released blob.
 * A separate port from Inventory so existing stand-ins of Inventory stay complete.
 */
export interface BlobLedger {
  /** The indexed blob with this content, or null. */
  findBlob(sha256: string, size: number): Promise<IndexedBlob | null>;
  createUploadSession(session: UploadSessionRecord): Promise<void>;
  getUploadSession(id: string): Promise<UploadSessionRecord | null>;
  /** open -> cancelled (cancelled stays cancelled). UploadSessionNotFound, UploadSessionFinalized. */
  cancelUploadSession(id: string): Promise<UploadSessionRecord>;
  /**
   * Commits the session's profile (create or replace, with the same checks and retry
   * safety as createProfile / replaceProfile), indexes its newly uploaded blobs and marks
   * the session finalized, in one transaction. The caller has verified the uploaded bytes.
   * Reused files reference whatever blob their index document names at commit time.
   * UploadSessionNotFound, UploadSessionExpired, UploadSessionCancelled, BlobUnavailable,
   * UnknownMachine, BootProfileExists, BootProfileNotFound. A finalized session answers its profile.
   * `settled`: files whose entry the caller has settled since the session was read (a parts file's
   * verified SHA-256, or its switch to a held blob); they replace the stored entries in the commit.
   */
  finalizeUpload(id: string, now: Date, retainUntil: Date, settled?: Partial<Record<FileName, UploadFile>>): Promise<FinalizedUpload>;
  /**
   * Parts files: records that the service has hashed `name` up to `to`, only forward (a caller
   * that is behind another leaves the stored progress alone) and only while the session is open.
   */
  recordPartsProgress(id: string, name: FileName, to: PartsProgress): Promise<void>;
  /** Blob ids of sessions still open whose expiry is after `since`: references for the sweeper. */
  openSessionBlobIds(since: Date): Promise<Set<string>>;
  /** Sessions still open past their expiry at `now` whose GCS upload sessions have not been cancelled yet. */
  expiredSessionsWithLiveUploads(now: Date): Promise<UploadSessionRecord[]>;
  /** Records that an expired session's GCS upload sessions were cancelled (its URIs can write nothing more). */
  markUploadsCancelled(id: string): Promise<void>;
  /**
   * In one transaction: those of `blobIds` no profile needs at `now` lose their index
   * document and are returned; only those may then be deleted from Storage.
   */
  releaseBlobs(blobIds: readonly string[], now: Date): Promise<Set<string>>;
}
