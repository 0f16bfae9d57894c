/**
 * Proxy mode under the platform's response caps (README, "Large assets"): a blob larger
 * than the part size is served, and listed in the script, as consecutive byte ranges of
 * it ("parts"), each one an ordinary response with Content-Length. iPXE loads each part as
 * an initrd of its own and places them back to back, padding each to 4 KiB
 * (src/arch/x86/image/bzimage.c `bzimage_load_initrd`, INITRD_ALIGN 4096; newer iPXE's
 * EFI LoadFile2 initrd, src/interface/efi/efi_file.c `efi_file_read_initrd`, pads the
 * same way); with a part size that is a multiple of 4096 nothing is inserted between
 * parts, so Linux reads exactly the original bytes as one initramfs.
 */
export interface AssetSizing {
  /** Size of one part; a multiple of 4096 below every response cap. */
  partBytes: number;
  /** The platform's cap on a response with Content-Length. */
  maxResponseBytes: number;
}


export interface ByteWindow {
  start: number;
  /** Inclusive. */
  end: number;
}

/** How many parts a blob of `size` bytes is served as: 1 when it fits in one part. */
export function partCount(size: number, partBytes: number): number {
  return size <= partBytes ? 1 : Math.ceil(size / partBytes);
}

/** The bytes of part `index`, or undefined when the blob has no such part. */
export function partWindow(size: number, partBytes: number, index: number): ByteWindow | undefined {
  if (!Number.isInteger(index) || index < 0 || index >= partCount(size, partBytes)) return undefined;
  const start = index * partBytes;
  return { start, end: Math.min(start + partBytes, size) - 1 };
}

/** The strong ETag of a byte window of a blob: its SHA-256 plus where the window lies. */
export function windowEtag(sha256: string, window: ByteWindow): string {
  return `"${sha256}:${window.start}+${window.end - window.start + 1}"`;
}
