import { macRejectionReasons, parseMac } from '../domain/mac';
import { ProblemError } from '../http/problem';
import { machineRepository, profileRepository } from '../repositories';
import { renderIpxeScript } from './script';

function machineNotConfigured(mac: string): ProblemError {
  return new ProblemError('machine-not-configured', `No boot configuration found for MAC address ${mac}`, { mac_address: mac });
}

/** The canonical MAC of a `mac` query parameter (as iPXE sent it, already URL-decoded); 400 when it is not one. */
export function bootMac(rawMac: unknown): string {
  if (typeof rawMac !== 'string') {
    throw new ProblemError('invalid-mac-address', macRejectionReasons.format, rawMac === undefined ? {} : { mac_address: String(rawMac).slice(0, 64) });
  }
  const parsed = parseMac(rawMac);
  if (!parsed.ok) throw new ProblemError('invalid-mac-address', macRejectionReasons[parsed.reason], { mac_address: rawMac.slice(0, 64) });
  return parsed.mac;
}

/** The iPXE script for the machine that owns `mac` (canonical form). */
export async function bootScriptForMac(mac: string, now = new Date()): Promise<string> {
  const target = await machineRepository().findBootTarget(mac);
  if (!target?.bootProfileId) throw machineNotConfigured(mac);
  const profile = await profileRepository().get(target.bootProfileId);
  if (!profile) throw machineNotConfigured(mac);
  return renderIpxeScript({ machineId: target.machineId, mac, profile, generatedAt: now });
}
