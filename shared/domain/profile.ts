export interface BlobRef {
  id: string;
  /** Hex SHA-256 of the bytes, computed while they streamed in. */
  sha256: string;
  size: number;
}

/** The spec's BootProfile, plus each blob's digest and size. */
export interface BootProfile {
  id: string;
  machine_id: string;
  kernel: BlobRef & { args: string[] };
  initrd: BlobRef;
}

export type AssetKind = 'kernel' | 'initrd';

/** `kernel_args` and its limits live with the iPXE kernel-line rules (./kernel-args.ts). */
export { kernelArgLimits, kernelArgsSchema } from './kernel-args';
