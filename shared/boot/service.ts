import { MachineNotConfigured } from '../domain/errors';
import { imagesFor, type BootProfile } from '../domain/profile';
import { defaultProfileOwner, type BootTarget } from '../inventory/inventory';
import type { TemplateValues } from '../domain/kernel-args';
import { withDeadline } from '../lifecycle/deadline';
import type { DiscoveryRecorder } from '../lifecycle/discoveries';
import type { BootTimeline } from '../lifecycle/timeline';
import { formatBootRef, formatBootToken, newBootToken, type BootToken } from '../lifecycle/tokens';
import { previewBootToken } from './preview';
import type { Logger } from '../logging';
import { macRejectionReasons, parseMac } from '../domain/mac';
import { ProblemError } from '../http/problem';
import type { Inventory } from '../inventory/inventory';
import { renderIpxeScript, renderLocalBootScript, renderWrongArchScript } from './script';

/** `{{machine_id}}` of a machine booting the default profile (it has no id). */
export const unregisteredMachineId = 'unregistered';
/** `{{hostname}}` of a machine booting the default profile: `mac-` and its MAC's 12 hex digits (an RFC 1123 label). */
export function unregisteredHostname(mac: string): string {
  return `mac-${mac.replaceAll(':', '')}`;
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

export interface BootClient {
  /** As the trusted front end saw it. */
  clientAddress: string;
  arch: string | null;
  platform: string | null;
  /** `{{base_url}}`: scheme and host the client chained from, validated (shared/fleet/base-url.ts); undefined when not valid. */
  baseUrl?: string;
}

/** What the lookup found, ready to become a script once the request may go on (its rate limit passed). */
export interface PendingBoot {
  /** Records the boot (or the discovery) and renders the script; MachineNotConfigured when there is none. */
  script(client: BootClient, log: Logger): Promise<string>;
}

export interface BootLifecycle {
  timeline: BootTimeline;
  discoveries: DiscoveryRecorder;
  /** Each boot-path database call: past this, 503 with Retry-After. */
  dbTimeoutMs: number;
}

/** A served script's boot record: its report token and its `{{metadata_url}}` key. */
interface RecordedBoot {
  token: BootToken;
  metadataKey: BootToken;
}

/** Where a boot's NoCloud metadata is served: a per-boot secret under the gateway the machine chained from (`/` at the end, as NoCloud's `s=` needs). */
export function metadataUrl(client: BootClient, key: BootToken): string | undefined {
  return client.baseUrl && `${client.baseUrl}/nocloud/${formatBootToken(key)}/`;
}

function usesMetadataUrl(profile: BootProfile): boolean {
  return profile.kernel.args.some((arg) => arg.includes('{{metadata_url}}'));
}

/** Boot scripts: from a MAC to the script of the machine that owns it. */
export class BootScripts {
  constructor(
    private readonly inventory: Inventory,
    private readonly clock: () => number,
    private readonly lifecycle?: BootLifecycle,
    /** Proxy mode: initrds larger than this are listed as parts (ASSET_PART_BYTES); undefined in redirect mode. */
    private readonly partBytes?: number,
  ) {}

  /** Unlimited when there is no lifecycle (stand-alone uses of the class). */
  private deadline<T>(work: Promise<T>, what: string): Promise<T> {
    return this.lifecycle ? withDeadline(work, this.lifecycle.dbTimeoutMs, what) : work;
  }

  /**
   * The reads of `/boot.ipxe` (the MAC's document; the profile unless netboot is disabled),
   * each within the lifecycle's deadline (503 past it). Nothing is written until `script()`.
   * `preview` (an administrator's look, shared/boot/preview.ts): the same script, but
   * `script()` writes nothing (no boot record, no discovery) and carries a placeholder token.
   */
  async lookup(mac: string, preview = false): Promise<PendingBoot> {
    const target = await this.deadline(this.inventory.findBootTarget(mac), 'the inventory');
    if (!target) {
      // No registration: the default profile when one is set (two more reads), else 404.
      const fallback = await this.deadline(this.inventory.getProfileOfMachine(defaultProfileOwner), 'the inventory');
      return { script: (client, log) => this.unknown(mac, fallback, client, log, preview) };
    }
    if (target.netboot === 'disabled') return { script: (client, log) => this.local(mac, target, client, log, preview) };
    if (!target.bootProfileId) return { script: () => Promise.reject(new MachineNotConfigured(mac)) };
    const record = await this.deadline(this.inventory.getProfile(target.bootProfileId), 'the inventory');
    if (!record) return { script: () => Promise.reject(new MachineNotConfigured(mac)) };
    return { script: (client, log) => this.profile(mac, target, record.profile, client, log, preview) };
  }

  /**
   * An unregistered MAC is recorded as a discovery either way; with a default profile it boots
   * that (no boot record or token: the timeline belongs to machines), else 404.
   */
  private async unknown(mac: string, fallback: BootProfile | null, client: BootClient, log: Logger, preview: boolean): Promise<string> {
    if (!preview) await this.lifecycle?.discoveries.sighted({ mac, clientAddress: client.clientAddress, arch: client.arch, platform: client.platform }, log);
    if (!fallback) throw new MachineNotConfigured(mac);
    const images = imagesFor(fallback, client.arch);
    if (!images) return renderWrongArchScript({ machineId: defaultProfileOwner, mac, profile: fallback, arch: client.arch ?? '', generatedAt: new Date(this.clock()) });
    return renderIpxeScript({
      machineId: defaultProfileOwner,
      mac,
      profile: fallback,
      images,
      generatedAt: new Date(this.clock()),
      partBytes: this.partBytes,
      // No boot record, so no per-boot key: the MAC's own URL, which serves an unregistered MAC nothing.
      templateValues: { ...this.templateValues(client), machine_id: unregisteredMachineId, hostname: unregisteredHostname(mac), metadata_url: client.baseUrl && `${client.baseUrl}/metadata/${mac}/` },
    });
  }

  private templateValues(client: BootClient): Partial<TemplateValues> {
    return { base_url: client.baseUrl, arch: client.arch ?? '', platform: client.platform ?? '' };
  }

  private async local(mac: string, target: BootTarget, client: BootClient, log: Logger, preview: boolean): Promise<string> {
    const generatedAt = new Date(this.clock());
    if (!preview) await this.start(mac, target, null, 'local', client, generatedAt, log);
    return renderLocalBootScript({ machineId: target.machineId, mac, generatedAt });
  }

  private async profile(mac: string, target: BootTarget, profile: BootProfile, client: BootClient, log: Logger, preview: boolean): Promise<string> {
    const generatedAt = new Date(this.clock());
    // The images for the request's architecture; none: a script that says so and reboots (no boot record: nothing will be downloaded).
    const images = imagesFor(profile, client.arch);
    if (!images) return renderWrongArchScript({ machineId: target.machineId, mac, profile, arch: client.arch ?? '', generatedAt });
    // A preview carries the token a boot would (when the timeline records boots), as a placeholder no boot record matches.
    const placeholder = preview && this.lifecycle ? previewBootToken(target.machineId) : undefined;
    const boot = preview ? placeholder && { token: placeholder, metadataKey: placeholder } : await this.start(mac, target, profile.id, 'profile', client, generatedAt, log, usesMetadataUrl(profile));
    const token = boot?.token;
    return renderIpxeScript({
      machineId: target.machineId,
      mac,
      profile,
      images,
      generatedAt,
      partBytes: this.partBytes,
      bootToken: token && formatBootToken(token),
      bootRef: token && formatBootRef(token),
      templateValues: { ...this.templateValues(client), hostname: target.hostname ?? target.machineId, metadata_url: boot && metadataUrl(client, boot.metadataKey) },
    });
  }

  /**
   * The boot record (one blind write). A failed write is logged and the script served
   * without a token: booting matters more than the timeline; except for a `once` machine,
   * which gets 503 + Retry-After (an installer it could not report would never turn off).
   */
  private async start(mac: string, target: BootTarget, profileId: string | null, action: 'profile' | 'local', client: BootClient, at: Date, log: Logger, needsMetadataKey = false): Promise<RecordedBoot | undefined> {
    if (!this.lifecycle) return undefined;
    const token = newBootToken(target.machineId);
    // Same shape as the token, a secret of its own (the key of `{{metadata_url}}`).
    const metadataKey = newBootToken(target.machineId);
    metadataKey.bootId = token.bootId;
    try {
      await this.deadline(
        this.lifecycle.timeline.start(
          token,
          { mac, action, profile_id: profileId, netboot: target.netboot, once_round: target.onceRound },
          { at, client_address: client.clientAddress, profile_id: profileId, action, arch: client.arch, platform: client.platform },
          metadataKey,
        ),
        'the boot timeline',
      );
      return { token, metadataKey };
    } catch (err) {
      // A `once` machine must be able to report, or it would reinstall forever; a profile that
      // hands its installer `{{metadata_url}}` needs the record behind it. Both wait and ask again.
      if (target.netboot === 'once' || needsMetadataKey) throw Object.assign(new ProblemError('service-unavailable', 'The boot could not be recorded; try again shortly', { retry_after: 5 }, { 'Retry-After': '5' }), { cause: err });
      log.warn('could not record the boot; serving the script without a boot token', { mac, err: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  }
}
