import { FieldValue, Timestamp, type DocumentData, type DocumentReference, type Firestore } from '@google-cloud/firestore';
import { sameTurnBatches } from '../batching';
import { BootNotFound, BootPhaseRecorded } from '../domain/errors';
import type { NetbootMode } from '../domain/machine';
import { secretHash, secretMatches, type BootToken } from './tokens';

/** Boots kept per machine in the answer of GET /api/v1/machines/{id}/boots (older ones expire by TTL). */
export const bootsListed = 10;

export const bootPhases = ['script', 'kernel', 'initrd', 'booting', 'installed'] as const;
export type BootPhase = (typeof bootPhases)[number];

/** What one phase recorded; `at` and `client_address` always, the rest per phase. */
export interface PhaseRecord {
  at: Date;
  client_address: string;
  [detail: string]: unknown;
}

/** The NoCloud files a boot's `{{metadata_url}}` serves; stored under `metadata.{file with _}`. */
export const nocloudFiles = ['meta-data', 'user-data', 'vendor-data'] as const;
export type NocloudFile = (typeof nocloudFiles)[number];

/** What the timeline keeps of a boot's metadata fetches: per file, how many and the last. */
export interface MetadataFetches {
  file: NocloudFile;
  count: number;
  last_at: Date;
  client_address: string;
}

export interface BootRecord {
  id: string;
  machine_id: string;
  mac: string;
  /** `profile`: the profile's script was served; `local`: netboot disabled, the local-boot script. */
  action: 'profile' | 'local';
  profile_id: string | null;
  /** The machine's mode when the script was served (`once` makes the booting report disable it). */
  netboot: NetbootMode;
  /** The `once` round the script was served in: only a report of this round ends it. */
  once_round: string | null;
  phases: Partial<Record<BootPhase, PhaseRecord>>;
  /** Fetches of the boot's NoCloud metadata URL, per file. */
  metadata: MetadataFetches[];
}

/**
 * Boot records: `machines/{machine id}/boots/{boot id}` (UUIDv7: newest last by name), one
 * document per served script, its phases as members. Cost: the script's blind create (1
 * write); each asset phase a blind update (1 write; a missing record fails it, nothing is
 * created); a report or callback 1 read (the secret's hash) + 1 write. Records expire
 * `ttlMs` after the script (TTL policy on `expire_at`, terraform/firestore.tf).
 */
export class BootTimeline {
  /**
   * The records of the scripts served in one turn of the event loop, created in one Commit
   * (shared/batching.ts). A batch is atomic: a Commit that fails fails every script's record
   * in it, and each of those scripts is served without a token, as for one failed write.
   */
  private readonly creates = sameTurnBatches(async (records: readonly { ref: DocumentReference; data: DocumentData }[]) => {
    const batch = this.db.batch();
    for (const { ref, data } of records) batch.create(ref, data);
    await batch.commit();
    return records.map(() => undefined);
  }, 250);

  constructor(
    private readonly db: Firestore,
    private readonly ttlMs: number,
    private readonly clock: () => number,
  ) {}

  private ref(machineId: string, bootId: string) {
    return this.db.collection('machines').doc(machineId).collection('boots').doc(bootId);
  }

  /** The record of a served script (blind create). */
  async start(token: BootToken, record: Omit<BootRecord, 'id' | 'machine_id' | 'phases' | 'metadata'>, script: PhaseRecord, metadataKey?: BootToken): Promise<void> {
    const now = this.clock();
    await this.creates.load({
      ref: this.ref(token.machineId, token.bootId),
      data: {
        id: token.bootId,
        machine_id: token.machineId,
        ...record,
        token_sha256: secretHash(token.secret),
        // The `{{metadata_url}}` key's own secret: the report token does not open the metadata, nor the reverse.
        ...(metadataKey ? { metadata_sha256: secretHash(metadataKey.secret) } : {}),
        phases: { script: toStored(script) },
        created_at: Timestamp.fromMillis(now),
        expire_at: Timestamp.fromMillis(now + this.ttlMs),
      },
    });
  }

