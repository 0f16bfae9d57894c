// The build targets: which iPXE make goals each one builds, and the file names they get in OUT.
import { IpxeBuildError } from './errors';

export const IPXE_TARGETS = ['bios', 'efi-x86_64', 'efi-arm64'] as const;
export type IpxeTarget = (typeof IPXE_TARGETS)[number];

export interface TargetFile {
  /** The make goal under src/. */
  goal: string;
  /** Its name in OUT (the names DHCP configuration points at). */
  name: string;
}

export const TARGET_FILES: Record<IpxeTarget, readonly TargetFile[]> = {
  // PXE ROMs chain undionly.kpxe (it drives the NIC through the ROM's UNDI).
  bios: [{ goal: 'bin/undionly.kpxe', name: 'undionly.kpxe' }],
  // ipxe.efi carries its own NIC drivers; snponly.efi uses the firmware's (the safer default).
  'efi-x86_64': [
    { goal: 'bin-x86_64-efi/ipxe.efi', name: 'ipxe-x86_64.efi' },
    { goal: 'bin-x86_64-efi/snponly.efi', name: 'snponly-x86_64.efi' },
  ],
  'efi-arm64': [{ goal: 'bin-arm64-efi/snponly.efi', name: 'snponly-arm64.efi' }],
};

/** CROSS= for a target on this host ('' when the host's own gcc builds it). */
export function crossPrefix(target: IpxeTarget, hostArch: string = process.arch): string {
  const arm = target === 'efi-arm64';
  if (hostArch === 'arm64') return arm ? '' : 'x86_64-linux-gnu-';
  return arm ? 'aarch64-linux-gnu-' : '';
}

export function parseTarget(raw: string): IpxeTarget {
  if ((IPXE_TARGETS as readonly string[]).includes(raw)) return raw as IpxeTarget;
  throw new IpxeBuildError(`--target ${raw}: unknown target; one of ${IPXE_TARGETS.join(', ')}`, 'usage');
}
