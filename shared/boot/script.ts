import { assertKernelLineSafe, initrdImageName, kernelArgLimits, kernelLineLength, kernelLineTokens, kernelTokenProblem, UnsafeKernelLine } from '../domain/kernel-args';
import type { BootProfile } from '../domain/profile';
import { partCount } from './parts';

export interface ScriptInput {
  machineId: string;
  mac: string;
  profile: BootProfile;
  generatedAt: Date;
  /**
   * Proxy mode: the part size. An initrd larger than it is listed as several parts
   * (`&part=n`, each its own `initrd` image) so that no response exceeds the platform's
   * caps. Undefined (redirect mode): one URL per asset, Storage serves it whole.
   */
  partBytes?: number;
}

/**
 * The URL of one asset of one version of a profile, relative so that it resolves against
 * whichever gateway host the client chained from. `v` is the blob id: the URL names
 * immutable bytes, so a script fetched before a replace still boots the version it
 * describes, and caches may keep the answer for good. `part` names one part of it.
 */
export function assetUrl(profileId: string, kind: 'kernel' | 'initrd', blobId: string, part?: number): string {
  return `/asset/${profileId}/${kind}?v=${blobId}${part === undefined ? '' : `&part=${part}`}`;
}

/** The iPXE image name of initrd part `index`: `initrd`, then `initrd1`, `initrd2`, ... */
export function initrdPartName(index: number): string {
  return index === 0 ? initrdImageName : `${initrdImageName}${index}`;
}

/**
 * The iPXE script for one machine. `initrd --name initrd` plus `initrd=initrd` on the
 * kernel line is what UEFI iPXE needs: the kernel's EFI stub loads only the initrds named
 * on its command line (and concatenates them in that order), and without it boots with no
 * initrd and panics. BIOS iPXE ignores the names and loads every initrd image in download
 * order. With parts, every part is named on the kernel line, in order. The kernel line is
 * checked again here, whatever was stored: a token iPXE would read as syntax, or a line
 * over 2048 characters once the part names are added, throws UnsafeKernelLine, and no
 * script is served.
 */
export function renderIpxeScript({ machineId, mac, profile, generatedAt, partBytes }: ScriptInput): string {
  const tokens = kernelLineTokens(profile.kernel.args);
  assertKernelLineSafe(tokens);
  const parts = partBytes === undefined ? 1 : partCount(profile.initrd.size, partBytes);
  const extra = Array.from({ length: parts - 1 }, (_, i) => `initrd=${initrdPartName(i + 1)}`);
  // The service's own initrd= tokens come first (before any `--` of the administrator).
  const line = [...tokens.slice(0, 1), ...extra, ...tokens.slice(1)];
  if (extra.length > 0) assertPartNamesFit(line, extra);
  const initrdLines =
    parts === 1
      ? [`initrd --name ${initrdImageName} ${assetUrl(profile.id, 'initrd', profile.initrd.id)}`]
      : Array.from({ length: parts }, (_, i) => `initrd --name ${initrdPartName(i)} ${assetUrl(profile.id, 'initrd', profile.initrd.id, i)}`);
  return [
    '#!ipxe',
    '',
    `# Boot configuration for ${machineId} (${mac})`,
    `# Boot Profile ID: ${profile.id}`,
    `# Generated: ${generatedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    '',
    [`kernel ${assetUrl(profile.id, 'kernel', profile.kernel.id)}`, ...line].join(' '),
    ...initrdLines,
    'boot',
    '',
  ].join('\n');
}

/** The part names are the service's own tokens; they count in the kernel line's 2048 characters. */
function assertPartNamesFit(line: readonly string[], extra: readonly string[]): void {
  const problems = extra.flatMap((token) => {
    const reason = kernelTokenProblem(token);
    return reason ? [{ reason: `${token}: ${reason}` }] : [];
  });
  const length = kernelLineLength(line);
  if (length > kernelArgLimits.total) {
    problems.push({
      reason: `the kernel command line with the ${extra.length + 1} initrd part names would be ${length} characters, over ${kernelArgLimits.total}: raise ASSET_PART_BYTES or shorten the kernel arguments`,
    });
  }
  if (problems.length > 0) throw new UnsafeKernelLine(problems);
}
