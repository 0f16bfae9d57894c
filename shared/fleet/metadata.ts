import type { IncomingMessage, ServerResponse } from 'node:http';
import { MachineNotConfigured } from '../domain/errors';
import type { UserData } from './user-data';
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
}

/**
 * cloud-init's NoCloud datasource over HTTP (`ds=nocloud;s={{base_url}}/metadata/{{mac}}/`):
 * `user-data`, `meta-data` and `vendor-data` under one MAC. Boot-network routes: the same
 * network check (BOOT_ALLOWED_CIDRS, 403) and per-MAC rate limit (RATE_LIMIT_BOOT_PER_MAC,
 * the counter `/boot.ipxe` uses) as the boot script. A MAC no machine has: 404
 * `machine-not-configured` (the default profile's machines have no machine to describe).
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

  /** The user-data of the profile booting the MAC; 404 when it has no profile or the profile none. */
  async userData(req: IncomingMessage, res: ServerResponse, rawMac: unknown, log: Logger): Promise<UserData> {
    const { mac, target } = await this.target(req, res, rawMac, log);
    if (!target.bootProfileId) throw new MachineNotConfigured(mac);
    const record = await withDeadline(this.deps.inventory.getProfile(target.bootProfileId), this.deps.dbTimeoutMs, 'the inventory');
    if (!record) throw new MachineNotConfigured(mac);
    if (!record.userData) throw new ProblemError('user-data-not-found', `The boot profile of ${mac} has no cloud-init user-data`, { mac_address: mac });
    return record.userData;
  }
  /**
   * The vendor-data of the profile booting the MAC, or null (served empty) when it has no
   * profile or the profile none: cloud-init reads an empty vendor-data as "nothing to do".
   */
  async vendorData(req: IncomingMessage, res: ServerResponse, rawMac: unknown, log: Logger): Promise<UserData | null> {
    const { target } = await this.target(req, res, rawMac, log);
    if (!target.bootProfileId) return null;
    const record = await withDeadline(this.deps.inventory.getProfile(target.bootProfileId), this.deps.dbTimeoutMs, 'the inventory');
    return record?.vendorData ?? null;
  }
}

/** NoCloud meta-data (YAML): the machine id as instance-id, its hostname (or id) as local-hostname. */
export function renderMetaData(target: BootTarget): string {
  return `instance-id: ${target.machineId}\nlocal-hostname: ${target.hostname ?? target.machineId}\n`;
}
