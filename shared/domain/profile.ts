import { z } from 'zod';
import { userDataSummarySchema, type UserDataSummary } from '../fleet/user-data';

export interface BlobRef {
  id: string;
  /** Hex SHA-256 of the bytes, computed while they streamed in. */
  sha256: string;
  size: number;
}

/**
 * iPXE's `${buildarch}` values (src/arch/*: i386, x86_64, arm32, arm64, riscv32, riscv64,
 * loong64): the architecture names a profile's images may be given for.
 */
export const architectures = ['i386', 'x86_64', 'arm32', 'arm64', 'riscv32', 'riscv64', 'loong64'] as const;
export type Architecture = (typeof architectures)[number];

/**
 * The architectures the profile's own `kernel` and `initrd` boot: the x86 family, i386 and
 * x86_64 alike (Debian's BIOS ipxe.lkrn is a 32-bit build and reports i386 on x86_64
 * machines; an x86_64 kernel boots from either). A request without `arch` gets them too.
 */
export const defaultArchitectures = ['i386', 'x86_64'] as const;

/** The architectures a profile may hold images of its own for (`kernel.arm64`, `initrd.arm64`, ...). */
export const extraArchitectures = ['arm32', 'arm64', 'riscv32', 'riscv64', 'loong64'] as const;
export type ExtraArchitecture = (typeof extraArchitectures)[number];

export function isExtraArchitecture(name: string): name is ExtraArchitecture {
  return (extraArchitectures as readonly string[]).includes(name);
}

/** One architecture's images. */
export interface ArchImages {
  kernel: BlobRef;
  initrd: BlobRef;
}

/** Per-architecture images beside the default (x86 family) ones; absent: none. */
export type ArchitectureImages = Partial<Record<ExtraArchitecture, ArchImages>>;

/** The images of one version of a profile: the default ones and each architecture's. */
export interface ImageSet extends ArchImages {
  architectures?: ArchitectureImages;
}

/** The spec's BootProfile, plus each blob's digest and size. */
export interface BootProfile {
  id: string;
  machine_id: string;
  /** The default images: the x86 family's (i386, x86_64) and a request's without `arch`. */
  kernel: BlobRef & { args: string[] };
  initrd: BlobRef;
  /** Images for other architectures (arm64, ...); the kernel arguments are the profile's (`{{arch}}` tells them apart). */
  architectures?: ArchitectureImages;
  /** cloud-init user-data (shared/fleet/user-data.ts): its format, size and SHA-256; the text is served at /metadata/{mac}/user-data. */
  user_data?: UserDataSummary;
  /** cloud-init vendor-data, validated like user-data; served at /metadata/{mac}/vendor-data (empty without it). */
  vendor_data?: UserDataSummary;
}

export type AssetKind = 'kernel' | 'initrd';

/**
 * A file's name in every upload (multipart part, upload-session member, `field` of a
 * problem): `kernel` / `initrd` for the default images, `kernel.arm64` / `initrd.arm64` for
 * an architecture's.
 */
export type FileName = AssetKind | `${AssetKind}.${ExtraArchitecture}`;

export function fileName(kind: AssetKind, arch?: ExtraArchitecture): FileName {
  return arch ? `${kind}.${arch}` : kind;
}

/** Every file name, default first, then per architecture (kernel before initrd). */
export const fileNames: readonly FileName[] = [
  'kernel',
  'initrd',
  ...extraArchitectures.flatMap((arch) => [fileName('kernel', arch), fileName('initrd', arch)]),
];

/**
 * What a part / member name means: a file (its kind and architecture), not a file at all
 * (`null`), or a file name with an architecture that is not allowed (`reason`).
 */
