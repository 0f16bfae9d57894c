import type { IncomingMessage, ServerResponse } from 'node:http';
import { BootNotFound, MachineNotConfigured } from '../domain/errors';
import type { UserData } from './user-data';
import { nocloudFiles, type BootTimeline, type NocloudFile } from '../lifecycle/timeline';
import { parseBootToken } from '../lifecycle/tokens';
import type { BootNetwork } from '../boot/network';
import { bootMac } from '../boot/service';
import { ProblemError } from '../http/problem';
import type { BootTarget, Inventory } from '../inventory/inventory';
import { withDeadline } from '../lifecycle/deadline';
import type { Logger } from '../logging';
import type { RateLimiter } from '../ratelimit';

export interface MetadataDeps {
  inventory: Inventory;
  bootNetwork: BootNetwork;
  limiter: RateLimiter;
  /** BOOT_DB_TIMEOUT_MS: each read, as on /boot.ipxe (503 past it). */
  dbTimeoutMs: number;
  /** The boot records behind `{{metadata_url}}`. */
  timeline: BootTimeline;
  /** BOOT_METADATA_WINDOW_SECONDS in ms: how long after its script a boot's metadata answers. */
  windowMs: number;
  clock: () => number;
}

/** One NoCloud file, ready to send: YAML meta-data, or user-data / vendor-data typed by its format (null: empty). */
export type NocloudDocument = { file: 'meta-data'; text: string } | { file: 'user-data' | 'vendor-data'; data: UserData | null };

/**
 * cloud-init's NoCloud datasource over HTTP. The secrets (user-data, vendor-data) are served
 * only under a boot's own `{{metadata_url}}` (`/nocloud/{key}/...`, `seed()`): to the client
 * address that fetched that boot's script, within BOOT_METADATA_WINDOW_SECONDS of it, never
 * after the boot reported `installed`, each fetch counted in the boot's timeline. Under
 * `/metadata/{mac}/` (anyone on the boot network can name a MAC) only meta-data (instance-id,
 * hostname); user-data and vendor-data are empty. Boot-network routes: the network
 * check (BOOT_ALLOWED_CIDRS, 403) and the boot rate limits. A MAC no machine has: 404
 * `machine-not-configured`.
 */
export class NocloudMetadata {
  constructor(private readonly deps: MetadataDeps) {}

  /** The checks every metadata route runs, then the MAC's owner. */
  async target(req: IncomingMessage, res: ServerResponse, rawMac: unknown, log: Logger): Promise<{ mac: string; target: BootTarget }> {
    const { bootNetwork, limiter, inventory, dbTimeoutMs } = this.deps;
    bootNetwork.assertAllowed(req);
    const mac = bootMac(rawMac);
    const [limit, lookup] = await Promise.allSettled([limiter.enforceBootScript(res, mac, bootNetwork.clientAddress(req), log), withDeadline(inventory.findBootTarget(mac), dbTimeoutMs, 'the inventory')]);
    if (limit.status === 'rejected') throw limit.reason;
    if (lookup.status === 'rejected') throw lookup.reason;
    if (!lookup.value) throw new MachineNotConfigured(mac);
    return { mac, target: lookup.value };
  }

  /**
   * Never the user-data by MAC: empty, like vendor-data (meta-data only, the choice),
   * after the same checks; logged, so an operator whose profile still says
   * `s={{base_url}}/metadata/{{mac}}/` finds out why the installer got no configuration.
   */
  async userData(req: IncomingMessage, res: ServerResponse, rawMac: unknown, log: Logger): Promise<null> {
    const { mac } = await this.target(req, res, rawMac, log);
    log.warn('user-data by MAC is served empty: the profile should say ds=nocloud;s={{metadata_url}}', { mac });
    return null;
  }

  /** Never the vendor-data by MAC: empty (cloud-init reads it as "nothing to do"); the profile's is under `{{metadata_url}}`. */
  async vendorData(req: IncomingMessage, res: ServerResponse, rawMac: unknown, log: Logger): Promise<null> {
    await this.target(req, res, rawMac, log);
    return null;
  }

  /**
   * `GET /nocloud/{key}/{file}`: one file of the boot the key names. Every refusal (unknown
   * key, wrong secret, another client address, past the window, after `installed`) is the same
   * 404 `boot-not-found`, so a caller learns nothing about which. Cost: the boot routes'
   * counters, 1 read (the boot record), 1 read (the MAC or the profile), 1 write (the fetch).
   */
  async seed(req: IncomingMessage, res: ServerResponse, rawKey: unknown, rawFile: unknown, log: Logger): Promise<NocloudDocument> {
    const { bootNetwork, limiter, timeline, dbTimeoutMs } = this.deps;
    bootNetwork.assertAllowed(req);
    const file = nocloudFiles.find((f) => f === rawFile);
    if (!file) throw new ProblemError('not-found', 'A NoCloud seed has meta-data, user-data and vendor-data');
    const key = parseBootToken(rawKey);
    if (!key) throw new BootNotFound();
    const clientAddress = bootNetwork.clientAddress(req);
    await limiter.enforceBootSource(res, clientAddress, log);
    const boot = await withDeadline(timeline.verifyMetadataKey(key), dbTimeoutMs, 'the boot timeline');
    const now = this.deps.clock();
    const script = boot.phases.script;
    if (!script || script.client_address !== clientAddress || now - script.at.getTime() > this.deps.windowMs || boot.phases.installed) throw new BootNotFound();
    const document = await this.document(boot.mac, boot.profile_id, file);
    await withDeadline(timeline.recordMetadataFetch(key, file, new Date(now), clientAddress), dbTimeoutMs, 'the boot timeline');
    return document;
  }

  private async document(mac: string, profileId: string | null, file: NocloudFile): Promise<NocloudDocument> {
    const { inventory, dbTimeoutMs } = this.deps;
    if (file === 'meta-data') {
      const target = await withDeadline(inventory.findBootTarget(mac), dbTimeoutMs, 'the inventory');
      if (!target) throw new MachineNotConfigured(mac);
      return { file, text: renderMetaData(target) };
    }
    const record = profileId ? await withDeadline(inventory.getProfile(profileId), dbTimeoutMs, 'the inventory') : null;
    if (!record) throw new MachineNotConfigured(mac);
    if (file === 'vendor-data') return { file, data: record.vendorData ?? null };
    if (!record.userData) throw new ProblemError('user-data-not-found', `The boot profile of ${mac} has no cloud-init user-data`, { mac_address: mac });
    return { file, data: record.userData };
  }
}

/** NoCloud meta-data (YAML): the machine id as instance-id, its hostname (or id) as local-hostname. */
export function renderMetaData(target: BootTarget): string {
  return `instance-id: ${target.machineId}\nlocal-hostname: ${target.hostname ?? target.machineId}\n`;
}