  /**
   * An asset download's phase (1 read + 1 write, in a transaction): recorded only in a live
   * boot of the same profile whose script went to the same client address, so a `boot=`
   * copied into another request cannot write another boot's timeline. Retried downloads
   * overwrite it (the last attempt counts). False when it was not recorded.
   */
  async recordDownload(ref: Pick<BootToken, 'machineId' | 'bootId'>, phase: 'kernel' | 'initrd', data: PhaseRecord, profileId: string): Promise<boolean> {
    return this.db.runTransaction(async (tx) => {
      const stored = (await tx.get(this.ref(ref.machineId, ref.bootId))).data();
      if (!stored || this.expired(stored)) return false;
      const record = toRecord(stored);
      if (record.profile_id !== profileId || record.phases.script?.client_address !== data.client_address) return false;
      tx.update(this.ref(ref.machineId, ref.bootId), { [`phases.${phase}`]: toStored(data) });
      return true;
    });
  }

  /**
   * A report with the boot's token (1 read + 1 write, in a transaction): the secret must match,
   * each phase is accepted once per boot (BootPhaseRecorded after), and `booting` only within
   * `bootingWindowMs` of the script and from the script's client address (BootNotFound
   * otherwise). `installed` may come from another address (the installed OS's own lease).
   */
  async accept(token: BootToken, phase: 'booting' | 'installed', data: PhaseRecord, bootingWindowMs: number): Promise<BootRecord> {
    return this.db.runTransaction(async (tx) => {
      const ref = this.ref(token.machineId, token.bootId);
      const stored = (await tx.get(ref)).data();
      if (!stored || typeof stored.token_sha256 !== 'string' || !secretMatches(token.secret, stored.token_sha256) || this.expired(stored)) throw new BootNotFound();
      const record = toRecord(stored);
      if (record.phases[phase]) throw new BootPhaseRecorded(phase);
      const scriptAt = record.phases.script?.at.getTime() ?? 0;
      // `booting` comes from the iPXE that fetched the script: its address, within minutes (a token kept or copied elsewhere is refused).
      if (phase === 'booting' && (data.at.getTime() - scriptAt > bootingWindowMs || data.client_address !== record.phases.script?.client_address)) throw new BootNotFound();
      tx.update(ref, { [`phases.${phase}`]: toStored(data) });
      return record;
    });
  }

  /** The boot the token names, when its secret matches (1 read); BootNotFound otherwise. */
  async verify(token: BootToken): Promise<BootRecord> {
    const stored = (await this.ref(token.machineId, token.bootId).get()).data();
    if (!stored || typeof stored.token_sha256 !== 'string' || !secretMatches(token.secret, stored.token_sha256) || this.expired(stored)) throw new BootNotFound();
    return toRecord(stored);
  }

  /**
   * The boot a `{{metadata_url}}` key names, when its secret matches and the boot is live
   * (1 read); BootNotFound otherwise. The caller checks the window and the address.
   */
  async verifyMetadataKey(key: BootToken): Promise<BootRecord> {
    const stored = (await this.ref(key.machineId, key.bootId).get()).data();
    if (!stored || typeof stored.metadata_sha256 !== 'string' || !secretMatches(key.secret, stored.metadata_sha256) || this.expired(stored)) throw new BootNotFound();
    return toRecord(stored);
  }

  /** One fetch of a boot's metadata file (1 blind write: a count and the last fetch, so the record stays small under any number). */
  async recordMetadataFetch(ref: Pick<BootToken, 'machineId' | 'bootId'>, file: NocloudFile, at: Date, clientAddress: string): Promise<void> {
    const field = `metadata.${file.replace('-', '_')}`;
    await this.ref(ref.machineId, ref.bootId).update({ [`${field}.count`]: FieldValue.increment(1), [`${field}.last_at`]: Timestamp.fromDate(at), [`${field}.client_address`]: clientAddress });
  }

