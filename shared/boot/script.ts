import type { BootProfile } from '../domain/profile';

export interface ScriptInput {
  machineId: string;
  mac: string;
  profile: BootProfile;
  generatedAt: Date;
}

/**
 * The iPXE script for one machine. Asset URLs are relative, so they resolve against
 * whichever gateway host the client chained from. Kernel arguments were validated on
 * upload to hold no iPXE syntax, so they are written as they are.
 *
 * `initrd --name initrd` plus `initrd=initrd` on the kernel line is what UEFI iPXE
 * needs: the kernel's EFI stub loads only the initrd named on its command line, and
 * without it boots with no initrd and panics. BIOS iPXE ignores both.
 */
const initrdName = 'initrd';

export function renderIpxeScript({ machineId, mac, profile, generatedAt }: ScriptInput): string {
  const base = `/asset/${profile.id}`;
  return [
    '#!ipxe',
    '',
    `# Boot configuration for ${machineId} (${mac})`,
    `# Boot Profile ID: ${profile.id}`,
    `# Generated: ${generatedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    '',
    [`kernel ${base}/kernel`, `initrd=${initrdName}`, ...profile.kernel.args].join(' '),
    `initrd --name ${initrdName} ${base}/initrd`,
    'boot',
    '',
  ].join('\n');
}
