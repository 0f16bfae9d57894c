import { assertKernelLineSafe, initrdImageName, kernelLineTokens } from '../domain/kernel-args';
import type { BootProfile } from '../domain/profile';

export interface ScriptInput {
  machineId: string;
  mac: string;
  profile: BootProfile;
  generatedAt: Date;
}

/**
 * The URL of one asset of one version of a profile, relative so that it resolves against
 * whichever gateway host the client chained from. `v` is the blob id: the URL names
 * immutable bytes, so a script fetched before a replace still boots the version it
 * describes, and caches may keep the answer for good.
 */
export function assetUrl(profileId: string, kind: 'kernel' | 'initrd', blobId: string): string {
  return `/asset/${profileId}/${kind}?v=${blobId}`;
}

/**
 * The iPXE script for one machine. `initrd --name initrd` plus `initrd=initrd` on the
 * kernel line is what UEFI iPXE needs: the kernel's EFI stub loads only the initrd named
 * on its command line, and without it boots with no initrd and panics. BIOS iPXE ignores
 * both. The kernel line is checked again here, whatever was stored: a token iPXE would
 * read as syntax throws UnsafeKernelLine, and no script is served.
 */
export function renderIpxeScript({ machineId, mac, profile, generatedAt }: ScriptInput): string {
  const tokens = kernelLineTokens(profile.kernel.args);
  assertKernelLineSafe(tokens);
  return [
    '#!ipxe',
    '',
    `# Boot configuration for ${machineId} (${mac})`,
    `# Boot Profile ID: ${profile.id}`,
    `# Generated: ${generatedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    '',
    [`kernel ${assetUrl(profile.id, 'kernel', profile.kernel.id)}`, ...tokens].join(' '),
    `initrd --name ${initrdImageName} ${assetUrl(profile.id, 'initrd', profile.initrd.id)}`,
    'boot',
    '',
  ].join('\n');
}