  private expired(data: DocumentData): boolean {
    return data.expire_at instanceof Timestamp && data.expire_at.toMillis() <= this.clock();
  }

  /**
   * The machine's newest boots, newest first, each with its phases in boot order. Fair to
   * client addresses (issue 21): any host can ask for a machine's script, so among the newest
   * `scanned` records each address first gets at most `perAddress` places, then the places
   * left go newest first. A host flooding the MAC (at its 10 a minute) cannot push the
   * machine's own boots out of the list. Costs one read per record scanned.
   */
  async list(machineId: string, limit = bootsListed, scanned = limit * 10, perAddress = 3): Promise<BootRecord[]> {
    const now = Timestamp.fromMillis(this.clock());
    const snap = await this.db.collection('machines').doc(machineId).collection('boots').orderBy('id', 'desc').limit(scanned).get();
    const live = snap.docs.map((d) => d.data()).filter((d) => !(d.expire_at instanceof Timestamp) || d.expire_at > now).map(toRecord);
    return fairShare(live, limit, perAddress);
  }
}

/** `limit` of `records` (newest first): each script client address first at most `perAddress`, then the rest newest first; newest first again. */
export function fairShare(records: readonly BootRecord[], limit: number, perAddress: number): BootRecord[] {
  const chosen = new Set<BootRecord>();
  const shown = new Map<string, number>();
  for (const r of records) {
    if (chosen.size >= limit) break;
    const address = r.phases.script?.client_address ?? '';
    const n = shown.get(address) ?? 0;
    if (n < perAddress) {
      chosen.add(r);
      shown.set(address, n + 1);
    }
  }
  for (const r of records) {
    if (chosen.size >= limit) break;
    chosen.add(r);
  }
  return records.filter((r) => chosen.has(r));
}

function toStored(phase: PhaseRecord): Record<string, unknown> {
  return { ...phase, at: Timestamp.fromDate(phase.at) };
}

function toRecord(data: Record<string, unknown>): BootRecord {
  const stored = (data.phases ?? {}) as Record<string, Record<string, unknown>>;
  const phases: Partial<Record<BootPhase, PhaseRecord>> = {};
  for (const name of bootPhases) {
    const p = stored[name];
    if (p) phases[name] = { ...p, at: p.at instanceof Timestamp ? p.at.toDate() : new Date(0), client_address: String(p.client_address ?? '') };
  }
  return {
    id: String(data.id),
    machine_id: String(data.machine_id),
    mac: String(data.mac),
    action: data.action === 'local' ? 'local' : 'profile',
    profile_id: (data.profile_id as string | null | undefined) ?? null,
    netboot: (data.netboot as NetbootMode | undefined) ?? 'enabled',
    once_round: (data.once_round as string | null | undefined) ?? null,
    phases,
    metadata: nocloudFiles.flatMap((file) => {
      const m = ((data.metadata ?? {}) as Record<string, Record<string, unknown> | undefined>)[file.replace('-', '_')];
      return m ? [{ file, count: Number(m.count ?? 0), last_at: m.last_at instanceof Timestamp ? m.last_at.toDate() : new Date(0), client_address: String(m.client_address ?? '') }] : [];
    }),
  };
}

/** The API's form: phases as an ordered list. */
export function bootView(record: BootRecord): Record<string, unknown> {
  return {
    id: record.id,
    mac: record.mac,
    action: record.action,
    profile_id: record.profile_id,
    netboot: record.netboot,
    started_at: record.phases.script?.at.toISOString() ?? null,
    phases: bootPhases.flatMap((name) => {
      const p = record.phases[name];
      return p ? [{ phase: name, ...p, at: p.at.toISOString() }] : [];
    }),
    metadata_fetches: record.metadata.map((m) => ({ ...m, last_at: m.last_at.toISOString() })),
  };
}