export function parseFileName(name: string): { kind: AssetKind; arch?: ExtraArchitecture } | { reason: string } | null {
  const match = /^(kernel|initrd)(?:\.(.*))?$/s.exec(name);
  if (!match) return null;
  const kind = match[1] as AssetKind;
  const arch = match[2];
  if (arch === undefined) return { kind };
  if (isExtraArchitecture(arch)) return { kind, arch };
  if ((defaultArchitectures as readonly string[]).includes(arch)) {
    return { reason: `${arch} boots the profile's ${kind} (the part without an architecture: i386 and x86_64 are one family)` };
  }
  return { reason: `unknown architecture ${JSON.stringify(arch.slice(0, 32))}: one of ${extraArchitectures.join(', ')} (i386 and x86_64 boot the plain ${kind})` };
}

/** The images a request for `arch` (iPXE's `${buildarch}`, null when not sent) boots, or null when the profile has none for it. */
export function imagesFor(profile: ImageSet, arch: string | null): ArchImages | null {
  if (arch === null || (defaultArchitectures as readonly string[]).includes(arch)) return { kernel: profile.kernel, initrd: profile.initrd };
  return (isExtraArchitecture(arch) && profile.architectures?.[arch]) || null;
}

/** The architectures a profile boots, for messages: `i386 / x86_64 / arm64`. */
export function architecturesOf(profile: Pick<BootProfile, 'architectures'>): string[] {
  return [...defaultArchitectures, ...extraArchitectures.filter((arch) => profile.architectures?.[arch])];
}

/** Every blob of a profile's current version: default images first, then each architecture's. */
export function blobRefsOf(profile: ImageSet): BlobRef[] {
  const { id: kid, sha256: ks, size: kz } = profile.kernel;
  return [{ id: kid, sha256: ks, size: kz }, profile.initrd, ...extraArchitectures.flatMap((arch) => {
    const images = profile.architectures?.[arch];
    return images ? [images.kernel, images.initrd] : [];
  })];
}

/** `kernel_args` and its limits live with the iPXE kernel-line rules (./kernel-args.ts). */
export { kernelArgLimits, kernelArgsSchema } from './kernel-args';

/* Response schemas (the API contract, shared/api/contract.ts). */

const uuidV7Pattern = /^[\da-f]{8}-[\da-f]{4}-7[\da-f]{3}-[89ab][\da-f]{3}-[\da-f]{12}$/;
const blobRefShape = {
  id: z.string().regex(uuidV7Pattern).meta({ description: 'Blob id: the object blobs/{id} in the bucket' }),
  sha256: z.string().regex(/^[\da-f]{64}$/),
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
};

/** One architecture's images as the API answers them. */
export const archImagesSchema = z.strictObject({ kernel: z.strictObject(blobRefShape), initrd: z.strictObject(blobRefShape) });

/** The spec's BootProfile as the API answers it, each blob with its digest and size. */
export const bootProfileSchema = z
  .strictObject({
    id: z.string().regex(uuidV7Pattern),
    machine_id: z.string().regex(uuidV7Pattern),
    kernel: z.strictObject({ ...blobRefShape, args: z.array(z.string()) }).meta({ description: 'The default kernel: booted by i386 and x86_64 requests and by requests without arch' }),
    initrd: z.strictObject(blobRefShape).meta({ description: 'The default initrd (i386, x86_64, no arch)' }),
    // A partial record: one copy of the images' schema in the document, the names constrained by propertyNames.
    architectures: z
      .partialRecord(z.enum(extraArchitectures), archImagesSchema)
      .optional()
      .meta({ description: "Images for other architectures (iPXE's ${buildarch}); absent when there are none. The kernel arguments are the profile's." }),
    user_data: userDataSummarySchema.optional(),
    vendor_data: userDataSummarySchema.optional().meta({ description: 'cloud-init vendor-data (served at /metadata/{mac}/vendor-data)' }),
  });

/** The default profile (`/api/v1/boot/default/profile`): a BootProfile whose `machine_id` is `default`. */
export const defaultProfileSchema = bootProfileSchema.extend({ machine_id: z.literal('default') });

/** What an upload session commits: a machine's profile or the default one. */
export const anyBootProfileSchema = z.union([bootProfileSchema, defaultProfileSchema]);
