import { MachineNotConfigured } from '../domain/errors';
import { macRejectionReasons, parseMac } from '../domain/mac';
import { ProblemError } from '../http/problem';
import type { Inventory } from '../inventory/inventory';
import { renderIpxeScript } from './script';

/** The canonical MAC of a `mac` query parameter (as iPXE sent it, already URL-decoded); 400 when it is not one. */
export function bootMac(rawMac: unknown): string {
  if (typeof rawMac !== 'string') {
    throw new ProblemError('invalid-mac-address', macRejectionReasons.format, rawMac === undefined ? {} : { mac_address: String(rawMac).slice(0, 64) });
  }
  const parsed = parseMac(rawMac);
  if (!parsed.ok) throw new ProblemError('invalid-mac-address', macRejectionReasons[parsed.reason], { mac_address: rawMac.slice(0, 64) });
  return parsed.mac;
}

/** Boot scripts: from a MAC to the script of the machine that owns it. */
export class BootScripts {
  constructor(
    private readonly inventory: Inventory,
    private readonly clock: () => number,
  ) {}

  /**
   * The iPXE script for the machine that owns `mac` (canonical form); MachineNotConfigured
   * otherwise. `partBytes` (proxy mode): list initrds larger than it as parts.
   */
  async scriptFor(mac: string, partBytes?: number): Promise<string> {
    const target = await this.inventory.findBootTarget(mac);
    if (!target?.bootProfileId) throw new MachineNotConfigured(mac);
    const record = await this.inventory.getProfile(target.bootProfileId);
    if (!record) throw new MachineNotConfigured(mac);
    return renderIpxeScript({ machineId: target.machineId, mac, profile: record.profile, generatedAt: new Date(this.clock()), partBytes });
  }
}
