import { z } from 'zod';

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

export const kernelArgLimits = { count: 64, length: 256, total: 2048 } as const;

/**
 * Characters a kernel argument may hold. Arguments are written onto the iPXE `kernel`
 * line, so anything iPXE reads as syntax is out: whitespace and control characters
 * (a newline would start a new command), `$` (settings expansion `${...}`), `#`,
 * `&` and `|` (`&&` / `||` chaining), quotes and backslashes (quoting and escapes).
 */
const kernelArgPattern = /^[A-Za-z0-9_.,:;=/+@%~^*!?()[\]{}<>-]+$/;

/** `kernel_args`: a JSON array of strings, each one safe on an iPXE `kernel` line. */
export const kernelArgsSchema = z
  .array(
    z
      .string({ error: 'each argument must be a string' })
      .min(1, { error: 'arguments must not be empty' })
      .max(kernelArgLimits.length, { error: `each argument must be at most ${kernelArgLimits.length} characters` })
      .regex(kernelArgPattern, {
        error: 'arguments may hold only letters, digits and _ . , : ; = / + @ % ~ ^ * ! ? ( ) [ ] { } < > - (no whitespace, control characters, $, #, &, |, quotes or backslashes)',
      })
      .refine((arg) => !arg.startsWith('initrd='), { error: 'initrd= is set by the service (it names the uploaded initrd)' }),
    { error: 'kernel_args must be a JSON array of strings' },
  )
  .max(kernelArgLimits.count, { error: `at most ${kernelArgLimits.count} arguments` })
  .refine((args) => args.join(' ').length <= kernelArgLimits.total, {
    error: `the arguments together must be at most ${kernelArgLimits.total} characters (the x86 Linux command-line limit)`,
  });
